import Foundation
import HostKit
import XCTest
@testable import VirtualLANBridge

/// A relay's join of two connections (SplicedStream), on two socket pairs: the first bytes,
/// then both directions as they come; an end passes on as an end, a reset as a reset.
final class SplicedStreamTests: XCTestCase {
    /// (the relay's end, the host's end) of a connected pair of stream sockets.
    func pair() -> (relay: Int32, host: Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        return (fds[0], fds[1])
    }

    func write(_ fd: Int32, _ bytes: [UInt8]) { XCTAssertEqual(bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }, bytes.count) }

    func read(_ fd: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 1024)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return n >= 0 ? Array(buffer[..<n]) : nil
    }

    func test_theFirstBytesThenBothWaysThenTheEndsPassOn() {
        let (a, connecting) = pair(), (b, listening) = pair()
        defer { [connecting, listening].forEach { close($0) } }
        let splice = SplicedStream(a: a, b: b, first: [1, 2])
        write(connecting, [3, 4])
        XCTAssertEqual(splice.pump(), .waiting)
        XCTAssertEqual(read(listening), [1, 2, 3, 4], "the opening bytes first, then what came")
        write(listening, [9])
        XCTAssertEqual(splice.pump(), .waiting)
        XCTAssertEqual(read(connecting), [9])
        shutdown(connecting, Int32(SHUT_WR))
        XCTAssertEqual(splice.pump(), .waiting, "one direction ended, the other still open")
        XCTAssertEqual(read(listening), [], "the end passed on: the listener's side reads 0")
        write(listening, [7])
        shutdown(listening, Int32(SHUT_WR))
        XCTAssertEqual(splice.pump(), .finished)
        XCTAssertEqual(read(connecting), [7])
        XCTAssertEqual(read(connecting), [])
        [a, b].forEach { close($0) }
    }

    func test_aFailedSideFailsTheJoin() {
        let (a, connecting) = pair(), (b, listening) = pair()
        defer { [a, b, listening].forEach { close($0) } }
        let splice = SplicedStream(a: a, b: b, first: [])
        write(listening, [5])   // unread by the connecting side when it goes
        close(connecting)
        XCTAssertEqual(splice.pump(), .failed("the connecting host's link failed (Broken pipe)"),
                       "writing to a side that is gone fails the join; the engine then resets both")
    }
}
