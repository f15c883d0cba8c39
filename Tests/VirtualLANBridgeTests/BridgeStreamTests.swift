import Foundation
import HostKit
import VirtualIPCore
import WinsockDetours
import XCTest
@testable import VirtualLANBridge

/// Virtual TCP between two hosts, both bridges in this process on 127.0.0.1: host A
/// (instances 0-15) has a copy that connects, host B (16-31) a copy that listens. The
/// copies are plain sockets doing what the DLL does (register the port, send the preamble).
final class BridgeStreamTests: XCTestCase {
    var folder: URL!
    var files: [RegistryFile] = []
    var engines: [BridgeEngine] = []
    var logs = [[String]](repeating: [], count: 2)
    let key: [UInt8] = Array(repeating: 0x33, count: 32)
    var open: [Int32] = []

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vl-streams-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for host in 0..<2 {
            let path = folder.appendingPathComponent("registry-\(host)").path
            files.append(try RegistryFile(platform: .default, path: Array(path.utf8), network: .defaultNetwork))
        }
        let b = try BridgeEngine(settings: .init(listen: .loopback(0), peers: [], range: InstanceRange(first: 16, count: 16)!, key: key),
                                 registry: files[1].registry, log: { [unowned self] in logs[1].append($0) })
        let a = try BridgeEngine(settings: .init(listen: .loopback(0), peers: [.loopback(b.link.port)], range: InstanceRange(first: 0, count: 16)!, key: key),
                                 registry: files[0].registry, log: { [unowned self] in logs[0].append($0) })
        engines = [a, b]
    }

    override func tearDownWithError() throws {
        for fd in open { close(fd) }
        for engine in engines { engine.stop() }
        engines = []
        files = []
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs both bridges (each poll bounded by 20 ms) until `done`, at most `rounds` rounds.
    @discardableResult
    func run(rounds: Int = 500, waitMs: Int32 = 20, until done: () -> Bool) -> Bool {
        for _ in 0..<rounds {
            if done() { return true }
            round(waitMs: waitMs)
        }
        return done()
    }

    /// One poll of each bridge and what it found to do; false when neither had anything.
    @discardableResult
    func round(waitMs: Int32 = 20) -> Bool {
        var busy = false
        for engine in engines {
            engine.tick()
            var fds = engine.pollSet
            guard poll(&fds, nfds_t(fds.count), waitMs) > 0 else { continue }
            busy = true
            var buffer = [UInt8](repeating: 0, count: 65536)
            buffer.withUnsafeMutableBytes { b in for entry in fds where entry.revents != 0 { engine.ready(entry.fd, b) } }
        }
        return busy
    }

    func address(_ instance: Int) -> IPv4Address { VirtualNetwork.defaultNetwork.address(ofInstance: instance) }

    /// Host B's copy 16 listens on virtual TCP 6112; host A learns it and stands in for it.
    func listeningCopy() throws -> Int32 {
        let registry = files[1].registry
        let claim = try registry.claim(owner: UInt32(getpid()), kind: .linux, pinned: 16, nowMs: Platform.default.nowMs, isOwnerAlive: { _, _ in true })
        let (fd, port) = try TCPSocket.listen(on: HostAddress.loopback(0).sockaddr)
        open.append(fd)
        XCTAssertTrue(registry.addSocket(slot: claim.index, virtualPort: 6112, realPort: port, scope: .any, transport: .tcp))
        registry.markListening(slot: claim.index, realPort: port)
        let a = files[0].registry
        XCTAssertTrue(run { Router(registry: a).streamListener(of: .instance(16), virtualPort: 6112, sender: 1) != nil },
                      "host A stands in for 16's listener: \(logs[0])")
        return fd
    }

    /// Host A's copy 1 connects from virtual port 50000 as its DLL does: (socket, stand-in port).
    func connectingCopy() throws -> Int32 {
        let registry = files[0].registry
        let claim = try registry.claim(owner: UInt32(getpid()), kind: .linux, pinned: 1, nowMs: Platform.default.nowMs, isOwnerAlive: { _, _ in true })
        let standIn = try XCTUnwrap(Router(registry: registry).streamListener(of: .instance(16), virtualPort: 6112, sender: 1))
        let (fd, port) = try XCTUnwrap(TCPSocket.connect(to: HostAddress.loopback(standIn).sockaddr, bindLoopback: true))
        open.append(fd)
        XCTAssertTrue(registry.addSocket(slot: claim.index, virtualPort: 50000, realPort: port, scope: .any, transport: .tcp))
        let preamble = WireHeader(source: address(1), sourcePort: 50000, destination: address(16), destinationPort: 6112,
                                  isBroadcast: false, isStream: true).bytes
        var written = 0
        XCTAssertTrue(run { written += Self.write(fd, preamble[written...]); return written == preamble.count })
        return fd
    }

    /// Host B's listener takes the relayed connection and checks its preamble as the DLL does.
    func accept(_ listener: Int32) throws -> Int32 {
        var accepted: (fd: Int32, from: HostAddress)?
        XCTAssertTrue(run { accepted = TCPSocket.accept(listener); return accepted != nil }, "B's copy gets the connection: \(logs)")
        let (fd, from) = try XCTUnwrap(accepted)
        open.append(fd)
        var preamble: [UInt8] = []
        XCTAssertTrue(run { preamble += Self.read(fd, max: 16 - preamble.count) ?? []; return preamble.count == 16 })
        let verdict = preamble.withUnsafeBytes {
            Router(registry: files[1].registry).checkPreamble($0, realSourcePort: from.port, listener: .init(instance: 16, virtualPort: 6112, scope: .any))
        }
        guard case let .deliver(header) = verdict else { XCTFail("the relayed preamble fails B's check: \(verdict)"); return fd }
        XCTAssertEqual(header.source, address(1))
        XCTAssertEqual(header.sourcePort, 50000)
        return fd
    }

    static func write(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Int {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        return max(0, n)
    }

    /// What is waiting (empty: nothing yet), nil at the end of the stream; errno says why on
    /// an error, `endOfStream` how it ended (0: gracefully, else the error).
    static func read(_ fd: Int32, max: Int = 65536) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: max)
        let n = recv(fd, &buffer, max, Int32(MSG_DONTWAIT))
        if n > 0 { return Array(buffer[..<n]) }
        if n < 0 && errno == EAGAIN { return [] }
        endOfStream = n == 0 ? 0 : errno
        return nil
    }
    nonisolated(unsafe) static var endOfStream: Int32 = -1

    func pattern(_ count: Int, seed: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 * 7 + seed + $0 / 251) } }

    func test_aConnectionToARemoteListenerCarriesBothWaysInOrderAndClosesGracefully() throws {
        let listener = try listeningCopy()
        let client = try connectingCopy()
        let server = try accept(listener)
        let up = pattern(3 << 20, seed: 1), down = pattern(2 << 20, seed: 5)
        var sentUp = 0, sentDown = 0
        var gotUp: [UInt8] = [], gotDown: [UInt8] = []
        XCTAssertTrue(run(rounds: 20000, waitMs: 1) {
            sentUp += Self.write(client, up[sentUp...].prefix(65536))
            sentDown += Self.write(server, down[sentDown...].prefix(65536))
            gotUp += Self.read(server) ?? []
            gotDown += Self.read(client) ?? []
            return gotUp.count == up.count && gotDown.count == down.count
        }, "\(gotUp.count) of \(up.count) up, \(gotDown.count) of \(down.count) down")
        XCTAssertTrue(gotUp == up && gotDown == down, "every byte, in order")
        // A's copy closes its sending side: B's reads the end, then closes: A's reads the end.
        shutdown(client, Int32(SHUT_WR))
        var end: Int32 = -1
        XCTAssertTrue(run { Self.read(server) == nil }, "B's copy reads the end of the stream")
        XCTAssertEqual(Self.endOfStream, 0, "a graceful end, not a reset")
        XCTAssertEqual(Self.write(server, [1, 2, 3]), 3, "and can still send after the other side's half-close")
        shutdown(server, Int32(SHUT_WR))
        var tail: [UInt8] = []
        XCTAssertTrue(run {
            guard let got = Self.read(client) else { return true }
            tail += got
            return false
        })
        end = Self.endOfStream
        XCTAssertEqual(tail, [1, 2, 3])
        XCTAssertEqual(end, 0, "A's copy too reads a graceful end")
        XCTAssertTrue(run { engines.allSatisfy { $0.streams.isEmpty } })
        XCTAssertNil(Self.read(server), "B's copy: the stream is over")
        XCTAssertEqual(Self.endOfStream, 0, "and it ended gracefully: no reset after the two FINs")
        XCTAssertTrue(run { engines.allSatisfy { $0.streams.isEmpty } }, "both bridges let go of the stream")
        XCTAssertEqual(engines.map(\.streamsRelayed), [1, 1])
        XCTAssertEqual(engines.map(\.streamsReset), [0, 0])
        var entries = 0
        files[1].registry.forEachSocket(slot: 1, transport: .tcp) { _, _, _ in entries += 1 }
        XCTAssertEqual(entries, 0, "B's entry for A's copy as the source is gone with the stream")
    }

    func test_aSlowReaderSlowsTheSenderAndNothingIsLost() throws {
        let listener = try listeningCopy()
        let client = try connectingCopy()
        let server = try accept(listener)
        var data = [UInt8](repeating: 0, count: 32 << 20)
        data.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = UInt8(truncatingIfNeeded: i &* 7 &+ i >> 8) } }
        var sent = 0
        // B's copy reads nothing: once the buffers on the way are full, the bridges have
        // nothing left to do and the sender's socket takes no more.
        for _ in 0..<2000 {
            let n = Self.write(client, data[sent...].prefix(65536))
            sent += n
            if !round() && n == 0 { break }
        }
        print("slow reader: the sender stalled after \(sent) bytes")
        XCTAssertLessThan(sent, data.count * 3 / 4, "the sender is held back, not buffered without bound (\(sent) bytes taken)")
        var got: [UInt8] = []
        XCTAssertTrue(run(rounds: 50000, waitMs: 1) {
            sent += Self.write(client, data[sent...].prefix(65536))
            got += Self.read(server) ?? []
            return got.count == data.count
        }, "\(got.count) of \(data.count)")
        XCTAssertTrue(got == data, "every byte, in order")
    }

    func test_aHostThatGoesAwayResetsTheOtherEnd() throws {
        let listener = try listeningCopy()
        let client = try connectingCopy()
        let server = try accept(listener)
        XCTAssertEqual(Self.write(server, [9, 9]), 2)
        var got: [UInt8] = []
        XCTAssertTrue(run { got += Self.read(client) ?? []; return got.count == 2 })
        // Host B's bridge dies: its sockets close the way the kernel closes a dead process's.
        for fd in Set(engines[1].streams.keys) { close(fd) }
        var error: Int32 = 0
        XCTAssertTrue(run {
            if Self.read(client) != nil { return false }
            error = errno
            return true
        }, "A's copy sees the connection end")
        XCTAssertEqual(error, ECONNRESET, "as a reset, not a graceful close")
        XCTAssertNil(Self.read(server), "and B's copy, whose bridge died, sees its end")
        XCTAssertEqual(errno, ECONNRESET, "as a reset too: the dead bridge's sockets closed abortively")
        XCTAssertEqual(engines[0].streamsReset, 1)
        XCTAssertTrue(logs[0].contains { $0.contains("reset: the other host's bridge went away") }, "\(logs[0])")
    }

    func test_aConnectionWhoseListenerIsGoneOnTheOtherHostIsReset() throws {
        let listener = try listeningCopy()
        // B's copy's listening socket is gone (the registry not told yet: a copy that crashed).
        close(listener)
        open.removeAll { $0 == listener }
        let client = try connectingCopy()
        var error: Int32 = 0
        XCTAssertTrue(run {
            if Self.read(client) != nil { return false }
            error = errno
            return true
        })
        XCTAssertEqual(error, ECONNRESET, "the copy that connected sees a reset")
        XCTAssertTrue(logs[1].contains { $0.contains("reset: connect: Connection refused") }, "\(logs[1])")
        XCTAssertTrue(run { engines.allSatisfy { $0.streams.isEmpty } })
    }

    /// A stream whose opening frame is genuine (the key is known here) and whose first chunk
    /// carries a wrong tag: the bridge resets the listener's connection and passes nothing.
    func test_aChunkWithAWrongTagResetsTheStreamAndNothingOfItPasses() throws {
        let listener = try listeningCopy()
        let (a, b) = (engines[0], engines[1])
        let preamble = WireHeader(source: address(1), sourcePort: 50000, destination: address(16), destinationPort: 6112,
                                  isBroadcast: false, isStream: true).bytes
        // A's session, a sequence ahead of A's own: the replay window takes it.
        let frame = try XCTUnwrap(BridgeFrame(kind: .stream, sender: InstanceRange(first: 0, count: 16)!, session: a.session,
                                              sequence: a.sequence + 100, sentAtMs: BridgeEngine.wallClockMs(), body: preamble)
            .sealed(with: LinkKeys(sharedKey: key)))
        let forged: [UInt8] = [3, 0, 1, 2, 3] + [UInt8](repeating: 0, count: StreamSeal.tagSize)
        let bytes = [UInt8(frame.count & 0xFF), UInt8(frame.count >> 8)] + frame + forged
        let (link, _) = try XCTUnwrap(TCPSocket.connect(to: HostAddress.loopback(b.link.port).sockaddr, bindLoopback: false))
        open.append(link)
        var written = 0
        XCTAssertTrue(run { written += Self.write(link, bytes[written...]); return written == bytes.count })
        let server = try accept(listener)
        var got: [UInt8] = [], error: Int32 = 0
        XCTAssertTrue(run {
            guard let more = Self.read(server) else { error = errno; return true }
            got += more
            return false
        })
        XCTAssertEqual(error, ECONNRESET, "the listener's copy sees a reset")
        XCTAssertEqual(got, [], "nothing of the forged chunk")
        XCTAssertTrue(logs[1].contains { $0.contains("failed its tag") }, "\(logs[1])")
    }
}
