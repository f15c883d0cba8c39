import CWineBridge
import VirtualIPCore

/// ioctlsocket commands (winsock2.h _IOW/_IOR encodings).
let ioctlNonBlocking = Int32(bitPattern: 0x8004_667E) // FIONBIO
let ioctlBytesReadable = Int32(0x4004_667F) // FIONREAD

/// What happens to a socket option of a virtual socket: one decision per option, the
/// table docs/CONFORMANCE.md shows.
enum OptionDecision: Equatable {
    /// Answered by the virtual socket (its identity, or what our layer does).
    case virtual
    /// Handed on to the backing socket, a real UDP socket: the OS's answer is Windows'.
    case handedOn
    /// Refused with WSAENOPROTOOPT and a warning: it would reach a real network (a TCP
    /// socket joining a multicast group on a real interface).
    case refused
}

func optionDecision(level: Int32, name: Int32, transport: Transport = .udp) -> OptionDecision {
    if transport == .tcp { return streamOptionDecision(level: level, name: name) }
    switch (level, name) {
    case (Int32(VL_SOL_SOCKET), Int32(VL_SO_BROADCAST)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_REUSEADDR)),
         (Int32(VL_SOL_SOCKET), Int32(VL_SO_EXCLUSIVEADDRUSE)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_SNDBUF)),
         (Int32(VL_SOL_SOCKET), Int32(VL_SO_RCVBUF)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_TYPE)),
         (Int32(VL_SOL_SOCKET), Int32(VL_SO_MAX_MSG_SIZE)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_RCVTIMEO)),
         (Int32(VL_SOL_SOCKET), Int32(VL_SO_SNDTIMEO)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_ERROR)),
         (Int32(VL_IPPROTO_IP), Int32(VL_IP_MULTICAST_IF)), (Int32(VL_IPPROTO_IP), Int32(VL_IP_MULTICAST_LOOP)):
        return .virtual
    // Memberships are the registry's: the group is on the virtual LAN only.
    case (Int32(VL_IPPROTO_IP), _) where MembershipChange(option: name) != nil:
        return .virtual
    default:
        return .handedOn
    }
}

/// A TCP socket's: its port space and type are virtual, its timeouts are the layer's waits,
/// SO_UPDATE_CONNECT_CONTEXT / SO_UPDATE_ACCEPT_CONTEXT (after ConnectEx / AcceptEx) are
/// accepted with nothing to do (its names are virtual from the start); everything else is
/// the connection's own (buffers, SO_LINGER, TCP_NODELAY, keep-alive, the pending SO_ERROR
/// of a refused connect) and the OS answers it.
private func streamOptionDecision(level: Int32, name: Int32) -> OptionDecision {
    switch (level, name) {
    case (Int32(VL_SOL_SOCKET), Int32(VL_SO_REUSEADDR)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_EXCLUSIVEADDRUSE)),
         (Int32(VL_SOL_SOCKET), Int32(VL_SO_TYPE)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_RCVTIMEO)),
         (Int32(VL_SOL_SOCKET), Int32(VL_SO_SNDTIMEO)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_UPDATE_CONNECT_CONTEXT)),
         (Int32(VL_SOL_SOCKET), Int32(VL_SO_UPDATE_ACCEPT_CONTEXT)):
        return .virtual
    case (Int32(VL_IPPROTO_IP), _) where MembershipChange(option: name) != nil:
        return .refused
    default:
        return .handedOn
    }
}

extension VirtualHost {
    func setsockopt(_ handle: UInt, level: Int32, name: Int32, value: UnsafeRawPointer?, length: Int32) -> WinsockError? {
        var decision = OptionDecision.virtual
        let error = withSocket(handle) { socket -> WinsockError? in
            decision = socket.optionDecision(level: level, name: name)
            switch decision {
            case .refused: return .noProtocolOption
            case .handedOn:
                guard let value, length >= 0 else { return .fault }
                return platform.setOption(socket.handle, level: level, name: name, value: value, length: length)
            case .virtual: break
            }
            // Only a datagram socket's memberships and multicast options are virtual (a
            // stream's are refused: the decision above).
            let datagram = socket as? DatagramSocket
            if level == Int32(VL_IPPROTO_IP), MembershipChange(option: name) != nil, let datagram {
                return changeMembershipLocked(datagram, name: name, value: value, length: length)
            }
            if name == Int32(VL_SO_UPDATE_CONNECT_CONTEXT) || name == Int32(VL_SO_UPDATE_ACCEPT_CONTEXT) {
                return socket.peer != nil ? nil : .notConnected
            }
            guard let value, length >= 1 else { return .fault }
            // BOOL options: Windows reads an int, but accepts a 1-byte value too.
            let number: Int32 = length >= 4 ? value.loadUnaligned(as: Int32.self) : Int32(value.load(as: UInt8.self))
            switch (level, name) {
            case (_, Int32(VL_SO_BROADCAST)): datagram?.broadcast = number != 0
            case (_, Int32(VL_SO_REUSEADDR)): socket.reuseAddress = number != 0
            case (_, Int32(VL_SO_EXCLUSIVEADDRUSE)): socket.exclusiveAddress = number != 0
            case (Int32(VL_IPPROTO_IP), Int32(VL_IP_MULTICAST_LOOP)): if let datagram { setMulticastLoopLocked(datagram, number != 0) }
            case (_, Int32(VL_SO_SNDBUF)), (_, Int32(VL_SO_RCVBUF)), (_, Int32(VL_SO_RCVTIMEO)), (_, Int32(VL_SO_SNDTIMEO)),
                 (Int32(VL_IPPROTO_IP), Int32(VL_IP_MULTICAST_IF)):
                guard length >= 4 else { return .fault }
                return setNumber(socket, level: level, name: name, number)
            default: return .noProtocolOption // SO_TYPE, SO_MAX_MSG_SIZE, SO_ERROR are read-only
            }
            return nil
        }
        if decision == .refused {
            log(.warning, "setsockopt(level \(level), option \(name)) on virtual socket \(handle) refused with WSAENOPROTOOPT: a TCP socket's multicast membership would join a group on a real interface")
        }
        return error
    }

    private func setNumber(_ socket: VirtualSocket, level: Int32, name: Int32, _ number: Int32) -> WinsockError? {
        switch (level, name) {
        case (_, Int32(VL_SO_SNDBUF)): socket.sendBuffer = number
        case (_, Int32(VL_SO_RCVBUF)):
            // Room for our header on every queued datagram comes from the backing socket's
            // own buffer; the game reads back the value it set, as on Windows.
            if let error = platform.setReceiveBuffer(socket.handle, bytes: number) { return error }
            socket.receiveBuffer = number
        case (_, Int32(VL_SO_RCVTIMEO)): socket.receiveTimeout = UInt32(bitPattern: number)
        case (_, Int32(VL_SO_SNDTIMEO)): socket.sendTimeout = UInt32(bitPattern: number)
        default: (socket as? DatagramSocket)?.multicastInterface = UInt32(bitPattern: number)
        }
        return nil
    }

    func getsockopt(_ handle: UInt, level: Int32, name: Int32, value: UnsafeMutableRawPointer?, length: UnsafeMutablePointer<Int32>?) -> WinsockError? {
        withSocket(handle) { socket in
            switch socket.optionDecision(level: level, name: name) {
            case .refused: return .noProtocolOption
            case .handedOn:
                guard let value, let length else { return .fault }
                return platform.getOption(socket.handle, level: level, name: name, value: value, length: length)
            case .virtual: break
            }
            // The membership options are set-only.
            if level == Int32(VL_IPPROTO_IP), MembershipChange(option: name) != nil { return .noProtocolOption }
            guard let value, let length, length.pointee >= 4 else { return .fault }
            let number: Int32, datagram = socket as? DatagramSocket
            switch (level, name) {
            case (_, Int32(VL_SO_BROADCAST)): number = datagram?.broadcast == true ? 1 : 0
            case (_, Int32(VL_SO_REUSEADDR)): number = socket.reuseAddress ? 1 : 0
            case (_, Int32(VL_SO_EXCLUSIVEADDRUSE)): number = socket.exclusiveAddress ? 1 : 0
            case (_, Int32(VL_SO_SNDBUF)): number = socket.sendBuffer
            case (_, Int32(VL_SO_RCVBUF)): number = socket.receiveBuffer
            case (_, Int32(VL_SO_TYPE)): number = socket.socketType
            // The largest payload we can carry: UDP's maximum less our header.
            case (_, Int32(VL_SO_MAX_MSG_SIZE)): number = Int32(WireHeader.maxPayload)
            case (_, Int32(VL_SO_RCVTIMEO)): number = Int32(bitPattern: socket.receiveTimeout)
            case (_, Int32(VL_SO_SNDTIMEO)): number = Int32(bitPattern: socket.sendTimeout)
            // No asynchronous error is ever pending on a virtual UDP socket (no ICMP reaches it).
            case (_, Int32(VL_SO_ERROR)): number = 0
            case (Int32(VL_IPPROTO_IP), Int32(VL_IP_MULTICAST_LOOP)): number = datagram?.multicastLoop == false ? 0 : 1
            default: number = Int32(bitPattern: datagram?.multicastInterface ?? 0)
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
                return setNonBlocking(socket, argument.pointee != 0)
            case ioctlBytesReadable:
                argument.pointee = socket.bytesReadableLocked(on: self)
                return nil
            default:
                // As WSAIoctl answers a request it does not know (Wine's ioctlsocket is WSAIoctl).
                return .operationNotSupported
            }
        }
    }

    /// FIONBIO. While WSAEventSelect (or WSAAsyncSelect) events are selected the socket
    /// must stay non-blocking: WSAEINVAL, as Windows. A stream's backing socket takes the
    /// mode too: its calls block, or not, in the OS.
    func setNonBlocking(_ socket: VirtualSocket, _ on: Bool) -> WinsockError? {
        if !on && socket.selectedEvents != 0 { return .invalidArgument }
        if let error = socket.takeBlockingMode(nonBlocking: on, platform: platform) { return error }
        socket.nonBlocking = on
        return nil
    }

    /// WSAEventSelect: the socket becomes non-blocking (Windows does so for any selected
    /// event), the OS signals the game's event for its backing socket. (The DLL's own wait
    /// for overlapped receives uses that same association: a game mixing both on one
    /// socket is not supported yet, docs/CONFORMANCE.md.)
    func eventSelect(_ handle: UInt, event: UnsafeMutableRawPointer?, events: Int32) -> WinsockError? {
        selectEvents(handle, events: events, target: event) { platform.eventSelect($0, event: event, events: events) }
    }

    /// WSAAsyncSelect: the same, the OS posting the game's window message instead.
    func asyncSelect(_ handle: UInt, window: UnsafeMutableRawPointer?, message: UInt32, events: Int32) -> WinsockError? {
        selectEvents(handle, events: events, target: window) { platform.asyncSelect($0, window: window, message: message, events: events) }
    }

    /// What both have in common: a target for any event, the backing socket registered,
    /// the socket non-blocking while events are selected.
    private func selectEvents(_ handle: UInt, events: Int32, target: UnsafeMutableRawPointer?,
                              register: (UInt) -> WinsockError?) -> WinsockError? {
        withSocket(handle) { socket in
            if events != 0 && target == nil { return .invalidArgument }
            if let error = register(socket.handle) { return error }
            socket.selectedEvents = events
            if events != 0 { return setNonBlocking(socket, true) }
            return nil
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
                if let error = setNonBlocking(socket, input.loadUnaligned(as: UInt32.self) != 0) { return error }
                returned.pointee = 0
            case 0x4004_667F:  // FIONREAD
                guard let output, outputLength >= 4 else { return .fault }
                output.storeBytes(of: socket.bytesReadableLocked(on: self), as: UInt32.self)
                returned.pointee = 4
            case 0xC800_0006 where input.flatMap({ winsockExtension($0, inputLength, stream: socket is StreamSocket) }) != nil:
                // SIO_GET_EXTENSION_FUNCTION_POINTER for WSARecvMsg / WSASendMsg / ConnectEx / AcceptEx: ours.
                guard let output, outputLength >= UInt32(MemoryLayout<UnsafeRawPointer>.size) else { return .fault }
                let entry: UnsafeMutableRawPointer?, entries = platform.extensionEntries
                switch winsockExtension(input!, inputLength, stream: socket is StreamSocket)! {
                case .receiveMessage: entry = entries.receiveMessage
                case .sendMessage: entry = entries.sendMessage
                case .connectEx: entry = entries.connectEx
                case .acceptEx: entry = entries.acceptEx
                case .acceptExNames: entry = entries.acceptExNames
                }
                output.storeBytes(of: entry, as: UnsafeMutableRawPointer?.self)
                returned.pointee = UInt32(MemoryLayout<UnsafeRawPointer>.size)
            case 0x9800_000C, 0x9800_000F:  // SIO_UDP_CONNRESET, SIO_UDP_NETRESET
                guard input != nil, inputLength >= 4 else { return .fault }
                returned.pointee = 0
            case 0x4800_0005: return broadcastAddress(output: output, length: outputLength, returned: returned)  // SIO_GET_BROADCAST_ADDRESS
            case 0xC800_0014:  // SIO_ROUTING_INTERFACE_QUERY
                return routingInterface(input: input, inputLength: inputLength, output: output, length: outputLength, returned: returned)
            case 0x4004_747F: return interfaceList(output: output, length: outputLength, returned: returned)      // SIO_GET_INTERFACE_LIST
            case 0x4800_0016: return addressList(output: output, length: outputLength, returned: returned)        // SIO_ADDRESS_LIST_QUERY
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

/// The extension functions a virtual socket hands out its own pointers for.
enum WinsockExtension {
    case receiveMessage, sendMessage, connectEx, acceptEx, acceptExNames

    /// ConnectEx, AcceptEx and GetAcceptExSockaddrs are the TCP provider's.
    var isStreamOnly: Bool { self == .connectEx || self == .acceptEx || self == .acceptExNames }
}

/// Which extension the GUID names: WSAID_WSARECVMSG {f689d7c8-6f1f-436b-8a53-e54fe351c322},
/// WSAID_WSASENDMSG {a441e712-754f-43ca-84a7-0dee44cf606d}, and on a TCP socket
/// WSAID_CONNECTEX {25a207b9-ddf3-4660-8ee9-76e58c74063e}, WSAID_ACCEPTEX
/// {b5367df1-cbac-11cf-95ca-00805f48a192}, WSAID_GETACCEPTEXSOCKADDRS {b5367df2-...}.
func winsockExtension(_ input: UnsafeRawPointer, _ length: UInt32, stream: Bool) -> WinsockExtension? {
    let ids: [(WinsockExtension, [UInt8])] = [
        (.receiveMessage, [0xC8, 0xD7, 0x89, 0xF6, 0x1F, 0x6F, 0x6B, 0x43, 0x8A, 0x53, 0xE5, 0x4F, 0xE3, 0x51, 0xC3, 0x22]),
        (.sendMessage, [0x12, 0xE7, 0x41, 0xA4, 0x4F, 0x75, 0xCA, 0x43, 0x84, 0xA7, 0x0D, 0xEE, 0x44, 0xCF, 0x60, 0x6D]),
        (.connectEx, [0xB9, 0x07, 0xA2, 0x25, 0xF3, 0xDD, 0x60, 0x46, 0x8E, 0xE9, 0x76, 0xE5, 0x8C, 0x74, 0x06, 0x3E]),
        (.acceptEx, [0xF1, 0x7D, 0x36, 0xB5, 0xAC, 0xCB, 0xCF, 0x11, 0x95, 0xCA, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92]),
        (.acceptExNames, [0xF2, 0x7D, 0x36, 0xB5, 0xAC, 0xCB, 0xCF, 0x11, 0x95, 0xCA, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92]),
    ]
    guard length >= 16 else { return nil }
    for (which, id) in ids where (0..<16).allSatisfy({ input.load(fromByteOffset: $0, as: UInt8.self) == id[$0] }) {
        return which.isStreamOnly && !stream ? nil : which
    }
    return nil
}
