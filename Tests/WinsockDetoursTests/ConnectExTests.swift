import XCTest
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// ConnectEx on virtual TCP sockets, from the pointer WSAIoctl hands out, as IOCP games
/// call it: bound first, the first bytes sent with the connect, the end on the socket's
/// completion port. Windows' answers: FALSE with WSA_IO_PENDING for the handshake, the end
/// in the OVERLAPPED; WSAEINVAL for an unbound socket or no OVERLAPPED.
final class ConnectExTests: LANTestCase {
    override class var instances: Int { 2 }

    typealias ConnectEx = @convention(c) (UInt, UnsafePointer<VL_SOCKADDR_IN>?, Int32, UnsafeRawPointer?, UInt32,
                                          UnsafeMutablePointer<UInt32>?, UnsafeMutablePointer<VL_OVERLAPPED>?) -> Int32

    static let connectExID: [UInt8] = [0xB9, 0x07, 0xA2, 0x25, 0xF3, 0xDD, 0x60, 0x46, 0x8E, 0xE9, 0x76, 0xE5, 0x8C, 0x74, 0x06, 0x3E]

    /// WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, WSAID_CONNECTEX): nil when refused.
    static func connectEx(_ s: UInt) -> ConnectEx? {
        guard let pointer = extensionFunction(s, connectExID) else { return nil }
        XCTAssertEqual(pointer, Platform.default.extensionEntries.connectEx, "the platform's ConnectEx entry")
        return unsafeBitCast(pointer, to: ConnectEx.self)
    }

    func connectEx(_ s: UInt) -> ConnectEx? { ConnectExTests.connectEx(s) }

    func listener(_ instance: Int, port: UInt16) -> UInt { lan.tcpListener(instance, port: port) }

    func test_connectExConnectsSendsTheFirstBytesAndPostsItsEndOnThePort() throws {
        let host = listener(1, port: 6112)
        let overlapped = UnsafeMutablePointer<VL_OVERLAPPED>.allocate(capacity: 1)
        defer { overlapped.deallocate() }
        overlapped.initialize(to: VL_OVERLAPPED())
        let client = try lan.as(0) { ws -> UInt in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.bind(s, .any, 0), 0, "ConnectEx needs a bound socket")
            let port = try XCTUnwrap(UnsafeMutableRawPointer(bitPattern: UInt(call("CreateIoCompletionPort", .socket(s), .null, .socket(9), .uint(0)))))
            let function = try XCTUnwrap(connectEx(s))
            var to = ws.sockaddr(lan.address(1), 6112)
            var hello: [UInt8] = Array("hello".utf8)
            var sent: UInt32 = 0
            overlapped.pointee.hEvent = ws.createEvent()
            XCTAssertEqual(function(s, &to, 16, &hello, 5, &sent, overlapped), 0, "FALSE, as for any TCP handshake")
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING, "WSA_IO_PENDING")
            XCTAssertEqual(overlapped.pointee.Internal, UInt(VL_STATUS_SUCCESS), "and done: connected, the first bytes sent")
            XCTAssertEqual(overlapped.pointee.InternalHigh, 5)
            XCTAssertEqual(ws.wait([overlapped.pointee.hEvent], timeoutMs: 0), 0, "its event is set")
            var key: UInt = 0, status: UInt32 = 1, bytes: UInt32 = 0
            var done: UnsafeMutablePointer<VL_OVERLAPPED>?
            XCTAssertEqual(vl_linux_port_take(port, 2000, &key, &done, &status, &bytes), 1, "a packet on the socket's port")
            XCTAssertEqual([UInt(key), UInt(status), UInt(bytes)], [9, 0, 5])
            XCTAssertEqual(done, overlapped)
            XCTAssertEqual(ws.peername(s), SocketAddress(address: lan.address(1), port: 6112))
            XCTAssertEqual(Int32(truncatingIfNeeded: call("setsockopt", .socket(s), .int(Opt.SOL_SOCKET), .int(Opt.SO_UPDATE_CONNECT_CONTEXT), .null, .int(0))), 0,
                           "SO_UPDATE_CONNECT_CONTEXT, as the game calls it next")
            return s
        }
        let (accepted, from) = lan.as(1) { $0.accept(host) }
        XCTAssertEqual(from?.address, lan.address(0), "the host sees the client's virtual address")
        lan.as(1) { XCTAssertEqual($0.recv(accepted, capacity: 64), Array("hello".utf8), "the first bytes, after our preamble") }
        lan.as(0) { XCTAssertEqual($0.close(client), 0) }
    }

    func test_connectExRefusesWhatWindowsRefuses() {
        _ = listener(1, port: 6112)
        let overlapped = UnsafeMutablePointer<VL_OVERLAPPED>.allocate(capacity: 1)
        defer { overlapped.deallocate() }
        overlapped.initialize(to: VL_OVERLAPPED())
        lan.as(0) { ws in
            let s = ws.tcpSocket()
            guard let function = connectEx(s) else { return XCTFail("no ConnectEx for a TCP socket") }
            var to = ws.sockaddr(lan.address(1), 6112)
            XCTAssertEqual(function(s, &to, 16, nil, 0, nil, overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "an unbound socket: WSAEINVAL")
            XCTAssertEqual(ws.bind(s, .any, 0), 0)
            XCTAssertEqual(function(s, &to, 16, nil, 0, nil, nil), 0)
            XCTAssertEqual(ws.lastError, Int32(VL_WSA_INVALID_PARAMETER), "no OVERLAPPED: ERROR_INVALID_PARAMETER (sock.c test_connect)")
            var nobody = ws.sockaddr(lan.address(1), 6113)
            XCTAssertEqual(function(s, &nobody, 16, nil, 0, nil, overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING)
            XCTAssertEqual(overlapped.pointee.Internal, 0xC000_0236, "no listener on that port: STATUS_CONNECTION_REFUSED")
            XCTAssertEqual(WinsockError(ntStatus: UInt32(overlapped.pointee.Internal)), .connectionRefused, "WSAECONNREFUSED")
            let again = ws.tcpSocket()
            XCTAssertEqual(ws.bind(again, .any, 0), 0)
            XCTAssertEqual(function(again, &to, 16, nil, 0, nil, overlapped), 0)
            XCTAssertEqual(overlapped.pointee.Internal, UInt(VL_STATUS_SUCCESS))
            XCTAssertEqual(function(again, &to, 16, nil, 0, nil, overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.EISCONN, "connected already: WSAEISCONN")
            // Outside the LAN: the DLL's entry hands such a socket to the system's ConnectEx
            // first; the layer's own ends it (no route: the namespace has none) and keeps it.
            let far = ws.tcpSocket()
            XCTAssertEqual(ws.bind(far, .any, 0), 0)
            var outside = ws.sockaddr(IPv4Address(192, 0, 2, 1), 80)
            XCTAssertEqual(function(far, &outside, 16, nil, 0, nil, overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING)
            XCTAssertEqual(WinsockError(ntStatus: UInt32(overlapped.pointee.Internal)), .networkUnreachable, "ended, not left pending")
            XCTAssertTrue(lan.hosts[0].isVirtual(far))
            let udp = ws.udpSocket()
            XCTAssertNil(connectEx(udp), "a UDP socket has no ConnectEx")
            XCTAssertEqual(ws.lastError, WSA.EOPNOTSUPP, "WSAEOPNOTSUPP")
        }
    }
}
