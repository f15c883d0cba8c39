import CWineBridge
import VirtualIPCore

/// The OS, as the Winsock layer sees it: one thin typed face over the C `vl_platform` table
/// (platform.h documents each entry; Linux and Win32 implement it). Nothing else in Swift
/// touches the table: errors come back as `WinsockError` (nil: success), handles as `UInt`,
/// and no call site unwraps a function pointer.
public struct Platform: @unchecked Sendable {
    private let table: UnsafePointer<vl_platform>

    public init(_ table: UnsafePointer<vl_platform>) { self.table = table }
    public static var `default`: Platform { Platform(vl_default_platform()) }

    /// The table itself: only the Platform files reach it.
    @inline(__always) var t: vl_platform { table.pointee }

    /// A C status (0 or a Winsock code) as a named error.
    @inline(__always) func error(_ code: Int32) -> WinsockError? { code == 0 ? nil : WinsockError(rawValue: code) }

    // MARK: Backing sockets

    /// A UDP socket on 127.0.0.1 with an OS-assigned port.
    func openDatagramSocket() -> Result<(handle: UInt, realPort: UInt16), WinsockError> {
        var handle: UInt = 0, port: UInt16 = 0
        if let error = error(t.udp_open!(&handle, &port)) { return .failure(error) }
        return .success((handle, port))
    }

    /// A TCP socket, unbound until `bindStream`.
    func openStreamSocket() -> Result<UInt, WinsockError> {
        var handle: UInt = 0
        if let error = error(t.tcp_open!(&handle)) { return .failure(error) }
        return .success(handle)
    }

    /// A TCP socket of the layer's own, bound to 127.0.0.1:0, and its port (closed again
    /// when the bind fails).
    func openBoundStreamSocket() -> Result<(handle: UInt, port: UInt16), WinsockError> {
        openStreamSocket().flatMap { handle in
            let bound = bindStream(handle)
            if case .failure = bound { close(handle) }
            return bound.map { (handle, $0) }
        }
    }

    /// Wakes the threads blocked in the socket (they see an error), without closing it.
    func shutdown(_ handle: UInt) { t.socket_shutdown!(VL_SOCKET(handle)) }
    func close(_ handle: UInt) { t.socket_close!(VL_SOCKET(handle)) }

    // MARK: Datagrams

    /// Header + buffers as one datagram to each of 127.0.0.1:`ports`; how many were sent.
    func sendFrame(_ handle: UInt, header: UnsafeRawPointer, headerLength: Int, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32,
                   to ports: UnsafeBufferPointer<UInt16>) -> Result<Int, WinsockError> {
        let sent = t.send_frame!(VL_SOCKET(handle), header, UInt32(headerLength), buffers, count, ports.baseAddress, UInt32(ports.count))
        return sent < 0 ? .failure(WinsockError(rawValue: -sent)) : .success(Int(sent))
    }

    /// One datagram scattered over `header` + buffers (`VL_RECEIVE_*` flags; a blocking one
    /// waits at most `timeoutMs` when it is not 0: WSAETIMEDOUT).
    func receiveFrame(_ handle: UInt, header: UnsafeMutableRawPointer?, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32,
                      flags: Int32, timeoutMs: UInt32 = 0) -> Result<vl_received, WinsockError> {
        var received = vl_received()
        if let error = error(t.receive_frame!(VL_SOCKET(handle), header, buffers, count, flags, timeoutMs, &received)) { return .failure(error) }
        return .success(received)
    }

    /// Takes the next datagram and throws it away (its header into `header`, when given).
    func discardFrame(_ handle: UInt, header: UnsafeMutableRawPointer?) {
        var received = vl_received()
        _ = t.receive_frame!(VL_SOCKET(handle), header, nil, 0, 0, 0, &received)
    }

    /// The next datagram's header and length, left queued; nil when none waits.
    func peekFrame(_ handle: UInt, header: UnsafeMutableRawPointer?) -> vl_received? {
        var received = vl_received()
        return t.peek_frame!(VL_SOCKET(handle), header, &received) == 0 ? received : nil
    }

    func setReceiveBuffer(_ handle: UInt, bytes: Int32) -> WinsockError? { error(t.set_receive_buffer!(VL_SOCKET(handle), bytes)) }

    // MARK: Options of the backing socket

    func getOption(_ handle: UInt, level: Int32, name: Int32, value: UnsafeMutableRawPointer?,
                   length: UnsafeMutablePointer<Int32>?) -> WinsockError? {
        error(t.option_get!(VL_SOCKET(handle), level, name, value, length))
    }

    func setOption(_ handle: UInt, level: Int32, name: Int32, value: UnsafeRawPointer?, length: Int32) -> WinsockError? {
        error(t.option_set!(VL_SOCKET(handle), level, name, value, length))
    }

    /// Whether the backing socket has a peer, asked with the game's pointers: nil, or the
    /// OS's error (its answer for an unconnected or shut down socket).
    func peerNameError(_ handle: UInt, name: UnsafeMutableRawPointer?, length: UnsafeMutablePointer<Int32>?) -> WinsockError? {
        error(t.peer_name!(VL_SOCKET(handle), name, length))
    }

    /// getsockname of an OS socket the layer does not virtualise (an IPv6 one): nil, or the OS's error.
    func localName(_ handle: UInt, _ name: UnsafeMutableRawPointer, length: inout Int32) -> WinsockError? {
        error(t.local_name!(VL_SOCKET(handle), name, &length))
    }

    /// A WSAIoctl request made synchronously on the backing socket: its error (nil: done);
    /// `returned` is the size as the OS leaves it (on a failure too, written or not).
    func originalIoctl(_ handle: UInt, code: UInt32, input: UnsafeMutableRawPointer?, inputLength: UInt32,
                       output: UnsafeMutableRawPointer?, outputLength: UInt32, returned: inout UInt32) -> WinsockError? {
        error(t.ioctl_original!(VL_SOCKET(handle), code, input, inputLength, output, outputLength, &returned))
    }

    /// An Int32 option of the backing socket; nil when the OS refuses it.
    func intOption(_ handle: UInt, level: Int32, name: Int32) -> Int32? {
        var value: Int32 = 0, length: Int32 = 4
        return getOption(handle, level: level, name: name, value: &value, length: &length) == nil ? value : nil
    }

    // MARK: Streams

    /// Binds a TCP socket to 127.0.0.1:0; its real port.
    func bindStream(_ handle: UInt) -> Result<UInt16, WinsockError> {
        var port: UInt16 = 0
        if let error = error(t.stream_bind!(VL_SOCKET(handle), &port)) { return .failure(error) }
        return .success(port)
    }

    func listen(_ handle: UInt) -> WinsockError? { error(t.stream_listen!(VL_SOCKET(handle))) }
    /// shutdown(how) of a backing socket (a stream's or a datagram socket's), as the game asked.
    func shutdownSocket(_ handle: UInt, how: Int32) -> WinsockError? { error(t.stream_shutdown!(VL_SOCKET(handle), how)) }
    /// listen with a backlog of 0 (the host's silent port).
    func listenSilently(_ handle: UInt) -> WinsockError? { error(t.stream_listen_silent!(VL_SOCKET(handle))) }

    /// The next connection: its handle and its peer's real port on 127.0.0.1.
    func accept(_ handle: UInt) -> Result<(handle: UInt, realPeerPort: UInt16), WinsockError> {
        var accepted: UInt = 0, port: UInt16 = 0
        if let error = error(t.stream_accept!(VL_SOCKET(handle), &accepted, &port)) { return .failure(error) }
        return .success((accepted, port))
    }

    /// The next connection of a listener with selected events, on a socket that does not
    /// take that selection (platform.h); never waits.
    func acceptUnselected(_ handle: UInt) -> Result<(handle: UInt, realPeerPort: UInt16), WinsockError> {
        var accepted: UInt = 0, port: UInt16 = 0
        if let error = error(t.stream_accept_unselected!(VL_SOCKET(handle), &accepted, &port)) { return .failure(error) }
        return .success((accepted, port))
    }

    /// A layer's WSAAccept condition: asked with the caller's real port, it answers as a
    /// condition function does (platform.h).
    typealias AcceptDecision = @convention(c) (UnsafeMutableRawPointer?, UInt16, UnsafeMutablePointer<UInt32>?) -> Int32

    /// WSAAccept, the OS's own, with `decide` as its condition: `.failure(.tryAgain)` when
    /// it deferred the connection, which stays the OS's for the listener's next accept.
    func acceptConditional(_ handle: UInt, decide: AcceptDecision, context: UnsafeMutableRawPointer) -> Result<(handle: UInt, realPeerPort: UInt16), WinsockError> {
        var accepted: UInt = 0, port: UInt16 = 0
        if let error = error(t.stream_accept_conditional!(VL_SOCKET(handle), &accepted, &port, decide, context)) { return .failure(error) }
        return .success((accepted, port))
    }

    /// AcceptEx, the OS's own, onto the game's socket `into`: `.success(port)` accepted now
    /// (the peer's real port), `.failure(.ioPending)` when the stream handler will end it.
    func acceptOverlapped(_ handle: UInt, into: UInt, context: UnsafeMutableRawPointer) -> Result<UInt16, WinsockError> {
        var port: UInt16 = 0
        if let error = error(t.stream_accept_overlapped!(VL_SOCKET(handle), VL_SOCKET(into), &port, context)) { return .failure(error) }
        return .success(port)
    }

    /// The real port a connected backing stream's peer has.
    func peerPort(_ handle: UInt) -> Result<UInt16, WinsockError> {
        var port: UInt16 = 0
        if let error = error(t.stream_peer_port!(VL_SOCKET(handle), &port)) { return .failure(error) }
        return .success(port)
    }

    func connect(_ handle: UInt, to address: IPv4Address, port: UInt16) -> WinsockError? {
        error(t.stream_connect!(VL_SOCKET(handle), address.networkOrder, port))
    }

    func isConnected(_ handle: UInt) -> Bool { t.stream_is_connected!(VL_SOCKET(handle)) != 0 }

    /// send/recv of a stream with Winsock's flags; the byte count (0 received: the peer closed).
    func send(_ handle: UInt, _ buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, flags: Int32) -> Result<UInt32, WinsockError> {
        var done: UInt32 = 0
        if let error = error(t.stream_send!(VL_SOCKET(handle), buffers, count, flags, &done)) { return .failure(error) }
        return .success(done)
    }

    /// `waited`: the layer waited for these bytes, so a reset during the wait is the answer
    /// (otherwise the OS's answer as it stands: under Wine, 0 bytes after a reset seen earlier).
    func receive(_ handle: UInt, _ buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, flags: Int32,
                 waited: Bool) -> Result<UInt32, WinsockError> {
        var done: UInt32 = 0
        if let error = error(t.stream_receive!(VL_SOCKET(handle), buffers, count, flags, waited ? 1 : 0, &done)) { return .failure(error) }
        return .success(done)
    }

    /// The OS's answer to a send with nowhere to go on the backing socket (see platform.h).
    func unaddressedSendError(_ handle: UInt, flags: Int32, asSendTo: Bool) -> WinsockError {
        WinsockError(t.unaddressed_send_error!(VL_SOCKET(handle), flags, asSendTo ? 1 : 0))
    }

    /// The OS's answer to a non-blocking receive on a UDP socket never bound (see platform.h).
    func unboundReceiveError(flags: Int32) -> WinsockError {
        WinsockError(t.unbound_receive_error!(flags))
    }

    /// An overlapped stream send: `.success(bytes)` when it ended now, `.failure(.ioPending)`
    /// when the send handler will end it with `context`, else the error.
    func sendOverlapped(_ handle: UInt, _ buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, flags: Int32,
                        context: UnsafeMutableRawPointer) -> Result<UInt32, WinsockError> {
        var done: UInt32 = 0
        if let error = error(t.stream_send_overlapped!(VL_SOCKET(handle), buffers, count, flags, &done, context)) { return .failure(error) }
        return .success(done)
    }

    /// An overlapped stream receive, the OS's own: `.success(bytes)` when it ended now (its
    /// flags in `flags`), `.failure(.ioPending)` when the stream handler will end it.
    func receiveOverlapped(_ handle: UInt, _ buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, flags: inout UInt32,
                           context: UnsafeMutableRawPointer) -> Result<UInt32, WinsockError> {
        var done: UInt32 = 0
        if let error = error(t.stream_receive_overlapped!(VL_SOCKET(handle), buffers, count, &flags, &done, context)) { return .failure(error) }
        return .success(done)
    }

    /// Readies a backing stream for its first overlapped send or receive (once).
    func prepareOverlapped(_ handle: UInt) -> WinsockError? { error(t.stream_prepare_overlapped!(VL_SOCKET(handle))) }

    /// Cancels the stream operation started with `context` (its end comes through the handler).
    func cancelStreamOperation(_ handle: UInt, context: UnsafeMutableRawPointer) { t.stream_cancel!(VL_SOCKET(handle), context) }

    /// Returns once every operation of the socket the OS has ended has ended for the layer too.
    func settle(_ handle: UInt) { t.stream_settle!(VL_SOCKET(handle)) }

    func setNonBlocking(_ handle: UInt, _ on: Bool) -> WinsockError? { error(t.stream_set_nonblocking!(VL_SOCKET(handle), on ? 1 : 0)) }

    /// FIONREAD of a stream (0 when the OS cannot tell).
    func bytesReadable(_ handle: UInt) -> UInt32 {
        var bytes: UInt32 = 0
        return t.stream_bytes_readable!(VL_SOCKET(handle), &bytes) == 0 ? bytes : 0
    }

    func callAcceptCondition(_ condition: UnsafeMutableRawPointer?, caller: UnsafeMutablePointer<VL_WSABUF>,
                             callee: UnsafeMutablePointer<VL_WSABUF>, group: UnsafeMutablePointer<UInt32>?, data: UInt) -> Int32 {
        t.call_accept_condition!(condition, caller, callee, group, data)
    }

    // MARK: Readiness

    /// select() on real sockets (`VL_WAIT_*` bits): how many are ready, or the error.
    func waitSockets(_ handles: [UInt], interest: [UInt8], ready: inout [UInt8], timeoutMs: Int32) -> Result<Int, WinsockError> {
        let sockets = handles.map { VL_SOCKET($0) }
        let woke = t.wait_sockets!(sockets, UInt32(sockets.count), interest, &ready, timeoutMs)
        return woke < 0 ? .failure(WinsockError(rawValue: -woke)) : .success(Int(woke))
    }

    /// Whether one socket becomes ready for `interest` (`VL_WAIT_*`) within `timeoutMs`
    /// (< 0: forever), or the error.
    func waitSocket(_ handle: UInt, for interest: Int32, timeoutMs: Int32) -> Result<Bool, WinsockError> {
        var ready: [UInt8] = [0]
        return waitSockets([handle], interest: [UInt8(interest)], ready: &ready, timeoutMs: timeoutMs).map { $0 > 0 }
    }

    /// WSAPoll on real sockets: how many have events, or the error.
    func poll(_ fds: UnsafeMutablePointer<VL_WSAPOLLFD>?, count: UInt32, timeoutMs: Int32) -> Result<Int, WinsockError> {
        let woke = t.poll_sockets!(fds, count, timeoutMs)
        return woke < 0 ? .failure(WinsockError(rawValue: -woke)) : .success(Int(woke))
    }

    /// The ready handler runs once when the socket has something to read.
    func watchReadable(_ handle: UInt) -> WinsockError? { error(t.watch_readable!(VL_SOCKET(handle))) }
    func setReadyHandler(_ handler: vl_ready_handler) { t.set_ready_handler!(handler) }
    func setStreamHandler(_ handler: vl_stream_handler) { t.set_stream_handler!(handler) }

    func eventSelect(_ handle: UInt, event: UnsafeMutableRawPointer?, events: Int32) -> WinsockError? {
        error(t.event_select!(VL_SOCKET(handle), event, events))
    }

    func asyncSelect(_ handle: UInt, window: UnsafeMutableRawPointer?, message: UInt32, events: Int32) -> WinsockError? {
        error(t.async_select!(VL_SOCKET(handle), window, message, events))
    }

    /// The entry points WSAIoctl hands out for a virtual socket's extension functions.
    struct ExtensionEntries {
        let receiveMessage, sendMessage, connectEx, acceptEx, acceptExNames: UnsafeMutableRawPointer?
    }

    var extensionEntries: ExtensionEntries {
        ExtensionEntries(receiveMessage: t.wsarecvmsg_entry, sendMessage: t.wsasendmsg_entry, connectEx: t.connectex_entry,
                         acceptEx: t.acceptex_entry, acceptExNames: t.getacceptexsockaddrs_entry)
    }

    // MARK: Events, completion routines, completion ports

    func createEvent() -> UnsafeMutableRawPointer? { t.event_create!() }
    /// BOOL as Winsock's event calls answer (0: not an event).
    @discardableResult func closeEvent(_ event: UnsafeMutableRawPointer?) -> Int32 { t.event_close!(event) }
    @discardableResult func setEvent(_ event: UnsafeMutableRawPointer?) -> Int32 { t.event_set!(event) }
    @discardableResult func resetEvent(_ event: UnsafeMutableRawPointer?) -> Int32 { t.event_reset!(event) }

    /// WSAWaitForMultipleEvents.
    func waitEvents(_ events: UnsafePointer<UnsafeMutableRawPointer?>?, count: UInt32, waitAll: Bool, timeoutMs: UInt32,
                    alertable: Bool) -> UInt32 {
        t.event_wait!(count, events, waitAll ? 1 : 0, timeoutMs, alertable ? 1 : 0)
    }

    /// Whether `event` is signalled within `timeoutMs`.
    func waitEvent(_ event: UnsafeMutableRawPointer, timeoutMs: UInt32, alertable: Bool = false) -> UInt32 {
        var events: [UnsafeMutableRawPointer?] = [event]
        return waitEvents(&events, count: 1, waitAll: false, timeoutMs: timeoutMs, alertable: alertable)
    }

    var currentThread: UInt { t.current_thread!() }

    func queueCompletion(thread: UInt, routine: UnsafeMutableRawPointer?, error: WinsockError?, bytes: UInt32,
                         overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?) {
        t.queue_completion!(thread, routine, UInt32(bitPattern: error?.rawValue ?? 0), bytes, overlapped, 0)
    }

    /// The completion port a socket is to be associated with (a new one for nil), or the
    /// Win32 error (carried as the code it is: CreateIoCompletionPort's last error).
    func openPort(_ port: UnsafeMutableRawPointer?, threads: UInt32) -> Result<UnsafeMutableRawPointer, WinsockError> {
        var error: UInt32 = 0
        guard let joined = t.port_open!(port, threads, &error) else { return .failure(WinsockError(rawValue: Int32(bitPattern: error))) }
        return .success(joined)
    }

    func postCompletion(_ port: UnsafeMutableRawPointer, key: UInt, overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?,
                        status: UInt32, bytes: UInt32) {
        t.post_completion!(port, key, overlapped, status, bytes)
    }

    // MARK: The OS's own Winsock

    func winsockStartup(_ version: UInt16, _ data: UnsafeMutablePointer<VL_WSADATA>?) -> Int32 { t.winsock_startup!(version, data) }
    func winsockCleanup() -> Int32 { t.winsock_cleanup!() }

    var lastError: WinsockError {
        get { WinsockError(rawValue: t.get_last_error!()) }
        nonmutating set { t.set_last_error!(newValue.rawValue) }
    }

    /// kernel32's error for a finished operation's NTSTATUS (nil when the backend does not know).
    func dosError(ofStatus status: UInt32) -> WinsockError? {
        let code = t.dos_error!(status)
        return code == 0 ? nil : WinsockError(Int32(bitPattern: code))
    }

    // MARK: The caller's memory

    /// Whether `count` bytes at `address` can be read without a fault (nil: no).
    func canRead(_ address: UnsafeRawPointer?, _ count: Int) -> Bool {
        guard let address, count >= 0 else { return false }
        return t.memory_usable!(address, UInt(count), 0) != 0
    }

    /// Whether `count` bytes at `address` can be written without a fault (nil: no).
    func canWrite(_ address: UnsafeMutableRawPointer?, _ count: Int) -> Bool {
        guard let address, count >= 0 else { return false }
        return t.memory_usable!(address, UInt(count), 1) != 0
    }

    /// Whether `count` elements of `T` at `address` can be read (written, when `writable`);
    /// nil passes (the callee decides what a missing pointer means), a count that overflows
    /// does not.
    func usable<T>(_ address: UnsafePointer<T>?, count: UInt32 = 1, writable: Bool = false) -> Bool {
        guard let address else { return true }
        let (bytes, overflow) = Int(count).multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !overflow else { return false }
        return writable ? canWrite(UnsafeMutableRawPointer(mutating: address), bytes) : canRead(address, bytes)
    }

    /// Whether a string of `Unit`s (C's bytes, or UTF-16) at `address` can be read to its
    /// end (nil passes).
    func usableString<Unit: FixedWidthInteger>(_ address: UnsafePointer<Unit>?) -> Bool {
        guard var at = address else { return true }
        let size = MemoryLayout<Unit>.size
        // One probe per page: a string ends within the pages it touches (a unit across a
        // page end is probed with the next page).
        while true {
            guard t.memory_usable!(at, UInt(size), 0) != 0 else { return false }
            let pageEnd = (UInt(bitPattern: at) | 0xFFF) + 1
            while UInt(bitPattern: at) + UInt(size) <= pageEnd {
                if at.pointee == 0 { return true }
                at += 1
            }
        }
    }

    // MARK: Process, time, locks, timers

    public var nowMs: UInt32 { t.now_ms!() }
    var processID: UInt32 { t.process_id!() }
    var ownerKind: UInt32 { t.owner_kind }

    public func isOwnerAlive(_ pid: UInt32, _ kind: OwnerKindRaw) -> Bool? {
        switch t.is_process_alive!(pid, kind) {
        case 1: return true
        case 0: return false
        default: return nil
        }
    }

    /// Whether a process of this system (one the instance started) still runs; nil: cannot tell.
    func isSiblingAlive(_ pid: UInt32) -> Bool? {
        switch t.is_sibling_alive!(pid) {
        case 1: return true
        case 0: return false
        default: return nil
        }
    }

    func createMutex() -> UnsafeMutableRawPointer { t.mutex_create!()! }
    @inline(__always) func lock(_ mutex: UnsafeMutableRawPointer) { t.mutex_lock!(mutex) }
    @inline(__always) func unlock(_ mutex: UnsafeMutableRawPointer) { t.mutex_unlock!(mutex) }
    func destroyMutex(_ mutex: UnsafeMutableRawPointer) { t.mutex_destroy!(mutex) }

    /// The process-wide lock for one-time set-up.
    func withGlobalLock<T>(_ body: () -> T) -> T {
        t.global_lock!()
        defer { t.global_unlock!() }
        return body()
    }

    func startTimer(intervalMs: UInt32, _ tick: vl_tick, context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
        t.timer_start!(intervalMs, tick, context)
    }

    func stopTimer(_ timer: UnsafeMutableRawPointer) { t.timer_stop!(timer) }

    // MARK: Environment, files, log

    /// The value of environment variable `name`, as bytes.
    func environment(_ name: StaticString) -> [UInt8]? {
        guard let value = t.get_env!(UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)) else { return nil }
        return bytes(of: value)
    }

    func defaultRegistryPath() -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = Int(t.default_registry_path!(&buffer, UInt32(buffer.count)))
        return buffer.prefix(min(length, buffer.count - 1)).map { UInt8(bitPattern: $0) }
    }

    /// Maps the registry file; 0 with its creation lock held, else the VL_MAP_* error.
    func mapRegistry(_ path: [UInt8], sizeIfNew: UInt32, into mapping: inout vl_mapping) -> Int32 {
        withCString(path) { t.registry_map!($0, sizeIfNew, &mapping) }
    }

    func unlockRegistry(_ mapping: inout vl_mapping) { t.registry_unlock!(&mapping) }
    func unmapRegistry(_ mapping: inout vl_mapping) { t.registry_unmap!(&mapping) }

    /// Appends one line to the log file at `path`.
    func log(path: [UInt8], _ line: String) {
        var line = line
        withCString(path) { p in
            line.withUTF8 { u in t.log_line!(p, UnsafeRawPointer(u.baseAddress!).assumingMemoryBound(to: CChar.self), UInt32(u.count)) }
        }
    }

    /// Tells the user about a fatal problem (stderr; on Windows also the debugger).
    func reportError(_ message: String) {
        var message = message
        message.withUTF8 { t.report_error!(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), UInt32($0.count)) }
    }
}

public typealias OwnerKindRaw = UInt32

/// NUL-terminated C string -> bytes.
func bytes(of cString: UnsafePointer<CChar>) -> [UInt8] {
    var out: [UInt8] = []
    var p = UnsafeRawPointer(cString).assumingMemoryBound(to: UInt8.self)
    while p.pointee != 0 {
        out.append(p.pointee)
        p += 1
    }
    return out
}

/// Calls `body` with `bytes` as a NUL-terminated C string.
func withCString<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
    var terminated = bytes
    terminated.append(0)
    return terminated.withUnsafeBufferPointer { body(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
}
