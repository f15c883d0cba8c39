/// What an inline hook copies from the start of a function: whole instructions covering
/// at least `patchLength` bytes (the jump that replaces them), and where each rel32 among
/// them sits. nil: the start cannot be moved (a short branch, an unknown instruction, or a
/// function that ends before the patch would).
public struct TrampolinePlan: Equatable, Sendable {
    public static let patchLength = 5  // jmp rel32
    public var copyLength: Int
    public var relativeDisplacements: [Int]

    public static func make(_ code: UnsafeRawBufferPointer) -> TrampolinePlan? {
        var plan = TrampolinePlan(copyLength: 0, relativeDisplacements: [])
        while plan.copyLength < patchLength {
            guard let instruction = X86Instruction.decode(UnsafeRawBufferPointer(rebasing: code[plan.copyLength...]))
            else { return nil }
            if let d = instruction.relativeDisplacement { plan.relativeDisplacements.append(plan.copyLength + d) }
            plan.copyLength += instruction.length
            // Bytes after a ret/jmp may be the next function: only a flow end that
            // completes the patch by itself is fine.
            if instruction.endsFlow && plan.copyLength < patchLength { return nil }
        }
        return plan
    }
}

/// The bytes of one inline hook on 32-bit x86, written into buffers the caller owns (the OS
/// half, win32_hook_engine.c, makes the target writable, copies the patch in and flushes):
/// - the trampoline: the function's first whole instructions, each rel32 rebased so it
///   still reaches its old destination, then `jmp target + copyLength`. Calling it is
///   calling the function as it was.
/// - the patch: `jmp entry`, the rest of the moved instructions filled with int3.
/// Addresses are 32-bit (the DLL's); jumps wrap as the CPU's do.
public enum InlineHook {
    static let jump: UInt8 = 0xE9
    static let breakpoint: UInt8 = 0xCC

    /// Fills `trampoline` and `patch`; returns how many bytes of the target the patch covers,
    /// or nil when the start cannot be moved or a buffer is too small.
    public static func build(code: UnsafeRawBufferPointer, codeAddress: UInt32, entryAddress: UInt32,
                             trampoline: UnsafeMutableRawBufferPointer, trampolineAddress: UInt32,
                             patch: UnsafeMutableRawBufferPointer) -> Int? {
        guard let plan = TrampolinePlan.make(code),
              trampoline.count >= plan.copyLength + TrampolinePlan.patchLength,
              patch.count >= plan.copyLength else { return nil }
        let moved = plan.copyLength
        for i in 0..<moved { trampoline[i] = code[i] }
        // A rel32 moved by (trampoline - target) must point where it pointed before.
        for offset in plan.relativeDisplacements {
            let old = trampoline.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            trampoline.storeBytes(of: old &+ codeAddress &- trampolineAddress, toByteOffset: offset, as: UInt32.self)
        }
        writeJump(into: trampoline, at: moved, from: trampolineAddress &+ UInt32(moved), to: codeAddress &+ UInt32(moved))
        writeJump(into: patch, at: 0, from: codeAddress, to: entryAddress)
        for i in TrampolinePlan.patchLength..<moved { patch[i] = breakpoint }
        return moved
    }

    /// `jmp to`, written at `buffer[at]`, for an instruction that will sit at address `from`.
    private static func writeJump(into buffer: UnsafeMutableRawBufferPointer, at: Int, from: UInt32, to: UInt32) {
        buffer[at] = jump
        buffer.storeBytes(of: to &- (from &+ UInt32(TrampolinePlan.patchLength)), toByteOffset: at + 1, as: UInt32.self)
    }
}

/// The engine for the DLL's C half: builds one hook's trampoline and patch (see
/// `InlineHook.build`) for the function at `target`; returns the patch length, 0 when the
/// function's start cannot be moved.
@_cdecl("vl_hook_engine_build")
public func hookEngineBuild(_ target: UnsafePointer<UInt8>, _ available: UInt32, _ entry: UnsafeRawPointer,
                            _ trampoline: UnsafeMutablePointer<UInt8>, _ trampolineCapacity: UInt32,
                            _ patch: UnsafeMutablePointer<UInt8>, _ patchCapacity: UInt32) -> Int32 {
    func address(_ pointer: UnsafeRawPointer) -> UInt32 { UInt32(truncatingIfNeeded: UInt(bitPattern: pointer)) }
    let length = InlineHook.build(
        code: UnsafeRawBufferPointer(start: target, count: Int(available)), codeAddress: address(target),
        entryAddress: address(entry),
        trampoline: UnsafeMutableRawBufferPointer(start: trampoline, count: Int(trampolineCapacity)),
        trampolineAddress: address(trampoline),
        patch: UnsafeMutableRawBufferPointer(start: patch, count: Int(patchCapacity)))
    return Int32(length ?? 0)
}
