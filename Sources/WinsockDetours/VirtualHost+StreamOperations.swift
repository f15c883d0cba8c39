import CWineBridge
import VirtualIPCore

/// Overlapped sends and receives on a stream are the OS's own operations on the backing
/// socket (platform.h: stream_send_overlapped, stream_receive_overlapped), as Windows makes
/// them: the OS keeps their order, waits for room or bytes, and a receive takes the bytes
/// that come while it waits without an FD_READ to the game. The layer publishes each end
/// (the game's OVERLAPPED, its event, port or routine) through `finish`, in the call when
/// the OS ended it at once, else from the platform's thread.
extension VirtualHost {
    /// Starts one: the socket's checks and the OVERLAPPED marked pending under the lock, the
    /// OS's call (`call`: the backing handle and the context to end it with) outside it.
    /// `.success(bytes)`: ended now and published; `.failure(.ioPending)`: the OS carries it.
    func startStreamOperation(_ handle: UInt, receiving: Bool, overlapped: UnsafeMutablePointer<VL_OVERLAPPED>, routine: UnsafeMutableRawPointer?,
                              check: (StreamSocket) -> WinsockError?,
                              call: (UInt, UnsafeMutableRawPointer) -> Result<UInt32, WinsockError>) -> Result<UInt32, WinsockError> {
        let started: Result<(StreamSocket, StreamOperation), WinsockError> =
            withStream(handle, orFail: { .failure($0) }, notStream: .operationNotSupported) { socket in
                if let error = check(socket) { return .failure(error) }
                if let error = readyForOverlappedLocked(socket) { return .failure(error) }
                socket.activeCalls += 1
                let operation = StreamOperation(host: self, handle: socket.handle, receiving: receiving, overlapped: overlapped, routine: routine,
                                                thread: platform.currentThread, target: socket.completionTarget,
                                                handleEvent: startedLocked(socket, overlapped, routine: routine))
                markPending(overlapped, routine: routine)
                return .success((socket, operation))
            }
        let socket: StreamSocket, operation: StreamOperation
        switch started {
        case let .failure(error): return .failure(error)
        case let .success(pair): (socket, operation) = pair
        }
        defer { leave(socket) }
        let outcome = carry(operation) { call(socket.handle, $0) }
        switch outcome {
        case .failure(.ioPending): break  // the stream handler ends it
        case let .failure(error):
            overlapped.pointee.Internal = UInt(error.ntStatus)
        case let .success(bytes):
            finish(overlapped, routine: routine, thread: operation.thread, target: operation.target, handleEvent: operation.handleEvent,
                   error: nil, bytes: Int(bytes), immediately: true)
        }
        return outcome
    }

    /// Hands `operation` to the OS (`call` gets the context the stream handler will end it
    /// with): listed before the OS may end it, and taken back when the OS answered at once
    /// (anything but `.failure(.ioPending)`).
    func carry<T>(_ operation: StreamOperation, _ call: (UnsafeMutableRawPointer) -> Result<T, WinsockError>) -> Result<T, WinsockError> {
        streamOperations.add(operation)
        let context = Unmanaged.passRetained(operation).toOpaque()
        let outcome = call(context)
        if case .failure(.ioPending) = outcome { return outcome }
        Unmanaged<StreamOperation>.fromOpaque(context).release()
        streamOperations.remove(operation)
        return outcome
    }

    /// Readies the backing stream for the OS's overlapped operations, once. Lock held.
    func readyForOverlappedLocked(_ socket: StreamSocket) -> WinsockError? {
        if socket.overlappedReady { return nil }
        if let error = platform.prepareOverlapped(socket.handle) { return error }
        socket.overlappedReady = true
        return nil
    }

    /// The platform's thread: an operation the OS carried ended (done, failed or cancelled).
    static func streamOperationEnded(_ context: UnsafeMutableRawPointer?, status: UInt32, bytes: UInt32) {
        guard let context else { return }
        let operation = Unmanaged<StreamOperation>.fromOpaque(context).takeRetainedValue()
        let host = operation.host
        host.streamOperations.remove(operation)
        if let acceptance = operation.acceptance {
            host.acceptEnded(acceptance, listener: operation.handle, error: WinsockError(ntStatus: status))
            return
        }
        host.finish(operation.overlapped, routine: operation.routine, thread: operation.thread, target: operation.target,
                    handleEvent: operation.handleEvent, error: WinsockError(ntStatus: status), bytes: Int(bytes), immediately: false)
    }

    /// CancelIoEx / CancelIo on the OS's operations of `handle` (`overlapped` nil: all of
    /// them; `thread`: only that thread's): how many were asked to end. Their ends come
    /// through the stream handler, cancelled, unless they ended first.
    func cancelStreamOperations(_ handle: UInt, overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, thread: UInt?) -> Int {
        let matching = streamOperations.matching(handle: handle, overlapped: overlapped, thread: thread)
        for operation in matching { platform.cancelStreamOperation(handle, context: Unmanaged.passUnretained(operation).toOpaque()) }
        return matching.count
    }
}

/// An overlapped send or receive on a stream that the OS carries: where its end is published.
final class StreamOperation {
    let host: VirtualHost
    let handle: UInt
    let receiving: Bool
    let overlapped: UnsafeMutablePointer<VL_OVERLAPPED>
    let routine: UnsafeMutableRawPointer?
    let thread: UInt
    let target: CompletionTarget?
    let handleEvent: UnsafeMutableRawPointer?
    /// An AcceptEx: the operation the layer goes on with once the OS has the connection.
    var acceptance: PendingReceive?

    init(host: VirtualHost, handle: UInt, receiving: Bool, overlapped: UnsafeMutablePointer<VL_OVERLAPPED>,
         routine: UnsafeMutableRawPointer?, thread: UInt, target: CompletionTarget?, handleEvent: UnsafeMutableRawPointer?) {
        self.host = host
        self.handle = handle
        self.receiving = receiving
        self.overlapped = overlapped
        self.routine = routine
        self.thread = thread
        self.target = target
        self.handleEvent = handleEvent
    }
}

/// The operations the OS still carries, for CancelIo and CancelIoEx. Under a lock of its
/// own, not the host's: an end is reported on the platform's thread while a closesocket
/// that holds the host's lock waits for it.
final class StreamOperations {
    private let lock: Lock
    private var list: [StreamOperation] = []

    init(_ platform: Platform) { lock = Lock(platform) }

    func add(_ operation: StreamOperation) { lock.locked { list.append(operation) } }
    func remove(_ operation: StreamOperation) { lock.locked { list.removeAll { $0 === operation } } }

    /// Whether a receive of the socket's is still carried (shutdown keeps the receive half for it).
    func receiving(on handle: UInt) -> Bool { lock.locked { list.contains { $0.handle == handle && $0.receiving } } }

    /// The AcceptEx the OS carries for the layer's `acceptance`.
    func carrying(_ acceptance: PendingReceive) -> StreamOperation? { lock.locked { list.first { $0.acceptance === acceptance } } }

    func matching(handle: UInt, overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, thread: UInt?) -> [StreamOperation] {
        lock.locked {
            list.filter { $0.handle == handle && (overlapped == nil || $0.overlapped == overlapped) && (thread == nil || $0.thread == thread) }
        }
    }
}
