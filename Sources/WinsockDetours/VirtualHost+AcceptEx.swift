import CWineBridge
import VirtualIPCore

/// AcceptEx (its pointer comes from WSAIoctl on a virtual TCP socket): the next connection
/// of a listener, onto a socket the game made, as IOCP servers accept. It always answers
/// FALSE with WSA_IO_PENDING (Wine does, even for a connection already waiting). The OS's
/// own AcceptEx waits for the connection (`stream_accept_overlapped`), so one that comes is
/// the AcceptEx's with no FD_ACCEPT to the game, and the connection is on the acceptor's own
/// handle; meanwhile the operation waits in the listener's queue. Then, in the acceptor's
/// queue, its preamble is read and checked as accept() checks it, the first data comes when
/// the game asked for some, and the names go into the buffer after it. The end is the
/// listener's: its OVERLAPPED, event and completion port. A connection that fails the
/// registry check ends the operation with WSAECONNRESET (what Windows says of a connection
/// reset before it was accepted), since the acceptor has taken it by then; accept() drops
/// such a connection and waits for the next one.
extension VirtualHost {
    /// A name block in the buffer: the name's length (an int), then the sockaddr. Wine's
    /// layout, which its GetAcceptExSockaddrs reads, and ours.
    static let nameBlockSize: UInt32 = 4 + 16

    func acceptEx(_ handle: UInt, into acceptor: UInt, output: UnsafeMutableRawPointer?, receiveLength: UInt32,
                  localLength: UInt32, remoteLength: UInt32, received: UnsafeMutablePointer<UInt32>?,
                  overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?) -> WinsockError? {
        // Wine's order of the argument checks; the OVERLAPPED is marked pending before them.
        guard let overlapped else { return .invalidParameter }
        guard platform.canWrite(overlapped, MemoryLayout<VL_OVERLAPPED>.size) else { return .fault }
        overlapped.pointee.Internal = UInt(VL_STATUS_PENDING)
        overlapped.pointee.InternalHigh = 0
        guard let output else { return .invalidArgument }
        guard remoteLength > 0 else { return .fault }
        // The buffer (first data, then the names) and the count are written later: a place
        // that cannot take them is WSAEFAULT now, as Windows' probe of them.
        let total = UInt64(receiveLength) + UInt64(localLength) + UInt64(remoteLength)
        guard total <= UInt64(Int32.max), platform.canWrite(output, Int(total)),
              platform.usable(UnsafePointer(received), writable: true) else { return .fault }
        // Then the I/O manager's: no room for the remote name's length, an accept socket that
        // is no socket at all. Names too small for their sockaddr end the operation later.
        guard remoteLength >= 4 else { return .invalidArgument }
        if !isVirtual(acceptor) && platform.intOption(acceptor, level: Int32(VL_SOL_SOCKET), name: Int32(VL_SO_TYPE)) == nil {
            return .notSocket
        }
        return withStream(handle, orFail: { $0 }, notStream: .invalidArgument) { listener in
            // An accept socket the layer does not own cannot become a virtual connection. The
            // rest is the OS's to refuse (a listener that does not listen; an acceptor that is
            // bound, connected, a datagram socket or another AcceptEx's): Windows says
            // WSAEINVAL, Wine 8 leaves them pending, and the game hears what it would hear
            // without the layer.
            guard let accepting = sockets[acceptor] else { return .invalidArgument }
            // The OS refuses a bound acceptor (Windows) or leaves it pending (Wine): it must see it bound.
            if let error = (accepting as? StreamSocket)?.showBindingToOSLocked(on: self) { return error }
            if let error = readyForOverlappedLocked(listener) { return error }
            let first = VL_WSABUF(len: receiveLength, buf: output.assumingMemoryBound(to: CChar.self))
            let op = PendingReceive(overlapped: overlapped, buffers: [first], from: nil, fromLength: nil, routine: nil,
                                    thread: platform.currentThread, target: listener.completionTarget,
                                    message: nil, controls: [], handleEvent: startedLocked(listener, overlapped, routine: nil))
            op.accept = PendingAccept(acceptor: acceptor, output: output, receiveLength: receiveLength, localLength: localLength,
                                      remoteLength: remoteLength)
            if let event = ownEvent(of: overlapped) { platform.resetEvent(event) }
            // The OS carries the wait for the connection (one that comes is the AcceptEx's,
            // with no FD_ACCEPT to the game); the operation waits in the listener's queue.
            let carried = StreamOperation(host: self, handle: listener.handle, receiving: true, overlapped: overlapped, routine: nil,
                                          thread: op.thread, target: nil, handleEvent: nil)
            carried.acceptance = op
            listener.pending.append(op)
            switch carry(carried, { platform.acceptOverlapped(listener.handle, into: acceptor, context: $0) }) {
            case .failure(.ioPending):
                received?.pointee = 0
                return .ioPending
            case let .failure(error):
                listener.pending.removeAll { $0 === op }
                return error
            case let .success(realPeerPort):
                // Accepted at once: the preamble is still to come (Wine's answer is always
                // pending, and so is the layer's).
                connectedLocked(listener, op, realPeerPort: realPeerPort)
                received?.pointee = 0
                return .ioPending
            }
        }
    }

    /// The platform's thread: the OS's AcceptEx for `op` ended (`error` nil: the acceptor has
    /// the connection). An operation the layer already ended (a close, a cancel) is left.
    func acceptEnded(_ op: PendingReceive, listener handle: UInt, error: WinsockError?) {
        lock.locked {
            guard let listener = sockets[handle] as? StreamSocket, listener.pending.contains(where: { $0 === op }),
                  let accept = op.accept else { return }
            let realPeerPort: Result<UInt16, WinsockError> = error.map { .failure($0) } ?? platform.peerPort(accept.acceptor)
            switch realPeerPort {
            case let .failure(failed):
                listener.pending.removeAll { $0 === op }
                complete(op, error: failed, bytes: 0, from: nil)
            case let .success(port):
                connectedLocked(listener, op, realPeerPort: port)
            }
        }
    }

    /// The connection is on the acceptor: the operation moves to its queue, where its
    /// preamble is read and checked, then its first data. Lock held.
    private func connectedLocked(_ listener: StreamSocket, _ op: PendingReceive, realPeerPort: UInt16) {
        listener.pending.removeAll { $0 === op }
        guard let accept = op.accept, let acceptor = sockets[accept.acceptor] as? StreamSocket else {
            complete(op, error: .operationAborted, bytes: 0, from: nil)
            return
        }
        accept.stage = .preamble
        accept.realPeerPort = realPeerPort
        accept.listener = Router.Receiver(instance: instance, virtualPort: listener.virtualPort, scope: listener.scope)
        accept.listenerRealPort = listener.realPort
        acceptor.pending.append(op)
        // Its preamble has most often come already: read at once, the AcceptEx ends with the
        // OS's end (so a later accept of the game cannot return before it has ended).
        if let error = serve(acceptor), acceptor.pending.contains(where: { $0 === op }) {
            acceptor.pending.removeAll { $0 === op }
            complete(op, error: error, bytes: 0, from: nil)
        }
    }

    /// Whether an AcceptEx already waits to accept onto `acceptor`. Lock held.
    func acceptWaitsLocked(onto acceptor: UInt) -> Bool {
        sockets.values.contains { socket in socket is StreamSocket && socket.pending.contains { $0.accept?.acceptor == acceptor } }
    }

    /// One non-blocking step of an AcceptEx; `socket` is the queue it waits in (the
    /// listener's, then the acceptor's). Lock held.
    func attemptAcceptLocked(_ socket: StreamSocket, _ op: PendingReceive, _ accept: PendingAccept) -> Attempt {
        switch accept.stage {
        case .connection:
            return .wouldBlock  // the OS carries it (acceptEnded)
        case .preamble:
            guard waitReadable(socket.handle, ms: 0) > 0 else { return .wouldBlock }
            var part = [UInt8](repeating: 0, count: WireHeader.size - accept.preamble.count)
            let read = part.withUnsafeMutableBytes { raw in
                var buffer = VL_WSABUF(len: UInt32(raw.count), buf: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                return platform.receive(socket.handle, &buffer, count: 1, flags: 0, waited: true)
            }
            let done: UInt32
            switch read {
            case .failure(.wouldBlock): return .wouldBlock
            // Closed or reset before its preamble came: the connection is gone.
            case .failure, .success(0): return .failed(.connectionReset)
            case let .success(bytes): done = bytes
            }
            accept.preamble += part[..<Int(done)]
            guard accept.preamble.count == WireHeader.size else { return .wouldBlock }
            let verdict = accept.preamble.withUnsafeBytes {
                router.checkPreamble($0, realSourcePort: accept.realPeerPort, listener: accept.listener)
            }
            switch verdict {
            case let .drop(reason):
                registry.countDrop(slot: instance, reason)
                log(.info, "AcceptEx refused a TCP connection from real port \(accept.realPeerPort) to virtual port \(accept.listener.virtualPort): \(reason.name)")
                platform.shutdown(socket.handle)
                return .failed(.connectionReset)
            case let .deliver(header):
                adoptLocked(socket, peer: SocketAddress(address: header.source, port: header.sourcePort),
                            listener: accept.listener, realPort: accept.listenerRealPort)
                log(.debug, "AcceptEx: socket \(socket.handle) accepted from \(header.source.dotted):\(header.sourcePort) on virtual TCP port \(accept.listener.virtualPort)")
            }
            guard accept.receiveLength > 0 else { return completeAcceptLocked(socket, op, accept, bytes: 0) }
            accept.stage = .firstData
            return attemptAcceptLocked(socket, op, accept)
        case .firstData:
            guard waitReadable(socket.handle, ms: 0) > 0 else { return .wouldBlock }
            switch op.buffers.withUnsafeBufferPointer({ platform.receive(socket.handle, $0.baseAddress, count: 1, flags: 0, waited: true) }) {
            case let .success(done): return completeAcceptLocked(socket, op, accept, bytes: Int(done))
            case .failure(.wouldBlock): return .wouldBlock
            case let .failure(error): return .failed(error)
            }
        }
    }

    /// The names after the first data (the acceptor's own, unless the game left no room for
    /// it, then its peer's), then the end. As the OS: a local part of 1 to 3 bytes ends the
    /// operation with STATUS_BUFFER_TOO_SMALL, a part too small for its sockaddr with a
    /// fault. Lock held.
    private func completeAcceptLocked(_ socket: StreamSocket, _ op: PendingReceive, _ accept: PendingAccept, bytes: Int) -> Attempt {
        let names = accept.output + Int(accept.receiveLength)
        var error: WinsockError?
        if accept.localLength > 0 && accept.localLength < 4 {
            error = .insufficientBuffer
        } else if (accept.localLength > 0 && accept.localLength < VirtualHost.nameBlockSize) || accept.remoteLength < VirtualHost.nameBlockSize {
            error = .fault
        } else {
            if accept.localLength > 0 { writeNameBlock(localAddress(socket), at: names) }
            if let peer = socket.peer { writeNameBlock(SocketAddress(address: peer.address, port: peer.port), at: names + Int(accept.localLength)) }
        }
        let done = error == nil ? bytes : 0
        complete(op, error: error, bytes: done, from: nil)
        return .completed(bytes: done, error: error)
    }

    private func writeNameBlock(_ name: SocketAddress, at block: UnsafeMutableRawPointer) {
        var length: Int32 = 16
        _ = name.write(to: (block + 4).assumingMemoryBound(to: VL_SOCKADDR_IN.self), length: &length)
        block.storeBytes(of: length, as: Int32.self)
    }
}

/// GetAcceptExSockaddrs: where the names are in an AcceptEx buffer (no copy: pointers into
/// it), as Wine's reads them. A missing buffer or out-pointer is skipped, not a crash.
func acceptExNames(_ buffer: UnsafeMutableRawPointer?, receiveLength: UInt32, localLength: UInt32,
                   local: UnsafeMutablePointer<UnsafeMutablePointer<VL_SOCKADDR_IN>?>?, localSize: UnsafeMutablePointer<Int32>?,
                   remote: UnsafeMutablePointer<UnsafeMutablePointer<VL_SOCKADDR_IN>?>?, remoteSize: UnsafeMutablePointer<Int32>?) {
    // Nothing to read or nowhere to write: nothing is written (the call has no result).
    let end = UInt64(receiveLength) + UInt64(localLength) + 4  // the remote name's length word ends here
    guard let buffer, end <= UInt64(Int32.max), let platform = VirtualHost.current?.platform, platform.canRead(buffer, Int(end)),
          platform.usable(UnsafePointer(local), writable: true), platform.usable(UnsafePointer(localSize), writable: true),
          platform.usable(UnsafePointer(remote), writable: true), platform.usable(UnsafePointer(remoteSize), writable: true)
    else { return }
    let localBlock = buffer + Int(receiveLength), remoteBlock = localBlock + Int(localLength)
    localSize?.pointee = localBlock.loadUnaligned(as: Int32.self)
    local?.pointee = (localBlock + 4).assumingMemoryBound(to: VL_SOCKADDR_IN.self)
    remoteSize?.pointee = remoteBlock.loadUnaligned(as: Int32.self)
    remote?.pointee = (remoteBlock + 4).assumingMemoryBound(to: VL_SOCKADDR_IN.self)
}
