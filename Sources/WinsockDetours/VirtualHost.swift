import CWineBridge
import VirtualIPCore

/// One instance: a small virtual PC with its own address, MAC, host name and UDP port
/// space, holding the game's sockets. Every Winsock entry point ends up here.
public final class VirtualHost: @unchecked Sendable {
    public let platform: Platform
    public let config: InstanceConfig
    public let registry: Registry
    public let router: Router
    public let claim: SlotClaim
    /// Which of the instance's processes this one is (0: the one that claimed it).
    public let member: Int
    /// This process's id (tests stand in several processes inside one).
    let processID: UInt32
    let lock: Lock
    /// The overlapped stream sends and receives the OS carries (their own lock).
    let streamOperations: StreamOperations
    var sockets: [UInt: VirtualSocket] = [:]
    /// The last handles closed while virtual (bounded): WSAGetOverlappedResult on them is ours.
    var recentlyClosed: [UInt] = []
    /// Handles the game closed whose socket lives on in a copy of the handle: the layer
    /// still works through them (a socket's `handle`), the game's calls on them fail.
    var closedByGame: Set<UInt> = []
    /// Handles DuplicateHandle made of virtual sockets: Winsock's socket list does not have
    /// them (closesocket and WSAGetOverlappedResult answer WSAENOTSOCK; CloseHandle closes).
    var handleCopies: Set<UInt> = []
    /// WSADuplicateSocket's answers for this process, not yet turned into sockets.
    var duplicates: [PendingDuplicate] = []
    /// The OS's dual-stack IPv6 sockets of this process that bound (VirtualHost+DualStack).
    var dualStackHandles: [UInt] = []
    var startupCount = 0
    var nextEphemeralPort: UInt16
    var heartbeatTimer: UnsafeMutableRawPointer?
    /// The real port of a TCP socket that never listens: where a virtual connection with no
    /// listener goes, so the OS refuses it (made on first use).
    var refusingPort: UInt16?
    /// The real port of a listener whose queue is kept full: where a non-blocking connection
    /// towards an address with no PC goes, so it stays under way (made on first use).
    var silentPort: UInt16?
    /// Outside destinations a UDP send was refused for, each warned about once (lock held).
    var warnedOutside: [IPv4Address] = []
    /// The host's own sockets behind those ports, closed at shutdown.
    var ownSockets: [UInt] = []
    /// Windows' TcpInitialRTT: the first SYN retransmission's delay (the handshake towards an
    /// address where no PC answers gives up after 7 times this). Tests shorten it.
    var initialRetransmitMs: UInt32 = 3000
    /// Test hook: runs when a blocking receive has registered itself and is about to wait.
    var willBlock: (() -> Void)?
    /// Keeps the registry mapping alive as long as the host (file-backed registries).
    let registryOwner: AnyObject?
    /// This instance's log (its config's path and level).
    let logger: Log

    public var instance: Int { claim.index }
    public var address: IPv4Address { registry.network.address(ofInstance: claim.index) }
    public var mac: MACAddress { registry.mac(ofSlot: claim.index) }
    public var hostname: [UInt8] { config.hostname(instance: claim.index) }

    /// Claims a slot in `registry` (pinned by the config or the lowest free), or joins the
    /// instance `joining` when the process that started this one listed it there, and starts
    /// the heartbeat. `processID` stands in for the process's own (tests: several processes
    /// of one instance inside one).
    public init(platform: Platform, config: InstanceConfig, registry: Registry, registryOwner: AnyObject? = nil,
                joining: SlotClaim? = nil, processID: UInt32? = nil) throws(ClaimError) {
        self.platform = platform
        self.config = config
        self.registry = registry
        self.registryOwner = registryOwner
        logger = Log(platform: platform, path: config.logPath, level: config.logLevel)
        router = Router(registry: registry)
        lock = Lock(platform)
        streamOperations = StreamOperations(platform)
        let pid = processID ?? platform.processID
        self.processID = pid
        if let joining, let member = registry.member(joining, pid: pid) {
            (claim, self.member) = (joining, member)
        } else {
            claim = try registry.claim(
                owner: pid, kind: OwnerKind(rawValue: platform.ownerKind) ?? .windows,
                pinned: config.pinnedInstance, nowMs: platform.nowMs,
                isOwnerAlive: { pid, kind in platform.isOwnerAlive(pid, kind.rawValue) })
            member = 0
        }
        // Start each instance's ephemeral ports elsewhere so logs are easier to tell apart.
        nextEphemeralPort = 49152 &+ UInt16(truncatingIfNeeded: claim.index &* 97)
        VirtualHost.register(self)
        heartbeatTimer = platform.startTimer(intervalMs: RegistryLayout.heartbeatIntervalMs, { context in
            let host = Unmanaged<VirtualHost>.fromOpaque(context!).takeUnretainedValue()
            if !host.registry.beat(host.claim, nowMs: host.platform.nowMs) {
                host.log(.error, "instance \(host.instance) lost its registry slot (this process stood still longer than the stale limit); restart it")
            }
            host.serviceHandshakes()
            host.removeEndedProcesses()
        }, context: Unmanaged.passUnretained(self).toOpaque())
        if let joining, member == 0 {
            log(.warning, "the process that started this one was instance \(joining.index), which has ended or did not list this process: claimed instance \(instance) as \(address.dotted) of its own")
        } else {
            log(.info, member == 0 ? "claimed instance \(instance) as \(address.dotted)"
                                   : "joined instance \(instance) (\(address.dotted)) as its process \(member)")
        }
    }

    /// Closes every socket, stops the heartbeat and frees the slot (process exit, or tests).
    public func shutdown() {
        let open = lock.locked { Array(sockets.keys) }
        for handle in open { _ = closeSocket(handle) }
        let own: [UInt] = lock.locked {
            defer { ownSockets = []; refusingPort = nil; silentPort = nil }
            return ownSockets
        }
        for handle in own { platform.close(handle) }
        if let timer = heartbeatTimer {
            platform.stopTimer(timer)
            heartbeatTimer = nil
        }
        registry.leave(claim, member: member)
        VirtualHost.unregister(self)
    }

    func log(_ level: LogLevel, _ message: String) { logger.write(level, message) }

    // MARK: Hosts of this process (the readiness callback finds sockets through them)

    nonisolated(unsafe) static var hosts: [VirtualHost] = []
    nonisolated(unsafe) static var hostsLock: Lock?

    static func register(_ host: VirtualHost) {
        if hostsLock == nil {
            hostsLock = Lock(host.platform)
            host.platform.setReadyHandler({ handle in VirtualHost.socketReadable(handle) })
            host.platform.setStreamHandler({ context, status, bytes in VirtualHost.streamOperationEnded(context, status: status, bytes: bytes) })
        }
        hostsLock!.locked { hosts.append(host) }
    }

    static func unregister(_ host: VirtualHost) {
        hostsLock?.locked { hosts.removeAll { $0 === host } }
    }

    static func socketReadable(_ handle: UInt) {
        for host in hostsLock?.locked({ hosts }) ?? [] where host.serviceOverlapped(handle) { return }
    }

    // MARK: Socket table

    /// Looks up a virtual socket, or says why not (WSANOTINITIALISED / WSAENOTSOCK).
    func socket(_ handle: UInt) -> Result<VirtualSocket, WinsockError> {
        guard startupCount > 0 else { return .failure(.notInitialised) }
        // A handle another process of the PC copied into this one is met here first.
        guard let socket = sockets[handle] ?? adoptHandedLocked(handle), !socket.closed,
              closedByGame.isEmpty || !closedByGame.contains(handle) else {
            return .failure(.notSocket)
        }
        return .success(socket)
    }

    /// Runs `body` under the lock with the virtual socket, or answers why there is none.
    func withSocket<T>(_ handle: UInt, orFail failure: (WinsockError) -> T, _ body: (VirtualSocket) -> T) -> T {
        lock.locked {
            switch socket(handle) {
            case let .failure(error): return failure(error)
            case let .success(socket): return body(socket)
            }
        }
    }

    /// `withSocket` for calls that answer only an error.
    func withSocket(_ handle: UInt, _ body: (VirtualSocket) -> WinsockError?) -> WinsockError? {
        withSocket(handle, orFail: { $0 }, body)
    }

    /// `withSocket` for a call only a stream has: a datagram socket answers `notStream`
    /// (listen's WSAEOPNOTSUPP, AcceptEx's WSAEINVAL...).
    func withStream<T>(_ handle: UInt, orFail failure: (WinsockError) -> T, notStream: WinsockError, _ body: (StreamSocket) -> T) -> T {
        withSocket(handle, orFail: failure) { socket in
            guard let stream = socket as? StreamSocket else { return failure(notStream) }
            return body(stream)
        }
    }

    /// A virtual TCP socket (the stream calls decide by this, before anything else).
    func isStream(_ handle: UInt) -> Bool { lock.locked { sockets[handle] is StreamSocket && !closedByGame.contains(handle) } }

    public func isVirtual(_ handle: UInt) -> Bool {
        lock.locked { (sockets[handle] ?? adoptHandedLocked(handle)) != nil && !closedByGame.contains(handle) }
    }
    public func wasVirtual(_ handle: UInt) -> Bool { lock.locked { recentlyClosed.contains(handle) } }

    /// A new virtual socket backed by a real one of the same transport (UDP: on 127.0.0.1
    /// at once; TCP: bound there when the virtual socket binds). Not `inheritable`
    /// (WSA_FLAG_NO_HANDLE_INHERIT): a process started with bInheritHandles does not get it.
    func openSocket(_ transport: Transport = .udp, overlappedIO: Bool = true, inheritable: Bool = true) -> Result<UInt, WinsockError> {
        let opened: Result<VirtualSocket, WinsockError> = transport == .udp
            ? platform.openDatagramSocket().map { DatagramSocket(handle: $0.handle, realPort: $0.realPort, platform: platform) }
            : platform.openStreamSocket().map { StreamSocket(handle: $0, realPort: 0) }
        guard case let .success(socket) = opened else { return opened.map { $0.handle } }
        socket.overlappedIO = overlappedIO
        if !inheritable { platform.setInheritable(socket.handle, false) }
        lock.locked { sockets[socket.handle] = socket }
        log(.debug, transport == .udp ? "UDP socket \(socket.handle) backed by 127.0.0.1:\(socket.realPort)"
                                      : "TCP socket \(socket.handle) is virtual (its backing socket binds 127.0.0.1 when it listens or connects on the LAN)")
        return .success(socket.handle)
    }

    /// closesocket: pending overlapped receives (and AcceptEx onto it) end with WSA_OPERATION_ABORTED, blocked
    /// receivers wake with WSAEINTR, the port is free again at once.
    func closeSocket(_ handle: UInt) -> WinsockError? {
        switch closeOneHandle(handle) {
        case .notSocket: return startupCount > 0 ? .notSocket : .notInitialised
        case let .copyClosed(real):
            if let real { platform.close(real) }
            return nil
        case .last: break
        }
        let taken: (VirtualSocket, [PendingReceive], Bool, Bool)? = lock.locked {
            guard let socket = sockets.removeValue(forKey: handle) else { return nil }
            if handle != socket.handle {
                sockets.removeValue(forKey: socket.handle)
                closedByGame.remove(socket.handle)
                handleCopies.remove(handle)
            }
            socket.closed = true
            if recentlyClosed.count == 64 { recentlyClosed.removeFirst() }
            recentlyClosed.append(handle)
            // A socket another process of the PC still holds stays open for it.
            let othersHold = socket.ownsEntry
                ? registry.removeSocket(slot: instance, realPort: socket.realPort, transport: socket.transport, member: member)
                : socket.sharedWithProcesses
            if !othersHold { socket.closedLocked(by: self) }
            // Its own operations end (a datagram socket's receives with its receive side,
            // below), and the AcceptEx others wait in to accept onto it.
            var pending = socket.changeWaits
            socket.changeWaits = []
            if socket is StreamSocket {
                pending += socket.pending
                socket.pending = []
            }
            for other in sockets.values where other is StreamSocket && other.pending.contains(where: { $0.accept?.acceptor == handle }) {
                pending += other.pending.filter { $0.accept?.acceptor == handle }
                other.pending.removeAll { $0.accept?.acceptor == handle }
            }
            return (socket, pending, socket.activeCalls == 0, othersHold)
        }
        guard let (socket, operations, closeNow, othersHold) = taken else { return startupCount > 0 ? .notSocket : .notInitialised }
        // A receive runs outside the host's lock: it ends before the descriptor is shut down or closed.
        let pending = ((socket as? DatagramSocket)?.endReceiving() ?? []) + operations
        for op in pending {
            complete(op, error: .operationAborted, bytes: 0, from: nil)
            // An AcceptEx onto this socket that the OS carries for another's listener ends too.
            if let carried = streamOperations.carrying(op), carried.handle != socket.handle {
                platform.cancelStreamOperation(carried.handle, context: Unmanaged.passUnretained(carried).toOpaque())
            }
        }
        // A stream's close is the OS's (graceful, or abortive with SO_LINGER 0): only a thread
        // blocked in it needs waking, which a shutdown would otherwise turn into a FIN.
        if !othersHold && (!socket.closesGracefully || !closeNow) { platform.shutdown(socket.handle) }
        if closeNow { release(socket) }
        // The last handle was a copy: its own OS handle goes too.
        if handle != socket.handle { platform.close(handle) }
        return nil
    }

    /// The backing socket closes, and the handle event with it (no call uses either now).
    private func release(_ socket: VirtualSocket) {
        platform.close(socket.handle)
        if let event = socket.handleEvent { platform.closeEvent(event) }
    }

    /// Marks the start of a call that uses the handle without holding the lock.
    func enter(_ socket: VirtualSocket) -> Bool {
        lock.locked {
            guard !socket.closed else { return false }
            socket.activeCalls += 1
            return true
        }
    }

    /// The end of such a call; the last one out of a closed socket closes the handle.
    func leave(_ socket: VirtualSocket) {
        let closeNow = lock.locked {
            socket.activeCalls -= 1
            return socket.closed && socket.activeCalls == 0
        }
        if closeNow { release(socket) }
    }

    // MARK: Startup

    /// WSAStartup is the OS's answer (the version it grants, what it writes into WSADATA,
    /// its errors: Wine's protocol.c pins them); the layer counts the startups that succeeded.
    func startup(version: UInt16, data: UnsafeMutablePointer<VL_WSADATA>?) -> WinsockError? {
        let osError = platform.winsockStartup(version, data)
        guard osError == 0 else { return WinsockError(rawValue: osError) }
        lock.locked { startupCount += 1 }
        return nil
    }

    /// The last WSACleanup closes the sockets that are still open, as Windows does.
    func cleanup() -> WinsockError? {
        let last: Bool? = lock.locked {
            guard startupCount > 0 else { return nil }
            startupCount -= 1
            return startupCount == 0
        }
        guard let last else { return .notInitialised }
        if last {
            let open = lock.locked { Array(sockets.keys) }
            for handle in open { _ = closeSocket(handle) }
        }
        let osError = platform.winsockCleanup()
        return osError == 0 ? nil : WinsockError(rawValue: osError)
    }
}
