import XCTest
import Foundation
import CWineBridge
import HostKit
import VirtualIPCore
@testable import WinsockDetours

/// A socket WSASocket made without WSA_FLAG_OVERLAPPED, and shutdown's receive half while a
/// receive is pending (sock.c's test_nonblocking_async_recv and test_shutdown).
final class SynchronousIOAndShutdownTests: LANTestCase {
    /// An overlapped receive on a socket without WSA_FLAG_OVERLAPPED blocks until its data
    /// comes, even on a non-blocking socket, and returns done. Control: the layer's
    /// `willBlock` must be reached (an overlapped socket answers WSA_IO_PENDING instead, and
    /// the bounded wait for it fails).
    func test_anOverlappedReceiveOnASynchronousSocketWaitsForItsData() {
        let host0 = lan.hosts[0]
        let s = lan.as(0) { ws -> UInt in
            let s = UInt(call("WSASocketA", .int(2), .int(2), .int(17), .ptr(nil as UnsafeRawPointer?), .uint(0), .uint(0)))
            XCTAssertEqual(ws.bind(s, .any, 23800), 0)
            var on: UInt32 = 1
            XCTAssertEqual(Int32(truncatingIfNeeded: call("ioctlsocket", .socket(s), .int(Ioctl.FIONBIO), .ptr(&on))), 0)
            return s
        }
        let entered = DispatchSemaphore(value: 0)
        host0.willBlock = { entered.signal() }
        let op = OverlappedReceive(event: lan.as(0) { $0.createEvent() })
        nonisolated(unsafe) let posted = op, network = lan!
        let outcome = Locked<(Int32, Int32)?>(nil)
        let done = expectation(description: "the receive returned")
        Thread.detachNewThread {
            outcome.value = network.as(0) { _ in posted.post(s) }
            done.fulfill()
        }
        XCTAssertEqual(entered.wait(timeout: .now() + 10), .success, "the receive waits in the call")
        lan.as(1) { ws in XCTAssertEqual(ws.sendto(ws.udpSocket(), [7, 8, 9], lan.address(0), 23800), 3) }
        wait(for: [done], timeout: 10)
        XCTAssertEqual(outcome.value?.0, 0, "done in the call, not WSA_IO_PENDING")
        XCTAssertEqual(op.received, 3)
        XCTAssertEqual(op.overlapped.pointee.Internal, 0, "the OVERLAPPED says done")
        XCTAssertEqual(op.overlapped.pointee.InternalHigh, 3)
        XCTAssertEqual(lan.as(0) { $0.wait([op.overlapped.pointee.hEvent], timeoutMs: 0) }, 0, "its event is set")
    }

    /// shutdown(SD_RECEIVE) with a receive pending: new receives are WSAESHUTDOWN, the
    /// pending one still ends with the peer's bytes. Control: the backing socket's own
    /// SHUT_RD (Linux) would end it with 0 bytes.
    func test_aPendingReceiveOutlivesShutdownOfTheReceiveHalf() {
        let listener = lan.tcpListener(1, port: 6112)
        let (client, accepted) = lan.connection(from: 0, to: 1, listener: listener, port: 6112)
        lan.as(0) { ws in
            let op = OverlappedReceive(event: ws.createEvent())
            XCTAssertEqual(op.post(client).1, WSA.IO_PENDING)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("shutdown", .socket(client), .int(Int32(VL_SD_RECEIVE)))), 0)
            var byte: UInt8 = 0
            XCTAssertEqual(Int32(truncatingIfNeeded: call("recv", .socket(client), .ptr(&byte), .int(1), .int(0))), -1)
            XCTAssertEqual(ws.lastError, WSA.ESHUTDOWN, "a new receive: WSAESHUTDOWN")
            lan.as(1) { XCTAssertEqual($0.send(accepted, Array("test".utf8)), 4) }
            XCTAssertEqual(ws.wait([op.overlapped.pointee.hEvent]), 0)
            let r = op.result(client)
            XCTAssertTrue(r.ok)
            XCTAssertEqual(op.payload(r.bytes), Array("test".utf8), "the pending receive got the bytes")
            let again = OverlappedReceive(event: ws.createEvent())
            XCTAssertEqual(again.post(client).1, WSA.ESHUTDOWN, "a new overlapped receive: WSAESHUTDOWN")
            let bad = Int32(truncatingIfNeeded: call("shutdown", .socket(client), .int(3)))
            XCTAssertEqual(bad, -1)
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "how beyond SD_BOTH: WSAEINVAL")
        }
        lan.as(1) { ws in
            XCTAssertEqual(Int32(truncatingIfNeeded: call("shutdown", .socket(listener), .int(Int32(VL_SD_SEND)))), -1)
            XCTAssertEqual(ws.lastError, WSA.ENOTCONN, "a listener has no connection to shut")
        }
    }
}
