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

    /// Windows' rule for two sockets on one port of one PC (nil: they may share it).
    func bindConflict(_ socket: VirtualSocket, scope: BindScope, otherScope: BindScope, otherReuse: Bool, otherExclusive: Bool) -> WinsockError? {
        guard otherScope == scope || otherScope == .any || scope == .any else { return nil }
        if socket.exclusiveAddress || otherExclusive { return .accessDenied }
        if socket.reuseAddress && otherReuse { return nil }
        // Measured on Wine: SO_REUSEADDR on the newcomer only is WSAEACCES.
        return socket.reuseAddress ? .accessDenied : .addressInUse
    }
}
