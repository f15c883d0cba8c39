/// Decides where a datagram goes (send side) and whether an arriving frame may be given to
/// the game (receive side). Pure: it reads the registry and returns decisions; the Winsock
/// layer does the I/O.
public struct Router: Sendable {
    public let registry: Registry
    public var network: VirtualNetwork { registry.network }

    public init(registry: Registry) { self.registry = registry }

    /// Where a destination address leads, seen from one instance.
    public enum Route: Equatable, Sendable {
        /// 127.0.0.0/8: a socket of the sender's own instance.
        case loopback
        /// A virtual host address: that instance (live or not; a missing host drops it like a LAN).
        case instance(Int)
        /// 255.255.255.255 or the subnet broadcast: every live instance, the sender's own included.
        case broadcast
        /// A group in 224.0.0.0/4: the sockets of every instance that joined it (never the
        /// real network: the virtual LAN is the only link a group is on).
        case multicast(IPv4Address)

        /// Broadcast and multicast: a datagram for many (the header's flag says so).
        public var isForMany: Bool {
            switch self {
            case .broadcast, .multicast: return true
            case .loopback, .instance: return false
            }
        }
    }

    public enum SendError: Error, Equatable, Sendable {
        /// Payload larger than `WireHeader.maxPayload`: WSAEMSGSIZE, nothing sent.
        case messageTooLarge
        /// Outside loopback and the virtual subnet: WSAENETUNREACH (never leaves the machine).
        case networkUnreachable
        /// Broadcast without SO_BROADCAST: WSAEACCES, as Windows answers.
        case broadcastNotPermitted
    }

    public func route(to destination: IPv4Address, payloadLength: Int, broadcastPermitted: Bool) -> Result<Route, SendError> {
        guard payloadLength <= WireHeader.maxPayload else { return .failure(.messageTooLarge) }
        if destination.isLoopback { return .success(.loopback) }
        if network.isBroadcast(destination) {
            return broadcastPermitted ? .success(.broadcast) : .failure(.broadcastNotPermitted)
        }
        if let instance = network.instance(of: destination) { return .success(.instance(instance)) }
        if destination.isMulticast { return .success(.multicast(destination)) }
        return .failure(.networkUnreachable)
    }

    /// The source address the receiver will see: 127.0.0.1 over loopback, else our LAN address.
    public func sourceAddress(for route: Route, sender: Int) -> IPv4Address {
        route == .loopback ? .loopback : network.address(ofInstance: sender)
    }

    /// Calls `deliver(realPort)` for every backing socket that should get a datagram sent by
    /// instance `sender` along `route` to `virtualPort`; returns how many there were.
    /// Unicast goes to one socket (one bound to the address itself before one bound to
    /// 0.0.0.0, the first bound among equals); broadcast to every one;
    /// multicast to every one that joined the group and takes datagrams from the sender.
    @discardableResult
    public func forEachReceiver(of route: Route, virtualPort: UInt16, sender: Int, _ deliver: (UInt16) -> Void) -> Int {
        switch route {
        case .loopback:
            return receivers(slot: sender, virtualPort: virtualPort, loopback: true, first: true, deliver)
        case let .instance(index):
            guard registry.isLive(index) else { return 0 }
            return receivers(slot: index, virtualPort: virtualPort, loopback: false, first: true, deliver)
        case .broadcast, .multicast:
            let group: IPv4Address? = if case let .multicast(g) = route { g } else { nil }
            let source = network.address(ofInstance: sender)
            var count = 0
            // Remote instances: one copy per other host, to the first of its instances that
            // listens on the port; that host's bridge hands it to all of them. A host's
            // instances lie in its own range, so they come one after another here.
            var servedPeer = -1
            for index in 0..<registry.slotCount where registry.isLive(index) {
                if registry.isRemote(index) {
                    let peer = Int(registry.peer(ofSlot: index))
                    guard peer != servedPeer else { continue }
                    let delivered = receivers(slot: index, virtualPort: virtualPort, loopback: false, first: true, deliver)
                    if delivered > 0 { servedPeer = peer }
                    count += delivered
                } else if let group {
                    count += members(slot: index, of: group, virtualPort: virtualPort, source: source, fromOwnInstance: index == sender, deliver)
                } else {
                    count += receivers(slot: index, virtualPort: virtualPort, loopback: false, first: false, deliver)
                }
            }
            return count
        }
    }

    /// The bridge's side of a broadcast or multicast that came from another host (`header`
    /// says which): every socket of this host's own instances on its port, of a group only
    /// the members (never a remote instance: no loops).
    @discardableResult
    public func forEachLocalReceiver(ofDatagramForMany header: WireHeader, _ deliver: (UInt16) -> Void) -> Int {
        var count = 0
        for index in 0..<registry.slotCount where registry.isLive(index) && !registry.isRemote(index) {
            if header.destination.isMulticast {
                count += members(slot: index, of: header.destination, virtualPort: header.destinationPort, source: header.source,
                                 fromOwnInstance: false, deliver)
            } else {
                count += receivers(slot: index, virtualPort: header.destinationPort, loopback: false, first: false, deliver)
            }
        }
        return count
    }

    /// The slot's sockets on `virtualPort` that take a datagram `source` sent to `group`.
    private func members(slot: Int, of group: IPv4Address, virtualPort: UInt16, source: IPv4Address, fromOwnInstance: Bool,
                         _ deliver: (UInt16) -> Void) -> Int {
        var count = 0
        registry.forEachSocket(slot: slot) { port, realPort, scope in
            guard port == virtualPort, scope.acceptsLAN,
                  registry.takesGroupDatagram(slot: slot, realPort: realPort, group: group, source: source, fromOwnInstance: fromOwnInstance)
            else { return }
            count += 1
            deliver(realPort)
        }
        return count
    }

    private func receivers(slot: Int, virtualPort: UInt16, loopback: Bool, first: Bool, _ deliver: (UInt16) -> Void) -> Int {
        var count = 0
        // `first`: one socket, a 0.0.0.0 one only when none is bound to the address itself
        // (`listener`'s rule, kept in this loop: it is on every datagram's path).
        var wildcard: UInt16 = 0
        registry.forEachSocket(slot: slot) { port, realPort, scope in
            guard port == virtualPort, loopback ? scope.acceptsLoopback : scope.acceptsLAN else { return }
            if first {
                guard count == 0 else { return }
                if scope == .any {
                    if wildcard == 0 { wildcard = realPort }
                    return
                }
            }
            count += 1
            deliver(realPort)
        }
        if first && count == 0 && wildcard != 0 {
            deliver(wildcard)
            return 1
        }
        return count
    }

    /// The TCP listener of the slot a connection to `virtualPort` at loopback (or at the
    /// instance's LAN address) reaches: one bound to that address before one bound to
    /// 0.0.0.0, as Windows chooses (the two may share a port; `receivers` applies the same
    /// rule to datagrams); among equals the first bound. Only a socket that listens.
    private func listener(slot: Int, virtualPort: UInt16, loopback: Bool) -> UInt16? {
        var wildcard: UInt16?, specific: UInt16?
        registry.forEachSocket(slot: slot, transport: .tcp) { port, realPort, scope in
            guard port == virtualPort, specific == nil, loopback ? scope.acceptsLoopback : scope.acceptsLAN,
                  registry.isListening(slot: slot, realPort: realPort) else { return }
            if scope != .any { specific = realPort } else if wildcard == nil { wildcard = realPort }
        }
        return specific ?? wildcard
    }

    // MARK: Virtual TCP

    /// The real port of the TCP listener a connection to `virtualPort` along `route` reaches
    /// (nil: none listens there, WSAECONNREFUSED; a route for many never has one).
    /// Whether a PC answers at the route's address (TCP: a SYN is answered, with the
    /// handshake or a refusal): the own instance, or a live one.
    public func isAnswered(_ route: Route) -> Bool {
        switch route {
        case .loopback: return true
        case let .instance(index): return registry.isLive(index)
        case .broadcast, .multicast: return false
        }
    }

    public func streamListener(of route: Route, virtualPort: UInt16, sender: Int) -> UInt16? {
        let slot: Int
        switch route {
        case .broadcast, .multicast: return nil
        case .loopback: slot = sender
        case let .instance(index):
            guard registry.isLive(index) else { return nil }
            slot = index
        }
        return listener(slot: slot, virtualPort: virtualPort, loopback: route == .loopback)
    }

    /// The accepting side's check of a connection's preamble: a valid stream header, meant
    /// for this listener, from the real TCP port the claimed source has registered (the
    /// same rules as a datagram's: `check`, with TCP's port space).
    public func checkPreamble(_ bytes: UnsafeRawBufferPointer, realSourcePort: UInt16, listener: Receiver) -> Verdict {
        switch WireHeader.decode(bytes) {
        case let .rejected(rejection): return .drop(rejection.dropReason)
        case let .header(header):
            guard header.isStream else { return .drop(.malformed) }
            return check(header, realSourcePort: realSourcePort, receiver: listener, transport: .tcp)
        }
    }

    /// The socket that received a frame, as the receive check needs it.
    public struct Receiver: Sendable {
        public var instance: Int
        public var virtualPort: UInt16
        public var scope: BindScope
        /// Which group datagrams it takes: those of the groups the socket of `realPort`
        /// joined (the registry's memberships), or any group (a bridge's stand-in socket:
        /// the members are on the other host).
        public var groups: Groups

        public enum Groups: Sendable {
            case joinedBy(realPort: UInt16)
            case any
        }

        public init(instance: Int, virtualPort: UInt16, scope: BindScope, groups: Groups = .joinedBy(realPort: 0)) {
            self.instance = instance
            self.virtualPort = virtualPort
            self.scope = scope
            self.groups = groups
        }
    }

    public enum Verdict: Equatable, Sendable {
        case deliver(WireHeader)
        case drop(DropReason)
    }

    /// The receive-side check: the header is valid, it is meant for this socket, and the real
    /// port it came from belongs to the virtual source it claims (no spoofing from a port
    /// that is not in the registry).
    public func check(frame: UnsafeRawBufferPointer, realSourcePort: UInt16, receiver: Receiver) -> Verdict {
        switch WireHeader.decode(frame) {
        case let .rejected(rejection): return .drop(rejection.dropReason)
        case let .header(header):
            // A stream's preamble is never a datagram.
            guard !header.isStream else { return .drop(.malformed) }
            return check(header, realSourcePort: realSourcePort, receiver: receiver, transport: .udp)
        }
    }

    @inline(__always)
    private func check(_ header: WireHeader, realSourcePort: UInt16, receiver: Receiver, transport: Transport) -> Verdict {
        guard header.destinationPort == receiver.virtualPort else { return .drop(.misdirected) }

        let senderSlot: Int
        if header.source.isLoopback {
            // Loopback traffic only ever comes from the receiver's own instance.
            guard header.destination.isLoopback, receiver.scope.acceptsLoopback else { return .drop(.misdirected) }
            senderSlot = receiver.instance
        } else {
            // The sender may have left since it sent (its slot released): its socket entries
            // still vouch for the datagram until the slot is claimed again.
            guard let slot = network.instance(of: header.source), slot < registry.slotCount else { return .drop(.unknownSource) }
            guard receiver.scope.acceptsLAN else { return .drop(.misdirected) }
            if network.isBroadcast(header.destination) {
                guard header.isBroadcast else { return .drop(.malformed) }
            } else if header.destination.isMulticast {
                guard header.isBroadcast else { return .drop(.malformed) }
                if case let .joinedBy(realPort) = receiver.groups {
                    guard registry.takesGroupDatagram(slot: receiver.instance, realPort: realPort, group: header.destination,
                                                      source: header.source, fromOwnInstance: slot == receiver.instance)
                    else { return .drop(.misdirected) }
                }
            } else if header.destination != network.address(ofInstance: receiver.instance) {
                return .drop(.misdirected)
            }
            senderSlot = slot
        }
        guard registry.virtualPort(slot: senderSlot, realPort: realSourcePort, transport: transport) == header.sourcePort else {
            return .drop(.spoofedSource)
        }
        return .deliver(header)
    }
}
