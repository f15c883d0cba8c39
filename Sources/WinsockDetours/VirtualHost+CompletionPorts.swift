import CWineBridge
import VirtualIPCore

/// Completion ports on virtual sockets, and the one place an overlapped operation's end is
/// published. The backing socket is never associated with the game's port (the OS would post
/// packets of the layer's own sends and receives there, measured under Wine): the layer
/// posts the packets of the game's operations itself, with their status, as the I/O
/// manager would.
extension VirtualHost {
    /// CreateIoCompletionPort(socket, port, key, threads): the port (a new one when `port`
    /// is nil), or the Win32 error: a port that is none (the OS's answer), a socket that
    /// already has one (ERROR_INVALID_PARAMETER, as Windows).
    func associate(_ handle: UInt, port: UnsafeMutableRawPointer?, key: UInt, threads: UInt32) -> Result<UnsafeMutableRawPointer, WinsockError> {
        withSocket(handle, orFail: { .failure($0) }) { socket in
            guard socket.port == nil else { return .failure(WinsockError(Int32(VL_ERROR_INVALID_PARAMETER))) }
            switch platform.openPort(port, threads: threads) {
            case let .success(joined):
                // The port is the file's, whenever its operations end: those already under
                // way report there too (sock.c: an AcceptEx started before the association,
                // aborted by the close after it). Written under the queue's lock too, where
                // a receive being posted reads it (`post`).
                let queued = socket.lockQueue()
                socket.port = (joined, key)
                guard queued else { return .success(joined) }
                for op in socket.pending + socket.changeWaits where op.target == nil { op.target = socket.completionTarget }
                socket.unlockQueue()
                return .success(joined)
            case let .failure(error):
                return .failure(error)
            }
        }
    }

    /// SetFileCompletionNotificationModes: FILE_SKIP_COMPLETION_PORT_ON_SUCCESS (1) is kept;
    /// FILE_SKIP_SET_EVENT_ON_HANDLE (2) needs nothing, the layer never signals the handle.
    func setCompletionModes(_ handle: UInt, modes: UInt32) -> WinsockError? {
        withSocket(handle) { socket in
            // Written under the queue's lock too, where a receive being posted reads it.
            guard modes & 0x1 != 0, socket.lockQueue() else { return nil }
            socket.skipPortOnSuccess = true
            socket.unlockQueue()
            return nil
        }
    }

    /// An overlapped operation is under way: STATUS_PENDING (the count is left as it was
    /// until the end, as ws2_32 leaves it: sock.c's test_nonblocking_async_recv), and its
    /// event reset (the I/O manager does so on Windows; a completion routine has none).
    func markPending(_ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>, routine: UnsafeMutableRawPointer?) {
        overlapped.pointee.Internal = UInt(VL_STATUS_PENDING)
        if routine == nil, let event = ownEvent(of: overlapped) { platform.resetEvent(event) }
    }

    /// The OVERLAPPED's event, without the low bit that only says "no packet" (nil: none).
    func ownEvent(of overlapped: UnsafeMutablePointer<VL_OVERLAPPED>) -> UnsafeMutableRawPointer? {
        overlapped.pointee.hEvent.flatMap { UnsafeMutableRawPointer(bitPattern: UInt(bitPattern: $0) & ~1) }
    }

    /// An overlapped operation starts on `socket` (lock held): one without an event of its
    /// own (and without a completion routine) resets the socket's handle event, made on
    /// first use, and returns it for its end to set.
    func startedLocked(_ socket: VirtualSocket, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>,
                       routine: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        let event = handleEventLocked(socket, overlapped, routine: routine)
        if let event { platform.resetEvent(event) }
        return event
    }

    /// The handle event an operation without an event of its own (and without a completion
    /// routine) sets at its end, made on first use; not reset (`startedLocked` does, or the
    /// caller outside the lock). Lock held.
    func handleEventLocked(_ socket: VirtualSocket, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>,
                           routine: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        guard routine == nil, overlapped.pointee.hEvent == nil else { return nil }
        if socket.handleEvent == nil { socket.handleEvent = platform.createEvent() }
        return socket.handleEvent
    }

    /// What a wait on the socket's handle waits for: its handle event once an operation
    /// without an event has started on it, else the handle itself.
    func handleSignal(_ handle: UInt) -> UnsafeMutableRawPointer? {
        lock.locked { sockets[handle]?.handleEvent } ?? UnsafeMutableRawPointer(bitPattern: handle)
    }

    /// Publishes an operation's end: the OVERLAPPED's status and count, then the completion
    /// routine (queued to the thread that started it) or the event and the port's packet.
    /// As Windows: an event handle with its low bit set is signalled without a packet; an
    /// operation that ended at once (`immediately`) posts one only when it did not fail
    /// (a warning such as a truncated datagram counts as done), and not at all on success
    /// under FILE_SKIP_COMPLETION_PORT_ON_SUCCESS.
    func finish(_ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>, routine: UnsafeMutableRawPointer?, thread: UInt,
                target: CompletionTarget?, handleEvent: UnsafeMutableRawPointer?, error: WinsockError?, bytes: Int, immediately: Bool) {
        let status = error?.ntStatus ?? VL_STATUS_SUCCESS
        overlapped.pointee.InternalHigh = UInt(bytes)
        overlapped.pointee.Internal = UInt(status)
        if let routine {
            // The routine gets the Winsock error of the status, as ws2_32 maps it (a buffer too
            // small, ERROR_INSUFFICIENT_BUFFER to the port, is WSAEFAULT here).
            platform.queueCompletion(thread: thread, routine: routine, error: WinsockError(ntStatus: status), bytes: UInt32(bytes),
                                     overlapped: overlapped)
            return
        }
        if let event = ownEvent(of: overlapped) { platform.setEvent(event) }
        if let handleEvent { platform.setEvent(handleEvent) }
        let quiet = overlapped.pointee.hEvent.map { UInt(bitPattern: $0) & 1 != 0 } ?? false
        guard let target, !quiet else { return }
        if immediately && (status >> 30 == 3 || (status == VL_STATUS_SUCCESS && target.skipOnSuccess)) { return }
        platform.postCompletion(target.port, key: target.key, overlapped: overlapped, status: status, bytes: UInt32(bytes))
    }
}
