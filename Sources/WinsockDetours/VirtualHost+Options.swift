import CWineBridge
import VirtualIPCore

/// ioctlsocket commands (winsock2.h _IOW/_IOR encodings).
let ioctlNonBlocking = Int32(bitPattern: 0x8004_667E) // FIONBIO
let ioctlBytesReadable = Int32(0x4004_667F) // FIONREAD

extension VirtualHost {
    func setsockopt(_ handle: UInt, level: Int32, name: Int32, value: UnsafeRawPointer?, length: Int32) -> WinsockError? {
        withSocket(handle) { socket in
            guard level == Int32(VL_SOL_SOCKET) else { return .noProtocolOption }
            guard let value, length >= 1 else { return .fault }
            // BOOL options: Windows reads an int, but accepts a 1-byte value too.
            let number: Int32 = length >= 4 ? value.loadUnaligned(as: Int32.self) : Int32(value.load(as: UInt8.self))
            switch name {
            case Int32(VL_SO_BROADCAST): socket.broadcast = number != 0
            case Int32(VL_SO_REUSEADDR): socket.reuseAddress = number != 0
            case Int32(VL_SO_EXCLUSIVEADDRUSE): socket.exclusiveAddress = number != 0
            case Int32(VL_SO_SNDBUF):
                guard length >= 4 else { return .fault }
                socket.sendBuffer = number
            case Int32(VL_SO_RCVBUF):
                guard length >= 4 else { return .fault }
                // Room for our header on every queued datagram comes from the backing socket's
                // own buffer; the game reads back the value it set, as on Windows.
                let error = platform.t.set_receive_buffer!(socket.handle, number)
                guard error == 0 else { return WinsockError(rawValue: error) }
                socket.receiveBuffer = number
            default: return .noProtocolOption
            }
            return nil
        }
    }

    func getsockopt(_ handle: UInt, level: Int32, name: Int32, value: UnsafeMutableRawPointer?, length: UnsafeMutablePointer<Int32>?) -> WinsockError? {
        withSocket(handle) { socket in
            guard level == Int32(VL_SOL_SOCKET) else { return .noProtocolOption }
            guard let value, let length, length.pointee >= 4 else { return .fault }
            let number: Int32
            switch name {
            case Int32(VL_SO_BROADCAST): number = socket.broadcast ? 1 : 0
            case Int32(VL_SO_REUSEADDR): number = socket.reuseAddress ? 1 : 0
            case Int32(VL_SO_EXCLUSIVEADDRUSE): number = socket.exclusiveAddress ? 1 : 0
            case Int32(VL_SO_SNDBUF): number = socket.sendBuffer
            case Int32(VL_SO_RCVBUF): number = socket.receiveBuffer
            case Int32(VL_SO_TYPE): number = Int32(VL_SOCK_DGRAM)
            // The largest payload we can carry: UDP's maximum less our header.
            case Int32(VL_SO_MAX_MSG_SIZE): number = Int32(WireHeader.maxPayload)
            default: return .noProtocolOption
            }
            value.storeBytes(of: number, as: Int32.self)
            length.pointee = 4
            return nil
        }
    }

    /// FIONBIO switches blocking mode; FIONREAD is the payload size of the next datagram
    /// the game would get (frames we would drop are dropped first).
    func ioctlsocket(_ handle: UInt, command: Int32, argument: UnsafeMutablePointer<UInt32>?) -> WinsockError? {
        withSocket(handle) { socket in
            guard let argument else { return .fault }
            switch command {
            case ioctlNonBlocking:
                socket.nonBlocking = argument.pointee != 0
                return nil
            case ioctlBytesReadable:
                argument.pointee = UInt32(nextPayloadLengthLocked(socket) ?? 0)
                return nil
            default:
                return .invalidArgument
            }
        }
    }

    /// WSAIoctl on a virtual socket: the requests ioctlsocket knows, and SIO_UDP_CONNRESET /
    /// SIO_UDP_NETRESET (accepted: no ICMP error ever reaches the game here). Any other
    /// request, and an overlapped one, is refused with WSAEOPNOTSUPP and a warning naming
    /// it, so what a game asks and we cannot answer yet shows in its log.
    func wsaIoctl(_ handle: UInt, code: UInt32, input: UnsafeRawPointer?, inputLength: UInt32, output: UnsafeMutableRawPointer?,
                  outputLength: UInt32, returned: UnsafeMutablePointer<UInt32>?, overlapped: Bool) -> WinsockError? {
        let refusal = withSocket(handle) { socket -> WinsockError? in
            if overlapped { return .operationNotSupported }
            guard let returned else { return .fault }
            switch code {
            case 0x8004_667E:  // FIONBIO
                guard let input, inputLength >= 4 else { return .fault }
                socket.nonBlocking = input.loadUnaligned(as: UInt32.self) != 0
                returned.pointee = 0
            case 0x4004_667F:  // FIONREAD
                guard let output, outputLength >= 4 else { return .fault }
                output.storeBytes(of: UInt32(nextPayloadLengthLocked(socket) ?? 0), as: UInt32.self)
                returned.pointee = 4
            case 0x9800_000C, 0x9800_000F:  // SIO_UDP_CONNRESET, SIO_UDP_NETRESET
                guard input != nil, inputLength >= 4 else { return .fault }
                returned.pointee = 0
            default:
                return .operationNotSupported
            }
            return nil
        }
        if refusal == .operationNotSupported {
            log(.warning, "WSAIoctl(\(hex(code))\(overlapped ? ", overlapped" : "")) on virtual socket \(handle) refused with WSAEOPNOTSUPP: not supported on virtual sockets yet")
        }
        return refusal
    }
}

/// 0x... with eight digits, for request codes in log lines.
func hex(_ value: UInt32) -> String {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    var text: [UInt8] = Array("0x".utf8)
    for shift in stride(from: 28, through: 0, by: -4) { text.append(digits[Int((value >> UInt32(shift)) & 0xF)]) }
    return String(decoding: text, as: UTF8.self)
}
