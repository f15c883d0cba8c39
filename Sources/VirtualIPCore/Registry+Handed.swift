import Synchronization

/// Socket handles a process of the instance duplicated into another of its processes
/// (DuplicateHandle): a bare handle carries nothing, so the socket's state waits here until
/// the other process first uses the handle. A record goes when it is taken, or when the
/// process it was for leaves.
extension Registry {
    private static let writing: UInt32 = 0xFFFF_FFFF

    @inline(__always) private func handed(_ index: Int, _ record: Int) -> UnsafeMutableRawPointer {
        slot(index) + RegistryLayout.sHanded + record * 64
    }

    /// Leaves `state` (handedStateSize bytes) for member `member`'s handle `handle`. False
    /// when all records are in use.
    public func handOver(slot index: Int, to member: Int, handle: UInt32, state: UnsafeRawPointer) -> Bool {
        precondition(member >= 0 && member < RegistryLayout.membersPerSlot)
        for record in 0..<RegistryLayout.handedPerSlot {
            let r = handed(index, record)
            guard r.atomicWord(0).pointee.compareExchange(expected: 0, desired: Registry.writing, ordering: .acquiringAndReleasing).exchanged
            else { continue }
            r.storeLE32(handle, 4)
            (r + 8).copyMemory(from: state, byteCount: RegistryLayout.handedStateSize)
            r.atomicWord(0).pointee.store(UInt32(member) + 1, ordering: .releasing)
            waiting(index).pointee.bitwiseOr(1 << UInt32(member), ordering: .acquiringAndReleasing)
            return true
        }
        return false
    }

    /// Whether a record is free now (another process of the instance may take it first).
    public func hasRoomToHand(slot index: Int) -> Bool { anyRecord(index, whose: 0) }

    /// The members with records waiting.
    @inline(__always) private func waiting(_ index: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        slot(index).atomicWord(RegistryLayout.sHandedMembers)
    }

    /// Whether any record waits for member `member`: one word when none does (every call on
    /// a socket the layer does not know asks), else a pass over the records. A pass that
    /// finds none clears the member's bit, then looks once more, so a record written
    /// meanwhile (its bit set after it) is never missed.
    public func hasHanded(slot index: Int, for member: Int) -> Bool {
        let bit = UInt32(1) << UInt32(member)
        guard waiting(index).pointee.load(ordering: .acquiring) & bit != 0 else { return false }
        if anyRecord(index, whose: UInt32(member) + 1) { return true }
        waiting(index).pointee.bitwiseAnd(~bit, ordering: .acquiringAndReleasing)
        guard anyRecord(index, whose: UInt32(member) + 1) else { return false }
        waiting(index).pointee.bitwiseOr(bit, ordering: .acquiringAndReleasing)
        return true
    }

    /// Whether a record's word 0 is `word` (0: free; member + 1: waiting for that member).
    private func anyRecord(_ index: Int, whose word: UInt32) -> Bool {
        (0..<RegistryLayout.handedPerSlot).contains { handed(index, $0).atomicWord(0).pointee.load(ordering: .acquiring) == word }
    }

    /// Takes the record for member `member`'s handle `handle`: its state into `state`.
    public func takeHanded(slot index: Int, for member: Int, handle: UInt32, into state: UnsafeMutableRawPointer) -> Bool {
        for record in 0..<RegistryLayout.handedPerSlot {
            let r = handed(index, record)
            guard r.atomicWord(0).pointee.load(ordering: .acquiring) == UInt32(member) + 1, UnsafeRawPointer(r).loadLE32(4) == handle
            else { continue }
            state.copyMemory(from: r + 8, byteCount: RegistryLayout.handedStateSize)
            // Taken by this compare-and-swap only: one process, one handle, one taker.
            if r.atomicWord(0).pointee.compareExchange(expected: UInt32(member) + 1, desired: 0, ordering: .acquiringAndReleasing).exchanged {
                return true
            }
        }
        return false
    }

    /// Drops member `member`'s records (it left), or every record (`member` nil: a new claim).
    func dropHanded(_ index: Int, for member: Int?) {
        waiting(index).pointee.bitwiseAnd(member.map { ~(UInt32(1) << UInt32($0)) } ?? 0, ordering: .acquiringAndReleasing)
        for record in 0..<RegistryLayout.handedPerSlot {
            let word = handed(index, record).atomicWord(0)
            let value = word.pointee.load(ordering: .acquiring)
            if let member, value != UInt32(member) + 1 { continue }
            word.pointee.store(0, ordering: .releasing)
        }
    }
}
