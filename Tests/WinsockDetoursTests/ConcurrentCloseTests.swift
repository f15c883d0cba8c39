import XCTest
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// closesocket and WSACleanup from other threads while overlapped receives are pending and
/// datagrams keep arriving: every operation ends exactly once, the aborted ones with
/// WSA_OPERATION_ABORTED, and nothing touches freed memory (run under ASan/TSan by
/// scripts/sanitize).
final class ConcurrentCloseTests: LANTestCase {
    override class var instances: Int { 2 }
    override class var startedInstances: Int { 0 }

    func test_closeAndCleanupFromOtherThreadsEndEveryPendingOperation() {
        let victim = lan.hosts[0], sender = lan.hosts[1]
        victim.start()
        sender.start()
        for round in 0..<20 {
            let sockets = (0..<4).map { try! victim.openUDP(port: UInt16(30000 + $0)).get() }
            let ops = (0..<8).map { _ in OverlappedReceive(event: UnsafeMutableRawPointer(mutating: hookWSACreateEvent())) }
            lan.as(0) { _ in
                for (i, op) in ops.enumerated() { XCTAssertEqual(op.post(sockets[i % 4]).1, WSA.IO_PENDING, "round \(round)") }
            }
            let source = try! sender.openUDP(port: 0).get()
            let traffic = DispatchGroup()
            traffic.enter()
            Thread.detachNewThread {
                var byte: UInt8 = 7
                for i in 0..<200 {
                    _ = withUnsafeBytes(of: &byte) { sender.send(source, $0, to: victim.address, port: UInt16(30000 + i % 4)) }
                }
                traffic.leave()
            }
            let closing = DispatchGroup()
            closing.enter()
            Thread.detachNewThread {
                _ = victim.closeSocket(sockets[0])
                _ = victim.closeSocket(sockets[1])
                closing.leave()
            }
            closing.enter()
            Thread.detachNewThread {
                _ = victim.cleanup() // the last WSACleanup closes the rest
                closing.leave()
            }
            closing.wait()
            traffic.wait()
            for op in ops {
                let status = UInt32(truncatingIfNeeded: op.overlapped.pointee.Internal)
                XCTAssertTrue(status == VL_STATUS_SUCCESS || status == VL_STATUS_CANCELLED, String(status, radix: 16))
                let signaled = lan.as(0) { $0.wait([op.overlapped.pointee.hEvent], timeoutMs: 0) }
                XCTAssertEqual(signaled, 0, "every operation ended and said so")
            }
            sender.close(source)
            victim.start()
        }
    }
}
