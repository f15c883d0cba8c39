import Foundation
import HostKit
import VirtualIPCore
import WinsockDetours
import XCTest
@testable import VirtualLANBridge

/// The bridge's decisions on frames from the network, fed in directly (no second host).
final class BridgeEngineTests: XCTestCase {
    var folder: URL!
    var file: RegistryFile!
    var engine: BridgeEngine!
    let key: [UInt8] = Array(repeating: 0x5A, count: 32)
    let peer = HostAddress(address: 0x7F00_0001, port: 47999)
    let peerRange = InstanceRange(first: 16, count: 16)!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vl-engine-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        file = try RegistryFile(platform: .default, path: Array(folder.appendingPathComponent("registry").path.utf8), network: .defaultNetwork)
        let settings = BridgeEngine.Settings(listen: .loopback(0), peers: [], range: InstanceRange(first: 0, count: 16)!,
                                             key: key, maxClockSkewMs: 200)
        engine = try BridgeEngine(settings: settings, registry: file.registry, log: { _ in })
    }

    override func tearDownWithError() throws {
        engine = nil
        file = nil
        try? FileManager.default.removeItem(at: folder)
    }

    func send(_ kind: BridgeFrame.Kind = .announce, range: InstanceRange? = nil, session: UInt64 = 1000, sequence: UInt64,
              sentAt: UInt64 = BridgeEngine.wallClockMs(), body: [UInt8], key: [UInt8]? = nil) {
        let frame = BridgeFrame(kind: kind, sender: range ?? peerRange, session: session, sequence: sequence, sentAtMs: sentAt, body: body)
        let bytes = frame.sealed(with: LinkKeys(sharedKey: key ?? self.key))!
        bytes.withUnsafeBytes { engine.receiveFrame($0, from: peer) }
    }

    func announce(_ instances: [Int], session: UInt64 = 1000, sequence: UInt64) {
        send(session: session, sequence: sequence,
             body: Announcement(instances: instances.map { .init(index: UInt16($0), ports: [23757]) }).body)
    }

    var registry: Registry { file.registry }

    func test_anAnnouncedInstanceBecomesARemoteSlotWithAProxyAndLeavesWhenUnannounced() {
        announce([16, 17], sequence: 1)
        XCTAssertTrue(registry.isLive(16) && registry.isRemote(16) && registry.isLive(17))
        XCTAssertEqual(registry.peer(ofSlot: 17), 16)
        XCTAssertTrue(registry.hasSocket(slot: 16, virtualPort: 23757))
        XCTAssertEqual(engine.sockets.count, 3, "the link and one proxy per remote socket")
        announce([17], sequence: 2)
        XCTAssertFalse(registry.isLive(16))
        XCTAssertEqual(engine.sockets.count, 2)
        announce([], sequence: 3)
        XCTAssertFalse(registry.isLive(17), "an empty announcement (goodbye) releases everything")
    }

    func test_framesThatMustNotCountAreDroppedByReason() {
        announce([16], sequence: 1)
        announce([16, 17], sequence: 1) // the same sequence again
        XCTAssertFalse(registry.isLive(17))
        XCTAssertEqual(engine.drops[.replayed], 1)
        send(sequence: 2, sentAt: BridgeEngine.wallClockMs() - 5_000, body: Announcement(instances: [.init(index: 18, ports: [])]).body)
        XCTAssertEqual(engine.drops[.stale], 1)
        send(sequence: 3, body: Announcement(instances: [.init(index: 18, ports: [])]).body, key: Array(repeating: 1, count: 32))
        XCTAssertEqual(engine.drops[.badTag], 1)
        announce([3], sequence: 4) // instance 3 is in no range of that peer
        XCTAssertEqual(engine.drops[.malformed], 1)
        send(range: InstanceRange(first: 8, count: 16)!, sequence: 1, body: Announcement(instances: []).body)
        XCTAssertEqual(engine.drops[.overlappingRange], 1, "overlaps this host's 0-15")
        XCTAssertFalse((18..<32).contains { registry.isLive($0) })
    }

    func test_aDatagramMayOnlyComeFromTheSendersOwnInstances() {
        announce([16], sequence: 1)
        var frame = [UInt8](repeating: 0, count: WireHeader.size + 4)
        let spoofed = WireHeader(source: IPv4Address(192, 168, 80, 2), sourcePort: 23757, destination: .limitedBroadcast,
                                 destinationPort: 23757, isBroadcast: true)
        frame.withUnsafeMutableBytes { spoofed.encode(into: $0.baseAddress!) }
        send(.datagram, sequence: 2, body: frame.withUnsafeBytes { ForwardedDatagram.body(target: 0, frame: $0) })
        XCTAssertEqual(engine.drops[.foreignInstance], 1, "192.168.80.2 is instance 1, of this host")
    }

    func test_anOlderSessionIsDroppedUntilTheNewestHasBeenSilentLongerThanTheClockSkew() throws {
        announce([16], session: 2000, sequence: 1)
        announce([16, 17], session: 1000, sequence: 1)
        XCTAssertEqual(engine.drops[.oldSession], 1)
        XCTAssertFalse(registry.isLive(17))
        // The peer restarted with its clock set back: once its old session has been silent
        // for longer than the allowed skew (200 ms here), no replay of it can pass the clock
        // check, and the new, lower session is taken.
        usleep(300_000) // not synchronisation: the rule under test is about elapsed time itself
        announce([16, 17], session: 1000, sequence: 2)
        XCTAssertTrue(registry.isLive(17))
    }
}
