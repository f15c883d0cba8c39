import XCTest
@testable import VirtualIPCore

final class RouterTests: XCTestCase {
    let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: 64))
    var registry: Registry!
    var router: Router!
    let net = VirtualNetwork.defaultNetwork

    override func setUpWithError() throws {
        registry = try claimedRegistry(memory, instances: 4)
        router = Router(registry: registry)
        // Four instances, each with a socket on 23757 (real port 5000 + i) bound to 0.0.0.0.
        for i in 0..<4 {
            XCTAssertTrue(registry.addSocket(slot: i, virtualPort: 23757, realPort: UInt16(5000 + i), scope: .any))
        }
    }

    func receivers(of route: Router.Route, port: UInt16 = 23757, sender: Int) -> [UInt16] {
        var ports: [UInt16] = []
        router.forEachReceiver(of: route, virtualPort: port, sender: sender) { ports.append($0) }
        return ports
    }

    func test_broadcastFromANonZeroInstanceReachesEveryInstanceItsOwnIncluded() throws {
        let route = try router.route(to: .limitedBroadcast, payloadLength: 36, broadcastPermitted: true).get()
        XCTAssertEqual(route, .broadcast)
        XCTAssertEqual(receivers(of: route, sender: 2).sorted(), [5000, 5001, 5002, 5003])
        let subnet = try router.route(to: IPv4Address(192, 168, 80, 255), payloadLength: 36, broadcastPermitted: true).get()
        XCTAssertEqual(receivers(of: subnet, sender: 3).sorted(), [5000, 5001, 5002, 5003])
    }

    func test_unicastReachesOnlyTheAddressedInstance() throws {
        let route = try router.route(to: IPv4Address(192, 168, 80, 3), payloadLength: 100, broadcastPermitted: false).get()
        XCTAssertEqual(route, .instance(2))
        XCTAssertEqual(receivers(of: route, sender: 0), [5002])
        XCTAssertEqual(receivers(of: route, port: 1234, sender: 0), [], "nobody bound on that port")
        let absent = try router.route(to: IPv4Address(192, 168, 80, 30), payloadLength: 1, broadcastPermitted: false).get()
        XCTAssertEqual(receivers(of: absent, sender: 0), [], "a host that is not there drops it, like a LAN")
    }

    func test_loopbackReachesOnlyTheSendersOwnInstanceAndNotLanOnlySockets() throws {
        XCTAssertTrue(registry.addSocket(slot: 1, virtualPort: 999, realPort: 6001, scope: .lan))
        XCTAssertTrue(registry.addSocket(slot: 1, virtualPort: 998, realPort: 6002, scope: .loopback))
        let route = try router.route(to: IPv4Address(127, 0, 0, 1), payloadLength: 1, broadcastPermitted: false).get()
        XCTAssertEqual(receivers(of: route, sender: 1), [5001])
        XCTAssertEqual(receivers(of: route, port: 999, sender: 1), [], "bound to the LAN address only")
        XCTAssertEqual(receivers(of: route, port: 998, sender: 1), [6002])
        let lan = Router.Route.broadcast
        XCTAssertEqual(receivers(of: lan, port: 998, sender: 1), [], "loopback-bound sockets get no LAN broadcast")
    }

    func test_sendErrors() {
        XCTAssertEqual(router.route(to: .limitedBroadcast, payloadLength: 1, broadcastPermitted: false), .failure(.broadcastNotPermitted))
        XCTAssertEqual(router.route(to: IPv4Address(8, 8, 8, 8), payloadLength: 1, broadcastPermitted: true), .failure(.networkUnreachable))
        XCTAssertEqual(router.route(to: IPv4Address(192, 168, 80, 2), payloadLength: WireHeader.maxPayload + 1, broadcastPermitted: true), .failure(.messageTooLarge))
        XCTAssertEqual(router.route(to: IPv4Address(192, 168, 80, 2), payloadLength: WireHeader.maxPayload, broadcastPermitted: true), .success(.instance(1)))
    }

    func check(_ header: WireHeader, from realPort: UInt16, to receiver: Router.Receiver) -> Router.Verdict {
        header.bytes.withUnsafeBytes { router.check(frame: $0, realSourcePort: realPort, receiver: receiver) }
    }

    func test_receiveCheckAcceptsGenuineFramesAndDropsSpoofedOnes() {
        let me = Router.Receiver(instance: 0, virtualPort: 23757, scope: .any)
        let genuine = WireHeader(source: net.address(ofInstance: 2), sourcePort: 23757,
                                 destination: net.address(ofInstance: 0), destinationPort: 23757, isBroadcast: false)
        XCTAssertEqual(check(genuine, from: 5002, to: me), .deliver(genuine))
        XCTAssertEqual(check(genuine, from: 5003, to: me), .drop(.spoofedSource), "port of instance 3 claiming to be 2")
        XCTAssertEqual(check(genuine, from: 7777, to: me), .drop(.spoofedSource), "port in no registry entry")
        var ghost = genuine
        ghost.source = net.address(ofInstance: 100)
        XCTAssertEqual(check(ghost, from: 5002, to: me), .drop(.unknownSource), "beyond the registry's 64 slots")
        ghost.source = IPv4Address(10, 0, 0, 1)
        XCTAssertEqual(check(ghost, from: 5002, to: me), .drop(.unknownSource), "outside the virtual LAN")
        ghost.source = net.address(ofInstance: 40)
        XCTAssertEqual(check(ghost, from: 5002, to: me), .drop(.spoofedSource), "a free slot vouches for no port")
        var elsewhere = genuine
        elsewhere.destination = net.address(ofInstance: 1)
        XCTAssertEqual(check(elsewhere, from: 5002, to: me), .drop(.misdirected))
        var wrongPort = genuine
        wrongPort.destinationPort = 1
        XCTAssertEqual(check(wrongPort, from: 5002, to: me), .drop(.misdirected))
        var broadcast = genuine
        broadcast.destination = .limitedBroadcast
        broadcast.isBroadcast = true
        XCTAssertEqual(check(broadcast, from: 5002, to: me), .deliver(broadcast))
        XCTAssertEqual(router.check(frame: UnsafeRawBufferPointer(start: nil, count: 0), realSourcePort: 5002, receiver: me), .drop(.malformed))
    }

    func test_datagramSentJustBeforeTheSenderLeftIsStillDelivered() throws {
        let me = Router.Receiver(instance: 0, virtualPort: 23757, scope: .any)
        let last = WireHeader(source: net.address(ofInstance: 2), sourcePort: 23757,
                              destination: net.address(ofInstance: 0), destinationPort: 23757, isBroadcast: false)
        registry.removeSocket(slot: 2, realPort: 5002)
        XCTAssertEqual(check(last, from: 5002, to: me), .deliver(last), "closed socket")
        registry.release(SlotClaim(index: 2, generation: registry.state(ofSlot: 2).generation))
        XCTAssertEqual(check(last, from: 5002, to: me), .deliver(last), "released slot")
    }

    func test_loopbackSourceIsAcceptedOnlyFromTheOwnInstance() {
        let me = Router.Receiver(instance: 1, virtualPort: 23757, scope: .any)
        let local = WireHeader(source: .loopback, sourcePort: 23757, destination: .loopback, destinationPort: 23757, isBroadcast: false)
        XCTAssertEqual(check(local, from: 5001, to: me), .deliver(local))
        XCTAssertEqual(check(local, from: 5002, to: me), .drop(.spoofedSource), "another instance cannot pose as our loopback")
        let lanOnly = Router.Receiver(instance: 1, virtualPort: 23757, scope: .lan)
        XCTAssertEqual(check(local, from: 5001, to: lanOnly), .drop(.misdirected))
    }
}

/// A host with a bridge: its own range, and remote instances of two other hosts.
final class RemoteRoutingTests: XCTestCase {
    let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: 64))
    var registry: Registry!
    var router: Router!

    override func setUpWithError() throws {
        registry = try Registry.attach(memory.region, network: .defaultNetwork)
        router = Router(registry: registry)
        registry.setLocalRange(InstanceRange(first: 0, count: 16)!)
        // Local 0 and 1; host 16-31 has 16, 17, 18; host 32-47 has 32, 33. Real port 5000 + index.
        for index in [0, 1] {
            let claim = try registry.claim(owner: 7, kind: .linux, nowMs: 0, isOwnerAlive: { _, _ in nil })
            XCTAssertEqual(claim.index, index)
        }
        for (index, peer) in [(16, 16), (17, 16), (18, 16), (32, 32), (33, 32)] {
            _ = try registry.claim(owner: 9, kind: .remote, pinned: index, peer: UInt16(peer), nowMs: 0, isOwnerAlive: { _, _ in nil })
        }
        for index in [0, 1, 16, 18, 32, 33] {
            XCTAssertTrue(registry.addSocket(slot: index, virtualPort: 23757, realPort: UInt16(5000 + index), scope: index < 16 ? .any : .lan))
        }
    }

    func test_aBroadcastReachesEveryLocalSocketAndOneSocketPerOtherHost() {
        var ports: [UInt16] = []
        router.forEachReceiver(of: .broadcast, virtualPort: 23757, sender: 0) { ports.append($0) }
        // 17 has no socket on the port: 16 takes its host's copy; 32 takes the other's.
        XCTAssertEqual(ports, [5000, 5001, 5016, 5032])
    }

    func test_aBroadcastFromAnotherHostReachesOnlyLocalSockets() {
        var ports: [UInt16] = []
        router.forEachLocalReceiver(ofDatagramForMany: WireHeader(source: IPv4Address(192, 168, 80, 30), sourcePort: 1, destination: .limitedBroadcast, destinationPort: 23757, isBroadcast: true)) { ports.append($0) }
        XCTAssertEqual(ports, [5000, 5001])
    }

    func test_unicastToARemoteInstanceGoesToItsProxy() {
        var ports: [UInt16] = []
        router.forEachReceiver(of: .instance(18), virtualPort: 23757, sender: 1) { ports.append($0) }
        XCTAssertEqual(ports, [5018])
    }

    func test_localClaimsStayInTheHostsRangeAndRemoteOnesOutside() throws {
        XCTAssertTrue(registry.isRemote(16) && !registry.isRemote(0))
        XCTAssertEqual(registry.peer(ofSlot: 33), 32)
        XCTAssertEqual(registry.localRange, InstanceRange(first: 0, count: 16))
        let next = try registry.claim(owner: 8, kind: .windows, nowMs: 0, isOwnerAlive: { _, _ in nil })
        XCTAssertEqual(next.index, 2)
        XCTAssertThrowsError(try registry.claim(owner: 8, kind: .linux, pinned: 20, nowMs: 0, isOwnerAlive: { _, _ in nil })) { error in
            XCTAssertEqual(error as? ClaimError, .outsideLocalRange(index: 20, first: 0, last: 15))
            XCTAssertTrue((error as! ClaimError).message.contains("0...15"))
        }
        for _ in 3..<16 { _ = try registry.claim(owner: 8, kind: .linux, nowMs: 0, isOwnerAlive: { _, _ in nil }) }
        XCTAssertThrowsError(try registry.claim(owner: 8, kind: .linux, nowMs: 0, isOwnerAlive: { _, _ in nil })) { error in
            XCTAssertEqual(error as? ClaimError, .full(slotCount: 16), "the range is full, though slot 19 is free")
        }
    }
}
