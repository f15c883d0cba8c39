import XCTest
import CWineBridge
@testable import WinsockDetours

/// The lengths a virtual option takes and what getsockopt writes for each, as ws2_32
/// answers them (sock.c's test_set_getsockopt pins the same table on Windows).
final class OptionLengthTests: LANTestCase {
    /// setsockopt with `bytes` as the value and `length` as its length: (result, last error).
    private func set(_ ws: Winsock, _ s: UInt, _ level: Int32, _ name: Int32, _ bytes: [UInt8], length: Int32) -> (Int32, Int32) {
        var value = bytes
        let r = value.withUnsafeMutableBytes {
            Int32(truncatingIfNeeded: call("setsockopt", .socket(s), .int(level), .int(name), .ptr($0.baseAddress), .int(length)))
        }
        return (r, ws.lastError)
    }

    /// getsockopt into 0xEF-filled bytes with `length` given: (result, last error, the bytes, the length after).
    private func get(_ ws: Winsock, _ s: UInt, _ level: Int32, _ name: Int32, length: Int32) -> (Int32, Int32, [UInt8], Int32) {
        var value = [UInt8](repeating: 0xEF, count: 8), size = length
        let r = value.withUnsafeMutableBytes { raw in
            Int32(truncatingIfNeeded: call("getsockopt", .socket(s), .int(level), .int(name), .ptr(raw.baseAddress), .ptr(&size)))
        }
        return (r, ws.lastError, Array(value.prefix(4)), size)
    }

    func test_aBoolTakesAnyLengthAndReadsBackAsWritten() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            let level = Opt.SOL_SOCKET, name = Opt.SO_BROADCAST
            XCTAssertEqual(set(ws, s, level, name, [1, 0, 0, 0], length: 1).0, 0, "one byte is a BOOL too")
            let one = get(ws, s, level, name, length: 1)
            XCTAssertEqual(one.0, 0)
            XCTAssertEqual(one.2, [1, 0xEF, 0xEF, 0xEF], "a 1-byte buffer gets one byte")
            XCTAssertEqual(one.3, 1)
            let two = get(ws, s, level, name, length: 2)
            XCTAssertEqual(two.2, [1, 0, 0xEF, 0xEF], "two bytes written, the length says 1")
            XCTAssertEqual(two.3, 1)
            XCTAssertEqual(get(ws, s, level, name, length: 8).3, 4, "a longer buffer: a BOOL's 4")
            XCTAssertEqual(set(ws, s, level, name, [0, 1, 0, 0], length: 4).0, 0)
            XCTAssertEqual(get(ws, s, level, name, length: 4).2, [1, 0, 0, 0], "0x100 is TRUE, read back as 1")
            XCTAssertEqual(set(ws, s, level, name, [0, 0, 0, 0], length: -1).0, 0, "a negative length reads 4 bytes")
            XCTAssertEqual(get(ws, s, level, name, length: 4).2, [0, 0, 0, 0])
            let unsized = get(ws, s, level, name, length: 0)
            XCTAssertEqual(unsized.0, -1)
            XCTAssertEqual(unsized.1, WSA.EFAULT, "a getsockopt length of 0: WSAEFAULT")
        }
    }

    func test_numbersNeedFourBytesAndTheIPLevelRefusesANegativeLength() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            let short = set(ws, s, Opt.SOL_SOCKET, Opt.SO_RCVTIMEO, [1, 0, 0, 0], length: 2)
            XCTAssertEqual(short.0, -1)
            XCTAssertEqual(short.1, WSA.EFAULT, "SO_RCVTIMEO in 2 bytes: WSAEFAULT")
            XCTAssertEqual(set(ws, s, Opt.SOL_SOCKET, Opt.SO_RCVTIMEO, [0x2C, 1, 0, 0], length: -1).0, 0, "-1 reads as 4")
            XCTAssertEqual(get(ws, s, Opt.SOL_SOCKET, Opt.SO_RCVTIMEO, length: 4).2, [0x2C, 1, 0, 0])
            let buffer = get(ws, s, Opt.SOL_SOCKET, Opt.SO_RCVBUF, length: 2)
            XCTAssertEqual(buffer.1, WSA.EFAULT)
            XCTAssertEqual(buffer.2, [0, 0, 0xEF, 0xEF], "a short SO_RCVBUF buffer is zeroed")
            let loop = Int32(VL_IP_MULTICAST_LOOP)
            let negative = set(ws, s, 0, loop, [1, 0, 0, 0], length: -1)
            XCTAssertEqual(negative.1, WSA.ENOBUFS, "IPPROTO_IP with a negative length: WSAENOBUFS")
            XCTAssertEqual(set(ws, s, 0, loop, [0, 0, 0, 0], length: 1).0, 0)
            let byte = get(ws, s, 0, loop, length: 2)
            XCTAssertEqual(byte.2, [0, 0xEF, 0xEF, 0xEF], "IP_MULTICAST_LOOP in a short buffer: one byte")
            XCTAssertEqual(byte.3, 1)
        }
    }
}
