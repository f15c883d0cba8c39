import XCTest
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// Overlapped WSASend on a virtual TCP socket, as Windows makes it: it never blocks the
/// caller; what the OS cannot take at once waits (WSA_IO_PENDING) and ends on the port when
/// its last byte is taken, the sends in their order; closesocket aborts what still waits.
final class StreamSendTests: LANTestCase {
    override class var instances: Int { 2 }

    /// 32 MiB: far more than loopback's socket buffers hold while nobody reads.
    static let size = 32 << 20

    /// A connected pair: instance 0's client (on a completion port, key 5), instance 1's end.
    func pair() throws -> (client: UInt, accepted: UInt, port: UnsafeMutableRawPointer) {
        let host = lan.tcpListener(1, port: 6112)
        let (client, port) = try lan.as(0) { ws -> (UInt, UnsafeMutableRawPointer) in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.connect(s, lan.address(1), 6112), 0)
            let port = try XCTUnwrap(UnsafeMutableRawPointer(bitPattern: UInt(call("CreateIoCompletionPort", .socket(s), .null, .socket(5), .uint(0)))))
            return (s, port)
        }
        return (client, lan.as(1) { $0.accept(host).0 }, port)
    }

    /// Posts an overlapped WSASend of `buffer`; its result and last error.
    func post(_ ws: Winsock, _ s: UInt, _ buffer: UnsafeMutableRawBufferPointer, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>) -> (Int32, Int32) {
        var one = VL_WSABUF(len: UInt32(buffer.count), buf: buffer.baseAddress!.assumingMemoryBound(to: CChar.self))
        var sent: UInt32 = 0
        let r = Int32(truncatingIfNeeded: call("WSASend", .socket(s), .ptr(&one), .uint(1), .ptr(&sent), .uint(0), .ptr(overlapped), .null))
        return (r, ws.lastError)
    }

    func test_aSendTheOSCannotTakeAtOncePendsAndEndsWhenTheReaderTakesItInOrder() throws {
        let (client, accepted, port) = try pair()
        let first = UnsafeMutableRawBufferPointer.allocate(byteCount: StreamSendTests.size, alignment: 8)
        let second = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        let overlapped = UnsafeMutablePointer<VL_OVERLAPPED>.allocate(capacity: 2)
        defer { first.deallocate(); second.deallocate(); overlapped.deallocate() }
        overlapped.initialize(repeating: VL_OVERLAPPED(), count: 2)
        for i in 0..<first.count { first[i] = UInt8(truncatingIfNeeded: i &* 7 &+ i >> 13) }
        for i in 0..<second.count { second[i] = 0xA5 }
        lan.as(0) { ws in
            XCTAssertEqual(post(ws, client, first, overlapped).0, -1)
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING, "WSA_IO_PENDING: the reader takes nothing yet, the call does not wait")
            XCTAssertEqual(UInt32(overlapped.pointee.Internal), VL_STATUS_PENDING)
            XCTAssertEqual(post(ws, client, second, overlapped + 1).1, WSA.IO_PENDING, "a later send waits behind it")
        }
        // The reader takes everything: the bytes in their order, then both ends on the port.
        var got = [UInt8]()
        got.reserveCapacity(StreamSendTests.size + 4096)
        lan.as(1) { ws in
            while got.count < StreamSendTests.size + 4096, let part = ws.recv(accepted, capacity: 1 << 20), !part.isEmpty { got += part }
        }
        XCTAssertEqual(got.count, StreamSendTests.size + 4096)
        XCTAssertTrue(got.prefix(StreamSendTests.size).elementsEqual(UnsafeRawBufferPointer(first)), "the first send's bytes, whole and in order")
        XCTAssertTrue(got.suffix(4096).allSatisfy { $0 == 0xA5 }, "then the second's")
        for (which, bytes) in [(overlapped, StreamSendTests.size), (overlapped + 1, 4096)] {
            var key: UInt = 0, status: UInt32 = 1, transferred: UInt32 = 0
            var done: UnsafeMutablePointer<VL_OVERLAPPED>?
            XCTAssertEqual(vl_linux_port_take(port, 5000, &key, &done, &status, &transferred), 1)
            XCTAssertEqual([UInt(key), UInt(status), UInt(transferred)], [5, 0, UInt(bytes)])
            XCTAssertEqual(done, which, "the ends in the sends' order")
        }
    }

    func test_closesocketAbortsASendThatWaits() throws {
        let (client, _, port) = try pair()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: StreamSendTests.size, alignment: 8)
        let overlapped = UnsafeMutablePointer<VL_OVERLAPPED>.allocate(capacity: 1)
        defer { buffer.deallocate(); overlapped.deallocate() }
        overlapped.initialize(to: VL_OVERLAPPED())
        lan.as(0) { ws in
            XCTAssertEqual(post(ws, client, buffer, overlapped).1, WSA.IO_PENDING)
            XCTAssertEqual(ws.close(client), 0)
        }
        var key: UInt = 0, status: UInt32 = 0, transferred: UInt32 = 0
        var done: UnsafeMutablePointer<VL_OVERLAPPED>?
        XCTAssertEqual(vl_linux_port_take(port, 5000, &key, &done, &status, &transferred), 1)
        XCTAssertEqual(done, overlapped)
        XCTAssertEqual(WinsockError(ntStatus: status), .operationAborted, "WSA_OPERATION_ABORTED")
        XCTAssertLessThan(transferred, UInt32(StreamSendTests.size), "what was sent before the close")
    }

    func test_aSendThatFitsEndsInTheCall() throws {
        let (client, accepted, port) = try pair()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 100, alignment: 8)
        let overlapped = UnsafeMutablePointer<VL_OVERLAPPED>.allocate(capacity: 1)
        defer { buffer.deallocate(); overlapped.deallocate() }
        overlapped.initialize(to: VL_OVERLAPPED())
        buffer.copyBytes(from: [UInt8](repeating: 7, count: 100))
        lan.as(0) { ws in XCTAssertEqual(post(ws, client, buffer, overlapped).0, 0, "done at once, as Windows when the buffers have room") }
        XCTAssertEqual(UInt32(overlapped.pointee.Internal), VL_STATUS_SUCCESS)
        var key: UInt = 0, status: UInt32 = 1, transferred: UInt32 = 0
        var done: UnsafeMutablePointer<VL_OVERLAPPED>?
        XCTAssertEqual(vl_linux_port_take(port, 5000, &key, &done, &status, &transferred), 1, "and a packet, as without FILE_SKIP_COMPLETION_PORT_ON_SUCCESS")
        XCTAssertEqual(transferred, 100)
        lan.as(1) { XCTAssertEqual($0.recv(accepted, capacity: 200), [UInt8](repeating: 7, count: 100)) }
    }
}
