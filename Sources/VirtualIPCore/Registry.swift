import Synchronization

/// The shared table of instances: who is live, at which virtual address, with which sockets
/// (virtual port -> real loopback port), and their traffic counters.
///
/// Every process maps the same region; all cross-process coordination goes through atomic
/// words in it. Only the owner of a slot writes its fields (except a reclaimer that has won
/// the slot's state word by compare-and-swap).
public struct Registry: @unchecked Sendable {
    public let region: SharedRegion
    public let slotCount: Int
    public let network: VirtualNetwork
    public let staleAfterMs: UInt32

    /// Validates the region's header, or writes a fresh one when the region is all zero
    /// (a newly created file). The caller must hold the registry's creation lock (the
    /// platform's file lock) so two creators cannot interleave.
    public static func attach(
        _ region: SharedRegion, network: VirtualNetwork,
        slotCount: Int = RegistryLayout.defaultSlotCount,
        staleAfterMs: UInt32 = RegistryLayout.defaultStaleAfterMs
    ) throws(RegistryError) -> Registry {
        guard region.size >= RegistryLayout.headerSize else {
            throw .tooSmall(size: region.size, needed: RegistryLayout.size(slotCount: slotCount))
        }
        let h = UnsafeRawPointer(region.base)
        if isAllZero(h, RegistryLayout.headerSize) {
            let needed = RegistryLayout.size(slotCount: slotCount)
            guard region.size >= needed else { throw .tooSmall(size: region.size, needed: needed) }
            writeHeader(region.base, network: network, slotCount: slotCount, staleAfterMs: staleAfterMs)
        }
        guard h.loadLE32(RegistryLayout.hMagic) == RegistryLayout.magic else { throw .foreign }
        let version = h.loadLE32(RegistryLayout.hVersion)
        guard version <= RegistryLayout.version else { throw .newerVersion(found: version) }
        guard version == RegistryLayout.version else { throw .olderVersion(found: version) }
        let slots = Int(h.loadLE32(RegistryLayout.hSlotCount))
        guard h.loadLE32(RegistryLayout.hHeaderSize) == UInt32(RegistryLayout.headerSize),
              h.loadLE32(RegistryLayout.hSlotSize) == UInt32(RegistryLayout.slotSize),
              h.loadLE32(RegistryLayout.hSocketsPerSlot) == UInt32(RegistryLayout.socketsPerSlot),
              slots >= 1, slots <= 4096
        else { throw .corrupt }
        guard region.size >= RegistryLayout.size(slotCount: slots) else {
            throw .tooSmall(size: region.size, needed: RegistryLayout.size(slotCount: slots))
        }
        let storedNetwork = IPv4Address(h.loadLE32(RegistryLayout.hNetwork))
        let storedPrefix = Int(h.loadLE32(RegistryLayout.hPrefix))
        guard let found = VirtualNetwork(network: storedNetwork, prefixLength: storedPrefix) else { throw .corrupt }
        guard found == network else { throw .subnetMismatch(found: found, configured: network) }
        let stale = h.loadLE32(RegistryLayout.hStaleAfter)
        // 0.1 s ... 1 h: anything else is no registry of ours (and would overflow the age math).
        guard stale >= 100, stale <= 3_600_000 else { throw .corrupt }
        return Registry(region: region, slotCount: min(slots, network.capacity), network: network, staleAfterMs: stale)
    }

    /// Reads a registry without knowing its subnet (the status tool).
    public static func attachExisting(_ region: SharedRegion) throws(RegistryError) -> Registry {
        guard region.size >= RegistryLayout.headerSize else { throw .tooSmall(size: region.size, needed: RegistryLayout.headerSize) }
        let h = UnsafeRawPointer(region.base)
        guard !isAllZero(h, RegistryLayout.headerSize) else { throw .corrupt }
        let network = VirtualNetwork(network: IPv4Address(h.loadLE32(RegistryLayout.hNetwork)),
                                     prefixLength: Int(h.loadLE32(RegistryLayout.hPrefix))) ?? .defaultNetwork
        return try attach(region, network: network)
    }

    private init(region: SharedRegion, slotCount: Int, network: VirtualNetwork, staleAfterMs: UInt32) {
        self.region = region
        self.slotCount = slotCount
        self.network = network
        self.staleAfterMs = staleAfterMs
    }

    private static func isAllZero(_ p: UnsafeRawPointer, _ count: Int) -> Bool {
        for i in 0..<count where p.load(fromByteOffset: i, as: UInt8.self) != 0 { return false }
        return true
    }

    private static func writeHeader(_ h: UnsafeMutableRawPointer, network: VirtualNetwork, slotCount: Int, staleAfterMs: UInt32) {
        h.storeLE32(RegistryLayout.version, RegistryLayout.hVersion)
        h.storeLE32(UInt32(RegistryLayout.headerSize), RegistryLayout.hHeaderSize)
        h.storeLE32(UInt32(slotCount), RegistryLayout.hSlotCount)
        h.storeLE32(UInt32(RegistryLayout.slotSize), RegistryLayout.hSlotSize)
        h.storeLE32(UInt32(RegistryLayout.socketsPerSlot), RegistryLayout.hSocketsPerSlot)
        h.storeLE32(network.network.value, RegistryLayout.hNetwork)
        h.storeLE32(UInt32(network.prefixLength), RegistryLayout.hPrefix)
        h.storeLE32(staleAfterMs, RegistryLayout.hStaleAfter)
        // The magic goes last: a reader never sees a magic with a half-written header.
        h.atomicWord(RegistryLayout.hMagic).pointee.store(RegistryLayout.magic, ordering: .releasing)
    }

    // MARK: Slot access

    @inline(__always) func slot(_ index: Int) -> UnsafeMutableRawPointer {
        region.base + RegistryLayout.headerSize + index * RegistryLayout.slotSize
    }

    @inline(__always) func stateWord(_ index: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        slot(index).atomicWord(RegistryLayout.sState)
    }

    static func unpack(_ word: UInt32) -> (state: SlotState, generation: UInt32) {
        (SlotState(rawValue: word & 3) ?? .free, word >> 2)
    }

    static func pack(_ state: SlotState, _ generation: UInt32) -> UInt32 {
        (generation & 0x3FFF_FFFF) << 2 | state.rawValue
    }

    public func state(ofSlot index: Int) -> (state: SlotState, generation: UInt32) {
        Registry.unpack(stateWord(index).pointee.load(ordering: .acquiring))
    }

    public func isLive(_ index: Int) -> Bool {
        index >= 0 && index < slotCount && state(ofSlot: index).state == .live
    }

    public func heartbeat(ofSlot index: Int) -> UInt32 {
        slot(index).atomicWord(RegistryLayout.sHeartbeat).pointee.load(ordering: .relaxed)
    }

    /// True when the heartbeat is older than the registry's stale limit. A heartbeat from
    /// the future (another clock a little ahead) is fresh.
    public func isStale(_ index: Int, nowMs: UInt32) -> Bool {
        let age = Int64(Int32(bitPattern: nowMs &- heartbeat(ofSlot: index)))
        return age > Int64(staleAfterMs)
    }

    public func owner(ofSlot index: Int) -> (pid: UInt32, kind: OwnerKind?) {
        let s = UnsafeRawPointer(slot(index))
        return (s.loadLE32(RegistryLayout.sPid), OwnerKind(rawValue: s.loadLE32(RegistryLayout.sKind)))
    }

    /// For a remote instance: the first instance of the host it lives on (which peer).
    public func peer(ofSlot index: Int) -> UInt16 {
        UInt16(truncatingIfNeeded: UnsafeRawPointer(slot(index)).loadLE32(RegistryLayout.sPeer))
    }

    @inline(__always) public func isRemote(_ index: Int) -> Bool {
        UnsafeRawPointer(slot(index)).loadLE32(RegistryLayout.sKind) == OwnerKind.remote.rawValue
    }

    // MARK: This host's range

    /// The instances this host's own processes may claim; nil: the whole subnet (no bridge
    /// has set a range). Slots outside it belong to other hosts.
    public var localRange: InstanceRange? {
        let word = region.base.atomicWord(RegistryLayout.hLocalRange).pointee.load(ordering: .acquiring)
        return InstanceRange(first: UInt16(truncatingIfNeeded: word), count: UInt16(truncatingIfNeeded: word >> 16))
    }

    public func setLocalRange(_ range: InstanceRange) {
        region.base.atomicWord(RegistryLayout.hLocalRange).pointee.store(
            UInt32(range.first) | UInt32(range.count) << 16, ordering: .releasing)
    }

    public func address(ofSlot index: Int) -> IPv4Address { network.address(ofInstance: index) }
    public func mac(ofSlot index: Int) -> MACAddress { MACAddress(instance: index) }

    // MARK: Claim and release

    /// Takes the lowest free slot of this host's range (or exactly `pinned`), reclaiming
    /// slots whose owner is stale or provably dead. Returns the claimed slot index and its
    /// generation. Only a bridge claims outside the range: kind `.remote`, for `peer`.
    ///
    /// `isOwnerAlive(pid, kind)` answers true/false where the platform can tell, nil when it
    /// cannot (a pid of another kind): then only the heartbeat decides.
    public func claim(
        owner pid: UInt32, kind: OwnerKind, pinned: Int? = nil, peer: UInt16 = 0, nowMs: UInt32,
        isOwnerAlive: (UInt32, OwnerKind) -> Bool?
    ) throws(ClaimError) -> SlotClaim {
        let range = kind == .remote ? nil : localRange
        let candidates = range.map { min(Int($0.first), slotCount)..<min($0.last + 1, slotCount) } ?? 0..<slotCount
        if let pinned {
            guard pinned >= 0, pinned < slotCount else { throw .indexOutOfRange(index: pinned, slotCount: slotCount) }
            if let range, !range.contains(pinned) { throw .outsideLocalRange(index: pinned, first: Int(range.first), last: range.last) }
            if let claim = tryClaim(pinned, pid: pid, kind: kind, peer: peer, nowMs: nowMs, isOwnerAlive: isOwnerAlive) { return claim }
            throw .indexInUse(index: pinned, pid: owner(ofSlot: pinned).pid)
        }
        for index in candidates {
            if let claim = tryClaim(index, pid: pid, kind: kind, peer: peer, nowMs: nowMs, isOwnerAlive: isOwnerAlive) { return claim }
        }
        throw .full(slotCount: candidates.count)
    }

    private func tryClaim(_ index: Int, pid: UInt32, kind: OwnerKind, peer: UInt16, nowMs: UInt32,
                          isOwnerAlive: (UInt32, OwnerKind) -> Bool?) -> SlotClaim? {
        let word = stateWord(index)
        let observed = word.pointee.load(ordering: .acquiring)
        let (state, generation) = Registry.unpack(observed)
        if state != .free {
            // Only a live slot names its owner: while a slot is being claimed its pid field
            // still holds the previous owner's (written after the claimer's CAS), and that one
            // being dead says nothing about the claimer. A claiming slot is taken over only
            // when its heartbeat, refreshed right before that CAS, went stale.
            // The instance is dead when all its processes are.
            let dead = state == .live && owner(ofSlot: index).kind.map { allMembersEnded(index, kind: $0, isOwnerAlive: isOwnerAlive) } == true
            guard dead || isStale(index, nowMs: nowMs) else { return nil }
        }
        // Refresh the heartbeat before the compare-and-swap, so a third process never sees
        // the slot we are about to win as "claiming with a stale heartbeat".
        slot(index).atomicWord(RegistryLayout.sHeartbeat).pointee.store(nowMs, ordering: .relaxed)
        let nextGeneration = (generation &+ 1) & 0x3FFF_FFFF
        guard word.pointee.compareExchange(
            expected: observed, desired: Registry.pack(.claiming, nextGeneration),
            ordering: .acquiringAndReleasing).exchanged
        else { return nil }

        let s = slot(index)
        s.storeLE32(pid, RegistryLayout.sPid)
        s.storeLE32(kind.rawValue, RegistryLayout.sKind)
        s.storeLE32(UInt32(peer), RegistryLayout.sPeer)
        s.storeLE32(UInt32(index), RegistryLayout.sIndex)
        s.storeLE32(address(ofSlot: index).value, RegistryLayout.sAddress)
        let mac = mac(ofSlot: index).array
        for i in 0..<6 { s.storeBytes(of: mac[i], toByteOffset: RegistryLayout.sMAC + i, as: UInt8.self) }
        for i in 0..<RegistryLayout.counterCount { s.atomicWord(RegistryLayout.sCounters + 4 * i).pointee.store(0, ordering: .relaxed) }
        for i in 0..<entriesInUse(index) { clearSocketEntry(index, i) }
        socketsInUse(index).pointee.store(0, ordering: .releasing)
        clearMemberships(index)
        clearMembers(index)
        dropHanded(index, for: nil)
        memberWord(index, 0).pointee.store(pid, ordering: .releasing)
        // Published by compare-and-swap too: a claimer taken over meanwhile (its heartbeat
        // went stale) must not overwrite its successor's claim.
        guard word.pointee.compareExchange(
            expected: Registry.pack(.claiming, nextGeneration), desired: Registry.pack(.live, nextGeneration),
            ordering: .acquiringAndReleasing).exchanged
        else { return nil }
        return SlotClaim(index: index, generation: nextGeneration)
    }

    /// Gives the slot back. Does nothing if it was reclaimed meanwhile (generation changed).
    /// The socket entries stay as closed ones until the next claim, so datagrams the
    /// instance sent just before it left still pass the receivers' source check.
    public func release(_ claim: SlotClaim) {
        guard state(ofSlot: claim.index) == (.live, claim.generation) else { return }
        for entry in 0..<entriesInUse(claim.index) { markSocketEntryClosed(claim.index, entry) }
        // A member that left takes nothing more (memberships vouch for no sender).
        clearMemberships(claim.index)
        _ = stateWord(claim.index).pointee.compareExchange(
            expected: Registry.pack(.live, claim.generation), desired: Registry.pack(.free, claim.generation),
            ordering: .acquiringAndReleasing)
    }

    /// Refreshes the heartbeat. False when the slot is no longer ours (it was reclaimed
    /// while this process stood still for longer than the stale limit).
    @discardableResult
    public func beat(_ claim: SlotClaim, nowMs: UInt32) -> Bool {
        guard state(ofSlot: claim.index) == (.live, claim.generation) else { return false }
        slot(claim.index).atomicWord(RegistryLayout.sHeartbeat).pointee.store(nowMs, ordering: .relaxed)
        return true
    }

    // MARK: Counters

    @inline(__always) private func counter(_ index: Int, _ number: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        slot(index).atomicWord(RegistryLayout.sCounters + 4 * number)
    }

    /// One datagram of `bytes` payload bytes sent (`.txDatagrams`) or received (`.rxDatagrams`).
    public func countDatagram(slot index: Int, received: Bool, bytes: Int) {
        let base = received ? SlotCounter.rxDatagrams.rawValue : SlotCounter.txDatagrams.rawValue
        counter(index, base).pointee.wrappingAdd(1, ordering: .relaxed)
        let add = UInt32(truncatingIfNeeded: bytes)
        let (old, _) = counter(index, base + 1).pointee.wrappingAdd(add, ordering: .relaxed)
        if old > UInt32.max - add { counter(index, base + 2).pointee.wrappingAdd(1, ordering: .relaxed) }
    }

    /// A virtual TCP connection of the slot was made (connect or accept) or closed.
    public func countConnection(slot index: Int, opened: Bool) {
        if opened {
            counter(index, SlotCounter.tcpConnectionsMade.rawValue).pointee.wrappingAdd(1, ordering: .relaxed)
            counter(index, SlotCounter.tcpConnectionsOpen.rawValue).pointee.wrappingAdd(1, ordering: .relaxed)
        } else {
            counter(index, SlotCounter.tcpConnectionsOpen.rawValue).pointee.wrappingSubtract(1, ordering: .relaxed)
        }
    }

    public func countDrop(slot index: Int, _ reason: DropReason) {
        counter(index, SlotCounter.dropBase + reason.rawValue).pointee.wrappingAdd(1, ordering: .relaxed)
    }

    public func counters(ofSlot index: Int) -> SlotCounters {
        func c(_ n: Int) -> UInt32 { counter(index, n).pointee.load(ordering: .relaxed) }
        var drops: [UInt32] = []
        for reason in DropReason.allCases { drops.append(c(SlotCounter.dropBase + reason.rawValue)) }
        return SlotCounters(
            txDatagrams: c(0), txBytes: UInt64(c(2)) << 32 | UInt64(c(1)),
            rxDatagrams: c(3), rxBytes: UInt64(c(5)) << 32 | UInt64(c(4)),
            tcpConnectionsOpen: c(SlotCounter.tcpConnectionsOpen.rawValue), tcpConnectionsMade: c(SlotCounter.tcpConnectionsMade.rawValue),
            drops: drops)
    }
}

public struct SlotClaim: Equatable, Sendable {
    public let index: Int
    public let generation: UInt32
    public init(index: Int, generation: UInt32) {
        self.index = index
        self.generation = generation
    }
}

public struct SlotCounters: Equatable, Sendable {
    public var txDatagrams: UInt32
    public var txBytes: UInt64
    public var rxDatagrams: UInt32
    public var rxBytes: UInt64
    /// Virtual TCP connections open now, and made since the slot was claimed.
    public var tcpConnectionsOpen: UInt32 = 0
    public var tcpConnectionsMade: UInt32 = 0
    /// Indexed by `DropReason.rawValue`.
    public var drops: [UInt32]

    public func drops(_ reason: DropReason) -> UInt32 { drops[reason.rawValue] }
}

public enum RegistryError: Error, Equatable {
    case tooSmall(size: Int, needed: Int)
    case foreign
    case newerVersion(found: UInt32)
    case olderVersion(found: UInt32)
    case corrupt
    case subnetMismatch(found: VirtualNetwork, configured: VirtualNetwork)

    /// What happened and what to do, for the user.
    public var message: String {
        switch self {
        case let .tooSmall(size, needed):
            return "the registry file is \(size) bytes, a registry needs \(needed): it is truncated or not a VirtualLAN registry; delete it (no instance may be running) or set VIRTUALLAN_REGISTRY to another path"
        case .foreign:
            return "the registry file is not a VirtualLAN registry (wrong magic); set VIRTUALLAN_REGISTRY to a path of its own"
        case let .newerVersion(found):
            return "the registry file has layout version \(found), this build understands up to \(RegistryLayout.version): stop the newer VirtualLAN or set VIRTUALLAN_REGISTRY to another path"
        case let .olderVersion(found):
            return "the registry file has old layout version \(found): stop the instances using it and delete the file"
        case .corrupt:
            return "the registry file is corrupt (impossible header values); stop all instances and delete it"
        case let .subnetMismatch(found, configured):
            return "the registry file serves subnet \(found.network.dotted)/\(found.prefixLength) but this instance is configured for \(configured.network.dotted)/\(configured.prefixLength): use the same VIRTUALLAN_SUBNET everywhere or another VIRTUALLAN_REGISTRY"
        }
    }
}

public enum ClaimError: Error, Equatable {
    case full(slotCount: Int)
    case indexOutOfRange(index: Int, slotCount: Int)
    case indexInUse(index: Int, pid: UInt32)
    case outsideLocalRange(index: Int, first: Int, last: Int)

    public var message: String {
        switch self {
        case let .full(slotCount):
            return "all \(slotCount) instance slots are in use: stop a copy or wait \(RegistryLayout.defaultStaleAfterMs / 1000) s for crashed ones to be reclaimed"
        case let .indexOutOfRange(index, slotCount):
            return "VIRTUALLAN_INSTANCE=\(index) is out of range: use 0...\(slotCount - 1)"
        case let .indexInUse(index, pid):
            return "instance \(index) is already used by live process \(pid): pin another VIRTUALLAN_INSTANCE or leave it unset"
        case let .outsideLocalRange(index, first, last):
            return "VIRTUALLAN_INSTANCE=\(index) belongs to another host: this host's bridge gave it instances \(first)...\(last); pin one of those or leave it unset"
        }
    }
}
