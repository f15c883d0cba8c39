import XCTest
import CWineBridge
import HostKit
import VirtualIPCore
@testable import WinsockDetours

/// A datagram socket's receive runs on that socket's receive side, not under the host's
/// lock: a thread inside a receive (a game's, or the readiness thread serving an
/// overlapped one; its syscall held open here by a platform whose receive waits until the
/// test lets it go) holds up no call on another socket of the instance, and closesocket
/// waits for it before the descriptor goes.
final class ReceiveSideTests: WrappedPlatformTestCase {
    /// The receive the test holds open: the first one on `heldSocket` waits inside the
    /// platform until `release` is signalled.
    static let heldSocket = Locked<VL_SOCKET>(0)
    static let inside = DispatchSemaphore(value: 0)
    static let release = DispatchSemaphore(value: 0)

    override func wrap(_ table: inout vl_platform) {
        Self.heldSocket.withLock { $0 = 0 }
        table.receive_frame = { socket, header, buffers, count, flags, timeout, received in
            let held = ReceiveSideTests.heldSocket.withLock { held in
                defer { if held == socket { held = 0 } }
                return held == socket
            }
            if held {
                ReceiveSideTests.inside.signal()
                _ = ReceiveSideTests.release.wait(timeout: .now() + 10)
            }
            return WrappedPlatformTestCase.original.receive_frame!(socket, header, buffers, count, flags, timeout, received)
        }
    }

    /// Starts a non-blocking receive on `handle` on another thread and returns once it is
    /// inside the platform's receive; `done` is signalled with its result when it ends.
    func receiveHeld(_ host: VirtualHost, _ handle: UInt, done: @escaping @Sendable (Result<Int, WinsockError>) -> Void) {
        XCTAssertNil(host.setNonBlocking(handle, true))
        Self.heldSocket.withLock { $0 = VL_SOCKET(handle) }
        Thread.detachNewThread {
            var byte: UInt8 = 0
            let result = withUnsafeMutableBytes(of: &byte) { host.receive(handle, into: $0).map(\.count) }
            done(result)
        }
        XCTAssertEqual(Self.inside.wait(timeout: .now() + 10), .success, "the receive reached the platform")
    }

    /// Sends one byte from `sender` on another thread; the semaphore is signalled when the
    /// send has ended (with one byte sent).
    func sendOnAnotherThread(_ host: VirtualHost, _ sender: UInt, _ byte: UInt8, to address: IPv4Address, port: UInt16) -> DispatchSemaphore {
        let sent = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var value = byte
            XCTAssertEqual(withUnsafeBytes(of: &value) { try? host.send(sender, $0, to: address, port: port).get() }, 1)
            sent.signal()
        }
        return sent
    }

    func test_aReceiveUnderWayHoldsUpNoSendOnAnotherSocket() throws {
        let host = lan.hosts[0], other = lan.hosts[1]
        let receiver = try host.openUDP(port: 4000).get(), sender = try host.openUDP(port: 4001).get()
        let sink = try other.openUDP(port: 4002).get()
        let received = DispatchSemaphore(value: 0)
        receiveHeld(host, receiver) { result in
            if case .failure(.wouldBlock) = result {} else { XCTFail("nothing was queued: \(result)") }
            received.signal()
        }
        let sent = sendOnAnotherThread(host, sender, 9, to: other.address, port: 4002)
        // The send ends while the receive is still inside the platform.
        XCTAssertEqual(sent.wait(timeout: .now() + 5), .success, "a send on another socket waited for a receive")
        Self.release.signal()
        XCTAssertEqual(received.wait(timeout: .now() + 10), .success)
        var byte: UInt8 = 0
        XCTAssertEqual(withUnsafeMutableBytes(of: &byte) { try? other.receive(sink, into: $0).get().count }, 1)
        XCTAssertEqual(byte, 9)
    }

    func test_theReadinessThreadServingAReceiveHoldsUpNoSendOnAnotherSocket() throws {
        let host = lan.hosts[0], other = lan.hosts[1]
        let receiver = try host.openUDP(port: 4020).get(), sender = try host.openUDP(port: 4021).get()
        let peer = try other.openUDP(port: 4022).get()
        let op = OverlappedReceive(event: UnsafeMutableRawPointer(mutating: hookWSACreateEvent()))
        XCTAssertEqual(lan.as(0) { _ in op.post(receiver).1 }, WSA.IO_PENDING)
        // The datagram that comes now is taken by the readiness thread, held inside the platform.
        Self.heldSocket.withLock { $0 = VL_SOCKET(receiver) }
        var byte: UInt8 = 5
        XCTAssertEqual(withUnsafeBytes(of: &byte) { try? other.send(peer, $0, to: host.address, port: 4020).get() }, 1)
        XCTAssertEqual(Self.inside.wait(timeout: .now() + 10), .success, "the readiness thread took the datagram")
        let sent = sendOnAnotherThread(host, sender, 6, to: other.address, port: 4022)
        XCTAssertEqual(sent.wait(timeout: .now() + 5), .success, "a send on another socket waited for the readiness thread's receive")
        Self.release.signal()
        XCTAssertEqual(lan.as(0) { $0.wait([op.overlapped.pointee.hEvent], timeoutMs: 10_000) }, 0, "the receive completed")
        XCTAssertEqual(lan.as(0) { _ in op.result(receiver).bytes }, 1)
        XCTAssertEqual(op.buffer[0], 5)
    }

    func test_postingAnOverlappedReceiveHoldsUpNoSendOnAnotherSocket() throws {
        let host = lan.hosts[0], other = lan.hosts[1], lan = self.lan!
        let receiver = try host.openUDP(port: 4030).get(), sender = try host.openUDP(port: 4031).get()
        let peer = try other.openUDP(port: 4032).get()
        let op = OverlappedReceive(event: UnsafeMutableRawPointer(mutating: hookWSACreateEvent()))
        // The receive's first try, in the call that posts it, is held inside the platform.
        Self.heldSocket.withLock { $0 = VL_SOCKET(receiver) }
        let posted = Locked<Int32>(0), postReturned = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let posting = op  // the test's thread reads it only after the post returned
        Thread.detachNewThread {
            let error = lan.as(0) { _ in posting.post(receiver).1 }
            posted.withLock { $0 = error }
            postReturned.signal()
        }
        XCTAssertEqual(Self.inside.wait(timeout: .now() + 10), .success, "the post tried the receive at once")
        let sent = sendOnAnotherThread(host, sender, 6, to: other.address, port: 4032)
        XCTAssertEqual(sent.wait(timeout: .now() + 5), .success, "a send on another socket waited for a receive being posted")
        Self.release.signal()
        XCTAssertEqual(postReturned.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(posted.withLock { $0 }, WSA.IO_PENDING)
        // Queued after its first try: the next datagram completes it.
        var byte: UInt8 = 7
        XCTAssertEqual(withUnsafeBytes(of: &byte) { try? other.send(peer, $0, to: host.address, port: 4030).get() }, 1)
        XCTAssertEqual(lan.as(0) { $0.wait([op.overlapped.pointee.hEvent], timeoutMs: 10_000) }, 0, "the receive completed")
        XCTAssertEqual(lan.as(0) { _ in op.result(receiver).bytes }, 1)
        XCTAssertEqual(op.buffer[0], 7)
    }

    func test_closesocketWaitsForAReceiveUnderWayBeforeItsDescriptorGoes() throws {
        let host = lan.hosts[0]
        let receiver = try host.openUDP(port: 4010).get()
        let outcome = Locked<Result<Int, WinsockError>?>(nil)
        let received = DispatchSemaphore(value: 0)
        receiveHeld(host, receiver) { result in
            outcome.withLock { $0 = result }
            received.signal()
        }
        let closed = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            XCTAssertNil(host.closeSocket(receiver))
            closed.signal()
        }
        // closesocket cannot end the receive side while the receive is inside it.
        XCTAssertEqual(closed.wait(timeout: .now() + 0.3), .timedOut, "closesocket ended before the receive under way")
        Self.release.signal()
        XCTAssertEqual(received.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(closed.wait(timeout: .now() + 10), .success)
        // The receive ran on its own descriptor, still open: nothing queued, not a closed socket.
        guard case .failure(.wouldBlock)? = outcome.withLock({ $0 }) else {
            return XCTFail("the receive met a closed descriptor: \(String(describing: outcome.withLock { $0 }))")
        }
        var byte: UInt8 = 0
        guard case .failure(.notSocket) = withUnsafeMutableBytes(of: &byte, { host.receive(receiver, into: $0) }) else {
            return XCTFail("a receive after the close")
        }
    }
}
