import XCTest
@testable import VirtualIPCore

/// The wire and the registry for virtual TCP: the preamble (the header with the stream
/// flag), TCP's own port space in the registry, the listener lookup and the accepting
/// side's check of a preamble.
final class StreamPreambleTests: XCTestCase {
    let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: 64))
    var registry: Registry!
    var router: Router!
    let net = VirtualNetwork.defaultNetwork

    override func setUpWithError() throws {
        registry = try claimedRegistry(memory, instances: 3)
        router = Router(registry: registry)
        // Instance 1 listens on TCP 6112 (real 7001); instance 2 connects from TCP 50000 (real 7102),
        // and has a UDP socket on the same real port number, which must vouch for nothing TCP.
        XCTAssertTrue(registry.addSocket(slot: 1, virtualPort: 6112, realPort: 7001, scope: .any, transport: .tcp))
        registry.markListening(slot: 1, realPort: 7001)
        XCTAssertTrue(registry.addSocket(slot: 2, virtualPort: 50000, realPort: 7102, scope: .any, transport: .tcp))
        XCTAssertTrue(registry.addSocket(slot: 2, virtualPort: 40000, realPort: 7103, scope: .any))
    }

    private func preamble(from source: Int, port: UInt16 = 50000, to destination: IPv4Address, _ destinationPort: UInt16 = 6112) -> WireHeader {
        WireHeader(source: net.address(ofInstance: source), sourcePort: port, destination: destination,
                   destinationPort: destinationPort, isBroadcast: false, isStream: true)
    }

    private func accept(_ header: WireHeader, from realPort: UInt16, listener: Router.Receiver) -> Router.Verdict {
        header.bytes.withUnsafeBytes { router.checkPreamble($0, realSourcePort: realPort, listener: listener) }
    }

    func test_thePreambleRoundTripsAndIsNeverABroadcast() {
        let p = preamble(from: 2, to: net.address(ofInstance: 1))
        XCTAssertEqual(WireHeader.decode(p.bytes), .header(p))
        XCTAssertEqual(p.bytes[3], WireHeader.streamFlag)
        var everyone = p
        everyone.destination = .limitedBroadcast
        XCTAssertEqual(WireHeader.decode(everyone.bytes), .rejected(.invalidDestination))
        var flagged = p
        flagged.isBroadcast = true
        XCTAssertEqual(WireHeader.decode(flagged.bytes), .rejected(.invalidDestination))
    }

    func test_tcpAndUdpHaveTheirOwnPortSpaces() {
        XCTAssertTrue(registry.hasSocket(slot: 1, virtualPort: 6112, transport: .tcp))
        XCTAssertFalse(registry.hasSocket(slot: 1, virtualPort: 6112), "no UDP socket there")
        XCTAssertEqual(registry.virtualPort(slot: 2, realPort: 7103), 40000)
        XCTAssertNil(registry.virtualPort(slot: 2, realPort: 7103, transport: .tcp))
        registry.removeSocket(slot: 1, realPort: 7001)
        XCTAssertTrue(registry.hasSocket(slot: 1, virtualPort: 6112, transport: .tcp), "a UDP removal leaves TCP alone")
        registry.removeSocket(slot: 1, realPort: 7001, transport: .tcp)
        XCTAssertFalse(registry.hasSocket(slot: 1, virtualPort: 6112, transport: .tcp))
    }

    func test_aConnectionFindsTheListenerOrIsRefused() throws {
        let route = try router.route(to: net.address(ofInstance: 1), payloadLength: 0, broadcastPermitted: false).get()
        XCTAssertEqual(router.streamListener(of: route, virtualPort: 6112, sender: 2), 7001)
        XCTAssertNil(router.streamListener(of: route, virtualPort: 6113, sender: 2), "nobody listens: WSAECONNREFUSED")
        XCTAssertNil(router.streamListener(of: .broadcast, virtualPort: 6112, sender: 2))
        XCTAssertNil(router.streamListener(of: .loopback, virtualPort: 6112, sender: 2), "not instance 2's own port")
        XCTAssertTrue(registry.addSocket(slot: 1, virtualPort: 7000, realPort: 7009, scope: .loopback, transport: .tcp))
        registry.markListening(slot: 1, realPort: 7009)
        XCTAssertNil(router.streamListener(of: route, virtualPort: 7000, sender: 2), "bound to 127.0.0.1: not on the LAN")
        XCTAssertEqual(router.streamListener(of: .loopback, virtualPort: 7000, sender: 1), 7009)
        // A socket bound to 127.0.0.1 beside the 0.0.0.0 listener takes connections to
        // 127.0.0.1 only once it listens itself.
        XCTAssertTrue(registry.addSocket(slot: 1, virtualPort: 6112, realPort: 7010, scope: .loopback, transport: .tcp))
        XCTAssertEqual(router.streamListener(of: .loopback, virtualPort: 6112, sender: 1), 7001, "not listening: the 0.0.0.0 listener")
        registry.markListening(slot: 1, realPort: 7010)
        XCTAssertEqual(router.streamListener(of: .loopback, virtualPort: 6112, sender: 1), 7010, "the more specific listener")
        XCTAssertEqual(router.streamListener(of: route, virtualPort: 6112, sender: 2), 7001, "the LAN address: the 0.0.0.0 listener")
    }

    func test_theListenerAcceptsOnlyAGenuinePreamble() {
        let listener = Router.Receiver(instance: 1, virtualPort: 6112, scope: .any)
        let genuine = preamble(from: 2, to: net.address(ofInstance: 1))
        XCTAssertEqual(accept(genuine, from: 7102, listener: listener), .deliver(genuine))
        XCTAssertEqual(accept(genuine, from: 7103, listener: listener), .drop(.spoofedSource),
                       "a real port of the claimed instance's UDP socket vouches for no TCP connection")
        XCTAssertEqual(accept(preamble(from: 0, to: net.address(ofInstance: 1)), from: 7102, listener: listener), .drop(.spoofedSource))
        XCTAssertEqual(accept(preamble(from: 2, to: net.address(ofInstance: 0)), from: 7102, listener: listener), .drop(.misdirected))
        XCTAssertEqual(accept(preamble(from: 2, to: net.address(ofInstance: 1), 6113), from: 7102, listener: listener), .drop(.misdirected))
        var datagram = genuine
        datagram.isStream = false
        XCTAssertEqual(accept(datagram, from: 7102, listener: listener), .drop(.malformed), "a datagram header opens no stream")
        XCTAssertEqual(Array(genuine.bytes.prefix(9)).withUnsafeBytes { router.checkPreamble($0, realSourcePort: 7102, listener: listener) },
                       .drop(.malformed), "a short preamble")
    }

    func test_aPreambleIsNeverDeliveredAsADatagram() {
        XCTAssertTrue(registry.addSocket(slot: 2, virtualPort: 50000, realPort: 7104, scope: .any))
        let receiver = Router.Receiver(instance: 1, virtualPort: 6112, scope: .any)
        let stream = preamble(from: 2, to: net.address(ofInstance: 1))
        XCTAssertEqual(stream.bytes.withUnsafeBytes { router.check(frame: $0, realSourcePort: 7104, receiver: receiver) }, .drop(.malformed))
    }
}
