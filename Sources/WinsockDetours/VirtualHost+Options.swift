import CWineBridge
import VirtualIPCore

/// ioctlsocket commands (winsock2.h _IOW/_IOR encodings).

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
         (Int32(VL_SOL_SOCKET), Int32(VL_SO_BSP_STATE)), (Int32(VL_IPPROTO_IP), Int32(VL_IP_MULTICAST_IF)), (Int32(VL_IPPROTO_IP), Int32(VL_IP_MULTICAST_LOOP)):
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
         (Int32(VL_SOL_SOCKET), Int32(VL_SO_UPDATE_ACCEPT_CONTEXT)), (Int32(VL_SOL_SOCKET), Int32(VL_SO_BSP_STATE)):
        return .virtual
    case (Int32(VL_IPPROTO_IP), _) where MembershipChange(option: name) != nil:
        return .refused
    default:
        return .handedOn
    }
}

extension VirtualHost {
    /// The outcome, and whether the OS answered it (its last error is the answer's then).
    func setsockopt(_ handle: UInt, level: Int32, name: Int32, value: UnsafeRawPointer?, length: Int32) -> (WinsockError?, handedOn: Bool) {
        var decision = OptionDecision.virtual, handedOn = false
        let error = withSocket(handle) { socket -> WinsockError? in
            decision = socket.optionDecision(level: level, name: name)
            switch decision {
            case .refused: return .noProtocolOption
            case .handedOn:
                handedOn = true
                if let error = socket.prepareBackingForOption(level: level, on: self) { return error }
                return platform.setOption(socket.handle, level: level, name: name, value: value, length: length)
            case .virtual: break
            }
            // ws2_32 refuses a small integer passed where the value's pointer belongs.
            if length != 0, let value, UInt(bitPattern: value) < 0x10000 { return .fault }
            if level == Int32(VL_IPPROTO_IP), length < 0 { return .noBuffers }
            // Only a datagram socket's memberships and multicast options are virtual (a
            // stream's are refused: the decision above).
            let datagram = socket as? DatagramSocket
            if level == Int32(VL_IPPROTO_IP), MembershipChange(option: name) != nil, let datagram {
                return changeMembershipLocked(datagram, name: name, value: value, length: length)
            }
            if name == Int32(VL_SO_UPDATE_CONNECT_CONTEXT) || name == Int32(VL_SO_UPDATE_ACCEPT_CONTEXT) {
                return socket.peer != nil ? nil : .notConnected
            }
            // SO_TYPE, SO_MAX_MSG_SIZE, SO_ERROR, SO_BSP_STATE are read-only.
            guard let shape = OptionValue(level: level, name: name), shape != .socketNumber || isSettableNumber(name) else {
                return .noProtocolOption
            }
            let number: Int32
            switch shape.read(value, length: length, platform: platform) {
            case let .failure(error): return error
            case let .success(read): number = read
            }
            switch (level, name) {
            case (_, Int32(VL_SO_BROADCAST)): datagram?.broadcast = number != 0
            // The two are mutually exclusive: turning one on while the other is on is
            // WSAEINVAL (sock.c's test_reuseaddr pins it).
            case (_, Int32(VL_SO_REUSEADDR)):
                if number != 0 && socket.exclusiveAddress { return .invalidArgument }
                socket.reuseAddress = number != 0
            case (_, Int32(VL_SO_EXCLUSIVEADDRUSE)):
                if number != 0 && socket.reuseAddress { return .invalidArgument }
                socket.exclusiveAddress = number != 0
            case (Int32(VL_IPPROTO_IP), Int32(VL_IP_MULTICAST_LOOP)): if let datagram { setMulticastLoopLocked(datagram, number != 0) }
            default: return setNumber(socket, level: level, name: name, number)
            }
            return nil
        }
        if decision == .refused {
            log(.warning, "setsockopt(level \(level), option \(name)) on virtual socket \(handle) refused with WSAENOPROTOOPT: a TCP socket's multicast membership would join a group on a real interface")
        }
        return (error, handedOn)
    }

    private func isSettableNumber(_ name: Int32) -> Bool { name == Int32(VL_SO_RCVTIMEO) || name == Int32(VL_SO_SNDTIMEO) }

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

    /// As setsockopt.
    func getsockopt(_ handle: UInt, level: Int32, name: Int32, value: UnsafeMutableRawPointer?,
                    length: UnsafeMutablePointer<Int32>?) -> (WinsockError?, handedOn: Bool) {
        var handedOn = false
        let error = withSocket(handle) { socket -> WinsockError? in
            switch socket.optionDecision(level: level, name: name) {
            case .refused: return .noProtocolOption
            case .handedOn:
                handedOn = true
                return platform.getOption(socket.handle, level: level, name: name, value: value, length: length)
            case .virtual: break
            }
            guard let length, platform.usable(length, writable: true), length.pointee > 0 else { return .fault }
            // The membership options are set-only.
            if level == Int32(VL_IPPROTO_IP), MembershipChange(option: name) != nil { return .noProtocolOption }
            if level == Int32(VL_SOL_SOCKET), name == Int32(VL_SO_BSP_STATE) { return writeAddressState(socket, to: value, length: length) }
            guard let shape = OptionValue(level: level, name: name) else { return .noProtocolOption }
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
            return shape.write(number, to: value, length: length, platform: platform)
        }
        return (error, handedOn)
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
        selectEvents(handle, events: events, target: event.map { .event($0) }) { platform.eventSelect($0, event: event, events: events) }
    }

    /// WSAAsyncSelect: the same, the OS posting the game's window message instead.
    func asyncSelect(_ handle: UInt, window: UnsafeMutableRawPointer?, message: UInt32, events: Int32) -> WinsockError? {
        selectEvents(handle, events: events, target: window.map { .window($0, message: message) }) {
            platform.asyncSelect($0, window: window, message: message, events: events)
        }
    }

    /// What both have in common: a target for any event, the backing socket registered,
    /// the socket non-blocking while events are selected.
    private func selectEvents(_ handle: UInt, events: Int32, target: EventTarget?,
                              register: (UInt) -> WinsockError?) -> WinsockError? {
        withSocket(handle) { socket in
            if events != 0 && target == nil { return .invalidArgument }
            if let error = register(socket.handle) { return error }
            socket.selectedEvents = events
            socket.eventTarget = events != 0 ? target : nil
            if events != 0 { return setNonBlocking(socket, true) }
            return nil
        }
    }

    /// An accepted socket takes its listener's selection once its preamble is read (the
    /// OS's accept did not pass it on: see `Platform.acceptUnselected`). Lock held.
    func passSelectionLocked(from listener: VirtualSocket, to socket: VirtualSocket) {
        socket.selectedEvents = listener.selectedEvents
        socket.eventTarget = listener.eventTarget
        switch listener.eventTarget {
        case nil: return
        case let .event(event)?: _ = platform.eventSelect(socket.handle, event: event, events: listener.selectedEvents)
        case let .window(window, message)?:
            _ = platform.asyncSelect(socket.handle, window: window, message: message, events: listener.selectedEvents)
        }
    }

    /// WSAIoctl on a virtual socket (ioctlsocket is WSAIoctl with `argument` as both buffers,
    /// as in Windows). The request is answered at once (`ioctlAnswer`); an overlapped one
    /// then completes as Windows completes it: success returns 0 and still reports 0 bytes
    /// through the OVERLAPPED, its event, the port or the routine; a request no provider
    /// knows is pending and completes with STATUS_NOT_SUPPORTED. A bad pointer or length is
    /// refused at once (WSAEFAULT), overlapped or not.
    func wsaIoctl(_ handle: UInt, code: UInt32, input: UnsafeMutableRawPointer?, inputLength: UInt32, output: UnsafeMutableRawPointer?,
                  outputLength: UInt32, returned: UnsafeMutablePointer<UInt32>?,
                  overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, routine: UnsafeMutableRawPointer?) -> WinsockError? {
        guard let returned, platform.canWrite(returned, 4) else { return .fault }
        if let overlapped, !platform.canWrite(overlapped, MemoryLayout<VL_OVERLAPPED>.size) { return .fault }
        if waitsForChange(code) { return waitForChange(handle, overlapped: overlapped, routine: routine) }
        var unknown = false
        let outcome = withSocket(handle) { socket -> WinsockError? in
            let request = IoctlRequest(code: code, input: input, inputLength: inputLength, output: output, outputLength: outputLength,
                                       overlapped: overlapped != nil, returned: returned.pointee)
            switch ioctlAnswer(socket, request) {
            case let .answered(size) where overlapped != nil && request.completesWithSize:
                finish(overlapped!, routine: routine, thread: platform.currentThread, target: socket.completionTarget,
                       handleEvent: startedLocked(socket, overlapped!, routine: routine), error: nil, bytes: Int(size), immediately: false)
                return .ioPending
            case let .answered(size):
                returned.pointee = size
                if let overlapped {
                    finish(overlapped, routine: routine, thread: platform.currentThread, target: socket.completionTarget,
                           handleEvent: startedLocked(socket, overlapped, routine: routine), error: nil, bytes: 0, immediately: true)
                }
                return nil
            case let .refused(error, _) where overlapped != nil && request.completesWithSize:
                // Such a request fails later: a buffer too small is STATUS_BUFFER_TOO_SMALL then.
                finish(overlapped!, routine: routine, thread: platform.currentThread, target: socket.completionTarget,
                       handleEvent: startedLocked(socket, overlapped!, routine: routine),
                       error: error == .fault ? .insufficientBuffer : error, bytes: 0, immediately: false)
                return .ioPending
            case let .refused(error, size):
                if let size { returned.pointee = size }
                return error
            case .unknown:
                unknown = true
                guard let overlapped else {
                    returned.pointee = 0
                    return .operationNotSupported
                }
                finish(overlapped, routine: routine, thread: platform.currentThread, target: socket.completionTarget,
                       handleEvent: startedLocked(socket, overlapped, routine: routine), error: .operationNotSupported, bytes: 0,
                       immediately: false)
                return .ioPending
            }
        }
        if unknown {
            log(.info, "WSAIoctl(\(hex(code))) on virtual socket \(handle): no provider knows it (WSAEOPNOTSUPP, as Windows)")
        }
        return outcome
    }

    /// One request's answer, before its overlapped part (lock held). The requests that name
    /// the PC (its interfaces, addresses and routes), the socket's virtual state (mode,
    /// queued payload) and the extension functions the layer provides are ours; every
    /// other request is the OS's, made on the backing socket, whose answer is the same as
    /// without the layer (keep-alive values, the base handle, the out-of-band mark...).
    func ioctlAnswer(_ socket: VirtualSocket, _ request: IoctlRequest) -> IoctlAnswer {
        switch request.code {
        case 0x8004_667E:  // FIONBIO
            guard request.inputLength >= 4, platform.canRead(request.input, 4) else { return .refused(.fault, size: nil) }
            if let error = setNonBlocking(socket, request.input!.loadUnaligned(as: UInt32.self) != 0) { return .refused(error, size: nil) }
            return .answered(0)
        case 0x4004_667F:  // FIONREAD
            guard request.outputLength >= 4, platform.canWrite(request.output, 4) else { return .refused(.fault, size: nil) }
            request.output!.storeBytes(of: socket.bytesReadableLocked(on: self), as: UInt32.self)
            return .answered(4)
        case 0xC800_0006:  // SIO_GET_EXTENSION_FUNCTION_POINTER
            guard request.inputLength >= 16, platform.canRead(request.input, 16) else { return .refused(.fault, size: nil) }
            guard let which = winsockExtension(request.input!, request.inputLength, stream: socket is StreamSocket) else { break }
            let size = MemoryLayout<UnsafeRawPointer>.size
            guard request.outputLength >= UInt32(size), platform.canWrite(request.output, size) else { return .refused(.fault, size: nil) }
            let entries = platform.extensionEntries
            let entry: UnsafeMutableRawPointer?
            switch which {
            case .receiveMessage: entry = entries.receiveMessage
            case .sendMessage: entry = entries.sendMessage
            case .connectEx: entry = entries.connectEx
            case .acceptEx: entry = entries.acceptEx
            case .acceptExNames: entry = entries.acceptExNames
            }
            request.output!.storeBytes(of: entry, as: UnsafeMutableRawPointer?.self)
            return .answered(UInt32(size))
        case 0x9800_000C, 0x9800_000F:  // SIO_UDP_CONNRESET, SIO_UDP_NETRESET: no ICMP error ever reaches the game here
            return .answered(0)
        case 0x4800_0005:  // SIO_GET_BROADCAST_ADDRESS
            return answered { broadcastAddress(output: request.writableOutput(platform), length: request.outputLength, returned: $0) }
        case 0xC800_0014:  // SIO_ROUTING_INTERFACE_QUERY
            return answered {
                routingInterface(input: request.readableInput(platform), inputLength: request.inputLength,
                                 output: request.writableOutput(platform), length: request.outputLength, returned: $0)
            }
        case 0x4004_747F:  // SIO_GET_INTERFACE_LIST
            return answered { interfaceList(output: request.writableOutput(platform), length: request.outputLength, returned: $0) }
        case 0x4800_0016:  // SIO_ADDRESS_LIST_QUERY
            return answered { addressList(output: request.writableOutput(platform), length: request.outputLength, returned: $0) }
        case 0x4800_0022 where request.overlapped:  // SIO_BASE_HANDLE has no overlapped form
            return .unknown
        default:
            break
        }
        // Not overlapped, the OS leaves the game's size as Windows would; overlapped, a refusal
        // leaves it alone.
        var size = request.returned
        switch platform.originalIoctl(socket.handle, code: request.code, input: request.input, inputLength: request.inputLength,
                                      output: request.output, outputLength: request.outputLength, returned: &size) {
        case nil: return .answered(size)
        case .operationNotSupported?: return .unknown
        case let error?: return .refused(error, size: request.overlapped ? nil : size)
        }
    }

    /// The answer of one of the layer's own writers, which report the size (the size
    /// needed, when the buffer is too small) through `returned`, or leave it alone.
    private func answered(_ writer: (UnsafeMutablePointer<UInt32>) -> WinsockError?) -> IoctlAnswer {
        let untouched = UInt32.max
        var size = untouched
        if let error = writer(&size) { return .refused(error, size: size == untouched ? nil : size) }
        return .answered(size == untouched ? 0 : size)
    }
}

/// One WSAIoctl request as the game made it.
struct IoctlRequest {
    let code: UInt32
    let input: UnsafeMutableRawPointer?
    let inputLength: UInt32
    let output: UnsafeMutableRawPointer?
    let outputLength: UInt32
    let overlapped: Bool
    /// The size the game's variable held before the call.
    let returned: UInt32

    /// Whether its overlapped form is pending and completes with the output's size, as
    /// SIO_GET_INTERFACE_LIST does; the others complete at once, reporting 0 bytes.
    var completesWithSize: Bool { code == 0x4004_747F }

    /// The input when all `inputLength` bytes can be read, else nil (the answer: WSAEFAULT).
    func readableInput(_ platform: Platform) -> UnsafeRawPointer? {
        platform.canRead(input, Int(inputLength)) ? UnsafeRawPointer(input) : nil
    }

    /// The output when all `outputLength` bytes can be written, else nil.
    func writableOutput(_ platform: Platform) -> UnsafeMutableRawPointer? {
        platform.canWrite(output, Int(outputLength)) ? output : nil
    }
}

/// What a request came to: answered (the output's size), refused at once (with the size
/// the caller learns, if any), or unknown to every provider (WSAEOPNOTSUPP; pending, then
/// that status, when overlapped).
enum IoctlAnswer {
    case answered(UInt32)
    case refused(WinsockError, size: UInt32?)
    case unknown
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
