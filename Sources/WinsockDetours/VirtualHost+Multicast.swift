import CWineBridge
import VirtualIPCore

/// Multicast on the virtual LAN: a UDP socket's memberships live in the registry, where
/// every sender's router finds them; a group is never joined on a real interface.
/// Errors are Windows' (learn.microsoft.com "Multicast Socket Option Behavior").
enum MembershipChange: Equatable {
    case join, leave, joinSource, leaveSource, block, unblock

    /// The change an IPPROTO_IP option asks for, with its request layout (nil: not one).
    init?(option name: Int32) {
        switch name {
        case Int32(VL_IP_ADD_MEMBERSHIP), Int32(VL_MCAST_JOIN_GROUP): self = .join
        case Int32(VL_IP_DROP_MEMBERSHIP), Int32(VL_MCAST_LEAVE_GROUP): self = .leave
        case Int32(VL_IP_ADD_SOURCE_MEMBERSHIP), Int32(VL_MCAST_JOIN_SOURCE_GROUP): self = .joinSource
        case Int32(VL_IP_DROP_SOURCE_MEMBERSHIP), Int32(VL_MCAST_LEAVE_SOURCE_GROUP): self = .leaveSource
        case Int32(VL_IP_BLOCK_SOURCE), Int32(VL_MCAST_BLOCK_SOURCE): self = .block
        case Int32(VL_IP_UNBLOCK_SOURCE), Int32(VL_MCAST_UNBLOCK_SOURCE): self = .unblock
        default: return nil
        }
    }

    var namesSource: Bool { self != .join && self != .leave }
}

/// What a membership option's value says: group, source (0.0.0.0: none) and interface.
struct MembershipRequest: Equatable {
    var group: IPv4Address
    var source: IPv4Address
    /// An IP_* form's interface address; nil for the MCAST_* forms (an interface index).
    var interface: IPv4Address?

    /// ip_mreq {group, interface} / ip_mreq_source {group, source, interface}; group_req
    /// {ULONG index; SOCKADDR_STORAGE group} / group_source_req {..., SOCKADDR_STORAGE
    /// source}, the storage 8-aligned (offsets 8 and 136 on i686 as on x64).
    static func read(_ value: UnsafeRawPointer, length: Int32, name: Int32, namesSource: Bool) -> Result<MembershipRequest, WinsockError> {
        func address(_ offset: Int) -> IPv4Address { IPv4Address(networkOrder: value.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        if name >= Int32(VL_MCAST_JOIN_GROUP) {
            guard length >= (namesSource ? 264 : 136) else { return .failure(.fault) }
            guard value.loadUnaligned(fromByteOffset: 8, as: UInt16.self) == UInt16(VL_AF_INET),
                  !namesSource || value.loadUnaligned(fromByteOffset: 136, as: UInt16.self) == UInt16(VL_AF_INET)
            else { return .failure(.invalidArgument) }
            return .success(MembershipRequest(group: address(12), source: namesSource ? address(140) : .any, interface: nil))
        }
        guard length >= (namesSource ? 12 : 8) else { return .failure(.fault) }
        return .success(MembershipRequest(group: address(0), source: namesSource ? address(4) : .any,
                                          interface: address(namesSource ? 8 : 4)))
    }
}

extension VirtualHost {
    /// IP_ADD/DROP_MEMBERSHIP, the source forms, block/unblock, and their MCAST_* twins.
    /// Lock held.
    func changeMembershipLocked(_ socket: DatagramSocket, name: Int32, value: UnsafeRawPointer?, length: Int32) -> WinsockError? {
        guard let change = MembershipChange(option: name) else { return .noProtocolOption }
        guard let value else { return .fault }
        let request: MembershipRequest
        switch MembershipRequest.read(value, length: length, name: name, namesSource: change.namesSource) {
        case let .failure(error): return error
        case let .success(r): request = r
        }
        guard request.group.isMulticast, !change.namesSource || request.source != .any else { return .invalidArgument }
        // The interface: the default, loopback or our LAN address; no other is ours.
        if let interface = request.interface, interface != .any, !interface.isLoopback,
           interface != router.network.address(ofInstance: instance) { return .addressNotAvailable }
        // Windows joins only a bound socket (WSAEINVAL otherwise).
        guard socket.isBound else { return .invalidArgument }

        var anySource = false, sources: [IPv4Address] = [], blocked: [IPv4Address] = [], count = 0
        registry.forEachMembership(slot: instance) { m in
            guard m.realPort == socket.realPort else { return }
            if m.mode == .include { count += 1 }
            guard m.group == request.group else { return }
            switch m.mode {
            case .include where m.source == .any: anySource = true
            case .include: sources.append(m.source)
            case .exclude: blocked.append(m.source)
            }
        }
        let joined = anySource || !sources.isEmpty
        let ours = { (m: Membership) in m.realPort == socket.realPort && m.group == request.group }
        switch change {
        case .join, .joinSource:
            if change == .join ? joined : (anySource || sources.contains(request.source)) { return .addressNotAvailable }
            guard count < VirtualHost.membershipsPerSocket else { return .noBuffers }
            return add(Membership(group: request.group, source: request.source, realPort: socket.realPort, loop: socket.multicastLoop))
        case .leave:
            guard joined else { return .invalidArgument }
            registry.removeMemberships(slot: instance, where: ours)
        case .leaveSource:
            guard !anySource, sources.contains(request.source) else { return .invalidArgument }
            registry.removeMemberships(slot: instance) { ours($0) && $0.source == request.source }
        case .block:
            guard anySource else { return .invalidArgument }
            if blocked.contains(request.source) { return .addressNotAvailable }
            return add(Membership(group: request.group, source: request.source, realPort: socket.realPort, mode: .exclude,
                                  loop: socket.multicastLoop))
        case .unblock:
            guard blocked.contains(request.source) else { return .invalidArgument }
            registry.removeMemberships(slot: instance) { ours($0) && $0.mode == .exclude && $0.source == request.source }
        }
        return nil
    }

    private func add(_ membership: Membership) -> WinsockError? {
        registry.addMembership(slot: instance, membership) ? nil : .noBuffers
    }

    /// IP_MAX_MEMBERSHIPS of Windows' ws2ipdef.h.
    static let membershipsPerSocket = 20

    /// IP_MULTICAST_LOOP: kept on the socket and on its memberships (the receive side reads it there).
    func setMulticastLoopLocked(_ socket: DatagramSocket, _ on: Bool) {
        socket.multicastLoop = on
        if socket.isBound { registry.setMulticastLoop(slot: instance, realPort: socket.realPort, on) }
    }

    /// A closed socket leaves its groups.
    func leaveGroupsLocked(_ socket: DatagramSocket) {
        guard socket.isBound else { return }
        registry.removeMemberships(slot: instance) { $0.realPort == socket.realPort }
    }
}
