import VirtualIPCore

/// A copy is a PC, not a process: the processes a member of the instance starts join it
/// (one address, one port space, one identity), as processes on one real PC share theirs.
extension VirtualHost {
    /// Lists a process this one is starting (still suspended) in the instance, before it
    /// runs: the instance to join and its member number there. nil when the instance already
    /// has 16 processes: the child then claims one of its own.
    public func adopt(childProcess pid: UInt32) -> (instance: SlotClaim, member: Int)? {
        guard let member = registry.addMember(claim, pid: pid) else {
            log(.warning, "instance \(instance) has \(RegistryLayout.membersPerSlot) processes already: process \(pid) it starts becomes an instance of its own")
            return nil
        }
        log(.info, "process \(pid), started by this one, joins instance \(instance)")
        return (claim, member)
    }

    /// The heartbeat's part for the other processes of the instance: one that ended without
    /// leaving (it crashed, or was killed) leaves now, and its ports are free again.
    func removeEndedProcesses() {
        for pid in registry.removeEndedMembers(claim, except: member, isAlive: { platform.isSiblingAlive($0) }) {
            log(.info, "process \(pid) of instance \(instance) ended without closing its sockets: they are closed now")
        }
    }

    /// Whether binding `socket` to `port` in `scope` conflicts with a socket another process
    /// of the instance holds: the same rules as among this process's own sockets. Lock held.
    func conflictWithOtherProcesses(_ socket: VirtualSocket, port: UInt16, scope: BindScope) -> WinsockError? {
        for other in registry.socketsOfOtherMembers(slot: instance, virtualPort: port, transport: socket.transport, member: member) {
            if let error = bindConflict(socket, scope: scope, otherScope: other.scope, otherReuse: other.reuse, otherExclusive: other.exclusive) {
                return error
            }
        }
        return nil
    }

    /// Windows' rule for two sockets on one port of one PC (nil: they may share it), as
    /// sock.c's test_reuseaddr pins it: a binding to 0.0.0.0 with SO_EXCLUSIVEADDRUSE covers
    /// every address (one that exists: WSAEACCES; a new one: WSAEADDRINUSE). Otherwise only
    /// the same address conflicts (0.0.0.0 and 127.0.0.1 share a port; the more specific
    /// takes what is sent to its address, `Router`), unless both set SO_REUSEADDR (on the
    /// newcomer only: WSAEACCES).
    func bindConflict(_ socket: VirtualSocket, scope: BindScope, otherScope: BindScope, otherReuse: Bool, otherExclusive: Bool) -> WinsockError? {
        bindConflict(reuse: socket.reuseAddress, exclusive: socket.exclusiveAddress, scope: scope,
                     otherScope: otherScope, otherReuse: otherReuse, otherExclusive: otherExclusive)
    }

    /// The same rule for a newcomer given by its options (an OS socket's, VirtualHost+DualStack).
    func bindConflict(reuse: Bool, exclusive: Bool, scope: BindScope, otherScope: BindScope, otherReuse: Bool, otherExclusive: Bool) -> WinsockError? {
        if otherExclusive && otherScope == .any { return .accessDenied }
        if exclusive && scope == .any { return .addressInUse }
        guard otherScope == scope else { return nil }
        if reuse && otherReuse { return nil }
        return reuse ? .accessDenied : .addressInUse
    }
}
