import XCTest
import Foundation
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// More handles of one virtual socket in the process (WSADuplicateSocket + WSASocket
/// FROM_PROTOCOL_INFO, DuplicateHandle): one socket, which closes with its last handle.
final class DuplicateTests: LANTestCase {
    let pid = UInt32(getpid())

    /// WSADuplicateSocketA's answer for `s` (a WSAPROTOCOL_INFOA's 372 bytes), or the error.
    func duplicateInfo(_ ws: Winsock, _ s: UInt, process: UInt32? = nil) -> ([UInt8], Int32) {
        var info = [UInt8](repeating: 0, count: 372)
        let r = info.withUnsafeMutableBytes { Int32(truncatingIfNeeded: call("WSADuplicateSocketA", .socket(s), .uint(process ?? pid), .ptr($0.baseAddress))) }
        return (info, r == 0 ? 0 : ws.lastError)
    }

    func socket(from info: inout [UInt8]) -> UInt {
        info.withUnsafeMutableBytes { UInt(call("WSASocketA", .int(0), .int(0), .int(0), .ptr($0.baseAddress), .uint(0), .uint(0))) }
    }

    func test_aCopyIsTheSameSocketAndItOutlivesTheOriginal() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            var (info, error) = duplicateInfo(ws, s)
            XCTAssertEqual(error, 0)
            XCTAssertEqual(info.withUnsafeBytes { $0.load(fromByteOffset: 88, as: Int32.self) }, 2, "iSocketType SOCK_DGRAM")
            let copy = socket(from: &info)
            XCTAssertNotEqual(copy, Winsock.invalidSocket)
            XCTAssertNotEqual(copy, s)
            // Bound through the original (after the copy was made): the copy is bound too.
            XCTAssertEqual(ws.bind(s, .any, 7000), 0)
            XCTAssertEqual(ws.sockname(copy), SocketAddress(address: .any, port: 7000))
            XCTAssertEqual(ws.close(s), 0)
            XCTAssertNil(ws.sockname(s), "the closed handle is no socket")
            XCTAssertEqual(ws.lastError, WSA.ENOTSOCK)
        }
        lan.as(1) { ws in
            let s = ws.gameSocket(port: 7001)
            XCTAssertEqual(ws.sendto(s, [9], lan.address(0), 7000), 1)
        }
        lan.as(0) { ws in
            let copy = lan.hosts[0].sockets.values.first!.handles.last!
            XCTAssertEqual(ws.recvfrom(copy).payload, [9], "the copy receives after the original handle closed")
            XCTAssertEqual(ws.close(copy), 0)
            // The last handle closed the socket: its port is free again.
            let again = ws.udpSocket()
            XCTAssertEqual(ws.bind(again, .any, 7000), 0)
        }
    }

    func test_copiesIntoAnotherProcessAndBadArgumentsAreRefused() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(duplicateInfo(ws, s, process: pid &+ 1).1, WSA.EINVAL)
            let r = Int32(truncatingIfNeeded: call("WSADuplicateSocketA", .socket(s), .uint(pid), .ptr(nil)))
            XCTAssertEqual(r, Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EFAULT)
            XCTAssertEqual(duplicateInfo(ws, 12345).1, WSA.ENOTSOCK)
        }
    }

    func test_duplicateHandleWithinTheProcessIsOneMoreHandleThatWinsockDoesNotList() {
        lan.as(0) { ws in
            let s = ws.gameSocket(port: 7100)
            var copy: UnsafeMutableRawPointer?
            let current = UnsafeMutableRawPointer(bitPattern: UInt.max)  // GetCurrentProcess()
            let ok = call("DuplicateHandle", .ptr(current), .socket(s), .ptr(current), .ptr(&copy), .uint(0), .int(0), .uint(2))
            XCTAssertEqual(Int32(truncatingIfNeeded: ok), 1)
            let handle = UInt(bitPattern: copy)
            XCTAssertEqual(ws.sockname(handle), SocketAddress(address: .any, port: 7100))
            XCTAssertEqual(ws.close(s), 0)
            XCTAssertEqual(ws.sockname(handle), SocketAddress(address: .any, port: 7100), "the copy lives on")
            // Winsock's socket list does not have such a copy (as Wine and Windows): closesocket
            // says so, CloseHandle closes it.
            XCTAssertEqual(ws.close(handle), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.ENOTSOCK)
            XCTAssertEqual(call("CloseHandle", .socket(handle)), 1)
            XCTAssertNil(ws.sockname(handle))
        }
    }
}
