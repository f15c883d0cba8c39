import XCTest
import CWineBridge
import HostKit
import VirtualIPCore
@testable import WinsockDetours

/// A blocking receive waits inside the OS, off the socket's receive side; a peek (select,
/// FIONREAD, MSG_PEEK) that saw a frame the game will never get discards it. The two must
/// not meet: if the blocking take took that frame between the peek and the discard, the
/// discard would take the next one, a datagram the game should get. The platform here
/// holds each step at a gate until the test opens it, to make exactly that order.
final class PeekDiscardTests: WrappedPlatformTestCase {
    static let receiver = Locked<VL_SOCKET>(0)
    static let takes = Locked<Int>(0)
    /// The blocking take's first and second OS calls, and the peek, each wait at a gate.
    static let takeArrived = [DispatchSemaphore(value: 0), DispatchSemaphore(value: 0)]
    static let takeGo = [DispatchSemaphore(value: 0), DispatchSemaphore(value: 0)]
    static let peekArrived = DispatchSemaphore(value: 0)
    static let peekGo = DispatchSemaphore(value: 0)

    override func wrap(_ table: inout vl_platform) {
        Self.receiver.withLock { $0 = 0 }
        Self.takes.withLock { $0 = 0 }
        table.receive_frame = { socket, header, buffers, count, flags, timeout, received in
            if socket == PeekDiscardTests.receiver.withLock({ $0 }), flags & Int32(VL_RECEIVE_BLOCKING) != 0 {
                let call = PeekDiscardTests.takes.withLock { calls in
                    defer { calls += 1 }
                    return calls
                }
                if call < 2 {
                    PeekDiscardTests.takeArrived[call].signal()
                    _ = PeekDiscardTests.takeGo[call].wait(timeout: .now() + 10)
                }
            }
            return WrappedPlatformTestCase.original.receive_frame!(socket, header, buffers, count, flags, timeout, received)
        }
        table.peek_frame = { socket, header, received in
            let result = WrappedPlatformTestCase.original.peek_frame!(socket, header, received)
            if socket == PeekDiscardTests.receiver.withLock({ $0 }) {
                PeekDiscardTests.peekArrived.signal()
                _ = PeekDiscardTests.peekGo.wait(timeout: .now() + 10)
            }
            return result
        }
    }

    func test_aPeekNeverDiscardsADatagramABlockingTakeLeftBehind() throws {
        let host = lan.hosts[0], other = lan.hosts[1]
        let receiver = try host.openUDP(port: 4050).get()
        let peer = try other.openUDP(port: 4051).get(), stranger = try other.openUDP(port: 4052).get()
        // Connected to `peer`: a datagram from `stranger` is one the game will never get.
        var name = VL_SOCKADDR_IN(sin_family: 2, sin_port: UInt16(4051).bigEndian, sin_addr: other.address.networkOrder,
                                  sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        XCTAssertNil(host.connect(receiver, &name, 16))
        var skipped: UInt8 = 1, wanted: UInt8 = 2
        XCTAssertEqual(withUnsafeBytes(of: &skipped) { try? other.send(stranger, $0, to: host.address, port: 4050).get() }, 1)
        XCTAssertEqual(withUnsafeBytes(of: &wanted) { try? other.send(peer, $0, to: host.address, port: 4050).get() }, 1)
        Self.receiver.withLock { $0 = VL_SOCKET(receiver) }

        // A blocking receive reaches the OS (held before its first take).
        let got = Locked<UInt8?>(nil), returned = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var byte: UInt8 = 0
            let result = withUnsafeMutableBytes(of: &byte) { host.receive(receiver, into: $0) }
            if case .success = result { got.withLock { $0 = byte } }
            returned.signal()
        }
        XCTAssertEqual(Self.takeArrived[0].wait(timeout: .now() + 10), .success, "the blocking receive reached the OS")
        // select's look peeks the stranger's datagram (held before it decides).
        let looked = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = host.datagramQueued(receiver, looking: true)
            looked.signal()
        }
        XCTAssertEqual(Self.peekArrived.wait(timeout: .now() + 10), .success, "select peeked")
        // The blocking take takes the stranger's datagram, skips it, and goes for the next.
        Self.takeGo[0].signal()
        XCTAssertEqual(Self.takeArrived[1].wait(timeout: .now() + 10), .success, "the blocking take went on")
        // Now the peek decides; then the take goes on.
        Self.peekGo.signal()
        XCTAssertEqual(looked.wait(timeout: .now() + 10), .success)
        Self.takeGo[1].signal()
        if returned.wait(timeout: .now() + 5) == .timedOut {
            XCTFail("the peer's datagram was discarded: the blocking receive still waits")
            // Let it end: one more datagram from the peer.
            var more: UInt8 = 3
            _ = withUnsafeBytes(of: &more) { other.send(peer, $0, to: host.address, port: 4050) }
            XCTAssertEqual(returned.wait(timeout: .now() + 10), .success)
        }
        XCTAssertEqual(got.withLock { $0 }, wanted, "the blocking receive got the peer's datagram")
    }
}
