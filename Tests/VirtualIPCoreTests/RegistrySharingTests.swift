import XCTest
@testable import VirtualIPCore

/// One socket held by several processes of an instance (holder bits), and the records a
/// handle copied into another process waits in.
final class RegistrySharingTests: XCTestCase {
    let unknownLiveness: (UInt32, OwnerKind) -> Bool? = { _, _ in nil }
    /// The registry's memory, alive for the test.
    var memory: InMemoryRegion?

    /// A registry with instance 0 claimed by pid 1 (member 0) and pid 2 listed (member 1).
    func registry() throws -> (Registry, SlotClaim) {
        let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: 4))
        self.memory = memory
        let r = try Registry.attach(memory.region, network: .defaultNetwork, slotCount: 4)
        let claim = try r.claim(owner: 1, kind: .linux, nowMs: 0, isOwnerAlive: unknownLiveness)
        XCTAssertNotNil(r.addMember(claim, pid: 2))
        return (r, claim)
    }

    func test_aSharedSocketClosesWithItsLastHolder() throws {
        let (r, a) = try registry()
        XCTAssertTrue(r.addSocket(slot: a.index, virtualPort: 7000, realPort: 42000, scope: .any, member: 0))
        XCTAssertTrue(r.shareSocket(slot: a.index, realPort: 42000, transport: .udp, with: 1))
        XCTAssertEqual(r.holders(slot: a.index, realPort: 42000, transport: .udp), 0b11)
        XCTAssertEqual(r.socketsOfOtherMembers(slot: a.index, virtualPort: 7000, transport: .udp, member: 0).count, 1,
                       "member 1 holds it too: member 0's binds decide against it")
        XCTAssertTrue(r.removeSocket(slot: a.index, realPort: 42000, transport: .udp, member: 0), "member 1 still holds it")
        XCTAssertTrue(r.hasSocket(slot: a.index, virtualPort: 7000))
        XCTAssertFalse(r.removeSocket(slot: a.index, realPort: 42000, transport: .udp, member: 1))
        XCTAssertFalse(r.hasSocket(slot: a.index, virtualPort: 7000), "its last holder let go")
    }

    func test_aMemberThatLeavesLetsGoOfWhatItHeldAndDropsItsRecords() throws {
        let (r, a) = try registry()
        XCTAssertTrue(r.addSocket(slot: a.index, virtualPort: 7000, realPort: 42000, scope: .any, member: 0))
        XCTAssertTrue(r.shareSocket(slot: a.index, realPort: 42000, transport: .udp, with: 1))
        r.removeSocket(slot: a.index, realPort: 42000, transport: .udp, member: 0)
        var state = [UInt8](repeating: 7, count: RegistryLayout.handedStateSize)
        XCTAssertTrue(r.handOver(slot: a.index, to: 1, handle: 42, state: &state))
        XCTAssertTrue(r.hasHanded(slot: a.index, for: 1))
        r.leave(a, member: 1)
        XCTAssertFalse(r.hasSocket(slot: a.index, virtualPort: 7000), "the leaving member was its last holder")
        XCTAssertFalse(r.hasHanded(slot: a.index, for: 1), "and its records went")
    }

    func test_aHandedRecordIsTakenOnceByItsMemberAndHandle() throws {
        let (r, a) = try registry()
        XCTAssertFalse(r.hasHanded(slot: a.index, for: 1))
        var state = (0..<RegistryLayout.handedStateSize).map { UInt8($0) }
        XCTAssertTrue(r.handOver(slot: a.index, to: 1, handle: 42, state: &state))
        XCTAssertFalse(r.hasHanded(slot: a.index, for: 0), "another member's")
        XCTAssertTrue(r.hasHanded(slot: a.index, for: 1))
        var got = [UInt8](repeating: 0, count: RegistryLayout.handedStateSize)
        XCTAssertFalse(r.takeHanded(slot: a.index, for: 1, handle: 43, into: &got), "another handle's")
        XCTAssertTrue(r.takeHanded(slot: a.index, for: 1, handle: 42, into: &got))
        XCTAssertEqual(got, state)
        XCTAssertFalse(r.takeHanded(slot: a.index, for: 1, handle: 42, into: &got), "taken once")
        XCTAssertFalse(r.hasHanded(slot: a.index, for: 1))
        for handle in 0..<UInt32(RegistryLayout.handedPerSlot) { XCTAssertTrue(r.handOver(slot: a.index, to: 1, handle: handle, state: &state)) }
        XCTAssertFalse(r.hasRoomToHand(slot: a.index))
        XCTAssertFalse(r.handOver(slot: a.index, to: 1, handle: 999, state: &state), "all records wait")
    }
}
