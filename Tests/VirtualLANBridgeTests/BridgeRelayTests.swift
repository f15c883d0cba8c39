import Foundation
import HostKit
import VirtualIPCore
import WinsockDetours
import XCTest
@testable import VirtualLANBridge

/// A relay's decisions (BridgeEngine+Relay): two hosts that reach only the relay, as two UDP
/// sockets on loopback whose frames are fed to it. What the relay passes on arrives at the
/// other socket byte for byte, since a frame is passed on as its sender sealed it.
final class BridgeRelayTests: XCTestCase {
    var folder: URL!
    var file: RegistryFile!
    let key: [UInt8] = Array(repeating: 0x3C, count: 32)
    let hostA = InstanceRange(first: 16, count: 16)!, hostB = InstanceRange(first: 32, count: 16)!
    var socketA: UDPSocket!, socketB: UDPSocket!
    var sequence: UInt64 = 0

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vl-relay-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        file = try RegistryFile(platform: .default, path: Array(folder.appendingPathComponent("registry").path.utf8), network: .defaultNetwork)
        socketA = try UDPSocket(bindTo: HostAddress.loopback(0).sockaddr)
        socketB = try UDPSocket(bindTo: HostAddress.loopback(0).sockaddr)
    }

    override func tearDownWithError() throws {
        file = nil
        try? FileManager.default.removeItem(at: folder)
    }

    func engine(relay: Bool) throws -> BridgeEngine {
        let settings = BridgeEngine.Settings(listen: .loopback(0), peers: [], range: InstanceRange(first: 0, count: 16)!, key: key, relay: relay)
        return try BridgeEngine(settings: settings, registry: file.registry, log: { _ in })
    }

    /// A frame of `sender` as the relay receives it from `socket`; its sealed bytes.
    @discardableResult
    func feed(_ engine: BridgeEngine, _ kind: BridgeFrame.Kind, from socket: UDPSocket, sender: InstanceRange, body: [UInt8],
              relays: Bool = false) -> [UInt8] {
        sequence += 1
        let bytes = BridgeFrame(kind: kind, sender: sender, session: 1000, sequence: sequence, sentAtMs: BridgeEngine.wallClockMs(), body: body,
                                senderRelays: relays).sealed(with: LinkKeys(sharedKey: key))!
        bytes.withUnsafeBytes { engine.receiveFrame($0, from: .loopback(socket.port)) }
        return bytes
    }

    func announce(_ engine: BridgeEngine, from socket: UDPSocket, _ sender: InstanceRange) -> [UInt8] {
        feed(engine, .announce, from: socket, sender: sender, body: Announcement(instances: [.init(index: sender.first, ports: [23757])]).body)
    }

    /// A datagram from instance 16 (on A) to instance `target`'s address.
    func datagram(to target: Int) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: WireHeader.size + 4)
        let header = WireHeader(source: IPv4Address(192, 168, 80, 17), sourcePort: 23757, destination: IPv4Address(192, 168, 80, UInt8(target + 1)),
                                destinationPort: 23757, isBroadcast: false)
        frame.withUnsafeMutableBytes { header.encode(into: $0.baseAddress!) }
        return frame.withUnsafeBytes { ForwardedDatagram.body(target: UInt16(target), frame: $0) }
    }

    /// Every datagram waiting on `socket` (they came over loopback: all there already).
    func received(_ socket: UDPSocket) -> [[UInt8]] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var out: [[UInt8]] = []
        while let (count, _) = buffer.withUnsafeMutableBytes({ socket.receive(into: $0) }) { out.append(Array(buffer[..<count])) }
        return out
    }

    func test_aRelayPassesAnnouncementsToTheOtherHostAndADatagramToTheHostItNames() throws {
        let relay = try engine(relay: true)
        _ = announce(relay, from: socketA, hostA)
        XCTAssertEqual(received(socketB), [], "B has not reached the relay yet: nowhere to pass it")
        let fromB = announce(relay, from: socketB, hostB)
        XCTAssertEqual(received(socketA), [fromB], "B's announcement, as B sealed it")
        _ = received(socketB)
        let forB = feed(relay, .datagram, from: socketA, sender: hostA, body: datagram(to: 32))
        XCTAssertEqual(received(socketB), [forB], "a datagram for B's instance goes to B, unchanged")
        XCTAssertEqual(received(socketA), [], "never back to where it came from")
        XCTAssertNil(relay.drops[.noTarget])
        feed(relay, .datagram, from: socketA, sender: hostA, body: datagram(to: 0))
        XCTAssertEqual(received(socketB), [], "a datagram for the relay's own host is its own")
        XCTAssertEqual(relay.drops[.noTarget], 1, "instance 0 has no copy here: counted, not passed on")
        XCTAssertTrue(relay.statsLine.contains("passed on=2"), relay.statsLine)
    }

    func test_aBridgeThatIsNoRelayPassesNothingOn() throws {
        let plain = try engine(relay: false)
        _ = announce(plain, from: socketA, hostA)
        _ = announce(plain, from: socketB, hostB)
        _ = received(socketA)  // the bridge's own announcements are not what this looks at
        _ = received(socketB)
        feed(plain, .datagram, from: socketA, sender: hostA, body: datagram(to: 32))
        XCTAssertEqual(received(socketB), [], "control: without --relay, B hears nothing of A")
        XCTAssertEqual(plain.drops[.noTarget], 1, "instance 32 is not this host's")
    }

    // MARK: Hole punching (BridgeEngine+Punching)

    /// The frames waiting on `socket`, opened.
    func frames(_ socket: UDPSocket) -> [BridgeFrame] {
        received(socket).compactMap { bytes in
            guard case let .success(frame) = bytes.withUnsafeBytes({ BridgeFrame.open($0, with: LinkKeys(sharedKey: key)) }) else { return nil }
            return frame
        }
    }

    func test_aRelayTellsEachHostWhereItSeesTheOthers() throws {
        let relay = try engine(relay: true)
        _ = announce(relay, from: socketA, hostA)
        relay.probePeers()
        XCTAssertFalse(frames(socketA).contains { $0.kind == .meeting }, "one host alone: nobody to meet")
        _ = announce(relay, from: socketB, hostB)
        relay.probePeers()
        let toA = frames(socketA).filter { $0.kind == .meeting }, toB = frames(socketB).filter { $0.kind == .meeting }
        XCTAssertEqual(toA.compactMap { Meeting(body: $0.body) }, [Meeting(places: [.init(host: 32, address: 0x7F00_0001, port: socketB.port)])])
        XCTAssertEqual(toB.compactMap { Meeting(body: $0.body) }, [Meeting(places: [.init(host: 16, address: 0x7F00_0001, port: socketA.port)])])
        XCTAssertTrue(toA.allSatisfy(\.senderRelays), "a meeting says it comes from a relay")
    }

    /// This test's engine is host A's bridge (range 0-15 here); `socketA` plays the relay and
    /// `socketB` host B's bridge at the place the relay saw it.
    func test_aHostProbesWhereTheRelaySeesTheOtherGoesDirectWhenAnsweredAndBackToTheRelayWhenQuiet() throws {
        let host = try engine(relay: false)
        let relayRange = InstanceRange(first: 64, count: 16)!
        let relayAddress = HostAddress.loopback(socketA.port), placeB = HostAddress.loopback(socketB.port)
        feed(host, .announce, from: socketA, sender: relayRange, body: Announcement(instances: []).body, relays: true)
        feed(host, .announce, from: socketA, sender: hostB, body: Announcement(instances: []).body)  // B's, passed on by the relay
        XCTAssertEqual(host.peers[32]?.address, relayAddress, "B's frames come through the relay: B's go there")
        XCTAssertEqual(host.route(to: host.peers[32]!), "relayed by \(relayAddress)")

        let meeting = Meeting(places: [.init(host: 32, address: 0x7F00_0001, port: socketB.port), .init(host: 0, address: 1, port: 1)])
        feed(host, .meeting, from: socketA, sender: relayRange, body: meeting.body, relays: true)
        XCTAssertNil(host.peers[0], "a meeting place for this host itself is passed over")
        host.probePeers()
        XCTAssertEqual(frames(socketB).filter { $0.kind == .probe }.compactMap { Probe(body: $0.body)?.target }, [32], "B is probed where the relay sees it")
        XCTAssertEqual(frames(socketA).filter { $0.kind == .probe }.compactMap { Probe(body: $0.body)?.target }.sorted(), [32, 64],
                       "and through the relay, as before (and the relay itself)")

        feed(host, .probe, from: socketB, sender: hostB, body: Probe(target: 0, isAnswer: false, sentAtUs: 1).body)
        XCTAssertEqual(host.peers[32]?.address, placeB, "B's probe came directly: B's frames go there now")
        XCTAssertEqual(frames(socketB).compactMap { Probe(body: $0.body) }, [Probe(target: 32, isAnswer: true, sentAtUs: 1)], "answered directly")
        XCTAssertEqual(host.route(to: host.peers[32]!), "direct (hole punched)")
        XCTAssertEqual(host.streamAddress(host.peers[32]!), relayAddress, "TCP for B still goes through the relay: a NAT lets no connection in")
        feed(host, .announce, from: socketA, sender: hostB, body: Announcement(instances: []).body)
        XCTAssertEqual(host.peers[32]?.address, placeB, "a relayed frame of B's does not undo a direct path still heard")

        host.fallBackToRelays(host.platform.nowMs &+ BridgeEngine.directWaitMs &- 10)
        XCTAssertEqual(host.peers[32]?.address, placeB, "not yet quiet")
        host.fallBackToRelays(host.platform.nowMs &+ BridgeEngine.directWaitMs &+ 10)
        XCTAssertEqual(host.peers[32]?.address, relayAddress, "nothing directly for too long: through the relay again")
        XCTAssertNil(host.drops[.replayed], "nothing was counted as a replay")
    }

    func test_aMeetingFromAHostThatIsNoRelayIsRefused() throws {
        let host = try engine(relay: false)
        _ = announce(host, from: socketB, hostB)
        feed(host, .meeting, from: socketA, sender: hostA, body: Meeting(places: [.init(host: 32, address: 1, port: 2)]).body)
        XCTAssertNil(host.peers[32]?.meetingPlace)
        XCTAssertEqual(host.drops[.malformed], 1)
    }
}
