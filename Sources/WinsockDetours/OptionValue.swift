import CWineBridge

/// How Winsock reads a virtual option's value from setsockopt and writes it for getsockopt:
/// the lengths each kind takes and what it answers for the others. sock.c's
/// test_set_getsockopt pins these (lengths 0, 1, 2, 4, 8 and -1 for each option), and
/// Wine's ws2_32 answers the same for the socket it backs them with.
enum OptionValue {
    /// SO_BROADCAST, SO_REUSEADDR, SO_EXCLUSIVEADDRUSE: a BOOL of up to 4 bytes, any length
    /// taken (0 reads as FALSE, a negative one as 4); read back as written with a length of
    /// 1 when the buffer is shorter than a BOOL.
    case socketBool
    /// SO_SNDBUF, SO_RCVBUF: a DWORD; a read into a shorter buffer zeroes it and fails.
    case socketBuffer
    /// SO_RCVTIMEO, SO_SNDTIMEO and the read-only SO_TYPE, SO_MAX_MSG_SIZE, SO_ERROR: a
    /// DWORD (a negative setsockopt length reads as 4).
    case socketNumber
    /// IP_MULTICAST_LOOP: an int, or a single byte when shorter (the IP level's way).
    case ipByte
    /// IP_MULTICAST_IF: an IPv4 address (network order), at least 4 bytes to set.
    case ipAddress

    init?(level: Int32, name: Int32) {
        switch (level, name) {
        case (Int32(VL_SOL_SOCKET), Int32(VL_SO_BROADCAST)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_REUSEADDR)),
             (Int32(VL_SOL_SOCKET), Int32(VL_SO_EXCLUSIVEADDRUSE)):
            self = .socketBool
        case (Int32(VL_SOL_SOCKET), Int32(VL_SO_SNDBUF)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_RCVBUF)):
            self = .socketBuffer
        case (Int32(VL_SOL_SOCKET), Int32(VL_SO_RCVTIMEO)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_SNDTIMEO)),
             (Int32(VL_SOL_SOCKET), Int32(VL_SO_TYPE)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_MAX_MSG_SIZE)),
             (Int32(VL_SOL_SOCKET), Int32(VL_SO_ERROR)):
            self = .socketNumber
        case (Int32(VL_IPPROTO_IP), Int32(VL_IP_MULTICAST_LOOP)): self = .ipByte
        case (Int32(VL_IPPROTO_IP), Int32(VL_IP_MULTICAST_IF)): self = .ipAddress
        default: return nil
        }
    }

    /// setsockopt's value, or Winsock's error for the length or the pointer.
    func read(_ value: UnsafeRawPointer?, length: Int32, platform: Platform) -> Result<Int32, WinsockError> {
        let bytes: Int
        switch self {
        case .socketBool:
            guard value != nil else { return .failure(.fault) }
            bytes = length < 0 ? 4 : min(Int(length), 4)
        case .socketBuffer, .socketNumber:
            guard length < 0 || length >= 4 else { return .failure(.fault) }
            bytes = 4
        case .ipByte:
            guard length >= 0 else { return .failure(.noBuffers) }
            guard length > 0 else { return .failure(.fault) }
            bytes = length >= 4 ? 4 : 1
        case .ipAddress:
            guard length >= 0 else { return .failure(.noBuffers) }
            guard length >= 4 else { return .failure(.invalidArgument) }
            bytes = 4
        }
        guard bytes == 0 || platform.canRead(value, bytes) else { return .failure(.fault) }
        var number: UInt32 = 0
        for i in 0..<bytes { number |= UInt32(value!.load(fromByteOffset: i, as: UInt8.self)) << (8 * UInt32(i)) }
        return .success(Int32(bitPattern: number))
    }

    /// getsockopt's answer: `number` written as this kind writes it, and the length it
    /// reports; or Winsock's error. `length` has been checked: readable, writable, above 0.
    func write(_ number: Int32, to value: UnsafeMutableRawPointer?, length: UnsafeMutablePointer<Int32>, platform: Platform) -> WinsockError? {
        let room = Int(length.pointee)
        let bytes: Int, reported: Int32
        switch self {
        case .socketBool:
            (bytes, reported) = (min(room, 4), room < 4 ? 1 : 4)
        case .socketBuffer:
            guard room >= 4, value != nil else {
                if platform.canWrite(value, room) { value!.initializeMemory(as: UInt8.self, repeating: 0, count: room) }
                return .fault
            }
            (bytes, reported) = (4, 4)
        case .socketNumber:
            guard room >= 4 else { return .fault }
            (bytes, reported) = (4, 4)
        case .ipByte:
            (bytes, reported) = room < 4 ? (1, 1) : (4, 4)
        case .ipAddress:
            (bytes, reported) = (min(room, 4), Int32(min(room, 4)))
        }
        guard platform.canWrite(value, bytes) else { return .fault }
        for i in 0..<bytes { value!.storeBytes(of: UInt8(truncatingIfNeeded: UInt32(bitPattern: number) >> (8 * UInt32(i))), toByteOffset: i, as: UInt8.self) }
        length.pointee = reported
        return nil
    }
}
