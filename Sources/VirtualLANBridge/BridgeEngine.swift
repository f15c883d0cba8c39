import Foundation
import HostKit
import VirtualIPCore
import WinsockDetours

/// One host's bridge: joins this host's registry to the bridges of other hosts.
///
/// - It announces this host's live instances (and the ports they listen on) to its peers.
/// - It stands in for every remote instance here: a registry slot of kind `.remote` and one
///   proxy socket on 127.0.0.1 per virtual port, so this host's instances send to it and
///   accept datagrams from it exactly as from a local instance.
/// - A datagram a local instance sends to a proxy goes to the peer hosting that instance; a
///   broadcast arrives at one proxy per peer (the router's rule) and crosses once per peer.
/// - A datagram from a peer is handed to the local socket(s) from the proxy of its sender.
/// - A TCP listener of a remote instance has a stand-in listener here; a connection to it
///   is relayed to the peer's bridge over a TCP connection of its own (BridgeEngine+Streams).
/// - With `--relay` it also passes frames and connections on between hosts that cannot reach
///   each other (BridgeEngine+Relay); it probes every host for `status` (BridgeEngine+Probes).
///
/// One thread, in arrival order, no queue of its own: datagrams of one flow are never
/// reordered here, and the only buffers are the kernel's bounded socket buffers.
public final class BridgeEngine {
    /// Why a frame or datagram was not passed on; counted and shown at exit.
    enum Drop: String, CaseIterable {
        case badTag = "bad-key-or-tampered", malformed, stale = "stale-or-clock-skew", replayed, oldSession = "old-session"
        case overlappingRange = "overlapping-range", foreignInstance = "instance-outside-sender-range"
        case unknownPeer = "unknown-peer", noTarget = "no-such-local-instance", noListener = "no-listener"
        case tooLarge = "too-large-for-link", localCheck = "failed-local-check", sendFailed = "send-failed"
        case slotTaken = "slot-taken-locally"
    }

    struct Peer {
        var range: InstanceRange
        /// Where its frames go: its own address, or the relay its frames come through.
        var address: HostAddress
        var replay = ReplayWindow()
        var lastHeardMs: UInt32
        var up = true
        /// It relays for other hosts (its frames say so).
        var relays = false
        /// The last round trip its probes measured.
        var roundTripUs: UInt64?
        /// The relay its frames last came through, if any (BridgeEngine+Punching).
        var relay: HostAddress?
        /// Where a relay sees it, from a meeting: probed there until it answers directly.
        var meetingPlace: HostAddress?
        /// When a frame last came from it directly, not through a relay.
        var directHeardMs: UInt32?
        /// Reached through a relay now (no direct path, or the direct one went quiet).
        var isRelayed: Bool { relay == address }
    }

    /// A remote instance held in this host's registry.
    final class Remote {
        let claim: SlotClaim
        let peer: UInt16
        /// Virtual port -> proxy socket; kept until the instance leaves, so a socket the
        /// remote game closes and reopens keeps its proxy (and late datagrams their source).
        var proxies: [UInt16: UDPSocket] = [:]
        var announcedPorts: Set<UInt16> = []
        /// Virtual TCP port -> the stand-in listener on 127.0.0.1 (closed when unannounced).
        var standIns: [UInt16: (fd: Int32, port: UInt16)] = [:]
        init(claim: SlotClaim, peer: UInt16) {
            self.claim = claim
            self.peer = peer
        }
    }

    let settings: Settings
    let registry: Registry
    let router: Router
    let platform: Platform
    let link: UDPSocket
    /// The TCP port other bridges connect to for relayed streams: the link's address and port.
    let streamLink: Int32
    var streams: [Int32: RelayedStream] = [:]
    var standInOwners: [Int32: (slot: Int, virtualPort: UInt16)] = [:]
    var streamsRelayed = 0, streamsReset = 0, framesPassedOn = 0, streamsSpliced = 0
    /// Relay: connections waiting for their listener's host to call back, and the joined
    /// pairs (BridgeEngine+Relay).
    var parked: [StreamToken: (stream: RelayedStream, sinceMs: UInt32, host: UInt16, own: Bool)] = [:]
    var splices: [Int32: SplicedStream] = [:]
    let keys: LinkKeys
    let session: UInt64
    private(set) var sequence: UInt64 = 0
    var peers: [UInt16: Peer] = [:]
    private(set) var remotes: [Int: Remote] = [:]
    private var proxyOwners: [Int32: (slot: Int, virtualPort: UInt16)] = [:]
    private(set) var drops: [Drop: Int] = [:]
    private(set) var forwardedOut = 0, forwardedIn = 0
    private var lastAnnouncement: Announcement?
    private var lastAnnouncedMs: UInt32 = 0
    private var warned: Set<String> = []
    let log: (String) -> Void

    static let announceIntervalMs: UInt32 = 1000

    public init(settings: Settings, registry: Registry, platform: Platform = .default, log: @escaping (String) -> Void) throws {
        self.settings = settings
        self.registry = registry
        self.router = Router(registry: registry)
        self.platform = platform
        self.log = log
        keys = LinkKeys(sharedKey: settings.key)
        session = BridgeEngine.wallClockMs()
        (link, streamLink) = try BridgeEngine.openLink(settings.listen)
        for index in 0..<registry.slotCount where registry.isLive(index) && !registry.isRemote(index) && !settings.range.contains(index) {
            throw Failure("instance \(index) (pid \(registry.owner(ofSlot: index).pid)) is live outside this host's range \(settings.range.first)-\(settings.range.last): stop it, then start the bridge before the copies")
        }
        registry.setLocalRange(settings.range)
    }

    /// The UDP link and, on the same address and port, the TCP one. Port 0 asks for any free
    /// port for both: the UDP port the OS picks may be taken in TCP (another program's
    /// connection), so a few are tried before giving up.
    static func openLink(_ listen: HostAddress) throws -> (UDPSocket, Int32) {
        for attempt in 1...8 {
            let udp = try UDPSocket(bindTo: listen.sockaddr, receiveBuffer: 4 << 20)
            do {
                return (udp, try TCPSocket.listen(on: HostAddress(address: listen.address, port: udp.port).sockaddr).fd)
            } catch where listen.port == 0 && attempt < 8 {
                continue
            }
        }
        throw Failure("cannot listen on TCP at \(listen): no port free in both UDP and TCP")
    }

    static func wallClockMs() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return UInt64(t.tv_sec) * 1000 + UInt64(t.tv_nsec) / 1_000_000
    }

    /// Every socket to wait on: the link first, then the proxies.
    var sockets: [Int32] { [link.fd] + proxyOwners.keys.sorted() }

    /// What to wait for: the UDP link and proxies, the stream link and stand-in listeners
    /// (readable), and each relayed stream's sides (what they wait for now).
    var pollSet: [pollfd] {
        var set = (sockets + [streamLink] + standInOwners.keys.sorted()).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        for (fd, stream) in streams where !stream.isDone(fd) { set.append(pollfd(fd: fd, events: stream.events(of: fd), revents: 0)) }
        for (fd, splice) in splices where !splice.isDone(fd) { set.append(pollfd(fd: fd, events: splice.events(of: fd), revents: 0)) }
        return set
    }

    /// One socket of `pollSet` is ready.
    func ready(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) {
        if fd == link.fd { linkReadable(buffer) }
        else if proxyOwners[fd] != nil { proxyReadable(fd, buffer) }
        else if fd == streamLink { acceptFromPeer() }
        else if let owner = standInOwners[fd] { acceptForRemote(fd, owner: owner) }
        else if let stream = streams[fd] { pump(stream) }
        else if let splice = splices[fd] { pump(splice) }
    }

    // MARK: Frames from other hosts

    func linkReadable(_ buffer: UnsafeMutableRawBufferPointer) {
        while let (count, from) = link.receive(into: buffer) {
            receiveFrame(UnsafeRawBufferPointer(rebasing: buffer[..<count]), from: HostAddress(from))
        }
    }

    func receiveFrame(_ bytes: UnsafeRawBufferPointer, from: HostAddress) {
        guard let frame = authenticated(bytes, from: from, overStreamLink: false) else { return }
        if settings.relay, passedOn(bytes, frame, from: from) { return }
        switch frame.kind {
        case .announce:
            guard let announcement = Announcement(body: frame.body),
                  announcement.instances.allSatisfy({ frame.sender.contains(Int($0.index)) })
            else { count(.malformed); return }
            apply(announcement, from: frame.sender.first)
        case .datagram:
            deliverFromPeer(frame.body, peer: frame.sender)
        case .stream:
            count(.malformed) // a stream's opening frame comes on a TCP connection, never over UDP
        case .callback:
            callBack(frame, relay: from)
        case .probe:
            probed(frame, from: from)
        case .meeting:
            met(frame)
        }
    }

    /// A frame whose tag, clock, range and sequence pass, from a peer that is up; nil (counted)
    /// otherwise. Over UDP the frame also brings the peer up and names its address; over a
    /// stream link (from an ephemeral port) it must come from a peer already up, from its address.
    func authenticated(_ bytes: UnsafeRawBufferPointer, from: HostAddress, overStreamLink: Bool) -> BridgeFrame? {
        let frame: BridgeFrame
        switch BridgeFrame.open(bytes, with: keys) {
        case let .failure(rejection):
            let drop: Drop = rejection == .badTag ? .badTag : .malformed
            count(drop)
            warnOnce("\(drop)-\(from)", rejection == .badTag
                ? "dropping frames from \(from): wrong key, another virtuallan version, or changed on the way; every host needs the same key and version"
                : "dropping malformed frames from \(from)")
            return nil
        case let .success(opened): frame = opened
        }
        let now = BridgeEngine.wallClockMs()
        let skew = now > frame.sentAtMs ? now - frame.sentAtMs : frame.sentAtMs - now
        guard skew <= settings.maxClockSkewMs else {
            count(.stale)
            warnOnce("stale-\(from)", "dropping frames from \(from) sent \(skew / 1000) s away from this clock: a replay, or the hosts' clocks differ (use NTP)")
            return nil
        }
        guard !frame.sender.overlaps(settings.range) else {
            count(.overlappingRange)
            warnOnce("overlap-\(from)", "peer \(from) uses instances \(frame.sender.first)-\(frame.sender.last), which overlap this host's \(settings.range.first)-\(settings.range.last): give every host its own --range")
            return nil
        }
        if let clash = peers.values.first(where: { $0.range.first != frame.sender.first && $0.up && $0.range.overlaps(frame.sender) }) {
            count(.overlappingRange)
            warnOnce("overlap-\(from)", "peer \(from) uses instances \(frame.sender.first)-\(frame.sender.last), which overlap those of peer \(clash.address): give every host its own --range")
            return nil
        }
        let nowMs = platform.nowMs
        if overStreamLink {
            // From its address, or from its relay's (a connection the relay passes on).
            guard let known = peers[frame.sender.first], known.up, known.range == frame.sender,
                  known.address.address == from.address || known.relay?.address == from.address
            else {
                count(.unknownPeer)
                return nil
            }
        }
        var peer = peers[frame.sender.first] ?? Peer(range: frame.sender, address: from, lastHeardMs: nowMs, up: false)
        let throughRelay = !overStreamLink && isRelay(from, for: frame.sender)
        var verdict = peer.replay.check(session: frame.session, sequence: frame.sequence)
        if verdict == .oldSession, Int64(Int32(bitPattern: nowMs &- peer.lastHeardMs)) > Int64(settings.maxClockSkewMs) {
            // A lower session after the peer's session has been silent longer than the
            // allowed skew: the peer restarted with its clock set back. A replay of the old
            // session cannot pass the clock check any more, so the new one is safe to take.
            peer.replay = ReplayWindow()
            verdict = peer.replay.check(session: frame.session, sequence: frame.sequence)
        }
        switch verdict {
        case .accept: break
        case .replayed:
            // A host reached directly gets a relayed copy of each announcement too: not a replay.
            if !throughRelay { count(.replayed) }
            return nil
        case .oldSession: count(.oldSession); return nil
        }
        if overStreamLink {
            peers[frame.sender.first] = peer // its replay window; the peer's UDP address stays
            return frame
        }
        if !peer.up {
            log("peer \(from) up: instances \(frame.sender.first)-\(frame.sender.last)")
        }
        peer.range = frame.sender
        heard(&peer, from: from, throughRelay: throughRelay, nowMs: nowMs)
        peer.relays = frame.senderRelays
        peer.lastHeardMs = nowMs
        peer.up = true
        peers[frame.sender.first] = peer
        return frame
    }

    /// Makes this host's view of the peer's instances match what it announced.
    func apply(_ announcement: Announcement, from peer: UInt16) {
        var present = Set<Int>()
        for instance in announcement.instances {
            let index = Int(instance.index)
            guard let remote = remoteInstance(index, peer: peer) else { continue }
            present.insert(index)
            registry.beat(remote.claim, nowMs: platform.nowMs)
            let ports = Set(instance.ports)
            for port in ports where !remote.announcedPorts.contains(port) { openProxy(remote, port: port) }
            for port in remote.announcedPorts.subtracting(ports) {
                if let proxy = remote.proxies[port] { registry.removeSocket(slot: index, realPort: proxy.port) }
            }
            let listening = Set(instance.streamPorts)
            let oldListening = Set(remote.standIns.keys)
            for port in listening.subtracting(oldListening) { openStandIn(remote, port: port) }
            for port in oldListening.subtracting(listening) { closeStandIn(remote, port: port) }
            if ports != remote.announcedPorts || listening != oldListening {
                log("instance \(index) (\(registry.address(ofSlot: index).dotted)) ports \(ports.sorted().map(String.init).joined(separator: " "))"
                    + (listening.isEmpty ? "" : " tcp \(listening.sorted().map(String.init).joined(separator: " "))"))
            }
            remote.announcedPorts = ports
        }
        for (index, remote) in remotes where remote.peer == peer && !present.contains(index) { release(index) }
    }

    /// The remote instance's slot here, claimed on first sight.
    func remoteInstance(_ index: Int, peer: UInt16) -> Remote? {
        if let remote = remotes[index] {
            if registry.state(ofSlot: index) == (.live, remote.claim.generation), remote.peer == peer { return remote }
            release(index) // reclaimed meanwhile, or it moved to another host
        }
        guard index < registry.slotCount else { count(.foreignInstance); return nil }
        do {
            let claim = try registry.claim(owner: UInt32(getpid()), kind: .remote, pinned: index, peer: peer, nowMs: platform.nowMs,
                                           isOwnerAlive: { [platform] pid, kind in platform.isOwnerAlive(pid, kind.rawValue) })
            let remote = Remote(claim: claim, peer: peer)
            remotes[index] = remote
            log("instance \(index) (\(registry.address(ofSlot: index).dotted)) joined on host \(peers[peer]?.address.description ?? "?")")
            return remote
        } catch {
            count(.slotTaken)
            warnOnce("taken-\(index)", "remote instance \(index) cannot be placed here: \(error.message) (do two hosts use the same range?)")
            return nil
        }
    }

    private func openProxy(_ remote: Remote, port: UInt16) {
        if remote.proxies[port] == nil {
            guard let proxy = try? UDPSocket(bindTo: HostAddress.loopback(0).sockaddr, receiveBuffer: 1 << 20) else {
                warnOnce("proxy", "cannot open a proxy socket on 127.0.0.1 (out of file descriptors?)")
                return
            }
            remote.proxies[port] = proxy
            proxyOwners[proxy.fd] = (remote.claim.index, port)
        }
        let proxy = remote.proxies[port]!
        if !registry.addSocket(slot: remote.claim.index, virtualPort: port, realPort: proxy.port, scope: .lan) {
            warnOnce("full-\(remote.claim.index)", "remote instance \(remote.claim.index) has more than \(RegistryLayout.socketsPerSlot) sockets: the rest are not reachable")
        }
    }

    private func release(_ index: Int) {
        guard let remote = remotes.removeValue(forKey: index) else { return }
        for proxy in remote.proxies.values { proxyOwners[proxy.fd] = nil }
        // Its streams are not touched: an instance that exits closes them itself (the ends
        // pass through), and a host that goes away ends them through the link or its silence.
        for port in Array(remote.standIns.keys) { closeStandIn(remote, port: port) }
        registry.release(remote.claim)
        log("instance \(index) (\(registry.address(ofSlot: index).dotted)) left")
    }

    /// A game datagram from a peer: to one local instance, or to all of them (a broadcast,
    /// for this host when its target is this host's first instance).
    private func deliverFromPeer(_ body: [UInt8], peer: InstanceRange) {
        guard let (target, frame) = ForwardedDatagram.parse(body),
              case let .header(header) = frame.withUnsafeBytes({ WireHeader.decode($0) })
        else { count(.malformed); return }
        guard let source = router.network.instance(of: header.source), peer.contains(source) else {
            count(.foreignInstance)
            return
        }
        // A datagram can come before the announcement that names its sender (this bridge just
        // started): place the sender now, its announcement will follow within a second.
        guard let remote = remoteInstance(source, peer: peer.first) else { return }
        if remote.proxies[header.sourcePort] == nil || !remote.announcedPorts.contains(header.sourcePort) {
            openProxy(remote, port: header.sourcePort)
            remote.announcedPorts.insert(header.sourcePort)
        }
        guard let proxy = remote.proxies[header.sourcePort] else { count(.sendFailed); return }

        var delivered = 0
        let send = { (realPort: UInt16) in
            let ok = frame.withUnsafeBytes { proxy.send($0, to: HostAddress.loopback(realPort).sockaddr) }
            if ok { delivered += 1 } else { self.count(.sendFailed) }
        }
        if header.isBroadcast {
            guard target == settings.range.first else { count(.noTarget); return }
            router.forEachLocalReceiver(ofDatagramForMany: header, send)
        } else {
            let index = Int(target)
            guard settings.range.contains(index), registry.isLive(index), !registry.isRemote(index),
                  header.destination == router.network.address(ofInstance: index)
            else { count(.noTarget); return }
            if router.forEachReceiver(of: .instance(index), virtualPort: header.destinationPort, sender: source, send) == 0 {
                count(.noListener)
            }
        }
        if delivered > 0 {
            forwardedIn += 1
            registry.countDatagram(slot: source, received: false, bytes: frame.count - WireHeader.size)
        }
    }

    // MARK: Datagrams of local instances to remote ones

    func proxyReadable(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) {
        guard let owner = proxyOwners[fd], let remote = remotes[owner.slot], let proxy = remote.proxies[owner.virtualPort] else { return }
        while let (count, from) = proxy.receive(into: buffer) {
            let frame = UnsafeRawBufferPointer(rebasing: buffer[..<count])
            forwardToPeer(frame, realSourcePort: UInt16(bigEndian: from.sin_port), fromLoopback: from.sin_addr.s_addr == UInt32(0x7F00_0001).bigEndian,
                          remote: remote, virtualPort: owner.virtualPort)
        }
    }

    private func forwardToPeer(_ frame: UnsafeRawBufferPointer, realSourcePort: UInt16, fromLoopback: Bool, remote: Remote, virtualPort: UInt16) {
        let index = remote.claim.index
        let receiver = Router.Receiver(instance: index, virtualPort: virtualPort, scope: .lan, groups: .any)
        // The same check an instance makes: a genuine header, for this socket, from the real
        // port of the local instance it names. Only local instances cross (no loops).
        guard fromLoopback, case let .deliver(header) = router.check(frame: frame, realSourcePort: realSourcePort, receiver: receiver),
              let source = router.network.instance(of: header.source), !registry.isRemote(source)
        else {
            count(.localCheck)
            return
        }
        guard let peer = peers[remote.peer], peer.up else { count(.unknownPeer); return }
        let target = header.isBroadcast ? peer.range.first : UInt16(index)
        guard send(.datagram, body: ForwardedDatagram.body(target: target, frame: frame), to: peer.address) else { return }
        forwardedOut += 1
        registry.countDatagram(slot: index, received: true, bytes: frame.count - WireHeader.size)
    }

    // MARK: Announcements and housekeeping

    /// This host's live instances and the ports they take LAN traffic on.
    func localAnnouncement() -> Announcement {
        var instances: [Announcement.Instance] = []
        for index in Int(settings.range.first)...min(settings.range.last, registry.slotCount - 1)
        where registry.isLive(index) && !registry.isRemote(index) {
            var ports = Set<UInt16>(), listening = Set<UInt16>()
            registry.forEachSocket(slot: index) { port, _, scope in if scope.acceptsLAN { ports.insert(port) } }
            registry.forEachSocket(slot: index, transport: .tcp) { port, realPort, scope in
                if scope.acceptsLAN && registry.isListening(slot: index, realPort: realPort) { listening.insert(port) }
            }
            instances.append(Announcement.Instance(index: UInt16(index), ports: ports.sorted(), streamPorts: listening.sorted()))
        }
        return Announcement(instances: instances)
    }

    /// Called every `tickMs`: announce when something changed (or once a second), forget
    /// peers that went silent, keep the remote slots' heartbeats from going stale.
    func tick() {
        let nowMs = platform.nowMs
        let announcement = localAnnouncement()
        let announced = announcement != lastAnnouncement || nowMs &- lastAnnouncedMs >= BridgeEngine.announceIntervalMs
        if announced {
            announce(announcement)
            lastAnnouncement = announcement
            lastAnnouncedMs = nowMs
        }
        for (first, peer) in peers where peer.up && Int32(bitPattern: nowMs &- peer.lastHeardMs) > Int32(registry.staleAfterMs) {
            peers[first]?.up = false
            log("peer \(peer.address) silent for \(registry.staleAfterMs / 1000) s: its instances left")
            for (index, remote) in remotes where remote.peer == first { release(index) }
            resetStreams(because: "its host went silent") { $0.peer == first }
        }
        resetStreams(because: "no preamble or opening frame within \(RelayedStream.setupWaitMs) ms") {
            $0.stage != .open && Int32(bitPattern: nowMs &- $0.startedMs) > Int32(RelayedStream.setupWaitMs)
        }
        expireParked(nowMs)
        fallBackToRelays(nowMs)
        if announced { probePeers() }
    }

    /// To every configured peer and every peer that reached us (it may sit behind NAT).
    func announce(_ announcement: Announcement) {
        var targets = settings.peers
        for peer in peers.values where peer.up && !targets.contains(peer.address) { targets.append(peer.address) }
        for target in targets { _ = send(.announce, body: announcement.body, to: target) }
    }

    /// Says goodbye (an empty announcement: peers drop this host's instances at once) and
    /// gives back the remote slots.
    public func stop() {
        announce(Announcement(instances: []))
        if let file = settings.peersFile { unlink(file) }  // status must not show a bridge that is gone
        for index in remotes.keys { release(index) }
        resetStreams(because: "the bridge stops") { _ in true }
    }

    func send(_ kind: BridgeFrame.Kind, body: [UInt8], to address: HostAddress) -> Bool {
        guard let bytes = sealed(kind, body: body) else { count(.tooLarge); return false }
        guard bytes.withUnsafeBytes({ link.send($0, to: address.sockaddr) }) else { count(.sendFailed); return false }
        return true
    }

    /// The next frame of this bridge's session, authenticated.
    func sealed(_ kind: BridgeFrame.Kind, body: [UInt8]) -> [UInt8]? {
        sequence += 1
        return BridgeFrame(kind: kind, sender: settings.range, session: session, sequence: sequence,
                           sentAtMs: BridgeEngine.wallClockMs(), body: body, senderRelays: settings.relay).sealed(with: keys)
    }

    func count(_ drop: Drop) { drops[drop, default: 0] += 1 }

    func warnOnce(_ key: String, _ message: String) {
        guard warned.insert(key).inserted else { return }
        log("warning: \(message)")
    }

    public var statsLine: String {
        let dropped = Drop.allCases.compactMap { drop in drops[drop].map { "\(drop.rawValue)=\($0)" } }
        return "stats: forwarded out=\(forwardedOut) in=\(forwardedIn) streams relayed=\(streamsRelayed) reset=\(streamsReset)"
            + (settings.relay ? " passed on=\(framesPassedOn) spliced=\(streamsSpliced)" : "")
            + " dropped: \(dropped.isEmpty ? "none" : dropped.joined(separator: " "))"
    }
}
