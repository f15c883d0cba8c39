import CWineBridge
import VirtualIPCore

/// Overlapped receives. A posted WSARecvFrom is tried at once (data already queued:
/// immediate success, event signaled, as Windows does); otherwise it waits in the socket's
/// queue and the platform's readiness thread completes it when a datagram arrives. Frames
/// that fail the receive check are dropped there and the operation stays pending, so the
/// game never sees a completion for them. A stream's receives are the OS's own
/// (`VirtualHost+StreamOperations.swift`); its AcceptEx waits in this queue for its
/// preamble and first data.
extension VirtualHost {
    enum Attempt {
        case completed(bytes: Int, error: WinsockError?)
        case failed(WinsockError)
        case wouldBlock
    }

    func receiveOverlapped(_ handle: UInt, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32,
                           received: UnsafeMutablePointer<UInt32>?, flags: UnsafeMutablePointer<UInt32>?,
                           from: UnsafeMutablePointer<VL_SOCKADDR_IN>?, fromLength: UnsafeMutablePointer<Int32>?,
                           overlapped: UnsafeMutablePointer<VL_OVERLAPPED>, routine: UnsafeMutableRawPointer?,
                           message: UnsafeMutablePointer<VL_WSAMSG>? = nil, controls: ControlData = []) -> WinsockError? {
        guard let flags, buffers != nil || count == 0 else { return .fault }
        if lock.locked({ sockets[handle]?.overlappedIO == false }) {
            return receiveSynchronously(handle, buffers: buffers, count: count, received: received, flags: flags, from: from,
                                        fromLength: fromLength, overlapped: overlapped, routine: routine, message: message, controls: controls)
        }
        if message == nil && isStream(handle) {
            return streamReceiveOverlapped(handle, buffers: buffers, count: count, received: received, flags: flags,
                                           overlapped: overlapped, routine: routine)
        }
        let copied = (0..<Int(count)).map { buffers![$0] }
        var posting: (op: PendingReceive, receiving: ReceiverView)?
        let refused: WinsockError? = withSocket(handle) { socket in
            // A stream that is not connected says so, bound or not; an unbound datagram
            // socket is WSAEINVAL. A stream's bytes have no sender: `from` and its length
            // are not looked at (Windows ignores them on a connection).
            if case let .stream(stream) = socket.kind {
                if stream.peer == nil { return .notConnected }
                if stream.receiveShut { return .shutDown }
            }
            if case .datagram = socket.kind, from != nil, fromLength == nil || fromLength!.pointee < 16 { return .fault }
            guard socket.isBound else { return .invalidArgument }
            // A completion routine on a socket that has a completion port: Windows' I/O
            // manager refuses it (STATUS_INVALID_PARAMETER, WSAEINVAL).
            if routine != nil, socket.port != nil { return .invalidArgument }
            let op = PendingReceive(overlapped: overlapped, buffers: copied, from: from, fromLength: fromLength,
                                    routine: routine, thread: platform.currentThread, target: nil,  // `post` reads the port
                                    message: message, controls: controls,
                                    handleEvent: handleEventLocked(socket, overlapped, routine: routine))
            // A datagram socket's receive is posted on its receive side, outside the host's lock.
            if let datagram = socket as? DatagramSocket {
                posting = (op, view(of: datagram))
                return nil
            }
            return post(op, on: socket, received: received, flags: flags)
        }
        guard let posting else { return refused }
        return post(posting.op, on: posting.receiving.socket, receiving: posting.receiving, received: received, flags: flags)
    }

    /// A receive started (its OVERLAPPED pending, its events reset): tried at once when
    /// nothing waits before it, else queued for the readiness thread. Takes the lock that
    /// guards the socket's queue (`lockQueue`): a stream's is the host's, held by the
    /// caller; a datagram socket's is its receive side.
    private func post(_ op: PendingReceive, on socket: VirtualSocket, receiving: ReceiverView? = nil,
                      received: UnsafeMutablePointer<UInt32>?, flags: UnsafeMutablePointer<UInt32>) -> WinsockError? {
        markPending(op.overlapped, routine: op.routine)
        // One the lookup found open has its receive side unless closesocket has ended it since.
        guard socket.lockQueue() else { return .notSocket }
        defer { socket.unlockQueue() }
        // The handle event is reset here, where closesocket (which closes it) waits for us.
        if let event = op.handleEvent { platform.resetEvent(event) }
        // The port as it is now (association writes it under the queue's lock as well).
        op.target = socket.completionTarget
        if socket.pending.isEmpty {
            switch attempt(socket, op, immediately: true, receiving: receiving) {
            case let .completed(bytes, error):
                received?.pointee = UInt32(bytes)
                flags.pointee = 0
                return error
            case let .failed(error):
                op.overlapped.pointee.Internal = UInt(error.ntStatus)
                return error
            case .wouldBlock:
                break
            }
        }
        socket.pending.append(op)
        if let error = platform.watchReadable(socket.handle) {
            socket.pending.removeLast()
            return error
        }
        return .ioPending
    }

    /// An overlapped receive on a connected stream: the OS's own (see StreamOperations), so
    /// the bytes that come while it waits are its, with no FD_READ to the game.
    private func streamReceiveOverlapped(_ handle: UInt, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32,
                                         received: UnsafeMutablePointer<UInt32>?, flags: UnsafeMutablePointer<UInt32>,
                                         overlapped: UnsafeMutablePointer<VL_OVERLAPPED>, routine: UnsafeMutableRawPointer?) -> WinsockError? {
        var returnedFlags = flags.pointee
        let outcome = startStreamOperation(handle, receiving: true, overlapped: overlapped, routine: routine, check: { socket in
            if socket.peer == nil { return .notConnected }
            if socket.receiveShut { return .shutDown }
            // A completion routine on a socket that has a completion port: Windows' I/O
            // manager refuses it (STATUS_INVALID_PARAMETER, WSAEINVAL).
            if routine != nil, socket.port != nil { return .invalidArgument }
            return nil
        }) { backing, context in
            platform.receiveOverlapped(backing, buffers, count: count, flags: &returnedFlags, context: context)
        }
        switch outcome {
        case let .failure(error): return error
        case let .success(done):
            received?.pointee = done
            flags.pointee = returnedFlags
            return nil
        }
    }

    /// A socket made without WSA_FLAG_OVERLAPPED does its I/O synchronously: a receive given
    /// an OVERLAPPED waits for its data whatever the socket's mode, then fills the OVERLAPPED
    /// (and signals its event, port or routine) and returns (sock.c's
    /// test_nonblocking_async_recv: "WSARecv() always blocks").
    private func receiveSynchronously(_ handle: UInt, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32,
                                      received: UnsafeMutablePointer<UInt32>?, flags: UnsafeMutablePointer<UInt32>,
                                      from: UnsafeMutablePointer<VL_SOCKADDR_IN>?, fromLength: UnsafeMutablePointer<Int32>?,
                                      overlapped: UnsafeMutablePointer<VL_OVERLAPPED>, routine: UnsafeMutableRawPointer?,
                                      message: UnsafeMutablePointer<VL_WSAMSG>?, controls: ControlData) -> WinsockError? {
        let result = receiveArrival(handle, buffers: buffers, count: count, flags: Int32(bitPattern: flags.pointee),
                                    from: from, fromLength: fromLength, mustBlock: true)
        var error: WinsockError?, bytes = 0
        switch result {
        case let .failure(failed): error = failed
        case let .success(arrival):
            bytes = arrival.copied
            if let message { error = describe(arrival, in: message, controls: controls) } else if arrival.truncated { error = .messageSize }
        }
        let target = withSocket(handle, orFail: { _ in nil }) { $0.completionTarget }
        finish(overlapped, routine: routine, thread: platform.currentThread, target: target, handleEvent: nil,
               error: error, bytes: bytes, immediately: true)
        if error == nil {
            received?.pointee = UInt32(bytes)
            flags.pointee = 0
        }
        return error
    }

    /// One non-blocking try to satisfy `op`; completes it on success (`immediately`: in the
    /// call that started it). Under the lock that guards the socket's queue (`lockQueue`):
    /// a datagram socket's `receiving` view is read under the host's lock (nil: it is held).
    func attempt(_ socket: VirtualSocket, _ op: PendingReceive, immediately: Bool, receiving: ReceiverView? = nil) -> Attempt {
        let result: Result<Arrival, WinsockError>
        switch socket.kind {
        case let .datagram(datagram):
            result = op.buffers.withUnsafeBufferPointer { buffers in
                takeDatagram(receiving ?? view(of: datagram), buffers: buffers.baseAddress, count: UInt32(buffers.count), blocking: false)
            }
        case let .stream(stream):
            if let accept = op.accept { return attemptAcceptLocked(stream, op, accept) }
            if op.connect != nil { return .wouldBlock }  // the heartbeat serves it, not readiness
            // A stream's receive is tried only when its bytes (or its end) are there: the real
            // socket may be in blocking mode.
            guard stream.peer != nil else { return .failed(.notConnected) }
            // A retry (not `immediately`) comes after the receive waited for readiness.
            guard waitReadable(stream.handle, ms: 0) > 0 else { return .wouldBlock }
            result = op.buffers.withUnsafeBufferPointer { buffers in
                platform.receive(stream.handle, buffers.baseAddress, count: UInt32(buffers.count), flags: 0,
                                 waited: !immediately).map { Arrival(stream: Int($0)) }
            }
        }
        switch result {
        case let .failure(error):
            return error == .wouldBlock ? .wouldBlock : .failed(error)
        case let .success(arrival):
            var error: WinsockError? = arrival.truncated ? .messageSize : nil
            if let message = op.message { error = describe(arrival, in: message, controls: op.controls) }
            // A stream's bytes come from nobody in particular: `from` is not written.
            let from: SocketAddress? = if case .datagram = socket.kind { arrival.source } else { nil }
            complete(op, error: error, bytes: arrival.copied, from: from, immediately: immediately)
            return .completed(bytes: arrival.copied, error: error)
        }
    }

    /// A receive's end: `from`, then everything `finish` publishes.
    func complete(_ op: PendingReceive, error: WinsockError?, bytes: Int, from: SocketAddress?, immediately: Bool = false) {
        if let from, op.from != nil { _ = from.write(to: op.from, length: op.fromLength) }
        finish(op.overlapped, routine: op.routine, thread: op.thread, target: op.target, handleEvent: op.handleEvent,
               error: error, bytes: bytes, immediately: immediately)
    }

    /// CancelIoEx (`overlapped` nil: every operation of the socket) and CancelIo (`thread`:
    /// only the calling thread's): the pending receives (and waits for a change) end with WSA_OPERATION_ABORTED, as
    /// the OS ends its own. None to cancel: ERROR_NOT_FOUND, as Windows answers.
    func cancel(_ handle: UInt, overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, thread: UInt?) -> WinsockError? {
        let taken: Result<[PendingReceive], WinsockError> = withSocket(handle, orFail: { .failure($0) }) { socket in
            guard socket.lockQueue() else { return .failure(.notSocket) }
            defer { socket.unlockQueue() }
            // The matching operations leave the list; the others stay, in order.
            func take(from list: inout [PendingReceive]) -> [PendingReceive] {
                var taken: [PendingReceive] = [], kept: [PendingReceive] = []
                for op in list {
                    if (overlapped == nil || op.overlapped == overlapped) && (thread == nil || op.thread == thread) {
                        taken.append(op)
                    } else {
                        kept.append(op)
                    }
                }
                list = kept
                return taken
            }
            return .success(take(from: &socket.pending) + take(from: &socket.changeWaits))
        }
        guard case let .success(cancelled) = taken else {
            if case let .failure(error) = taken { return error }
            return nil
        }
        for op in cancelled { complete(op, error: .operationAborted, bytes: 0, from: nil) }
        let carried = cancelStreamOperations(handle, overlapped: overlapped, thread: thread)
        return cancelled.isEmpty && carried == 0 ? WinsockError(VL_ERROR_NOT_FOUND) : nil
    }

    /// The readiness thread's entry: serve the socket's pending operations in order (a
    /// datagram socket's on its receive side, outside the host's lock). False: the handle
    /// is no socket of this host's.
    func serviceOverlapped(_ handle: UInt) -> Bool {
        guard let receiving = receiverView(handle) else {
            return lock.locked {
                guard let socket = sockets[handle] else { return false }
                if !socket.closed { _ = serve(socket) }
                return true
            }
        }
        if receiving.socket.lockQueue() {
            _ = serve(receiving.socket, receiving: receiving)
            receiving.socket.unlockQueue()
        }
        return true
    }

    /// Serves the socket's pending operations in order as far as what is there now allows;
    /// the rest wait for readiness (the error: that wait cannot be asked for). Under the lock
    /// that guards the queue (`attempt`).
    func serve(_ socket: VirtualSocket, receiving: ReceiverView? = nil) -> WinsockError? {
        while let op = socket.pending.first {
            let attempt = attempt(socket, op, immediately: false, receiving: receiving)
            if case .wouldBlock = attempt { break }
            socket.pending.removeFirst()
            if case let .failed(error) = attempt { complete(op, error: error, bytes: 0, from: nil) }
        }
        return socket.pending.isEmpty ? nil : platform.watchReadable(socket.handle)
    }

    /// WSAGetOverlappedResult and GetOverlappedResult(Ex). The outcome lives in the
    /// OVERLAPPED itself (as on Windows), so an operation aborted by closesocket still
    /// reports WSA_OPERATION_ABORTED afterwards. A pending one is waited for up to `waitMs`
    /// (0: not at all; VL_WSA_INFINITE) on its event, or, when it has none, on the socket's
    /// handle event, as Windows waits on the handle; WAIT_TIMEOUT (258) or
    /// WAIT_IO_COMPLETION when the wait ended so.
    func overlappedResult(_ handle: UInt, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, transferred: UnsafeMutablePointer<UInt32>?,
                          waitMs: UInt32, alertable: Bool = false, flags: UnsafeMutablePointer<UInt32>?) -> WinsockError? {
        // As ws2_32: no OVERLAPPED is WSA_INVALID_PARAMETER; the count and flags are optional.
        guard let overlapped else { return .invalidParameter }
        // The OVERLAPPED is only read (a read-only one is answered, as Windows and Wine do).
        guard platform.canRead(overlapped, MemoryLayout<VL_OVERLAPPED>.size),
              platform.usable(transferred, writable: true), platform.usable(flags, writable: true) else { return .fault }
        var status = UInt32(truncatingIfNeeded: overlapped.pointee.Internal)
        if status == VL_STATUS_PENDING {
            let socket: VirtualSocket? = lock.locked { startupCount > 0 ? sockets[handle] : nil }
            guard let socket else { return startupCount > 0 ? .notSocket : .notInitialised }
            guard waitMs != 0 else { return .ioIncomplete }
            guard enter(socket) else { return .ioIncomplete }
            defer { leave(socket) }
            guard let event = ownEvent(of: overlapped) ?? lock.locked({ socket.handleEvent }) else { return .ioIncomplete }
            let result = platform.waitEvent(event, timeoutMs: waitMs, alertable: alertable)
            if result == VL_WSA_WAIT_TIMEOUT || result == VL_WSA_WAIT_IO_COMPLETION { return WinsockError(Int32(result)) }
            guard result == VL_WSA_WAIT_EVENT_0 else { return .invalidHandle }
            status = UInt32(truncatingIfNeeded: overlapped.pointee.Internal)
            guard status != VL_STATUS_PENDING else { return .ioIncomplete }
        }
        transferred?.pointee = UInt32(truncatingIfNeeded: overlapped.pointee.InternalHigh)
        flags?.pointee = 0
        return WinsockError(ntStatus: status)
    }
}
