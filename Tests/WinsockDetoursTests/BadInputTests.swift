import XCTest
import CHookTableFFI
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// Every hooked entry point fed NULL pointers, short lengths, invalid sockets and odd
/// buffers answers with the Winsock error Windows gives, and never crashes.
final class BadInputTests: LANTestCase {
    var s: UInt = 0
    let invalid: UInt = 0xDEAD
    override class var startedInstances: Int { 1 }

    override func setUpWithError() throws {
        try super.setUpWithError()
        s = lan.as(0) { $0.gameSocket(port: 23756) }
    }

    /// The call's result and the last error, both as Int64.
    func outcome(_ name: String, _ args: Arg...) -> (result: Int64, error: Int32) { outcome(name, args) }

    func outcome(_ name: String, _ args: [Arg]) -> (result: Int64, error: Int32) {
        call("WSASetLastError", .int(0))
        var result: UInt64 = 0
        let slots = args.map(\.bits)
        XCTAssertEqual(vl_ffi_call(name, slots, UInt32(slots.count), &result), 0)
        let signed = ["WSAWaitForMultipleEvents", "GetAdaptersInfo"].contains(name) ? Int64(UInt32(truncatingIfNeeded: result)) : Int64(bitPattern: result)
        return (signed, Int32(truncatingIfNeeded: call("WSAGetLastError")))
    }

    /// Each call fails (SOCKET_ERROR; FALSE for WSAGetOverlappedResult) with `error`.
    func expectFailures(_ cases: [(String, [Arg])], error: Int32, _ what: String, line: UInt = #line) {
        for (name, args) in cases {
            let (result, lastError) = outcome(name, args)
            XCTAssertEqual(Int32(truncatingIfNeeded: result), name == "WSAGetOverlappedResult" ? 0 : -1, name, line: line)
            XCTAssertEqual(lastError, error, "\(name) \(what)", line: line)
        }
    }

    func test_invalidSocketsAreWSAENOTSOCKEverywhere() {
        lan.as(0) { ws in
            var address = ws.sockaddr(lan.address(1), 23756)
            var length: Int32 = 16, value: Int32 = 1, argument: UInt32 = 0, bytes: UInt32 = 0, flags: UInt32 = 0
            var buffer = [UInt8](repeating: 0, count: 16)
            var wsabuf = VL_WSABUF(len: 16, buf: nil)
            buffer.withUnsafeMutableBytes { wsabuf.buf = $0.baseAddress!.assumingMemoryBound(to: CChar.self) }
            var overlapped = VL_OVERLAPPED()
            overlapped.Internal = UInt(VL_STATUS_PENDING)
            let cases: [(String, [Arg])] = [
                ("closesocket", [.socket(invalid)]),
                ("bind", [.socket(invalid), .ptr(&address), .int(16)]),
                ("connect", [.socket(invalid), .ptr(&address), .int(16)]),
                ("sendto", [.socket(invalid), .ptr(&buffer), .int(16), .int(0), .ptr(&address), .int(16)]),
                ("recvfrom", [.socket(invalid), .ptr(&buffer), .int(16), .int(0), .null, .null]),
                ("send", [.socket(invalid), .ptr(&buffer), .int(16), .int(0)]),
                ("recv", [.socket(invalid), .ptr(&buffer), .int(16), .int(0)]),
                ("WSASendTo", [.socket(invalid), .ptr(&wsabuf), .uint(1), .ptr(&bytes), .uint(0), .ptr(&address), .int(16), .null, .null]),
                ("WSARecvFrom", [.socket(invalid), .ptr(&wsabuf), .uint(1), .ptr(&bytes), .ptr(&flags), .null, .null, .null, .null]),
                ("WSAGetOverlappedResult", [.socket(invalid), .ptr(&overlapped), .ptr(&bytes), .int(0), .ptr(&flags)]),
                ("ioctlsocket", [.socket(invalid), .int(Ioctl.FIONREAD), .ptr(&argument)]),
                ("getsockname", [.socket(invalid), .ptr(&address), .ptr(&length)]),
                ("getpeername", [.socket(invalid), .ptr(&address), .ptr(&length)]),
                ("setsockopt", [.socket(invalid), .int(Opt.SOL_SOCKET), .int(Opt.SO_BROADCAST), .ptr(&value), .int(4)]),
                ("getsockopt", [.socket(invalid), .int(Opt.SOL_SOCKET), .int(Opt.SO_BROADCAST), .ptr(&value), .ptr(&length)]),
            ]
            expectFailures(cases, error: WSA.ENOTSOCK, "on an invalid socket")
        }
    }

    func test_nullPointersAndShortLengthsAreWSAEFAULT() {
        lan.as(0) { ws in
            var address = ws.sockaddr(lan.address(1), 23756)
            var length: Int32 = 16, short: Int32 = 4, tiny: Int32 = 2, bytes: UInt32 = 0, flags: UInt32 = 0
            var buffer = [UInt8](repeating: 0, count: 16)
            var wsabuf = VL_WSABUF(len: 16, buf: nil)
            buffer.withUnsafeMutableBytes { wsabuf.buf = $0.baseAddress!.assumingMemoryBound(to: CChar.self) }
            let unbound = ws.udpSocket()
            let fault: [(String, [Arg])] = [
                ("bind", [.socket(unbound), .null, .int(16)]),
                ("bind", [.socket(unbound), .ptr(&address), .int(8)]),
                ("connect", [.socket(s), .null, .int(16)]),
                ("sendto", [.socket(s), .null, .int(16), .int(0), .ptr(&address), .int(16)]),
                ("sendto", [.socket(s), .ptr(&buffer), .int(16), .int(0), .ptr(&address), .int(8)]),
                ("recvfrom", [.socket(s), .null, .int(16), .int(0), .null, .null]),
                ("recvfrom", [.socket(s), .ptr(&buffer), .int(16), .int(0), .ptr(&address), .null]),
                ("recvfrom", [.socket(s), .ptr(&buffer), .int(16), .int(0), .ptr(&address), .ptr(&short)]),
                ("WSASendTo", [.socket(s), .null, .uint(1), .ptr(&bytes), .uint(0), .ptr(&address), .int(16), .null, .null]),
                ("WSASendTo", [.socket(s), .ptr(&wsabuf), .uint(1), .null, .uint(0), .ptr(&address), .int(16), .null, .null]),
                ("WSARecvFrom", [.socket(s), .ptr(&wsabuf), .uint(1), .ptr(&bytes), .null, .null, .null, .null, .null]),
                ("getsockname", [.socket(s), .null, .ptr(&length)]),
                ("getsockname", [.socket(s), .ptr(&address), .null]),
                ("getsockname", [.socket(s), .ptr(&address), .ptr(&short)]),
                ("setsockopt", [.socket(s), .int(Opt.SOL_SOCKET), .int(Opt.SO_BROADCAST), .null, .int(4)]),
                ("getsockopt", [.socket(s), .int(Opt.SOL_SOCKET), .int(Opt.SO_BROADCAST), .null, .ptr(&length)]),
                ("getsockopt", [.socket(s), .int(Opt.SOL_SOCKET), .int(Opt.SO_RCVBUF), .ptr(&bytes), .ptr(&tiny)]),
                ("ioctlsocket", [.socket(s), .int(Ioctl.FIONREAD), .null]),
                ("gethostname", [.null, .int(64)]),
            ]
            expectFailures(fault, error: WSA.EFAULT, "with a NULL pointer or short length")
            XCTAssertEqual(outcome("WSAGetOverlappedResult", .socket(s), .null, .ptr(&bytes), .int(0), .ptr(&flags)).error,
                           Int32(VL_WSA_INVALID_PARAMETER), "no OVERLAPPED: WSA_INVALID_PARAMETER, as ws2_32 says")
            XCTAssertEqual(outcome("WSAStartup", .uint(0x0202), .null).result, Int64(WSA.EFAULT))
            XCTAssertEqual(outcome("GetAdaptersInfo", .null, .null).result, 87)
            XCTAssertEqual(outcome("WSAWaitForMultipleEvents", .uint(1), .null, .int(0), .uint(0), .int(0)).result, 0xFFFF_FFFF)
            XCTAssertEqual(outcome("WSACloseEvent", .null).error, 6)
            XCTAssertEqual(outcome("select", .int(0), .null, .null, .null, .null).error, WSA.EINVAL)
            XCTAssertEqual(outcome("ioctlsocket", .socket(s), .int(0x1234), .ptr(&bytes)).error, WSA.EOPNOTSUPP) // as WSAIoctl (and Wine)
            XCTAssertEqual(outcome("getpeername", .socket(s), .ptr(&address), .ptr(&length)).error, WSA.ENOTCONN)
            XCTAssertEqual(outcome("sendto", .socket(s), .ptr(&buffer), .int(16), .int(0), .null, .int(0)).error, WSA.EDESTADDRREQ)
            XCTAssertEqual(outcome("send", .socket(s), .ptr(&buffer), .int(16), .int(0)).error, WSA.ENOTCONN, "send on an unconnected socket")
            XCTAssertNotEqual(outcome("gethostbyname", .null).result, 0, "NULL asks for the local host")
        }
    }

    func test_tinyReceiveBuffersGetWhatFitsAndWSAEMSGSIZE() {
        lan.as(1) { ws in
            ws.startup()
            let sender = ws.gameSocket(port: 23756)
            for _ in 0..<2 { XCTAssertEqual(ws.sendto(sender, [1, 2, 3, 4, 5], lan.address(0), 23756), 5) }
        }
        lan.as(0) { ws in
            XCTAssertEqual(ws.nonBlocking(s), 0)
            var byte: UInt8 = 0
            XCTAssertEqual(Int32(truncatingIfNeeded: call("recvfrom", .socket(s), .ptr(&byte), .int(0), .int(0), .null, .null)), -1)
            XCTAssertEqual(ws.lastError, WSA.EMSGSIZE, "a 0-byte buffer")
            XCTAssertEqual(Int32(truncatingIfNeeded: call("recvfrom", .socket(s), .ptr(&byte), .int(1), .int(0), .null, .null)), -1)
            XCTAssertEqual(ws.lastError, WSA.EMSGSIZE, "a 1-byte buffer")
            XCTAssertEqual(byte, 1)
        }
    }

    func test_manyWSABUFsGatherAndScatterOneDatagram() {
        let receiver = lan.as(1) { ws -> UInt in
            ws.startup()
            return ws.gameSocket(port: 23756)
        }
        let pieces = 200
        var payload = (0..<pieces).map { UInt8(truncatingIfNeeded: $0) }
        lan.as(0) { ws in
            var to = ws.sockaddr(lan.address(1), 23756)
            var sent: UInt32 = 0
            payload.withUnsafeMutableBytes { raw in
                var buffers = (0..<pieces).map { VL_WSABUF(len: 1, buf: (raw.baseAddress! + $0).assumingMemoryBound(to: CChar.self)) }
                XCTAssertEqual(call("WSASendTo", .socket(s), .ptr(&buffers), .uint(UInt32(pieces)), .ptr(&sent), .uint(0), .ptr(&to), .int(16), .null, .null), 0)
            }
            XCTAssertEqual(sent, UInt32(pieces))
        }
        lan.as(1) { ws in
            var received = [UInt8](repeating: 0, count: pieces)
            var count: UInt32 = 0, flags: UInt32 = 0
            received.withUnsafeMutableBytes { raw in
                var buffers = (0..<pieces).map { VL_WSABUF(len: 1, buf: (raw.baseAddress! + $0).assumingMemoryBound(to: CChar.self)) }
                XCTAssertEqual(call("WSARecvFrom", .socket(receiver), .ptr(&buffers), .uint(UInt32(pieces)), .ptr(&count), .ptr(&flags), .null, .null, .null, .null), 0)
            }
            XCTAssertEqual(count, UInt32(pieces))
            XCTAssertEqual(received, payload)
        }
    }
}
