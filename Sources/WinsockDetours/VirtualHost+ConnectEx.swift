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
extension VirtualHost {
    func connectEx(_ handle: UInt, to name: UnsafePointer<VL_SOCKADDR_IN>?, length: Int32, data: UnsafeRawPointer?,
                   dataLength: UInt32, sent: UnsafeMutablePointer<UInt32>?, overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?) -> WinsockError? {
        guard let overlapped else { return .invalidArgument }
        let target: SocketAddress
        switch SocketAddress.read(name, length: length) {
        case let .success(address): target = address
        case let .failure(error): return error
        }
        if dataLength > 0 && data == nil { return .fault }
        // Windows: the socket must be bound and not listening (WSAEINVAL), not yet connected.
        let start: WinsockError? = withSocket(handle) { socket in
            guard socket.isStream, socket.isBound, !socket.listening else { return .invalidArgument }
            return socket.peer != nil ? .isConnected : nil
        }
        if let start { return start }
        let error = connectStream(handle, to: target)
        guard let socket = lock.locked({ sockets[handle] }) else { return error ?? .notSocket }
        var outcome: WinsockError?
        var bytes = 0
        if !lock.locked({ socket.peer != nil }) {
            // A non-blocking socket's connect says WSAEWOULDBLOCK either way: made, or refused
            // (the refusal kept for SO_ERROR); over loopback nothing else is left pending.
            guard error == nil || error == .wouldBlock || error == .connectionRefused else { return error }
            outcome = .connectionRefused
        } else if dataLength > 0 {
            var buffer = VL_WSABUF(len: dataLength, buf: UnsafeMutablePointer(mutating: data!.assumingMemoryBound(to: CChar.self)))
            switch streamSend(socket, buffers: &buffer, count: 1, flags: 0) {
            case let .success(n): bytes = n
            case let .failure(error): outcome = error
            }
        }
        // The operation ends here: finish writes the OVERLAPPED's status and sets its event.
        let (port, handleEvent) = lock.locked { (socket.completionTarget, startedLocked(socket, overlapped, routine: nil)) }
        finish(overlapped, routine: nil, thread: platform.t.current_thread!(), target: port, handleEvent: handleEvent,
               error: outcome, bytes: bytes, immediately: false)
        log(.debug, "ConnectEx on socket \(handle) to \(target.address.dotted):\(target.port): \(outcome == nil ? "connected, \(bytes) bytes sent" : "refused")")
        return .ioPending
    }
}
