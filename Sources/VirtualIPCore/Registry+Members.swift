import Synchronization

/// An instance is a PC, and a PC runs many processes: a launcher, the game, a server the
/// game starts. The slot lists the pids of all of them (member 0 claimed the slot; a member
/// that starts a process adds it before the process runs, so the list is never empty while
/// a member lives). The instance lives while any member does; the last to leave frees it.
extension Registry {
    @inline(__always) func memberWord(_ index: Int, _ member: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        slot(index).atomicWord(RegistryLayout.sMembers + 4 * member)
    }

    func clearMembers(_ index: Int) {
        for member in 0..<RegistryLayout.membersPerSlot { memberWord(index, member).pointee.store(0, ordering: .releasing) }
    }

    private func holds(_ claim: SlotClaim) -> Bool { state(ofSlot: claim.index) == (.live, claim.generation) }

    /// The pids of the slot's processes, by member number (0: none).
    public func members(ofSlot index: Int) -> [UInt32] {
        (0..<RegistryLayout.membersPerSlot).map { memberWord(index, $0).pointee.load(ordering: .acquiring) }
    }

    /// Lists process `pid` in the instance `claim` (a member is starting it). Returns its
    /// member number, or nil when the instance is full (16 processes) or no longer ours.
    public func addMember(_ claim: SlotClaim, pid: UInt32) -> Int? {
        guard pid != 0, holds(claim) else { return nil }
        for member in 1..<RegistryLayout.membersPerSlot
        where memberWord(claim.index, member).pointee.compareExchange(expected: 0, desired: pid, ordering: .acquiringAndReleasing).exchanged {
            return member
        }
        return nil
    }

    /// The member number under which process `pid` was listed in the instance, if that
    /// instance is still `claim` (a started process joining the one that started it).
    public func member(_ claim: SlotClaim, pid: UInt32) -> Int? {
        guard pid != 0, claim.index >= 0, claim.index < slotCount, holds(claim) else { return nil }
        return (0..<RegistryLayout.membersPerSlot).first { memberWord(claim.index, $0).pointee.load(ordering: .acquiring) == pid }
    }

    /// Member `member` leaves: its sockets close (and their multicast memberships go), and
    /// the last member to leave gives the slot back.
    public func leave(_ claim: SlotClaim, member: Int) {
        guard holds(claim) else { return }
        removeMember(claim.index, member)
        let left = (0..<RegistryLayout.membersPerSlot).contains { memberWord(claim.index, $0).pointee.load(ordering: .acquiring) != 0 }
        if !left { release(claim) }
    }

    private func removeMember(_ index: Int, _ member: Int) {
        var ports: [UInt16] = []
        closeSockets(slot: index, member: member) { realPort, transport in if transport == .udp { ports.append(realPort) } }
        if !ports.isEmpty { removeMemberships(slot: index) { ports.contains($0.realPort) } }
        dropHanded(index, for: member)
        memberWord(index, member).pointee.store(0, ordering: .releasing)
    }

    /// Members other than `member` whose process has ended (one that crashed never left):
    /// they leave now, so their ports are free again. Returns their pids.
    @discardableResult
    public func removeEndedMembers(_ claim: SlotClaim, except member: Int, isAlive: (UInt32) -> Bool?) -> [UInt32] {
        guard holds(claim) else { return [] }
        var ended: [UInt32] = []
        for other in 0..<RegistryLayout.membersPerSlot where other != member {
            let pid = memberWord(claim.index, other).pointee.load(ordering: .acquiring)
            guard pid != 0, isAlive(pid) == false else { continue }
            removeMember(claim.index, other)
            ended.append(pid)
        }
        return ended
    }

    /// Whether every listed process of the slot has ended (where the platform can tell).
    func allMembersEnded(_ index: Int, kind: OwnerKind, isOwnerAlive: (UInt32, OwnerKind) -> Bool?) -> Bool {
        let pids = members(ofSlot: index).filter { $0 != 0 }
        return !pids.isEmpty && pids.allSatisfy { isOwnerAlive($0, kind) == false }
    }
}
