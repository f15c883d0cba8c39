import XCTest
import Glibc
import CWineBridge
import HostKit
import VirtualIPCore
@testable import WinsockDetours

/// Garbage and spoofed frames at the backing ports while two instances talk: the game sees
/// exactly the genuine traffic, and every bad frame is counted by its reason.
/// This process's resident memory (/proc/self/statm), in bytes.
func residentBytes() -> Int {
    let fields = ((try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "").split(separator: " ")
    return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

final class FloodTests: LANTestCase {
    override class var instances: Int { 3 }

    func test_interleavedFloodChangesNothingTheGameSeesAndIsCountedExactly() {
        let a = lan.as(0) { $0.gameSocket(port: 23756) }
        let b = lan.as(1) { ws -> UInt in
            let s = ws.gameSocket(port: 23756)
            XCTAssertEqual(ws.nonBlocking(s), 0)
            return s
        }
        let attacker = RawLoopbackSocket()
        let target = lan.hosts[1].sockets[b]!.realPort
        let spoofed = WireHeader(source: lan.address(0), sourcePort: 23756, destination: lan.address(1),
                                 destinationPort: 23756, isBroadcast: false).bytes
        var garbage = [UInt8](repeating: 0, count: 48)
        var oldVersion = spoofed
        oldVersion[2] = 0
        let rounds = 1000
        for i in 0..<rounds {
            // Three bad frames in front of every genuine one.
            garbage[i % garbage.count] &+= 1
            attacker.send(garbage, toRealPort: target)
            attacker.send(spoofed + [UInt8(truncatingIfNeeded: i)], toRealPort: target)
            attacker.send(oldVersion, toRealPort: target)
            let payload = Array("genuine \(i)".utf8)
            lan.as(0) { ws in XCTAssertEqual(ws.sendto(a, payload, lan.address(1), 23756), Int32(payload.count)) }
            let r = lan.as(1) { $0.recvfrom(b) }
            XCTAssertEqual(r.payload, payload, "round \(i)")
            XCTAssertEqual(r.from, SocketAddress(address: lan.address(0), port: 23756))
        }
        lan.as(1) { ws in
            XCTAssertEqual(ws.recvfrom(b).result, Winsock.socketError, "nothing else reached the game")
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK)
        }
        let counters = lan.registry.counters(ofSlot: 1)
        XCTAssertEqual(counters.rxDatagrams, UInt32(rounds))
        XCTAssertEqual(counters.drops(.spoofedSource), UInt32(rounds), "valid header claiming instance 0 from an unregistered port")
        XCTAssertEqual(counters.drops(.unsupportedVersion), UInt32(rounds))
        XCTAssertEqual(counters.drops(.malformed), UInt32(rounds))
    }

    func test_concurrentFloodNeverDeliversABadFrame() {
        let a = lan.as(0) { $0.gameSocket(port: 23756) }
        let b = lan.as(1) { $0.gameSocket(port: 23756) }
        let target = lan.hosts[1].sockets[b]!.realPort
        let host1 = lan.hosts[1]
        let lan = self.lan!
        let residentBefore = residentBytes()
        let flooding = DispatchGroup()
        flooding.enter()
        Thread.detachNewThread {
            let attacker = RawLoopbackSocket()
            // 20k frames of 1.2 KB: 24 MB if anything kept them.
            var frame = WireHeader(source: lan.address(2), sourcePort: 23756, destination: lan.address(1),
                                   destinationPort: 23756, isBroadcast: false).bytes + [UInt8](repeating: 0xBA, count: 1184)
            for i in 0..<20_000 {
                frame[Int(i % 18)] &+= 1
                attacker.send(frame, toRealPort: target)
            }
            flooding.leave()
        }
        // Meanwhile instance 0 sends 500 numbered datagrams; everything instance 1 gets must
        // be one of them, intact, from instance 0, in order (the kernel may drop some when the
        // flood fills the buffer: that is the socket buffer's loss, not ours).
        // The receiver counts in locals and publishes once, before it signals `done`.
        let receivedCount = Locked(0)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var lastSeen = -1
            var received = 0
            var buffer = [UInt8](repeating: 0, count: 64)
            while true {
                let r = buffer.withUnsafeMutableBytes { host1.receive(b, into: $0) }
                guard case let .success(got) = r else { break }
                let text = String(decoding: buffer.prefix(got.count), as: UTF8.self)
                if text == "end" { break }
                guard got.address == lan.address(0), got.port == 23756, text.hasPrefix("n "), let n = Int(text.dropFirst(2)) else {
                    XCTFail("a bad frame reached the game: \(text) from \(got.address.dotted):\(got.port)")
                    continue
                }
                XCTAssertGreaterThan(n, lastSeen)
                lastSeen = n
                received += 1
            }
            receivedCount.value = received
            done.signal()
        }
        lan.as(0) { ws in
            for i in 0..<500 { _ = ws.sendto(a, Array("n \(i)".utf8), lan.address(1), 23756) }
        }
        flooding.wait()
        // The end marker may itself be lost to a buffer the flood filled: repeat it (bounded).
        var ended = false
        for _ in 0..<20 where !ended {
            lan.as(0) { ws in XCTAssertEqual(ws.sendto(a, Array("end".utf8), lan.address(1), 23756), 3) }
            ended = done.wait(timeout: .now() + 0.5) == .success
        }
        if !ended {
            lan.as(1) { ws in _ = ws.close(b) }
            done.wait()
        }
        // Bad frames cost a counter increment, never a queue entry: memory stays bounded (the
        // bound leaves room for XCTest's own bookkeeping, far below what keeping them would take).
        // Under a sanitizer (scripts/sanitize sets its options) freed memory sits in a quarantine:
        // resident size says nothing there.
        let sanitized = ["ASAN_OPTIONS", "TSAN_OPTIONS"].contains { ProcessInfo.processInfo.environment[$0] != nil }
        if !sanitized {
            XCTAssertLessThan(residentBytes() - residentBefore, 8 << 20, "resident memory growth during the flood")
        }
        let counters = lan.registry.counters(ofSlot: 1)
        XCTAssertGreaterThan(receivedCount.value, 0)
        XCTAssertGreaterThan(counters.drops(.spoofedSource) + counters.drops(.malformed) + counters.drops(.unsupportedVersion)
                             + counters.drops(.misdirected) + counters.drops(.unknownSource), 0)
    }
}
