import CWineBridge
import VirtualIPCore

/// One socket of the game: a real socket on 127.0.0.1 of the same transport (its handle is
/// what the game holds) plus the virtual identity Windows would give it. This base holds
/// what every socket has (its place in the port space, its mode, its overlapped operations,
/// its completion port); a `DatagramSocket` or a `StreamSocket` adds its own state and its
/// own answers. Fields are guarded by the host's lock.
class VirtualSocket {
    let handle: UInt
    /// The backing socket's port on 127.0.0.1: what the registry maps our virtual port to
    /// (a TCP socket's is 0 until it binds: an unbound one can still leave for the outside).
    var realPort: UInt16
    /// Whether the registry's entry for `realPort` is this socket's: every bound socket's,
    /// except a TCP connection accept() made (it shares its listener's port and entry).
    var ownsEntry = false
    /// 0 until bound (explicitly, or implicitly by a first send/connect).
    var virtualPort: UInt16 = 0
    var scope: BindScope = .any
    var nonBlocking = false
    /// False for a socket WSASocket made without WSA_FLAG_OVERLAPPED: its I/O is
    /// synchronous, an OVERLAPPED given to it is filled when the operation is done.
    var overlappedIO = true
    /// The network events a WSAEventSelect asked for (0: none): while any are, the socket
    /// stays non-blocking (FIONBIO 0 is refused with WSAEINVAL, as Windows).
    var selectedEvents: Int32 = 0
    /// Where the OS sends them (nil while none are selected).
    var eventTarget: EventTarget?
    var reuseAddress = false
    var exclusiveAddress = false
    var sendBuffer: Int32 = 65536
    var receiveBuffer: Int32 = 65536
    /// SO_RCVTIMEO / SO_SNDTIMEO in ms (0: wait forever); blocking receives honour the first.
    var receiveTimeout: UInt32 = 0
    var sendTimeout: UInt32 = 0
    /// UDP: the default destination set by connect(); TCP: the other end of the connection.
    var peer: (address: IPv4Address, port: UInt16)?
    var closed = false
    /// The game's handles of this socket: `handle`, and copies WSADuplicateSocket or
    /// DuplicateHandle made in this process (one socket; it closes with the last of them).
    lazy var handles: [UInt] = [handle]
    /// Another process of the PC may hold it too (WSADuplicateSocket into it, or from it):
    /// closing it here then must not end it for them (no shutdown of the backing socket;
    /// the registry entry closes with its last holder).
    var sharedWithProcesses = false
    /// Threads using the handle outside the lock (blocking receive, send). The handle is
    /// closed only when the last one leaves, so a closed descriptor number is never reused
    /// under a running call.
    var activeCalls = 0
    /// Overlapped operations in the order they were posted: a datagram socket's receives
    /// (guarded by its receive side, not the host's lock), a stream's AcceptEx, ConnectEx
    /// and WSARecvMsg.
    var pending: [PendingReceive] = []
    /// Waits for a change of the PC's addresses or routes (SIO_ADDRESS_LIST_CHANGE,
    /// SIO_ROUTING_INTERFACE_CHANGE): they never change, so only a cancel or the close
    /// ends them.
    var changeWaits: [PendingReceive] = []
    /// The completion port CreateIoCompletionPort associated the socket with, and its key.
    /// This and the next are written under the host's lock and the queue's (`lockQueue`),
    /// so either lock reads them.
    var port: (handle: UnsafeMutableRawPointer, key: UInt)?
    /// SetFileCompletionNotificationModes' FILE_SKIP_COMPLETION_PORT_ON_SUCCESS.
    var skipPortOnSuccess = false
    /// Stands for the handle itself as Windows signals it: set when an overlapped operation
    /// without an event ends, reset when one starts; GetOverlappedResult waits on it for an
    /// OVERLAPPED with no event. Made on first use, closed with the backing socket.
    var handleEvent: UnsafeMutableRawPointer?

    /// Where an operation started now reports its end besides the OVERLAPPED.
    var completionTarget: CompletionTarget? {
        port.map { CompletionTarget(port: $0.handle, key: $0.key, skipOnSuccess: skipPortOnSuccess) }
    }

    init(handle: UInt, realPort: UInt16) {
        self.handle = handle
        self.realPort = realPort
    }

    /// Which kind it is, for the calls whose path differs by kind (send, receive).
    var kind: SocketKind { fatalError("a socket is a DatagramSocket or a StreamSocket") }
    /// The registry's transport, and so the port space the socket binds in.
    var transport: Transport { fatalError("a socket is a DatagramSocket or a StreamSocket") }
    /// SO_TYPE.
    var socketType: Int32 { fatalError("a socket is a DatagramSocket or a StreamSocket") }
    /// Whether its backing socket's own close says goodbye to a peer (a stream's FIN or
    /// reset): then closesocket leaves the close to the OS and only wakes a blocked thread.
    var closesGracefully: Bool { false }

    var isBound: Bool { virtualPort != 0 }

    /// setsockopt/getsockopt: virtual, handed on to the backing socket, or refused.
    func optionDecision(level: Int32, name: Int32) -> OptionDecision { WinsockDetours.optionDecision(level: level, name: name, transport: transport) }

    /// FIONREAD, lock held.
    func bytesReadableLocked(on host: VirtualHost) -> UInt32 { fatalError("a socket is a DatagramSocket or a StreamSocket") }

    /// bind's work on the backing socket before the registry entry is written (its real
    /// port must be known then).
    func prepareBackingForBind(platform: Platform) -> WinsockError? { nil }

    /// Before an option is handed on to the backing socket: what the OS must see first for
    /// its answer to be the one it gives without the layer. Lock held.
    func prepareBackingForOption(level: Int32, on host: VirtualHost) -> WinsockError? { nil }

    /// FIONBIO's effect on the backing socket (the virtual mode is the base's `nonBlocking`).
    func takeBlockingMode(nonBlocking: Bool, platform: Platform) -> WinsockError? { nil }

    /// With the host's lock held: takes what guards `pending` besides it (a datagram
    /// socket's receive side; a stream's queue is the host lock's); false, and nothing taken,
    /// once closesocket has ended it. `unlockQueue` gives it back.
    func lockQueue() -> Bool { true }
    func unlockQueue() {}

    /// closesocket's part that is this kind's, under the host's lock (the socket has just
    /// left the table and its registry entry).
    func closedLocked(by host: VirtualHost) {}
}

/// Where the OS sends a socket's selected network events: WSAEventSelect's event object,
/// or WSAAsyncSelect's window and message. accept passes it on to the new socket.
enum EventTarget {
    case event(UnsafeMutableRawPointer)
    case window(UnsafeMutableRawPointer, message: UInt32)
}

/// The kinds of virtual socket (a closed set: a switch over it needs no default).
enum SocketKind {
    case datagram(DatagramSocket)
    case stream(StreamSocket)
}

/// A UDP socket: datagrams with our header, broadcast only with SO_BROADCAST, multicast
/// memberships in the registry, a default destination once connected.
final class DatagramSocket: VirtualSocket {
    var broadcast = false
    /// IP_MULTICAST_IF as set (network order); kept and read back (the LAN is the one interface).
    var multicastInterface: UInt32 = 0
    /// IP_MULTICAST_LOOP (Windows' default on): off, datagrams its own instance sends to a
    /// group it joined do not reach it.
    var multicastLoop = true
    /// The backing socket's receive side, apart from the host's lock: a take, and a peek with
    /// the discard that follows it, run one at a time under this lock (a discard must take
    /// the frame its peek saw), and it guards the overlapped receives (`pending`). So a
    /// thread receiving here never holds up another thread's call on another socket. Taken
    /// alone, or inside the host's lock, never around it.
    private let receiveLock: Lock
    /// False from closesocket on (guarded by `receiveLock`): a receive that found the socket
    /// before the close must not use its descriptor, which may be another socket's by then.
    private var receivable = true
    /// Blocking takes waiting inside the OS, off the receive side (guarded by `receiveLock`):
    /// they wait as Wine's own blocking receive does, one call, so they cannot hold the lock
    /// (select and the other threads' receives would wait for a datagram). While one is,
    /// a peek never discards the frame it saw: the blocking take may have taken it since,
    /// and the discard would take the next, which the game should get.
    private var takersInOS = 0

    init(handle: UInt, realPort: UInt16, platform: Platform) {
        receiveLock = Lock(platform)
        super.init(handle: handle, realPort: realPort)
    }

    /// Takes the receive side for one receive (or a look at the queue); false, and not
    /// taken, once closesocket has ended it. `finishReceive` gives it back.
    func startReceive() -> Bool {
        receiveLock.lock()
        if receivable { return true }
        receiveLock.unlock()
        return false
    }

    func finishReceive() { receiveLock.unlock() }

    /// A blocking take is about to wait inside the OS (false: closesocket ended the receive
    /// side); `finishTakingInOS` when it is back.
    func startTakingInOS() -> Bool {
        guard startReceive() else { return false }
        takersInOS += 1
        finishReceive()
        return true
    }

    func finishTakingInOS() { receiveLock.locked { takersInOS -= 1 } }

    /// Whether a peek may discard the frame it saw (receive side held).
    var mayDiscard: Bool { takersInOS == 0 }

    override func lockQueue() -> Bool { startReceive() }
    override func unlockQueue() { finishReceive() }

    /// closesocket's end of the receive side: waits for a receive under way, and none starts
    /// after; returns the overlapped receives still pending (they end aborted).
    func endReceiving() -> [PendingReceive] {
        receiveLock.locked {
            receivable = false
            defer { pending = [] }
            return pending
        }
    }

    override var kind: SocketKind { .datagram(self) }
    override var transport: Transport { .udp }
    override var socketType: Int32 { Int32(VL_SOCK_DGRAM) }

    /// A closed socket leaves its groups.
    override func closedLocked(by host: VirtualHost) { host.leaveGroupsLocked(self) }

    /// The payload size of the next datagram the game would get (frames we would drop are
    /// dropped first); 0 when none waits.
    override func bytesReadableLocked(on host: VirtualHost) -> UInt32 { UInt32(host.nextPayloadLength(host.view(of: self)) ?? 0) }
    // Its backing socket stays non-blocking: a blocking receive waits in the layer.
}

/// A TCP socket: the OS's stream on 127.0.0.1 with our preamble first; unconnected, then a
/// connection (`peer`) or a listener (`listening`).
final class StreamSocket: VirtualSocket {
    /// Whether the backing socket is ready for the OS's overlapped sends and receives.
    var overlappedReady = false
    /// Set by listen(): the socket is a listener from then on. (A connection a WSAAccept
    /// condition deferred stays in the OS's queue: the listener keeps nothing for it.)
    var listening = false
    /// shutdown(SD_RECEIVE or SD_BOTH) was called: new receives are WSAESHUTDOWN; those
    /// already pending still end with the peer's data (the layer keeps this half of the
    /// shutdown from the backing socket while they wait).
    var receiveShut = false
    /// Set while a blocking connect waits out Windows' handshake towards an address where no
    /// PC answers: closesocket sets it to end the wait.
    var handshakeWake: UnsafeMutableRawPointer?

    override var kind: SocketKind { .stream(self) }
    override var transport: Transport { .tcp }
    override var socketType: Int32 { Int32(VL_SOCK_STREAM) }
    override var closesGracefully: Bool { true }

    /// The bytes queued on the connection (the OS's count).
    override func bytesReadableLocked(on host: VirtualHost) -> UInt32 { host.platform.bytesReadable(handle) }

    /// Between the virtual bind and the backing socket's own (at listen, or a connection on
    /// the LAN): a socket of ours bound to 127.0.0.1, whose port stands for this socket in
    /// the registry. The backing socket stays unbound meanwhile, so a bound socket can still
    /// connect outside the LAN, as a bound socket on Windows can.
    var placeholder: UInt?

    /// Whether the OS could still take the backing socket anywhere: it is not bound yet
    /// (never bound, or bound only virtually, behind the placeholder).
    var canLeaveLAN: Bool { realPort == 0 || placeholder != nil }

    /// The registry entry needs a real port now: the placeholder's (the backing socket binds
    /// when it has to).
    override func prepareBackingForBind(platform: Platform) -> WinsockError? {
        guard realPort == 0 else { return nil }
        switch platform.openBoundStreamSocket() {
        case let .success(reserved):
            (placeholder, realPort) = (reserved.handle, reserved.port)
            return nil
        case let .failure(error): return error
        }
    }

    /// Binds the backing socket to 127.0.0.1 if it is not yet (listen, a connection on the
    /// LAN): a registry entry moves from the placeholder's port to its own. Lock held.
    func bindBackingLocked(on host: VirtualHost) -> WinsockError? {
        guard canLeaveLAN else { return nil }
        switch host.platform.bindStream(handle) {
        case let .success(port):
            if placeholder != nil && ownsEntry { host.registry.moveSocket(slot: host.instance, realPort: realPort, to: port, transport: .tcp) }
            realPort = port
            dropPlaceholder(platform: host.platform)
            return nil
        case let .failure(error): return error
        }
    }

    /// The placeholder goes (the socket closes, or leaves for the OS).
    func dropPlaceholder(platform: Platform) {
        if let reserved = placeholder { platform.close(reserved) }
        placeholder = nil
    }

    /// For an answer the OS gives by whether the socket is bound: a virtually bound socket's
    /// backing socket binds, so the OS sees it bound. Lock held.
    func showBindingToOSLocked(on host: VirtualHost) -> WinsockError? {
        isBound ? bindBackingLocked(on: host) : nil
    }

    /// The OS answers IPPROTO_IPV6's options on an IPv4 socket by whether it is bound (Wine
    /// takes them only unbound; sock.c's test_ipv6only).
    override func prepareBackingForOption(level: Int32, on host: VirtualHost) -> WinsockError? {
        level == Int32(VL_IPPROTO_IPV6) ? showBindingToOSLocked(on: host) : nil
    }

    /// The backing socket takes the mode: its calls block, or not, in the OS.
    override func takeBlockingMode(nonBlocking: Bool, platform: Platform) -> WinsockError? {
        platform.setNonBlocking(handle, nonBlocking)
    }

    /// A connect waiting out the handshake ends (WSAEINTR); a connection is counted closed.
    override func closedLocked(by host: VirtualHost) {
        dropPlaceholder(platform: host.platform)
        if let wake = handshakeWake { host.platform.setEvent(wake) }
        if peer != nil { host.registry.countConnection(slot: host.instance, opened: false) }
    }
}

/// An overlapped WSARecvFrom waiting for its datagram. The WSABUF array is copied (Windows
/// lets the caller reuse it at once); buffers, `from` and `fromLength` stay the caller's
/// until completion, as Windows requires.
final class PendingReceive {
    let overlapped: UnsafeMutablePointer<VL_OVERLAPPED>
    let buffers: [VL_WSABUF]
    let from: UnsafeMutablePointer<VL_SOCKADDR_IN>?
    let fromLength: UnsafeMutablePointer<Int32>?
    let routine: UnsafeMutableRawPointer?
    let thread: UInt
    /// The socket's completion port (nil: none yet; set when one is associated meanwhile).
    var target: CompletionTarget?
    /// A WSARecvMsg's message (its flags and control data are written at completion), and
    /// the control data the socket asked for when it started.
    let message: UnsafeMutablePointer<VL_WSAMSG>?
    let controls: ControlData
    /// The socket's handle event when the operation has no event of its own (nil: it has).
    let handleEvent: UnsafeMutableRawPointer?
    /// Set for an AcceptEx: the operation is an accept (its buffer is the first data's).
    var accept: PendingAccept?
    /// Set for a ConnectEx towards an address where no PC answered yet (the heartbeat serves it).
    var connect: PendingConnect?

    init(overlapped: UnsafeMutablePointer<VL_OVERLAPPED>, buffers: [VL_WSABUF],
         from: UnsafeMutablePointer<VL_SOCKADDR_IN>?, fromLength: UnsafeMutablePointer<Int32>?,
         routine: UnsafeMutableRawPointer?, thread: UInt, target: CompletionTarget?,
         message: UnsafeMutablePointer<VL_WSAMSG>?, controls: ControlData, handleEvent: UnsafeMutableRawPointer?) {
        self.overlapped = overlapped
        self.buffers = buffers
        self.from = from
        self.fromLength = fromLength
        self.routine = routine
        self.thread = thread
        self.target = target
        self.message = message
        self.controls = controls
        self.handleEvent = handleEvent
    }
}

/// What an AcceptEx waits for, in order: a connection on the listener (the operation sits in
/// the listener's queue), then, the connection moved onto the acceptor, its preamble and
/// the first data when the game asked for some (in the acceptor's queue: it is that
/// socket's bytes the readiness thread waits for).
final class PendingAccept {
    enum Stage { case connection, preamble, firstData }
    let acceptor: UInt
    /// The game's buffer: first data, then the local and the remote name blocks.
    let output: UnsafeMutableRawPointer
    let receiveLength: UInt32, localLength: UInt32, remoteLength: UInt32
    var stage = Stage.connection
    /// The preamble's bytes so far, and the real port the connection came from.
    var preamble: [UInt8] = []
    var realPeerPort: UInt16 = 0
    /// The listener the connection came to, as the preamble check and the new socket need it.
    var listener = Router.Receiver(instance: 0, virtualPort: 0, scope: .any)
    var listenerRealPort: UInt16 = 0

    init(acceptor: UInt, output: UnsafeMutableRawPointer, receiveLength: UInt32, localLength: UInt32, remoteLength: UInt32) {
        self.acceptor = acceptor
        self.output = output
        self.receiveLength = receiveLength
        self.localLength = localLength
        self.remoteLength = remoteLength
    }
}

/// A ConnectEx whose handshake goes on after the call: where, the first bytes (the caller's
/// until the end, as Windows requires), and how far Windows' schedule has come.
final class PendingConnect {
    let target: SocketAddress
    let route: Router.Route
    let data: UnsafeRawPointer?
    let dataLength: UInt32
    let startedMs: UInt32
    /// SYN retransmissions already looked at (0...2).
    var retransmitsSeen = 0

    init(target: SocketAddress, route: Router.Route, data: UnsafeRawPointer?, dataLength: UInt32, startedMs: UInt32) {
        self.target = target
        self.route = route
        self.data = data
        self.dataLength = dataLength
        self.startedMs = startedMs
    }
}

/// A completion port as an operation sees it.
struct CompletionTarget {
    let port: UnsafeMutableRawPointer
    let key: UInt
    let skipOnSuccess: Bool
}

/// A sockaddr_in as the game passes it.
struct SocketAddress: Equatable {
    var address: IPv4Address
    var port: UInt16

    /// Reads a caller's sockaddr; WSAEFAULT for a short or missing one, WSAEAFNOSUPPORT
    /// for another family.
    static func read(_ pointer: UnsafePointer<VL_SOCKADDR_IN>?, length: Int32) -> Result<SocketAddress, WinsockError> {
        guard let pointer, length >= Int32(MemoryLayout<VL_SOCKADDR_IN>.size) else { return .failure(.fault) }
        let raw = UnsafeRawPointer(pointer)
        let family = raw.loadUnaligned(as: UInt16.self)
        // An IPv6 address is judged by its own size first (28 bytes), as Wine does.
        if family == UInt16(VL_AF_INET6) && length < 28 { return .failure(.fault) }
        guard family == UInt16(VL_AF_INET) else { return .failure(.addressFamilyNotSupported) }
        return .success(SocketAddress(
            address: IPv4Address(networkOrder: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
            port: UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 2, as: UInt16.self))))
    }

    /// Writes into a caller's sockaddr and sets its length (as getsockname/recvfrom do).
    func write(to pointer: UnsafeMutablePointer<VL_SOCKADDR_IN>?, length: UnsafeMutablePointer<Int32>?) -> WinsockError? {
        guard let pointer, let length, length.pointee >= Int32(MemoryLayout<VL_SOCKADDR_IN>.size) else { return .fault }
        let raw = UnsafeMutableRawPointer(pointer)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: 16)
        raw.storeBytes(of: UInt16(VL_AF_INET), as: UInt16.self)
        raw.storeBytes(of: port.bigEndian, toByteOffset: 2, as: UInt16.self)
        raw.storeBytes(of: address.networkOrder, toByteOffset: 4, as: UInt32.self)
        length.pointee = 16
        return nil
    }
}
