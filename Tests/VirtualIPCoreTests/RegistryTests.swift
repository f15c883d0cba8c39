import XCTest
import Dispatch
@testable import VirtualIPCore

final class RegistryTests: XCTestCase {
    let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: RegistryLayout.defaultSlotCount))
    func registry(_ network: VirtualNetwork = .defaultNetwork) throws -> Registry {
        try Registry.attach(memory.region, network: network)
    }
    let unknownLiveness: (UInt32, OwnerKind) -> Bool? = { _, _ in nil }

    func test_claimsTakeTheLowestFreeSlot() throws {
        let r = try registry()
        let a = try r.claim(owner: 10, kind: .linux, nowMs: 1000, isOwnerAlive: unknownLiveness)
        let b = try r.claim(owner: 11, kind: .linux, nowMs: 1000, isOwnerAlive: unknownLiveness)
        XCTAssertEqual([a.index, b.index], [0, 1])
        r.release(a)
        let c = try r.claim(owner: 12, kind: .windows, nowMs: 1000, isOwnerAlive: unknownLiveness)
        XCTAssertEqual(c.index, 0, "a released slot is free again")
        XCTAssertNotEqual(c.generation, a.generation)
        XCTAssertEqual(r.owner(ofSlot: 0).pid, 12)
        XCTAssertEqual(r.owner(ofSlot: 0).kind, .windows)
    }

    func test_pinnedIndexIsClaimedExactlyOrRefused() throws {
        let r = try registry()
        let pinned = try r.claim(owner: 1, kind: .linux, pinned: 5, nowMs: 0, isOwnerAlive: unknownLiveness)
        XCTAssertEqual(pinned.index, 5)
        XCTAssertThrowsError(try r.claim(owner: 2, kind: .linux, pinned: 5, nowMs: 10, isOwnerAlive: unknownLiveness)) {
            XCTAssertEqual($0 as? ClaimError, .indexInUse(index: 5, pid: 1))
            XCTAssertTrue(($0 as! ClaimError).message.contains("VIRTUALLAN_INSTANCE"))
        }
        XCTAssertThrowsError(try r.claim(owner: 2, kind: .linux, pinned: 64, nowMs: 10, isOwnerAlive: unknownLiveness)) {
            XCTAssertEqual($0 as? ClaimError, .indexOutOfRange(index: 64, slotCount: 64))
        }
        let next = try r.claim(owner: 3, kind: .linux, nowMs: 10, isOwnerAlive: unknownLiveness)
        XCTAssertEqual(next.index, 0)
    }

    func test_staleSlotIsReclaimedAndTheOldOwnerNoticesOnItsNextBeat() throws {
        let r = try registry()
        let old = try r.claim(owner: 1, kind: .windows, nowMs: 1_000, isOwnerAlive: unknownLiveness)
        XCTAssertTrue(r.addSocket(slot: 0, virtualPort: 23757, realPort: 40000, scope: .any))
        // Within the stale limit the slot stays taken.
        let other = try r.claim(owner: 2, kind: .windows, nowMs: 1_000 + 5_000, isOwnerAlive: unknownLiveness)
        XCTAssertEqual(other.index, 1)
        // One millisecond past it, the slot is reclaimed, with its socket table emptied.
        let reclaimed = try r.claim(owner: 3, kind: .windows, nowMs: 1_000 + 5_001, isOwnerAlive: unknownLiveness)
        XCTAssertEqual(reclaimed.index, 0)
        XCTAssertFalse(r.hasSocket(slot: 0, virtualPort: 23757))
        XCTAssertFalse(r.beat(old, nowMs: 7_000), "the old owner learns it lost the slot")
        XCTAssertTrue(r.beat(reclaimed, nowMs: 7_000))
        r.release(old)
        XCTAssertEqual(r.state(ofSlot: 0).state, .live, "a stale owner's release must not free the new owner's slot")
    }

    func test_slotOfProvablyDeadOwnerIsReclaimedAtOnce() throws {
        let r = try registry()
        _ = try r.claim(owner: 111, kind: .linux, nowMs: 0, isOwnerAlive: unknownLiveness)
        let claim = try r.claim(owner: 2, kind: .linux, nowMs: 1, isOwnerAlive: { pid, _ in pid != 111 })
        XCTAssertEqual(claim.index, 0)
    }

    func test_heartbeatsKeepASlotAcrossClockWrap() throws {
        let r = try registry()
        let near = UInt32.max - 100
        let a = try r.claim(owner: 1, kind: .linux, nowMs: near, isOwnerAlive: unknownLiveness)
        XCTAssertTrue(r.beat(a, nowMs: near &+ 3_000))
        let b = try r.claim(owner: 2, kind: .linux, nowMs: near &+ 6_000, isOwnerAlive: unknownLiveness)
        XCTAssertEqual(b.index, 1, "beaten 3 s ago across the wrap: still fresh")
    }

    /// Found by 16 processes claiming at once (MultiProcessTests, 1 round in 20): a slot in
    /// the middle of being claimed still carries the previous owner's pid; that owner being
    /// dead must not let a second claimer take the slot, or two instances share an address.
    func test_aSlotBeingClaimedIsNotTakenBecauseItsPreviousOwnerIsDead() throws {
        let r = try registry()
        let first = try r.claim(owner: 111, kind: .linux, nowMs: 1_000, isOwnerAlive: unknownLiveness)
        r.release(first)
        // Another process has just won the CAS to "claiming" (heartbeat fresh) and not yet
        // written its pid: the slot still names 111, which has exited.
        r.slot(first.index).atomicWord(RegistryLayout.sHeartbeat).pointee.store(2_000, ordering: .relaxed)
        r.stateWord(first.index).pointee.store(Registry.pack(.claiming, first.generation &+ 1), ordering: .releasing)
        let second = try r.claim(owner: 222, kind: .linux, nowMs: 2_100, isOwnerAlive: { pid, _ in pid != 111 })
        XCTAssertNotEqual(second.index, first.index, "the claiming slot is not taken over")
        // Control: once its heartbeat is stale, it may be.
        let third = try r.claim(owner: 333, kind: .linux, pinned: first.index, nowMs: 2_000 + 6_000, isOwnerAlive: { pid, _ in pid != 111 })
        XCTAssertEqual(third.index, first.index)
    }

    func test_concurrentClaimsAreUnique() throws {
        let r = try registry()
        // Each iteration writes its own element: no two threads touch the same memory.
        nonisolated(unsafe) let indexes = UnsafeMutableBufferPointer<Int>.allocate(capacity: 64)
        defer { indexes.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            indexes[i] = (try? r.claim(owner: UInt32(i + 1), kind: .linux, nowMs: 0, isOwnerAlive: { _, _ in true }).index) ?? -1
        }
        XCTAssertEqual(Set(indexes).count, 64)
        XCTAssertEqual(Set(indexes), Set(0..<64))
        XCTAssertThrowsError(try r.claim(owner: 99, kind: .linux, nowMs: 0, isOwnerAlive: { _, _ in true })) {
            XCTAssertEqual($0 as? ClaimError, .full(slotCount: 64))
        }
    }

    func test_socketTablePublishesVirtualToRealPorts() throws {
        let r = try registry()
        let a = try r.claim(owner: 1, kind: .linux, nowMs: 0, isOwnerAlive: unknownLiveness)
        XCTAssertTrue(r.addSocket(slot: a.index, virtualPort: 23756, realPort: 41000, scope: .any))
        XCTAssertTrue(r.addSocket(slot: a.index, virtualPort: 23757, realPort: 41001, scope: .lan))
        XCTAssertEqual(r.virtualPort(slot: a.index, realPort: 41001), 23757)
        XCTAssertTrue(r.hasSocket(slot: a.index, virtualPort: 23756))
        r.removeSocket(slot: a.index, realPort: 41000)
        XCTAssertFalse(r.hasSocket(slot: a.index, virtualPort: 23756), "a closed socket gets nothing routed to it")
        XCTAssertEqual(r.virtualPort(slot: a.index, realPort: 41000), 23756, "but still vouches for what it sent")
        // 30 empty entries, then the closed one is reused.
        for i in 0..<(RegistryLayout.socketsPerSlot - 1) {
            XCTAssertTrue(r.addSocket(slot: a.index, virtualPort: UInt16(1000 + i), realPort: UInt16(2000 + i), scope: .any))
        }
        XCTAssertNil(r.virtualPort(slot: a.index, realPort: 41000), "the closed entry was reused")
        XCTAssertFalse(r.addSocket(slot: a.index, virtualPort: 9, realPort: 9, scope: .any), "a table of open sockets says it is full")
    }

    func test_aSlotHoldsHundredsOfSocketsAndReusesClosedEntriesPastItsFirst64() throws {
        let r = try registry()
        let a = try r.claim(owner: 1, kind: .linux, nowMs: 0, isOwnerAlive: unknownLiveness)
        for i in 0..<200 { XCTAssertTrue(r.addSocket(slot: a.index, virtualPort: UInt16(1000 + i), realPort: UInt16(20000 + i), scope: .any)) }
        for i in 0..<200 { XCTAssertEqual(r.virtualPort(slot: a.index, realPort: UInt16(20000 + i)), UInt16(1000 + i), "socket \(i)") }
        for i in 0..<200 { r.removeSocket(slot: a.index, realPort: UInt16(20000 + i)) }
        XCTAssertTrue(r.addSocket(slot: a.index, virtualPort: 5, realPort: 30000, scope: .any))
        XCTAssertNil(r.virtualPort(slot: a.index, realPort: 20000), "past 64 entries in use, a closed entry is taken over first")
        XCTAssertEqual(r.virtualPort(slot: a.index, realPort: 20001), 1001, "the others still vouch for what they sent")
        XCTAssertTrue(r.hasSocket(slot: a.index, virtualPort: 5))
    }

    func test_aNewSocketOnARecycledRealPortReplacesTheClosedEntry() throws {
        let r = try registry()
        let a = try r.claim(owner: 1, kind: .linux, nowMs: 0, isOwnerAlive: unknownLiveness)
        XCTAssertTrue(r.addSocket(slot: a.index, virtualPort: 23756, realPort: 41000, scope: .any))
        r.removeSocket(slot: a.index, realPort: 41000)
        XCTAssertTrue(r.addSocket(slot: a.index, virtualPort: 5000, realPort: 41000, scope: .any))
        XCTAssertEqual(r.virtualPort(slot: a.index, realPort: 41000), 5000)
    }

    func test_aMovedSocketKeepsItsVirtualPortUnderItsNewRealPort() throws {
        let r = try registry()
        let a = try r.claim(owner: 1, kind: .linux, nowMs: 0, isOwnerAlive: unknownLiveness)
        XCTAssertTrue(r.addSocket(slot: a.index, virtualPort: 7000, realPort: 42000, scope: .any, transport: .tcp))
        XCTAssertTrue(r.addSocket(slot: a.index, virtualPort: 7001, realPort: 43000, scope: .any, transport: .tcp))
        r.removeSocket(slot: a.index, realPort: 43000, transport: .tcp)
        r.moveSocket(slot: a.index, realPort: 42000, to: 43000, transport: .tcp)
        XCTAssertEqual(r.virtualPort(slot: a.index, realPort: 43000, transport: .tcp), 7000,
                       "the new real port vouches for the moved socket, not for the closed one that had it")
        XCTAssertNil(r.virtualPort(slot: a.index, realPort: 42000, transport: .tcp), "the placeholder's port no longer does")
        XCTAssertTrue(r.hasSocket(slot: a.index, virtualPort: 7000, transport: .tcp), "the virtual port is held throughout")
        r.markListening(slot: a.index, realPort: 43000)
        XCTAssertTrue(r.isListening(slot: a.index, realPort: 43000))
    }

    func test_releasedSlotKeepsVouchingUntilClaimedAgain() throws {
        let r = try registry()
        let a = try r.claim(owner: 1, kind: .linux, nowMs: 0, isOwnerAlive: unknownLiveness)
        XCTAssertTrue(r.addSocket(slot: a.index, virtualPort: 23756, realPort: 41000, scope: .any))
        r.release(a)
        XCTAssertFalse(r.hasSocket(slot: a.index, virtualPort: 23756))
        XCTAssertEqual(r.virtualPort(slot: a.index, realPort: 41000), 23756)
        _ = try r.claim(owner: 2, kind: .linux, nowMs: 0, isOwnerAlive: unknownLiveness)
        XCTAssertNil(r.virtualPort(slot: a.index, realPort: 41000), "a new owner starts with an empty table")
    }

    func test_countersAddUpWithCarryIntoTheHighWord() throws {
        let r = try registry()
        let a = try r.claim(owner: 1, kind: .linux, nowMs: 0, isOwnerAlive: unknownLiveness)
        for _ in 0..<3 { r.countDatagram(slot: a.index, received: false, bytes: 0x7FFF_FFFF) }
        r.countDatagram(slot: a.index, received: true, bytes: 100)
        r.countDrop(slot: a.index, .spoofedSource)
        r.countDrop(slot: a.index, .spoofedSource)
        let c = r.counters(ofSlot: a.index)
        XCTAssertEqual(c.txDatagrams, 3)
        XCTAssertEqual(c.txBytes, 3 * 0x7FFF_FFFF)
        XCTAssertEqual(c.rxBytes, 100)
        XCTAssertEqual(c.drops(.spoofedSource), 2)
        XCTAssertEqual(c.drops(.malformed), 0)
    }

    func test_secondAttachSeesTheFirstOnesSlots() throws {
        let first = try registry()
        _ = try first.claim(owner: 1, kind: .linux, nowMs: 0, isOwnerAlive: unknownLiveness)
        let second = try registry()
        XCTAssertTrue(second.isLive(0))
        XCTAssertEqual(try Registry.attachExisting(memory.region).slotCount, 64)
    }

    func test_foreignTooNewCorruptOrMismatchedFilesAreRefused() throws {
        _ = try registry()
        let h = memory.region.base
        func expect(_ expected: RegistryError, _ network: VirtualNetwork = .defaultNetwork, line: UInt = #line) {
            XCTAssertThrowsError(try Registry.attach(memory.region, network: network), line: line) {
                XCTAssertEqual($0 as? RegistryError, expected, line: line)
                XCTAssertFalse(($0 as! RegistryError).message.isEmpty)
            }
        }
        let other = VirtualNetwork(parsing: Array("10.0.0.0/24".utf8))!
        expect(.subnetMismatch(found: .defaultNetwork, configured: other), other)
        h.storeLE32(RegistryLayout.version + 1, 4)
        expect(.newerVersion(found: RegistryLayout.version + 1))
        h.storeLE32(1, 4)
        expect(.olderVersion(found: 1), line: #line) // version 1: no memberships
        h.storeLE32(RegistryLayout.version, 4)
        h.storeLE32(999, 16)
        expect(.corrupt)
        h.storeLE32(UInt32(RegistryLayout.slotSize), 16)
        h.storeLE32(100_000, 12)
        expect(.corrupt)
        h.storeLE32(64, 12)
        h.storeLE32(0x9CB1_B8FF, 32)
        expect(.corrupt) // a stale limit beyond Int32 (found by the registry fuzzer: it trapped in isStale)
        h.storeLE32(5000, 32)
        h.storeLE32(0x1234_5678, 0)
        expect(.foreign)
        let small = InMemoryRegion(size: 100)
        XCTAssertThrowsError(try Registry.attach(small.region, network: .defaultNetwork)) {
            XCTAssertEqual($0 as? RegistryError, .tooSmall(size: 100, needed: RegistryLayout.size(slotCount: 64)))
        }
    }
}
