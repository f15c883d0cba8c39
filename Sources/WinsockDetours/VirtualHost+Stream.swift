import CWineBridge
import VirtualIPCore

/// Virtual TCP. A virtual TCP socket is a real TCP socket on 127.0.0.1 whose stream the OS
/// carries as it is (partial sends, readiness, FD_* events, lingering close are the OS's);
/// what is virtual is who it is and whom it reaches: bind and connect go through this
/// instance's TCP port space and the registry, a connection starts with the preamble (the
/// wire header with the stream flag: virtual source and destination), and accept checks
/// it against the registry before the game sees the connection.
extension VirtualHost {
    /// How long the layer waits, inside connect and accept, for what the other end sends at
    /// once over loopback: the handshake of a connection it started, a preamble.
    static let streamSetupWaitMs: Int32 = 2000

    /// listen(): the socket must be a bound, unconnected TCP socket (Windows: WSAEOPNOTSUPP
    /// for UDP, WSAEINVAL unbound, WSAEISCONN connected). The backlog is the OS's largest:
    /// a connection is never refused for a queue the game sized.
    func listen(_ handle: UInt, backlog: Int32) -> WinsockError? {
        withStream(handle, orFail: { $0 }, notStream: .operationNotSupported) { socket in
            guard socket.isBound else { return .invalidArgument }
            guard socket.peer == nil else { return .isConnected }
            if socket.listening { return nil }
            if let error = socket.bindBackingLocked(on: self) { return error }
            if let error = platform.listen(socket.handle) { return error }
            socket.listening = true
            registry.markListening(slot: instance, realPort: socket.realPort)
            return nil
        }
    }

    /// accept(): the next connection whose preamble passes the registry check; the others
    /// are closed and counted, as bad datagrams are dropped. The new socket is connected to
    /// the preamble's source, on the listener's port and scope, with its blocking mode and
    /// selected events (as Windows' accepted sockets inherit them). With a WSAAccept
    /// condition, the OS's WSAAccept takes the connection once the condition agrees
    /// (`VirtualHost+WSAAccept.swift`).
    func accept(_ handle: UInt, address: UnsafeMutablePointer<VL_SOCKADDR_IN>?,
                length: UnsafeMutablePointer<Int32>?, condition: AcceptCondition? = nil) -> Result<UInt, WinsockError> {
        // The socket first, as ws2_32 asks (a datagram socket is WSAEOPNOTSUPP whatever the
        // pointers), then the name: written only when both pointers are given (a NULL length
        // is no error); a length too small for it is WSAEFAULT.
        if let error = withStream(handle, orFail: { $0 }, notStream: .operationNotSupported, { $0.listening ? nil : .invalidArgument }) {
            return .failure(error)
        }
        guard platform.usable(length, writable: true) else { return .failure(.fault) }
        if address != nil, let length, length.pointee < 16 { return .failure(.fault) }
        let start: Result<StreamSocket, WinsockError> = withStream(handle, orFail: { .failure($0) }, notStream: .operationNotSupported) { socket in
            guard socket.listening else { return .failure(.invalidArgument) }
            socket.activeCalls += 1
            return .success(socket)
        }
        guard case let .success(listener) = start else {
            if case let .failure(error) = start { return .failure(error) }
            return .failure(.notSocket)
        }
        defer { leave(listener) }
        if !lock.locked({ listener.nonBlocking }) { willBlock?() }
        while true {
            let taken = take(from: listener, condition: condition)
            if lock.locked({ listener.closed }) {
                if case let .success(connection) = taken { platform.close(connection.handle) }
                return .failure(.interrupted)
            }
            let accepted: UInt, realPeerPort: UInt16
            switch taken {
            case let .success(connection): (accepted, realPeerPort) = connection
            case let .failure(error): return .failure(error)
            }
            switch admit(accepted, realPeerPort: realPeerPort, listener: listener) {
            case let .deliver(header):
                if address != nil && length != nil { _ = SocketAddress(address: header.source, port: header.sourcePort).write(to: address, length: length) }
                return .success(accepted)
            case let .drop(reason):
                registry.countDrop(slot: instance, reason)
                log(.info, "refused a TCP connection from real port \(realPeerPort) to virtual port \(listener.virtualPort): \(reason.name)")
                platform.close(accepted)
            }
        }
    }

    /// The OS's next connection of `listener`: through the OS's WSAAccept when the game gave
    /// a condition; else accept, or (a listener with selected events, which Windows makes
    /// non-blocking) an accept whose socket does not take the selection yet.
    private func take(from listener: StreamSocket, condition: AcceptCondition?) -> Result<(handle: UInt, realPeerPort: UInt16), WinsockError> {
        let taken: Result<(handle: UInt, realPeerPort: UInt16), WinsockError>
        if let condition {
            var question = lock.locked {
                AcceptQuestion(host: self, listener: Router.Receiver(instance: instance, virtualPort: listener.virtualPort, scope: listener.scope),
                               condition: condition)
            }
            taken = withUnsafeMutablePointer(to: &question) { platform.acceptConditional(listener.handle, decide: AcceptQuestion.decide, context: $0) }
        } else {
            taken = lock.locked({ listener.eventTarget != nil }) ? platform.acceptUnselected(listener.handle) : platform.accept(listener.handle)
        }
        // An AcceptEx the OS ended before it gave this connection has ended for the game too
        // (sock.c: a deferred connection's AcceptEx, then accept takes the next one).
        platform.settle(listener.handle)
        return taken
    }

    /// Reads and checks an accepted connection's preamble; a good one becomes a virtual
    /// socket, connected to the preamble's source.
    private func admit(_ accepted: UInt, realPeerPort: UInt16, listener: StreamSocket) -> Router.Verdict {
        var preamble: (UInt64, UInt64) = (0, 0)
        let complete = withUnsafeMutableBytes(of: &preamble) { readExactly(accepted, into: $0) }
        guard complete else { return .drop(.malformed) }
        let receiver = lock.locked { Router.Receiver(instance: instance, virtualPort: listener.virtualPort, scope: listener.scope) }
        let verdict = withUnsafeBytes(of: &preamble) { router.checkPreamble($0, realSourcePort: realPeerPort, listener: receiver) }
        if case let .deliver(header) = verdict {
            let peer = SocketAddress(address: header.source, port: header.sourcePort)
            lock.locked {
                let socket = StreamSocket(handle: accepted, realPort: listener.realPort)
                adoptLocked(socket, peer: peer, listener: receiver, realPort: listener.realPort)
                socket.nonBlocking = listener.nonBlocking
                // What accept() passes on of the listener's own options (sock.c's
                // test_accept_inheritance); the OS's options the backing socket inherits itself.
                socket.receiveTimeout = listener.receiveTimeout
                socket.sendTimeout = listener.sendTimeout
                socket.reuseAddress = listener.reuseAddress
                socket.exclusiveAddress = listener.exclusiveAddress
                sockets[accepted] = socket
                passSelectionLocked(from: listener, to: socket)
            }
            log(.debug, "socket \(accepted) accepted from \(peer.address.dotted):\(peer.port) on virtual TCP port \(listener.virtualPort)")
        }
        return verdict
    }

    /// A connection a listener took (accept, AcceptEx) becomes virtual: connected to `peer`,
    /// on the listener's port and scope, sharing its real port and registry entry. Lock held.
    func adoptLocked(_ socket: StreamSocket, peer: SocketAddress, listener: Router.Receiver, realPort: UInt16) {
        socket.realPort = realPort
        socket.virtualPort = listener.virtualPort
        socket.scope = listener.scope
        socket.peer = (peer.address, peer.port)
        registry.countConnection(slot: instance, opened: true)
    }

    /// Fills `buffer` from a stream within `streamSetupWaitMs`, whatever its blocking mode.
    private func readExactly(_ handle: UInt, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        let limit = UInt32(VirtualHost.streamSetupWaitMs)
        let deadline = waitDeadline(after: limit)
        var got = 0
        while got < buffer.count {
            guard let remaining = timeLeft(limit, until: deadline), waitReadable(handle, ms: remaining) > 0 else { return false }
            var part = VL_WSABUF(len: UInt32(buffer.count - got), buf: (buffer.baseAddress! + got).assumingMemoryBound(to: CChar.self))
            switch platform.receive(handle, &part, count: 1, flags: 0, waited: true) {
            case .failure(.wouldBlock): continue
            case .failure, .success(0): return false
            case let .success(done): got += Int(done)
            }
        }
        return true
    }

    /// connect() of a TCP socket to `target`. On the virtual LAN: the backing socket
    /// connects to the listener's real port (none: to the host's refusing port, so the OS
    /// itself answers WSAECONNREFUSED on every channel a game may look at), then sends the
    /// preamble. A non-blocking connect says WSAEWOULDBLOCK as Windows does, the connection
    /// being made (over loopback, at once) before it returns. Outside loopback and the LAN,
    /// a socket whose backing socket has not bound is handed to the OS as it is: it leaves
    /// the virtual table and connects for real (a master server on the internet).
    /// `waitingForAnswer` false: never Windows' handshake wait (ConnectEx has its own, and a
    /// connect on the heartbeat's thread must not stall it); refused at once instead.
    /// `mayLeave` false: never handed to the OS (ConnectEx, whose OVERLAPPED is the layer's
    /// here: the DLL's entry hands a socket that leaves to the system's ConnectEx first).
    func connectStream(_ handle: UInt, to target: SocketAddress, waitingForAnswer: Bool = true, mayLeave: Bool = true) -> WinsockError? {
        enum Plan {
            case virtual(StreamSocket, realPort: UInt16, preamble: WireHeader, blocking: Bool)
            /// A blocking connect to an address where no PC answers (yet): Windows' handshake.
            case unanswered(StreamSocket, route: Router.Route, preamble: WireHeader)
            /// A non-blocking one: under way towards the silent port, as long as the OS tries.
            case silent(StreamSocket, realPort: UInt16)
            case outside(UInt)
        }
        let planned: Result<Plan, WinsockError> = withStream(handle, orFail: { .failure($0) }, notStream: .operationNotSupported) { socket in
            // A listener, and a socket an AcceptEx waits to accept into, cannot connect (Windows).
            guard !socket.listening, !acceptWaitsLocked(onto: handle) else { return .failure(.invalidArgument) }
            guard socket.peer == nil else { return .failure(.isConnected) }
            guard target.port != 0, target.address != .any else { return .failure(.addressNotAvailable) }
            let route: Router.Route
            switch router.route(to: target.address, payloadLength: 0, broadcastPermitted: true) {
            case .failure:
                guard mayLeave, socket.canLeaveLAN else { return .failure(.networkUnreachable) }
                handOverLocked(socket, leavingFor: target)
                return .success(.outside(socket.handle))
            case let .success(r): route = r
            }
            // A connection has one end: a broadcast or group address has no listener (the OS's answer).
            if route.isForMany { return .failure(.networkUnreachable) }
            if socket.scope == .loopback && route != .loopback { return .failure(.networkUnreachable) }
            // The backing socket binds first: an implicit bind then needs no placeholder.
            if let error = socket.bindBackingLocked(on: self) ?? bindImplicitlyLocked(socket) { return .failure(error) }
            let preamble = WireHeader(source: router.sourceAddress(for: route, sender: instance), sourcePort: socket.virtualPort,
                                      destination: target.address, destinationPort: target.port, isBroadcast: false, isStream: true)
            // Who connects over loopback is named 127.0.0.1 to a WSAAccept condition.
            if preamble.source.isLoopback { registry.markLoopbackPeer(slot: instance, realPort: socket.realPort) }
            socket.activeCalls += 1
            if !router.isAnswered(route) {
                if waitingForAnswer && !socket.nonBlocking { return .success(.unanswered(socket, route: route, preamble: preamble)) }
                if socket.nonBlocking, let port = silentPortLocked() { return .success(.silent(socket, realPort: port)) }
            }
            guard let realPort = answerLocked(route, virtualPort: target.port) else {
                socket.activeCalls -= 1
                return .failure(.noBuffers)
            }
            return .success(.virtual(socket, realPort: realPort, preamble: preamble, blocking: !socket.nonBlocking))
        }
        switch planned {
        case let .failure(error): return error
        case let .success(.outside(real)):
            return platform.connect(real, to: target.address, port: target.port)
        case let .success(.unanswered(socket, route, preamble)):
            defer { leave(socket) }
            switch awaitAnswer(socket, route: route, virtualPort: target.port) {
            case let .failure(error): return error
            case let .success(realPort): return establish(socket, realPort: realPort, preamble: preamble, blocking: true, target: target)
            }
        case let .success(.virtual(socket, realPort, preamble, blocking)):
            defer { leave(socket) }
            return establish(socket, realPort: realPort, preamble: preamble, blocking: blocking, target: target)
        case let .success(.silent(socket, realPort)):
            defer { leave(socket) }
            // Its SYN is dropped: select, FD_CONNECT and SO_ERROR show a connect under way, and
            // in the end the OS's own timeout (WSAETIMEDOUT), as for a PC that is not there.
            let error = platform.connect(socket.handle, to: IPv4Address.loopback, port: realPort)
            log(.info, "TCP socket \(handle): no PC answers at \(target.address.dotted); the non-blocking connect stays under way")
            return error == nil || error == .wouldBlock ? .wouldBlock : error
        }
    }

    /// A socket connecting outside the LAN is not ours any more: the OS's socket from here
    /// on, every call goes to it. A bound one gives its virtual port back (its backing
    /// socket was never bound: the OS picks a port of the real PC). Lock held.
    func handOverLocked(_ socket: StreamSocket, leavingFor target: SocketAddress) {
        sockets.removeValue(forKey: socket.handle)
        if socket.ownsEntry { registry.removeSocket(slot: instance, realPort: socket.realPort, transport: .tcp, member: member) }
        socket.dropPlaceholder(platform: platform)
        log(.info, "TCP socket \(socket.handle) connects outside the virtual LAN (\(target.address.dotted):\(target.port)): handed to the OS")
    }

    /// The real port a SYN towards `route` reaches now: the listener's; the refusing port
    /// when the PC is there without one; nil only when that port cannot be made. Lock held.
    private func answerLocked(_ route: Router.Route, virtualPort: UInt16) -> UInt16? {
        router.streamListener(of: route, virtualPort: virtualPort, sender: instance) ?? refusingPortLocked()
    }

    /// Windows' handshake towards an address where no PC answers: the SYN is sent again
    /// after TcpInitialRTT (3 s) and after twice that (TcpMaxConnectRetransmissions 2), and
    /// the attempt is given up twice the last delay later: WSAETIMEDOUT at 21 s (Microsoft
    /// KB 2786464: the handshake "is limited to a 21-second timeframe"). A copy that starts
    /// meanwhile is reached by the next SYN, as a PC that came up would be. closesocket from
    /// another thread ends the wait (WSAEINTR). A non-blocking connect is not waited for:
    /// it goes to the silent port and stays under way until the OS gives up.
    private func awaitAnswer(_ socket: StreamSocket, route: Router.Route, virtualPort: UInt16) -> Result<UInt16, WinsockError> {
        guard let wake = platform.createEvent() else { return .failure(.noBuffers) }
        lock.locked { socket.handshakeWake = wake }
        defer {
            lock.locked { socket.handshakeWake = nil }
            platform.closeEvent(wake)
        }
        log(.info, "TCP socket \(socket.handle): no PC answers at the address; Windows' handshake waits up to \(initialRetransmitMs * 7) ms")
        willBlock?()
        var waited: UInt32 = 0
        for at in [initialRetransmitMs, initialRetransmitMs * 3, initialRetransmitMs * 7] {
            if platform.waitEvent(wake, timeoutMs: at - waited) == VL_WSA_WAIT_EVENT_0 { return .failure(.interrupted) }
            waited = at
            guard at < initialRetransmitMs * 7 else { break }
            let answer: Result<UInt16, WinsockError>? = lock.locked {
                guard router.isAnswered(route) else { return nil }
                return answerLocked(route, virtualPort: virtualPort).map { .success($0) } ?? .failure(.noBuffers)
            }
            if let answer { return answer }
        }
        return .failure(.timedOut)
    }

    /// The backing connect to `realPort` and the preamble; the connection is then virtual.
    private func establish(_ socket: StreamSocket, realPort: UInt16, preamble: WireHeader, blocking: Bool,
                           target: SocketAddress) -> WinsockError? {
        var error = platform.connect(socket.handle, to: IPv4Address.loopback, port: realPort)
        if lock.locked({ socket.closed }) { return .interrupted }
        if error == .wouldBlock {
            _ = platform.waitSocket(socket.handle, for: Int32(VL_WAIT_WRITE | VL_WAIT_EXCEPT), timeoutMs: VirtualHost.streamSetupWaitMs)
            // Refused: the OS keeps the error for the game's select, FD_CONNECT, SO_ERROR.
            guard platform.isConnected(socket.handle) else { return .wouldBlock }
            error = nil
        }
        if let error { return error }
        var bytes = preamble.bytes
        let sent = bytes.withUnsafeMutableBytes { raw -> Bool in
            var one = VL_WSABUF(len: UInt32(raw.count), buf: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            return platform.send(socket.handle, &one, count: 1, flags: 0) == .success(UInt32(raw.count))
        }
        guard sent else { return .connectionReset }
        lock.locked {
            socket.peer = (target.address, target.port)
            // Counted with the peer, under the lock: closesocket counts it closed by the same test.
            if !socket.closed { registry.countConnection(slot: instance, opened: true) }
        }
        log(.debug, "socket \(socket.handle) connected to \(target.address.dotted):\(target.port) (real port \(realPort))")
        return blocking ? nil : .wouldBlock
    }

    /// The real port of a TCP socket of this host that is bound and never listens: a
    /// connection to it is refused by the OS. Made on first use. Lock held.
    private func refusingPortLocked() -> UInt16? {
        if let port = refusingPort { return port }
        guard case let .success(socket) = platform.openBoundStreamSocket() else { return nil }
        refusingPort = socket.port
        ownSockets.append(socket.handle)
        return socket.port
    }

    /// The real port of a listener of this host with a backlog of 0 and one connection of
    /// its own never accepted: the OS drops every SYN to it, so a connect to it stays under
    /// way, as one towards a LAN address where no PC answers. Made on first use. Lock held.
    private func silentPortLocked() -> UInt16? {
        if let port = silentPort { return port }
        guard case let .success(listener) = platform.openBoundStreamSocket() else { return nil }
        guard platform.listenSilently(listener.handle) == nil, case let .success(filler) = platform.openStreamSocket() else {
            platform.close(listener.handle)
            return nil
        }
        guard platform.connect(filler, to: IPv4Address.loopback, port: listener.port) == nil else {
            platform.close(filler)
            platform.close(listener.handle)
            return nil
        }
        silentPort = listener.port
        ownSockets += [listener.handle, filler]
        return listener.port
    }

    /// send on a TCP socket: the OS's send on the connection (blocking as the socket is; a
    /// blocking one is interrupted by closesocket: WSAEINTR).
    func streamSend(_ socket: StreamSocket, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, flags: Int32) -> Result<Int, WinsockError> {
        streamTransfer(socket, sending: true, buffers: buffers, count: count, flags: flags)
    }

    /// shutdown. A datagram socket's is the backing socket's (Winsock shuts a connectionless
    /// socket's halves whether it is connected or not). A stream's receive half is kept by
    /// the layer too: new receives are WSAESHUTDOWN at once, and while receives are pending
    /// the backing socket is not told, so they still end with the peer's data, as on
    /// Windows (sock.c's test_shutdown).
    func shutdown(_ handle: UInt, how: Int32) -> WinsockError? {
        withSocket(handle) { socket in
            guard how >= Int32(VL_SD_RECEIVE) && how <= Int32(VL_SD_BOTH) else { return .invalidArgument }
            guard let stream = socket as? StreamSocket else { return platform.shutdownSocket(socket.handle, how: how) }
            // Only a connection has halves to shut (a listener too is WSAENOTCONN).
            guard stream.peer != nil else { return .notConnected }
            let receiving = how != Int32(VL_SD_SEND)
            var told = how
            if receiving && (!stream.pending.isEmpty || streamOperations.receiving(on: stream.handle)) {
                if how == Int32(VL_SD_RECEIVE) {
                    stream.receiveShut = true
                    return nil
                }
                told = Int32(VL_SD_SEND)
            }
            if let error = platform.shutdownSocket(stream.handle, how: told) { return error }
            if receiving { stream.receiveShut = true }
            return nil
        }
    }

    /// recv on a TCP socket: the OS's; 0 bytes is the peer's graceful close. SO_RCVTIMEO
    /// bounds a blocking one (WSAETIMEDOUT), as for datagrams.
    func streamReceive(_ socket: StreamSocket, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, flags: Int32,
                       mustBlock: Bool = false) -> Result<Int, WinsockError> {
        streamTransfer(socket, sending: false, buffers: buffers, count: count, flags: flags, mustBlock: mustBlock)
    }

    private func streamTransfer(_ socket: StreamSocket, sending: Bool, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32,
                                flags: Int32, mustBlock: Bool = false) -> Result<Int, WinsockError> {
        let state: (connected: Bool, blocking: Bool, timeout: UInt32, backingBlocks: Bool, receiveShut: Bool)? = lock.locked {
            guard !socket.closed else { return nil }
            socket.activeCalls += 1
            return (socket.peer != nil, mustBlock || !socket.nonBlocking, socket.receiveTimeout, !socket.nonBlocking, socket.receiveShut)
        }
        guard let state else { return .failure(.notSocket) }
        defer { leave(socket) }
        // A send with nowhere to go: the hooks give the OS's answer for it (`unaddressed`).
        guard state.connected else { return .failure(sending ? .destinationRequired : .notConnected) }
        if !sending && state.receiveShut { return .failure(.shutDown) }
        // A wait the backing socket would not make itself (it is in the game's non-blocking
        // mode) or one with a limit: readiness first, then the receive.
        // Only a receive that found nothing there waits (and may wait into a reset).
        var waited = false
        if !sending && state.blocking && (state.timeout > 0 || !state.backingBlocks) && waitReadable(socket.handle, ms: 0) == 0 {
            waited = true
            let woke = waitReadable(socket.handle, ms: state.timeout > 0 ? Int32(clamping: state.timeout) : -1)
            if lock.locked({ socket.closed }) { return .failure(.interrupted) }
            if woke == 0 { return .failure(.timedOut) }
        }
        if state.blocking { willBlock?() }
        let done = sending ? platform.send(socket.handle, buffers, count: count, flags: flags)
                           : platform.receive(socket.handle, buffers, count: count, flags: flags, waited: waited)
        if state.blocking && lock.locked({ socket.closed }) { return .failure(.interrupted) }
        return done.map { Int($0) }
    }
}
