import XCTest
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// Completion ports, ReadFile and WriteFile on virtual sockets, through the hook table (the
/// conformance program checks the same under Wine against plain Wine: iocp.*, file.*).
final class CompletionPortTests: LANTestCase {
    override class var instances: Int { 1 }

    private struct Packet: Equatable { let key: UInt; let overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?; let status: UInt32; let bytes: UInt32 }

    private func take(_ port: UnsafeMutableRawPointer, timeoutMs: Int32 = 2000) -> Packet? {
        var key: UInt = 0, status: UInt32 = 0, bytes: UInt32 = 0
        var overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?
        guard vl_linux_port_take(port, timeoutMs, &key, &overlapped, &status, &bytes) == 1 else { return nil }
        return Packet(key: key, overlapped: overlapped, status: status, bytes: bytes)
    }

    private func associate(_ s: UInt, _ port: UnsafeMutableRawPointer?, key: UInt) -> UnsafeMutableRawPointer? {
        UnsafeMutableRawPointer(bitPattern: UInt(call("CreateIoCompletionPort", .socket(s), .ptr(port), .socket(key), .uint(0))))
    }

    func test_aSocketOnAPortPostsItsCompletionsThereWithTheirStatus() throws {
        try lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 0), 0)
            let port = try XCTUnwrap(associate(s, nil, key: 77), "a new port")
            XCTAssertNil(associate(s, port, key: 78), "a second association is refused")
            XCTAssertEqual(ws.lastError, 87)
            let other = ws.udpSocket()
            XCTAssertNil(associate(other, UnsafeMutableRawPointer(bitPattern: 0x7ff8), key: 1), "a port that is none")
            XCTAssertEqual(ws.lastError, 6)
            XCTAssertNil(take(port, timeoutMs: 0), "nothing yet")

            let pending = OverlappedReceive(event: nil)
            XCTAssertEqual(pending.post(s).1, WSA.IO_PENDING)
            let selfPort = try XCTUnwrap(ws.sockname(s)?.port)
            XCTAssertEqual(ws.sendto(other, [1, 2, 3, 4], lan.address(0), selfPort), 4)
            XCTAssertEqual(take(port), Packet(key: 77, overlapped: pending.overlapped, status: 0, bytes: 4))

            let truncated = OverlappedReceive(event: nil)
            XCTAssertEqual(truncated.post(s, capacity: 2).1, WSA.IO_PENDING)
            XCTAssertEqual(ws.sendto(other, [1, 2, 3, 4, 5], lan.address(0), selfPort), 5)
            XCTAssertEqual(take(port), Packet(key: 77, overlapped: truncated.overlapped, status: VL_STATUS_BUFFER_OVERFLOW, bytes: 2))

            let cancelled = OverlappedReceive(event: nil)
            XCTAssertEqual(cancelled.post(s).1, WSA.IO_PENDING)
            XCTAssertEqual(call("CancelIoEx", .socket(s), .ptr(cancelled.overlapped)), 1)
            XCTAssertEqual(take(port), Packet(key: 77, overlapped: cancelled.overlapped, status: VL_STATUS_CANCELLED, bytes: 0))

            // Done at once: a packet too, unless FILE_SKIP_COMPLETION_PORT_ON_SUCCESS.
            XCTAssertEqual(ws.sendto(other, [9], lan.address(0), selfPort), 1)
            XCTAssertEqual(ws.bytesReadable(s), 1)
            let atOnce = OverlappedReceive(event: nil)
            XCTAssertEqual(atOnce.post(s).0, 0)
            XCTAssertEqual(take(port), Packet(key: 77, overlapped: atOnce.overlapped, status: 0, bytes: 1))
            XCTAssertEqual(call("SetFileCompletionNotificationModes", .socket(s), .uint(1)), 1)
            XCTAssertEqual(ws.sendto(other, [8], lan.address(0), selfPort), 1)
            XCTAssertEqual(ws.bytesReadable(s), 1)
            let skipped = OverlappedReceive(event: nil)
            XCTAssertEqual(skipped.post(s).0, 0)
            XCTAssertNil(take(port, timeoutMs: 100), "skipped on success")
            let late = OverlappedReceive(event: nil)
            XCTAssertEqual(late.post(s).1, WSA.IO_PENDING)
            XCTAssertEqual(ws.sendto(other, [7], lan.address(0), selfPort), 1)
            XCTAssertEqual(take(port)?.overlapped, late.overlapped, "a pending one still posts")

            // An event with its low bit set: signalled, no packet.
            let event = ws.createEvent()
            let quiet = OverlappedReceive(event: UnsafeMutableRawPointer(bitPattern: UInt(bitPattern: event) | 1))
            XCTAssertEqual(quiet.post(s).1, WSA.IO_PENDING)
            XCTAssertEqual(ws.sendto(other, [6], lan.address(0), selfPort), 1)
            XCTAssertEqual(ws.wait([event]), 0)
            XCTAssertNil(take(port, timeoutMs: 100))

            let atClose = OverlappedReceive(event: nil)
            XCTAssertEqual(atClose.post(s).1, WSA.IO_PENDING)
            XCTAssertEqual(ws.close(s), 0)
            XCTAssertEqual(take(port), Packet(key: 77, overlapped: atClose.overlapped, status: VL_STATUS_CANCELLED, bytes: 0),
                           "closesocket aborts with WSA_OPERATION_ABORTED, as Windows documents")
        }
    }

    /// An OVERLAPPED without an event: GetOverlappedResult(Ex) waits on the socket's handle
    /// event (Windows waits on the handle); a timeout is WAIT_TIMEOUT.
    func test_getOverlappedResultWithoutAnEventWaitsForTheHandle() throws {
        try lan.as(0) { ws in
            let s = ws.udpSocket(), other = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 0), 0)
            let port = try XCTUnwrap(ws.sockname(s)?.port)
            let op = OverlappedReceive(event: nil)
            XCTAssertEqual(op.post(s).1, WSA.IO_PENDING)
            var transferred: UInt32 = 0
            XCTAssertEqual(call("GetOverlappedResultEx", .socket(s), .ptr(op.overlapped), .ptr(&transferred), .uint(50), .int(0)), 0)
            XCTAssertEqual(ws.lastError, 258, "nothing came: WAIT_TIMEOUT")
            XCTAssertEqual(ws.sendto(other, [1, 2, 3], lan.address(0), port), 3)
            XCTAssertEqual(call("GetOverlappedResult", .socket(s), .ptr(op.overlapped), .ptr(&transferred), .int(1)), 1)
            XCTAssertEqual(transferred, 3)
            let again = OverlappedReceive(event: nil)
            XCTAssertEqual(again.post(s).1, WSA.IO_PENDING)
            let to = lan.address(0)
            let sender = Thread { _ = ws.sendto(other, [4, 5], to, port) }
            sender.start()
            XCTAssertEqual(again.result(s, wait: true).bytes, 2, "WSAGetOverlappedResult waits too")
        }
    }

    func test_readFileAndWriteFileAreAReceiveAndASendOfOneBuffer() throws {
        try lan.as(0) { ws in
            let a = ws.udpSocket(), b = ws.udpSocket()
            XCTAssertEqual(ws.bind(a, .any, 0), 0)
            XCTAssertEqual(ws.bind(b, .any, 0), 0)
            let aPort = try XCTUnwrap(ws.sockname(a)?.port), bPort = try XCTUnwrap(ws.sockname(b)?.port)
            var written: UInt32 = 0
            // The bytes sent must outlive each call's arguments: one buffer, filled before each.
            let out = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 16)
            defer { out.deallocate() }
            func text(_ t: String) -> UnsafeMutablePointer<UInt8> { _ = out.initialize(from: Array(t.utf8)); return out.baseAddress! }
            XCTAssertEqual(call("WriteFile", .socket(a), .ptr(text("x")), .uint(1), .ptr(&written), .ptr(nil as UnsafeRawPointer?)), 0)
            XCTAssertEqual(ws.lastError, 87, "not connected: ERROR_INVALID_PARAMETER, as measured")
            var toB = ws.sockaddr(lan.address(0), bPort), toA = ws.sockaddr(lan.address(0), aPort)
            XCTAssertEqual(call("connect", .socket(a), .ptr(&toB), .int(16)), 0)
            XCTAssertEqual(call("connect", .socket(b), .ptr(&toA), .int(16)), 0)
            XCTAssertEqual(call("WriteFile", .socket(a), .ptr(text("file")), .uint(4), .ptr(&written), .ptr(nil as UnsafeRawPointer?)), 1)
            XCTAssertEqual(written, 4)
            let storage = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 16)
            defer { storage.deallocate() }
            storage.initialize(repeating: 0)
            let buffer = storage.baseAddress!
            var read: UInt32 = 0
            XCTAssertEqual(call("ReadFile", .socket(b), .ptr(buffer), .uint(16), .ptr(&read), .ptr(nil as UnsafeRawPointer?)), 1)
            XCTAssertEqual(Array(storage.prefix(Int(read))), Array("file".utf8), "the payload, never our header")
            XCTAssertEqual(call("WriteFile", .socket(a), .ptr(text("longer")), .uint(6), .ptr(&written), .ptr(nil as UnsafeRawPointer?)), 1)
            XCTAssertEqual(call("ReadFile", .socket(b), .ptr(buffer), .uint(2), .ptr(&read), .ptr(nil as UnsafeRawPointer?)), 0)
            XCTAssertEqual(ws.lastError, 234, "ERROR_MORE_DATA")
            XCTAssertEqual(read, 2)
            XCTAssertEqual(ws.nonBlocking(b), 0)
            XCTAssertEqual(call("ReadFile", .socket(b), .ptr(buffer), .uint(16), .ptr(&read), .ptr(nil as UnsafeRawPointer?)), 0)
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK, "a non-blocking socket does not wait")

            let event = ws.createEvent()
            let overlapped = UnsafeMutablePointer<VL_OVERLAPPED>.allocate(capacity: 1)
            defer { overlapped.deallocate() }
            overlapped.initialize(to: VL_OVERLAPPED())
            overlapped.pointee.hEvent = event
            XCTAssertEqual(call("ReadFile", .socket(b), .ptr(buffer), .uint(16), .ptr(&read), .ptr(overlapped)), 0)
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING)
            XCTAssertEqual(call("WriteFile", .socket(a), .ptr(text("later")), .uint(5), .ptr(&written), .ptr(nil as UnsafeRawPointer?)), 1)
            XCTAssertEqual(ws.wait([event]), 0)
            XCTAssertEqual(overlapped.pointee.InternalHigh, 5)
            XCTAssertEqual(Array(storage.prefix(5)), Array("later".utf8))
        }
    }
}
