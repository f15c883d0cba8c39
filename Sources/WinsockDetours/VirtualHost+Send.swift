import CWineBridge
import VirtualIPCore

extension VirtualHost {
    /// Sends one datagram (the game's buffers gathered behind our header) to a virtual
    /// destination; `to` nil means the connected peer. Returns the payload size sent.
    /// A TCP socket sends on its connection (`flags` are the stream's; `to` is ignored, as
    /// Windows does for a connected stream).
    func send(_ handle: UInt, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, to: SocketAddress?, flags: Int32 = 0) -> Result<Int, WinsockError> {
        guard buffers != nil || count == 0 else { return .failure(.fault) }
        var total = 0
        for i in 0..<Int(count) {
            guard buffers![i].buf != nil || buffers![i].len == 0 else { return .failure(.fault) }
            total += Int(buffers![i].len)
        }
        // Everything about the socket is read under the lock; the I/O runs outside it.
        enum Plan { case stream(StreamSocket), datagram(DatagramSocket, to: SocketAddress, broadcastPermitted: Bool) }
        let prepared: Result<Plan, WinsockError> = withSocket(handle, orFail: { .failure($0) }) { found in
            // A stream sends on its connection (below, outside the lock): no destination.
            let socket: DatagramSocket
            switch found.kind {
            case let .stream(stream): return .success(.stream(stream))
            case let .datagram(datagram): socket = datagram
            }
            // A connected UDP socket always sends to its peer (Windows ignores `to`).
            guard let destination = socket.peer.map({ SocketAddress(address: $0.address, port: $0.port) }) ?? to else {
                return .failure(.destinationRequired)
            }
            guard destination.port != 0 else { return .failure(.addressNotAvailable) }
            if let error = bindImplicitlyLocked(socket) { return .failure(error) }
            socket.activeCalls += 1
            return .success(.datagram(socket, to: destination, broadcastPermitted: socket.broadcast))
        }
        let socket: DatagramSocket, destination: SocketAddress, broadcastPermitted: Bool
        switch prepared {
        case let .failure(error): return .failure(error)
        case let .success(.stream(stream)): return streamSend(stream, buffers: buffers, count: count, flags: flags)
        case let .success(.datagram(datagram, to, permitted)): (socket, destination, broadcastPermitted) = (datagram, to, permitted)
        }
        defer { leave(socket) }

        let route: Router.Route
        switch router.route(to: destination.address, payloadLength: total, broadcastPermitted: broadcastPermitted) {
        case let .failure(error):
            if error == .networkUnreachable { warnOutside(socket.handle, destination) }
            return .failure(winsockError(error))
        case let .success(r): route = r
        }
        // A socket bound to 127.0.0.1 has no route to the LAN, as on Windows.
        if socket.scope == .loopback && route != .loopback { return .failure(.networkUnreachable) }

        let header = WireHeader(
            source: router.sourceAddress(for: route, sender: instance), sourcePort: socket.virtualPort,
            destination: destination.address, destinationPort: destination.port, isBroadcast: route.isForMany)
        var headerBytes: (UInt64, UInt64) = (0, 0)
        // Every receiver's port on the stack (no allocation per datagram), then one platform
        // call for all of them: a broadcast is one syscall on Linux.
        let capacity = registry.slotCount * RegistryLayout.deliveriesPerSlot
        let sent = withUnsafeTemporaryAllocation(of: UInt16.self, capacity: capacity) { ports -> Result<Int, WinsockError> in
            var found = 0
            router.forEachReceiver(of: route, virtualPort: destination.port, sender: instance) { port in
                if found < capacity { ports[found] = port; found += 1 }
            }
            return withUnsafeMutableBytes(of: &headerBytes) { raw in
                header.encode(into: raw.baseAddress!)
                return platform.sendFrame(socket.handle, header: raw.baseAddress!, headerLength: WireHeader.size, buffers: buffers,
                                          count: count, to: UnsafeBufferPointer(rebasing: ports[..<found]))
            }
        }
        guard case let .success(receivers) = sent else { return sent }
        registry.countDatagram(slot: instance, received: false, bytes: total)
        if receivers == 0 { registry.countDrop(slot: instance, .noListener) }
        return .success(total)
    }

    /// WSASendTo: UDP sends complete at once; an overlapped one is reported complete through
    /// its OVERLAPPED, event or completion routine as well.
    func sendOverlapped(_ handle: UInt, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, sent: UnsafeMutablePointer<UInt32>?,
                        to: SocketAddress?, flags: Int32 = 0, overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?,
                        routine: UnsafeMutableRawPointer?) -> WinsockError? {
        guard overlapped != nil || sent != nil else { return .fault }
        guard let overlapped else {
            switch send(handle, buffers: buffers, count: count, to: to, flags: flags) {
            case let .failure(error): return error
            case let .success(bytes): sent?.pointee = UInt32(bytes); return nil
            }
        }
        // Only an overlapped send looks for a completion port (the lock, off the plain send's
        // path); a stream's is the platform's (it may end later). A completion routine on a
        // socket that has a port: WSAEINVAL, as Windows' I/O manager answers.
        let started: Result<(target: CompletionTarget?, handleEvent: UnsafeMutableRawPointer?)?, WinsockError> =
            withSocket(handle, orFail: { _ in .success((nil, nil)) }) { socket in
                if routine != nil, socket.port != nil { return .failure(.invalidArgument) }
                return .success(socket is StreamSocket ? nil : (socket.completionTarget, startedLocked(socket, overlapped, routine: routine)))
            }
        let datagram: (target: CompletionTarget?, handleEvent: UnsafeMutableRawPointer?)?
        switch started {
        case let .failure(error): return error
        case let .success(found): datagram = found
        }
        guard let datagram else {
            return streamSendOverlapped(handle, buffers: buffers, count: count, sent: sent, flags: flags, overlapped: overlapped, routine: routine)
        }
        switch send(handle, buffers: buffers, count: count, to: to, flags: flags) {
        case let .failure(error): return error
        case let .success(bytes):
            sent?.pointee = UInt32(bytes)
            finish(overlapped, routine: routine, thread: platform.currentThread, target: datagram.target, handleEvent: datagram.handleEvent,
                   error: nil, bytes: bytes, immediately: true)
            return nil
        }
    }

    /// An overlapped send on a stream, as Windows makes it: the OS's own (it never blocks the
    /// caller; what the OS cannot take at once waits, in order, for room).
    private func streamSendOverlapped(_ handle: UInt, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, sent: UnsafeMutablePointer<UInt32>?,
                                      flags: Int32, overlapped: UnsafeMutablePointer<VL_OVERLAPPED>,
                                      routine: UnsafeMutableRawPointer?) -> WinsockError? {
        if count > 0 && buffers == nil { return .fault }
        let outcome = startStreamOperation(handle, receiving: false, overlapped: overlapped, routine: routine,
                                           check: { $0.peer != nil ? nil : .destinationRequired }) { backing, context in
            platform.sendOverlapped(backing, buffers, count: count, flags: flags, context: context)
        }
        switch outcome {
        case let .failure(error): return error
        case let .success(done):
            sent?.pointee = done
            return nil
        }
    }

    /// UDP outside loopback and the virtual LAN (a master server, the internet) is not passed
    /// through: the backing socket is on 127.0.0.1, and a datagram of a virtual socket
    /// reaching a real network is what this layer exists to prevent. Said once per address.
    private func warnOutside(_ handle: UInt, _ destination: SocketAddress) {
        let first = lock.locked { () -> Bool in
            guard !warnedOutside.contains(destination.address), warnedOutside.count < 64 else { return false }
            warnedOutside.append(destination.address)
            return true
        }
        if first {
            log(.warning, "UDP send on virtual socket \(handle) to \(destination.address.dotted):\(destination.port) refused with WSAENETUNREACH: UDP outside the virtual LAN is not passed through (TCP is)")
        }
    }
}
