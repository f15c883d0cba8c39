import CWineBridge
import VirtualIPCore

/// Whether a WSAIoctl request waits for the PC's addresses or routes to change
/// (SIO_ADDRESS_LIST_CHANGE, SIO_ROUTING_INTERFACE_CHANGE).
func waitsForChange(_ code: UInt32) -> Bool { code == 0x2800_0017 || code == 0x8800_0015 }

/// SIO_ADDRESS_LIST_CHANGE and SIO_ROUTING_INTERFACE_CHANGE, as Windows answers them for a PC
/// whose addresses and routes never change (the virtual PC's do not): overlapped, pending
/// until cancelled or the socket closes (WSA_OPERATION_ABORTED, through the OVERLAPPED, its
/// event, the port or the routine); not overlapped, WSAEWOULDBLOCK on a non-blocking socket,
/// and on a blocking one a wait that only the close ends (Windows: one that never ends). The
/// OS is never asked: it would wait for a real adapter's change.
extension VirtualHost {
    func waitForChange(_ handle: UInt, overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, routine: UnsafeMutableRawPointer?) -> WinsockError? {
        if let overlapped { return startChangeWait(handle, overlapped: overlapped, routine: routine) }
        let nonBlocking: Result<Bool, WinsockError> = withSocket(handle, orFail: { .failure($0) }) { .success($0.nonBlocking) }
        switch nonBlocking {
        case let .failure(error): return error
        case .success(true): return .wouldBlock
        case .success(false): break
        }
        // Blocking: an OVERLAPPED of our own, with an event of our own, waited for.
        guard let event = platform.createEvent() else { return .noBuffers }
        defer { platform.closeEvent(event) }
        var own = VL_OVERLAPPED()
        own.hEvent = VL_WSAEVENT(event)
        return withUnsafeMutablePointer(to: &own) { overlapped in
            let started = startChangeWait(handle, overlapped: overlapped, routine: nil)
            guard started == .ioPending else { return started }
            _ = platform.waitEvent(event, timeoutMs: VL_WSA_INFINITE, alertable: false)
            return WinsockError(ntStatus: UInt32(truncatingIfNeeded: overlapped.pointee.Internal))
        }
    }

    private func startChangeWait(_ handle: UInt, overlapped: UnsafeMutablePointer<VL_OVERLAPPED>, routine: UnsafeMutableRawPointer?) -> WinsockError? {
        withSocket(handle) { socket in
            let op = PendingReceive(overlapped: overlapped, buffers: [], from: nil, fromLength: nil, routine: routine,
                                    thread: platform.currentThread, target: socket.completionTarget, message: nil, controls: [],
                                    handleEvent: startedLocked(socket, overlapped, routine: routine))
            markPending(overlapped, routine: routine)
            socket.changeWaits.append(op)
            return .ioPending
        }
    }
}
