import CWineBridge
import VirtualIPCore

/// ConnectEx (its pointer comes from WSAIoctl on a virtual TCP socket): connect, then send
/// the first bytes, as one overlapped operation. The connection is made the way connect
/// makes it (over loopback, within the call), but the call answers as Windows' and Wine's
/// do for a TCP handshake, which is never done at once: FALSE with WSA_IO_PENDING, then the
/// OVERLAPPED ends (its event set, a packet on the socket's port) with the bytes sent, or
/// with the refusal (STATUS_CONNECTION_REFUSED: WSAECONNREFUSED) when nothing listens.
/// Errors of the arguments are FALSE with their error and no packet. `sent` is left alone:
/// Windows writes it only when the call itself completes, which a handshake never does.
/// Towards an address where no PC answers, the end comes on Windows' schedule: connected
/// when a copy there starts in time, else WSAETIMEDOUT after 21 s.
extension VirtualHost {
    func connectEx(_ handle: UInt, to name: UnsafePointer<VL_SOCKADDR_IN>?, length: Int32, data: UnsafeRawPointer?,
                   dataLength: UInt32, sent: UnsafeMutablePointer<UInt32>?, overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?) -> WinsockError? {
        // As ws2_32: no OVERLAPPED is ERROR_INVALID_PARAMETER; the OVERLAPPED is marked pending
        // before any other check.
        guard let overlapped else { return .invalidParameter }
        guard platform.canWrite(overlapped, MemoryLayout<VL_OVERLAPPED>.size) else { return .fault }
        overlapped.pointee.Internal = UInt(VL_STATUS_PENDING)
        overlapped.pointee.InternalHigh = 0
        // A name or first bytes that cannot be read: WSAEFAULT, as Windows' probe of them.
        if let name, length > 0, !platform.canRead(name, Int(min(length, 28))) { return .fault }
        let target: SocketAddress
        switch SocketAddress.read(name, length: length) {
        case let .success(address): target = address
        case let .failure(error): return error
        }
        if dataLength > 0 && !platform.canRead(data, Int(dataLength)) { return .fault }
        let start: WinsockError? = withStream(handle, orFail: { $0 }, notStream: .invalidArgument) { connectExRefusalLocked($0, handle) }
        if let start { return start }
        // No PC answers at the address: the handshake goes on after the call, on Windows'
        // schedule (`awaitAnswer`), served by the heartbeat; the operation waits in the
        // socket's queue meanwhile (closesocket and CancelIoEx end it).
        let waiting: Bool = lock.locked {
            guard let socket = sockets[handle], case let .success(route) = router.route(to: target.address, payloadLength: 0, broadcastPermitted: true),
                  case .instance = route, !router.isAnswered(route) else { return false }
            let op = PendingReceive(overlapped: overlapped, buffers: [], from: nil, fromLength: nil, routine: nil,
                                    thread: platform.currentThread, target: socket.completionTarget, message: nil, controls: [],
                                    handleEvent: startedLocked(socket, overlapped, routine: nil))
            op.connect = PendingConnect(target: target, route: route, data: data, dataLength: dataLength, startedMs: platform.nowMs)
            markPending(overlapped, routine: nil)
            socket.pending.append(op)
            return true
        }
        if waiting {
            log(.info, "ConnectEx on socket \(handle) to \(target.address.dotted):\(target.port): no PC answers there; Windows' handshake waits up to \(initialRetransmitMs * 7) ms")
            return .ioPending
        }
        connectNow(handle, to: target, data: data, dataLength: dataLength, overlapped: overlapped)
        return .ioPending
    }

    /// ConnectEx of a bound socket towards an address outside the LAN: the socket is handed
    /// to the OS (`handOverLocked`) when its backing socket could still go there, and the
    /// system's ConnectEx makes the connection (true). Anything else stays ours (false).
    func connectExLeavesLAN(_ handle: UInt, to name: UnsafePointer<VL_SOCKADDR_IN>?, length: Int32) -> Bool {
        guard case let .success(target) = SocketAddress.read(name, length: length), target.port != 0, target.address != .any else { return false }
        return lock.locked {
            guard case let .success(found) = socket(handle), let socket = found as? StreamSocket,
                  connectExRefusalLocked(socket, handle) == nil, socket.canLeaveLAN,
                  case .failure = router.route(to: target.address, payloadLength: 0, broadcastPermitted: true) else { return false }
            handOverLocked(socket, leavingFor: target)
            return true
        }
    }

    /// Why a ConnectEx cannot start on the socket (nil: it can), as Windows decides before
    /// anything goes out. Lock held.
    private func connectExRefusalLocked(_ socket: StreamSocket, _ handle: UInt) -> WinsockError? {
        // The socket must be bound and not listening (WSAEINVAL), not yet connected.
        guard socket.isBound, !socket.listening, !acceptWaitsLocked(onto: handle) else { return .invalidArgument }
        // One handshake at a time (WSAEALREADY, as for a second connect under way).
        if socket.pending.contains(where: { $0.connect != nil }) { return WinsockError(VL_WSAEALREADY) }
        return socket.peer != nil ? .isConnected : nil
    }

    /// The connect, the first bytes, the end (event, port packet): within the call, or when
    /// an address that did not answer does.
    private func connectNow(_ handle: UInt, to target: SocketAddress, data: UnsafeRawPointer?, dataLength: UInt32,
                            overlapped: UnsafeMutablePointer<VL_OVERLAPPED>) {
        let error = connectStream(handle, to: target, waitingForAnswer: false, mayLeave: false)
        guard let socket = lock.locked({ sockets[handle] as? StreamSocket }) else { return }
        var outcome: WinsockError?
        var bytes = 0
        if !lock.locked({ socket.peer != nil }) {
            // A non-blocking socket's connect says WSAEWOULDBLOCK either way: made, or refused
            // (the refusal kept for SO_ERROR); over loopback nothing else is left pending.
            outcome = error == nil || error == .wouldBlock || error == .connectionRefused ? .connectionRefused : error
        } else if dataLength > 0 {
            var buffer = VL_WSABUF(len: dataLength, buf: UnsafeMutablePointer(mutating: data!.assumingMemoryBound(to: CChar.self)))
            switch streamSend(socket, buffers: &buffer, count: 1, flags: 0) {
            case let .success(n): bytes = n
            case let .failure(error): outcome = error
            }
        }
        // The operation ends here: finish writes the OVERLAPPED's status and sets its event.
        let (port, handleEvent) = lock.locked { (socket.completionTarget, startedLocked(socket, overlapped, routine: nil)) }
        finish(overlapped, routine: nil, thread: platform.currentThread, target: port, handleEvent: handleEvent,
               error: outcome, bytes: bytes, immediately: false)
        log(.debug, "ConnectEx on socket \(handle) to \(target.address.dotted):\(target.port): \(outcome == nil ? "connected, \(bytes) bytes sent" : "refused")")
    }

    /// The heartbeat's look at ConnectEx handshakes towards addresses that did not answer:
    /// after each SYN retransmission, whether a PC answers now (then the connect goes on);
    /// at the end of the schedule, WSAETIMEDOUT.
    func serviceHandshakes() {
        let now = platform.nowMs
        let due: [(UInt, PendingReceive, giveUp: Bool)] = lock.locked {
            var due: [(UInt, PendingReceive, giveUp: Bool)] = []
            for (handle, socket) in sockets where socket is StreamSocket && socket.pending.contains(where: { $0.connect != nil }) {
                socket.pending.removeAll { op in
                    guard let connect = op.connect else { return false }
                    let elapsed = now &- connect.startedMs
                    if elapsed >= initialRetransmitMs * 7 { due.append((handle, op, true)); return true }
                    let sent = elapsed >= initialRetransmitMs * 3 ? 2 : elapsed >= initialRetransmitMs ? 1 : 0
                    guard sent > connect.retransmitsSeen else { return false }
                    connect.retransmitsSeen = sent
                    guard router.isAnswered(connect.route) else { return false }
                    due.append((handle, op, false))
                    return true
                }
            }
            return due
        }
        for (handle, op, giveUp) in due {
            guard let connect = op.connect else { continue }
            if giveUp {
                complete(op, error: .timedOut, bytes: 0, from: nil)
                log(.info, "ConnectEx on socket \(handle) to \(connect.target.address.dotted): no answer, WSAETIMEDOUT")
            } else {
                connectNow(handle, to: connect.target, data: connect.data, dataLength: connect.dataLength, overlapped: op.overlapped)
            }
        }
    }
}
