import XCTest
@testable import HookEngine

final class X86InstructionTests: XCTestCase {
    private func decode(_ bytes: [UInt8]) -> X86Instruction? {
        bytes.withUnsafeBytes { X86Instruction.decode($0) }
    }

    private func plan(_ bytes: [UInt8]) -> TrampolinePlan? {
        bytes.withUnsafeBytes { TrampolinePlan.make($0) }
    }

    func test_lengthsOfTheInstructionsThatStartWinsockExports() {
        let cases: [([UInt8], Int)] = [
            ([0x8D, 0x4C, 0x24, 0x04], 4),                         // lea ecx,[esp+4]
            ([0x83, 0xE4, 0xF0], 3),                               // and esp,-16
            ([0xFF, 0x71, 0xFC], 3),                               // push [ecx-4]
            ([0x55], 1),                                           // push ebp
            ([0x89, 0xE5], 2),                                     // mov ebp,esp
            ([0xB9, 0x01, 0x00, 0x00, 0x00], 5),                   // mov ecx,1
            ([0x8B, 0xFF], 2),                                     // mov edi,edi (Windows hot-patch)
            ([0x8B, 0xEC], 2),                                     // mov ebp,esp
            ([0x57], 1), ([0x56], 1), ([0x53], 1),                 // push edi/esi/ebx
            ([0x83, 0xEC, 0x2C], 3),                               // sub esp,44
            ([0x81, 0xEC, 0x00, 0x01, 0x00, 0x00], 6),             // sub esp,256
            ([0x8B, 0x44, 0x24, 0x08], 4),                         // mov eax,[esp+8]
            ([0x8B, 0x84, 0x24, 0x00, 0x01, 0x00, 0x00], 7),       // mov eax,[esp+256]
            ([0x8B, 0x04, 0x25, 1, 2, 3, 4], 7),                   // mov eax,[disp32] via SIB
            ([0x8B, 0x0D, 1, 2, 3, 4], 6),                         // mov ecx,[disp32]
            ([0xA1, 1, 2, 3, 4], 5),                               // mov eax,[moffs32]
            ([0xC7, 0x44, 0x24, 0x04, 1, 0, 0, 0], 8),             // mov dword [esp+4],1
            ([0x66, 0xC7, 0x45, 0xF0, 0x01, 0x00], 6),             // mov word [ebp-16],1
            ([0x0F, 0x1F, 0x44, 0x00, 0x00], 5),                   // nopl [eax+eax]
            ([0x66, 0x90], 2),                                     // xchg ax,ax
            ([0x0F, 0xB6, 0x45, 0x08], 4),                         // movzx eax,byte [ebp+8]
            ([0xF7, 0x45, 0x08, 1, 0, 0, 0], 7),                   // test dword [ebp+8],1
            ([0xF7, 0xD8], 2),                                     // neg eax
            ([0x6A, 0x10], 2), ([0x68, 1, 2, 3, 4], 5),            // push imm8 / imm32
            ([0x64, 0xA1, 0x18, 0, 0, 0], 6),                      // mov eax,fs:[0x18]
            ([0xF0, 0x0F, 0xB1, 0x0A], 4),                         // lock cmpxchg [edx],ecx
        ]
        for (bytes, length) in cases {
            XCTAssertEqual(decode(bytes + [0xCC, 0xCC])?.length, length, "\(bytes)")
        }
    }

    func test_rel32BranchesAreMovableAndSayWhereTheirDisplacementIs() {
        XCTAssertEqual(decode([0xE8, 1, 2, 3, 4]), X86Instruction(length: 5, relativeDisplacement: 1, endsFlow: false))
        XCTAssertEqual(decode([0xE9, 1, 2, 3, 4]), X86Instruction(length: 5, relativeDisplacement: 1, endsFlow: true))
        XCTAssertEqual(decode([0x0F, 0x84, 1, 2, 3, 4]), X86Instruction(length: 6, relativeDisplacement: 2, endsFlow: false))
        XCTAssertEqual(decode([0xFF, 0x25, 1, 2, 3, 4]), X86Instruction(length: 6, relativeDisplacement: nil, endsFlow: true))
        XCTAssertEqual(decode([0xC3]), X86Instruction(length: 1, relativeDisplacement: nil, endsFlow: true))
    }

    func test_whatCannotBeMovedIsRefused() {
        for bytes: [UInt8] in [[0xEB, 0x05], [0x74, 0x10], [0xE3, 0x02], [0x9A, 1, 2, 3, 4, 5, 6], [0xEA, 1, 2, 3, 4, 5, 6],
                               [0xFF, 0x1D, 1, 2, 3, 4], [0xD6], [0x0F, 0x0F, 0xC0, 0x00]] {
            XCTAssertNil(decode(bytes), "\(bytes)")
        }
    }

    func test_truncatedInstructionsAreRefused() {
        for bytes: [UInt8] in [[], [0x8B], [0x8B, 0x84, 0x24], [0xE8, 1, 2], [0x66], [0x0F], [0x81, 0xEC, 0, 1]] {
            XCTAssertNil(decode(bytes), "\(bytes)")
        }
    }

    func test_planCoversThePatchWithWholeInstructions() {
        // Wine's socket(): lea ecx,[esp+4]; and esp,-16; push [ecx-4] -> 7 bytes.
        XCTAssertEqual(plan([0x8D, 0x4C, 0x24, 0x04, 0x83, 0xE4, 0xF0, 0xFF, 0x71, 0xFC]),
                       TrampolinePlan(copyLength: 7, relativeDisplacements: []))
        // Wine's sendto(): push ebp; mov ecx,1 -> 6 bytes.
        XCTAssertEqual(plan([0x55, 0xB9, 0x01, 0x00, 0x00, 0x00, 0x89, 0xE5]),
                       TrampolinePlan(copyLength: 6, relativeDisplacements: []))
        // A call in the first five bytes is rebased.
        XCTAssertEqual(plan([0x55, 0xE8, 1, 2, 3, 4, 0x90]), TrampolinePlan(copyLength: 6, relativeDisplacements: [2]))
        // An import thunk (jmp [imp]) is a whole function and may be moved.
        XCTAssertEqual(plan([0xFF, 0x25, 1, 2, 3, 4]), TrampolinePlan(copyLength: 6, relativeDisplacements: []))
    }

    func test_planRefusesFunctionsShorterThanThePatchAndShortBranches() {
        XCTAssertNil(plan([0x31, 0xC0, 0xC3, 0x90, 0x90, 0x90]))  // xor eax,eax; ret: next function follows
        XCTAssertNil(plan([0x55, 0x74, 0x03, 0x90, 0x90, 0x90]))  // jz rel8 inside the patch
        XCTAssertNil(plan([0x55, 0x89]))                          // ends mid-instruction
    }

    func test_everyByteStringDecodesWithinItsBoundsOrIsRefused() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...16, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if let instruction = decode(bytes) {
                XCTAssert(instruction.length >= 1 && instruction.length <= min(15, count), "\(bytes)")
            }
            if let plan = plan(bytes) {
                XCTAssert(plan.copyLength >= 5 && plan.copyLength <= count, "\(bytes)")
                XCTAssert(plan.relativeDisplacements.allSatisfy { $0 + 4 <= plan.copyLength })
            }
        }
    }
}
