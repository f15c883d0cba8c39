/// Lengths of 32-bit x86 instructions, for the DLL's inline hooks: a hook overwrites the
/// first five bytes of a ws2_32 export with a jump to our entry point, so the whole
/// instructions it covers are first copied into a trampoline that then jumps back. Only
/// what can be moved is accepted: a short (rel8) branch or a far pointer cannot, and ends
/// the plan; a rel32 call/jump/jcc can, once its displacement is rebased.
public struct X86Instruction: Equatable, Sendable {
    public var length: Int
    /// Byte offset of a rel32 displacement inside the instruction (call, jmp, jcc), which a
    /// copy elsewhere must rebase; nil when the instruction does not depend on its address.
    public var relativeDisplacement: Int?
    /// The instruction never falls through (ret, jmp): nothing after it belongs to the flow.
    public var endsFlow: Bool

    /// Decodes the instruction at the start of `code`; nil when it is truncated, unknown,
    /// or cannot be moved.
    public static func decode(_ code: UnsafeRawBufferPointer) -> X86Instruction? {
        var reader = Reader(code: code)
        return reader.instruction()
    }
}

private struct Reader {
    let code: UnsafeRawBufferPointer
    var at = 0
    var operandSize16 = false
    var addressSize16 = false

    init(code: UnsafeRawBufferPointer) { self.code = code }

    mutating func byte() -> UInt8? {
        guard at < code.count, at < 15 else { return nil }  // 15: the longest x86 instruction
        defer { at += 1 }
        return code[at]
    }

    mutating func skip(_ n: Int) -> Bool {
        guard at + n <= code.count, at + n <= 15 else { return false }
        at += n
        return true
    }

    static func isPrefix(_ b: UInt8) -> Bool {
        switch b {
        case 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3: return true
        default: return false
        }
    }

    var immediateSize: Int { operandSize16 ? 2 : 4 }

    func done(relative: Int? = nil, endsFlow: Bool = false) -> X86Instruction {
        X86Instruction(length: at, relativeDisplacement: relative, endsFlow: endsFlow)
    }

    /// Reads a ModRM byte with its SIB and displacement; returns the ModRM's reg field.
    mutating func modRM() -> UInt8? {
        guard let m = byte() else { return nil }
        let mod = m >> 6, rm = m & 7
        if mod == 3 { return (m >> 3) & 7 }
        if addressSize16 {
            let displacement = mod == 1 ? 1 : mod == 2 || (mod == 0 && rm == 6) ? 2 : 0
            return skip(displacement) ? (m >> 3) & 7 : nil
        }
        var displacement = mod == 1 ? 1 : mod == 2 ? 4 : 0
        if rm == 4 {
            guard let sib = byte() else { return nil }
            if mod == 0 && sib & 7 == 5 { displacement = 4 }
        } else if mod == 0 && rm == 5 {
            displacement = 4
        }
        return skip(displacement) ? (m >> 3) & 7 : nil
    }

    mutating func modRM(immediate: Int) -> X86Instruction? {
        guard modRM() != nil, skip(immediate) else { return nil }
        return done()
    }

    mutating func plain(immediate: Int = 0) -> X86Instruction? {
        skip(immediate) ? done() : nil
    }

    mutating func instruction() -> X86Instruction? {
        var opcode: UInt8
        repeat {
            guard let b = byte() else { return nil }
            opcode = b
            switch b {
            case 0x66: operandSize16 = true
            case 0x67: addressSize16 = true
            default: break
            }
        } while Reader.isPrefix(opcode)

        switch opcode {
        case 0x0F: return twoByte()
        // ALU r/m forms: add, or, adc, sbb, and, sub, xor, cmp.
        case _ where opcode < 0x40 && opcode & 7 < 4: return modRM(immediate: 0)
        case _ where opcode < 0x40 && opcode & 7 == 4: return plain(immediate: 1)
        case _ where opcode < 0x40 && opcode & 7 == 5: return plain(immediate: immediateSize)
        case 0x00..<0x40: return plain()  // push/pop segment, daa, das, aaa, aas
        case 0x40...0x61: return plain()  // inc, dec, push, pop, pusha, popa
        case 0x62, 0x63: return modRM(immediate: 0)
        case 0x68: return plain(immediate: immediateSize)
        case 0x69: return modRM(immediate: immediateSize)
        case 0x6A: return plain(immediate: 1)
        case 0x6B: return modRM(immediate: 1)
        case 0x6C...0x6F: return plain()
        case 0x70...0x7F: return nil  // jcc rel8: cannot reach its target from a trampoline
        case 0x80, 0x82, 0x83: return modRM(immediate: 1)
        case 0x81: return modRM(immediate: immediateSize)
        case 0x84...0x8F: return modRM(immediate: 0)
        case 0x90...0x99, 0x9B...0x9F: return plain()
        case 0x9A: return nil  // far call
        case 0xA0...0xA3: return plain(immediate: addressSize16 ? 2 : 4)
        case 0xA4...0xA7, 0xAA...0xAF: return plain()
        case 0xA8: return plain(immediate: 1)
        case 0xA9: return plain(immediate: immediateSize)
        case 0xB0...0xB7: return plain(immediate: 1)
        case 0xB8...0xBF: return plain(immediate: immediateSize)
        case 0xC0, 0xC1, 0xC6: return modRM(immediate: 1)
        case 0xC2, 0xCA:
            guard skip(2) else { return nil }
            return done(endsFlow: true)
        case 0xC3, 0xCB, 0xCF: return done(endsFlow: true)
        case 0xC4, 0xC5: return modRM(immediate: 0)
        case 0xC7: return modRM(immediate: immediateSize)
        case 0xC8: return plain(immediate: 3)
        case 0xC9, 0xCC, 0xCE: return plain()
        case 0xCD, 0xD4, 0xD5: return plain(immediate: 1)
        case 0xD0...0xD3, 0xD8...0xDF: return modRM(immediate: 0)
        case 0xD7: return plain()
        case 0xE0...0xE3, 0xEB: return nil  // loop/jcxz/jmp rel8
        case 0xE4...0xE7: return plain(immediate: 1)
        case 0xE8, 0xE9:
            let displacement = at
            guard !operandSize16, skip(4) else { return nil }
            return done(relative: displacement, endsFlow: opcode == 0xE9)
        case 0xEA: return nil  // far jmp
        case 0xEC...0xEF, 0xF1, 0xF4, 0xF5, 0xF8...0xFD: return plain()
        case 0xF6, 0xF7:
            // test r/m, imm is /0 and /1; the other forms (not, neg, mul, div) have none.
            guard let reg = modRM() else { return nil }
            guard reg > 1 || skip(opcode == 0xF6 ? 1 : immediateSize) else { return nil }
            return done()
        case 0xFE: return modRM(immediate: 0)
        case 0xFF:
            guard let reg = modRM() else { return nil }
            if reg == 3 || reg == 5 { return nil }  // far call/jmp
            return done(endsFlow: reg == 4)
        default: return nil  // 0xD6 and the like: undefined
        }
    }

    mutating func twoByte() -> X86Instruction? {
        guard let opcode = byte() else { return nil }
        switch opcode {
        case 0x80...0x8F:  // jcc rel32
            let displacement = at
            guard !operandSize16, skip(4) else { return nil }
            return done(relative: displacement)
        case 0x05...0x09, 0x0B, 0x0E, 0x30...0x35, 0x77, 0xA0...0xA2, 0xA8...0xAA, 0xC8...0xCF:
            return plain()
        case 0x38: return byte() == nil ? nil : modRM(immediate: 0)
        case 0x3A: return byte() == nil ? nil : modRM(immediate: 1)
        case 0x70...0x73, 0xA4, 0xAC, 0xBA, 0xC2, 0xC4...0xC6: return modRM(immediate: 1)
        case 0x0F, 0x04, 0x0A, 0x0C, 0x24...0x27, 0x36, 0x37, 0x39, 0x3B...0x3F, 0x7A, 0x7B, 0xA6, 0xA7, 0xFF:
            return nil  // 3DNow!, reserved and invalid opcodes
        default: return modRM(immediate: 0)  // the rest of the two-byte map takes a ModRM
        }
    }
}
