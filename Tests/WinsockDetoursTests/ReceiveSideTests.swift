import XCTest
import CWineBridge
import HostKit
import VirtualIPCore
@testable import WinsockDetours

/// A datagram socket's receive runs on that socket's receive side, not under the host's
/// lock: a thread inside a receive (its syscall held open here by a platform whose
/// receive waits until the test lets it go) holds up no call on another socket of the
/// instance, and closesocket waits for it before the descriptor goes.
final class ReceiveSideTests: XCTestCase {
    /// The receive the test holds open: the first one on `heldSocket` waits inside the
    /// platform until `release` is signalled.
    nonisolated(unsafe) static var heldSocket: VL_SOCKET = 0
    nonisolated(unsafe) static var original: vl_platform = vl_default_platform().pointee
    static let inside = DispatchSemaphore(value: 0)
    static let release = DispatchSemaphore(value: 0)

    var lan: TestLAN!
    let table = UnsafeMutablePointer<vl_platform>.allocate(capacity: 1)

    override func setUpWithError() throws {
        Self.heldSocket = 0
        table.initialize(to: Self.original)
        table.pointee.receive_frame = { socket, header, buffers, count, flags, received in
            if socket == ReceiveSideTests.heldSocket {
                ReceiveSideTests.heldSocket = 0
                ReceiveSideTests.inside.signal()
                _ = ReceiveSideTests.release.wait(timeout: .now() + 10)
            }
            return ReceiveSideTests.original.receive_frame!(socket, header, buffers, count, flags, received)
        }
        lan = try TestLAN(instances: 2, platform: Platform(table))
        for host in lan.hosts { host.start() }
    }

    override func tearDown() {
        lan.shutdown()
        table.deallocate()
    }

    /// Starts a non-blocking receive on `handle` on another thread and returns once it is
    /// inside the platform's receive; `done` is signalled with its result when it ends.
    func receiveHeld(_ host: VirtualHost, _ handle: UInt, done: @escaping @Sendable (Result<Int, WinsockError>) -> Void) {
        XCTAssertNil(host.setNonBlocking(handle, true))
        Self.heldSocket = VL_SOCKET(handle)
        Thread.detachNewThread {
            var byte: UInt8 = 0
            let result = withUnsafeMutableBytes(of: &byte) { host.receive(handle, into: $0).map(\.count) }
            done(result)
        }
        XCTAssertEqual(Self.inside.wait(timeout: .now() + 10), .success, "the receive reached the platform")
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
        let sent = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var byte: UInt8 = 9
            let result = withUnsafeBytes(of: &byte) { host.send(sender, $0, to: other.address, port: 4002) }
            XCTAssertEqual(try? result.get(), 1)
            sent.signal()
        }
        // The send ends while the receive is still inside the platform.
        XCTAssertEqual(sent.wait(timeout: .now() + 5), .success, "a send on another socket waited for a receive")
        Self.release.signal()
        XCTAssertEqual(received.wait(timeout: .now() + 10), .success)
        var byte: UInt8 = 0
        XCTAssertEqual(withUnsafeMutableBytes(of: &byte) { try? other.receive(sink, into: $0).get().count }, 1)
        XCTAssertEqual(byte, 9)
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
