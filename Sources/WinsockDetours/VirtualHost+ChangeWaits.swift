import CWineBridge
import VirtualIPCore

/// The requests that wait for the PC's addresses or routes to change.
enum ChangeRequest {
    case addressList    // SIO_ADDRESS_LIST_CHANGE
    case routingInterface  // SIO_ROUTING_INTERFACE_CHANGE

    init?(code: UInt32) {
        switch code {
        case 0x2800_0017: self = .addressList
        case 0x8800_0015: self = .routingInterface
        default: return nil
        }
    }
}

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
            overlapped.pointee.Internal = UInt(VL_STATUS_PENDING)
            overlapped.pointee.InternalHigh = 0
            if routine == nil, let event = ownEvent(of: overlapped) { platform.resetEvent(event) }
            socket.changeWaits.append(op)
            return .ioPending
        }
    }
}
