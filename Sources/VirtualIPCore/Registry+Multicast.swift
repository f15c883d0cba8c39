import Synchronization

/// One socket's part in a multicast group, as the registry holds it.
public struct Membership: Equatable, Sendable {
    public enum Mode: UInt32, Sendable {
        /// Datagrams from `source` (any source when it is 0.0.0.0) are wanted.
        case include = 1
        /// `source` is blocked on an any-source membership of the same group (IP_BLOCK_SOURCE).
        case exclude = 2
    }
    public var group: IPv4Address
    public var source: IPv4Address
    public var realPort: UInt16
    public var mode: Mode
    /// IP_MULTICAST_LOOP of the socket: off, it takes no datagram its own instance sent
    /// (Winsock applies the option on the receive path).
    public var loop: Bool

    public init(group: IPv4Address, source: IPv4Address = .any, realPort: UInt16, mode: Mode = .include, loop: Bool = true) {
        self.group = group
        self.source = source
        self.realPort = realPort
        self.mode = mode
        self.loop = loop
    }
}

/// The memberships of a slot's UDP sockets. Only the slot's owner writes them (under its
/// own lock); any process reads them to route a datagram sent to a group.
extension Registry {
    @inline(__always) private func membershipEntry(_ index: Int, _ entry: Int) -> UnsafeMutableRawPointer {
        slot(index) + RegistryLayout.sMemberships + entry * 12
    }

    private static func packed(_ m: Membership) -> UInt32 {
        UInt32(m.realPort) | m.mode.rawValue << 16 | (m.loop ? 0 : 1 << 24)
    }

    func clearMemberships(_ index: Int) {
        for entry in 0..<RegistryLayout.membershipsPerSlot {
            membershipEntry(index, entry).atomicWord(0).pointee.store(0, ordering: .releasing)
        }
    }

    /// Publishes a membership; false when every entry of the slot is taken.
    public func addMembership(slot index: Int, _ membership: Membership) -> Bool {
        precondition(membership.group.value != 0 && membership.realPort != 0)
        for entry in 0..<RegistryLayout.membershipsPerSlot {
            let e = membershipEntry(index, entry)
            guard e.atomicWord(0).pointee.load(ordering: .acquiring) == 0 else { continue }
            // Words 1 and 2 first, the group last: a reader that sees the group sees its entry.
            e.atomicWord(4).pointee.store(membership.source.value, ordering: .releasing)
            e.atomicWord(8).pointee.store(Registry.packed(membership), ordering: .releasing)
            e.atomicWord(0).pointee.store(membership.group.value, ordering: .releasing)
            return true
        }
        return false
    }

    /// Removes the memberships `matches` picks; returns how many there were.
    @discardableResult
    public func removeMemberships(slot index: Int, where matches: (Membership) -> Bool) -> Int {
        var removed = 0
        for entry in 0..<RegistryLayout.membershipsPerSlot {
            guard let m = membership(index, entry), matches(m) else { continue }
            membershipEntry(index, entry).atomicWord(0).pointee.store(0, ordering: .releasing)
            removed += 1
        }
        return removed
    }

    /// IP_MULTICAST_LOOP changed on the socket of `realPort`: its entries follow.
    public func setMulticastLoop(slot index: Int, realPort: UInt16, _ loop: Bool) {
        for entry in 0..<RegistryLayout.membershipsPerSlot {
            guard var m = membership(index, entry), m.realPort == realPort else { continue }
            m.loop = loop
            membershipEntry(index, entry).atomicWord(8).pointee.store(Registry.packed(m), ordering: .releasing)
        }
    }

    /// One entry as it reads now; nil when free or rewritten while it was read (the group
    /// word is read again after the others, so words of two memberships are never mixed).
    private func membership(_ index: Int, _ entry: Int) -> Membership? {
        let e = membershipEntry(index, entry)
        let group = e.atomicWord(0).pointee.load(ordering: .acquiring)
        guard group != 0 else { return nil }
        let source = e.atomicWord(4).pointee.load(ordering: .acquiring)
        let word = e.atomicWord(8).pointee.load(ordering: .acquiring)
        guard e.atomicWord(0).pointee.load(ordering: .acquiring) == group,
              let mode = Membership.Mode(rawValue: word >> 16 & 0xFF) else { return nil }
        return Membership(group: IPv4Address(group), source: IPv4Address(source), realPort: UInt16(truncatingIfNeeded: word),
                          mode: mode, loop: word & 1 << 24 == 0)
    }

    public func forEachMembership(slot index: Int, _ body: (Membership) -> Void) {
        for entry in 0..<RegistryLayout.membershipsPerSlot {
            if let m = membership(index, entry) { body(m) }
        }
    }

    /// Whether the socket of `realPort` in the slot takes a datagram that `source` sent to
    /// `group`: an any-source membership that does not block the source, or a membership
    /// for that very source; never one its own instance sent while its loop is off.
    public func takesGroupDatagram(slot index: Int, realPort: UInt16, group: IPv4Address, source: IPv4Address, fromOwnInstance: Bool) -> Bool {
        var anySource = false, thisSource = false, blocked = false, loop = true
        forEachMembership(slot: index) { m in
            guard m.group == group, m.realPort == realPort else { return }
            loop = m.loop
            switch m.mode {
            case .include where m.source == .any: anySource = true
            case .include: if m.source == source { thisSource = true }
            case .exclude: if m.source == source { blocked = true }
            }
        }
        if fromOwnInstance && !loop { return false }
        return (anySource && !blocked) || thisSource
    }
}
