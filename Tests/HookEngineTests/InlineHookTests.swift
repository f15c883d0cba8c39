import XCTest
@testable import HookEngine

/// The bytes an inline hook writes, checked at 32-bit addresses of our choosing: the
/// trampoline runs the moved instructions (a call still reaching its old destination) and
/// jumps back behind them; the patch jumps to the entry point and pads with int3.
final class InlineHookTests: XCTestCase {
    let target: UInt32 = 0x7BC1_0000, entry: UInt32 = 0x1000_2000, trampolineAt: UInt32 = 0x0030_0040

    func build(_ code: [UInt8], trampolineSize: Int = 32, patchSize: Int = 24) -> (length: Int?, trampoline: [UInt8], patch: [UInt8]) {
        var trampoline = [UInt8](repeating: 0, count: trampolineSize)
        var patch = [UInt8](repeating: 0, count: patchSize)
        let length = code.withUnsafeBytes { c in
            trampoline.withUnsafeMutableBytes { t in
                patch.withUnsafeMutableBytes { p in
                    InlineHook.build(code: c, codeAddress: target, entryAddress: entry, trampoline: t, trampolineAddress: trampolineAt, patch: p)
                }
            }
        }
        return (length, trampoline, patch)
    }

    func rel32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    func test_aStartWithACallIsMovedWithTheCallRebasedAndJumpsBack() {
        // push ebp; call target+0x100 (rel32 = 0x100 - 6 from the end of the call); nop...
        let code: [UInt8] = [0x55, 0xE8, 0xFA, 0x00, 0x00, 0x00, 0x90, 0x90, 0x90, 0x90]
        let (length, trampoline, patch) = build(code)
        XCTAssertEqual(length, 6)
        XCTAssertEqual(trampoline[0], 0x55)
        XCTAssertEqual(trampoline[1], 0xE8)
        // The moved call, ending at trampolineAt + 6, still reaches target + 0x100.
        XCTAssertEqual(trampolineAt &+ 6 &+ rel32(trampoline, at: 2), target &+ 0x100)
        // Then jmp target + 6: the rest of the function.
        XCTAssertEqual(trampoline[6], 0xE9)
        XCTAssertEqual(trampolineAt &+ 11 &+ rel32(trampoline, at: 7), target &+ 6)
        // The function now starts with jmp entry, its sixth byte an int3.
        XCTAssertEqual(patch[0], 0xE9)
        XCTAssertEqual(target &+ 5 &+ rel32(patch, at: 1), entry)
        XCTAssertEqual(patch[5], 0xCC)
    }

    func test_aStartThatCannotBeMovedOrDoesNotFitWritesNothingUseful() {
        XCTAssertNil(build([0x55, 0x74, 0x03, 0x90, 0x90, 0x90]).length, "a short branch inside the patch")
        // lea ecx,[esp+4]; and esp,-16; push [ecx-4]: 7 bytes, which need 12 of trampoline.
        let wine: [UInt8] = [0x8D, 0x4C, 0x24, 0x04, 0x83, 0xE4, 0xF0, 0xFF, 0x71, 0xFC]
        XCTAssertEqual(build(wine).length, 7)
        XCTAssertNil(build(wine, trampolineSize: 11).length, "no room for the jump back")
        XCTAssertNil(build(wine, patchSize: 6).length, "no room for the patch")
    }
}
