import XCTest
import Glibc
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// AcceptEx and GetAcceptExSockaddrs on virtual TCP listeners, from the pointers WSAIoctl
/// hands out, as IOCP servers accept: the connection comes onto a socket the program made,
/// the end in the OVERLAPPED and on the listener's completion port, the virtual names in
/// the buffer. Wine's answers (conformance `tcp.acceptex-*`): always FALSE with
/// WSA_IO_PENDING, then done; 0 bytes, or the first data when asked for.
final class AcceptExTests: LANTestCase {
    override class var instances: Int { 3 }

    typealias AcceptEx = @convention(c) (UInt, UInt, UnsafeMutableRawPointer?, UInt32, UInt32, UInt32,
                                         UnsafeMutablePointer<UInt32>?, UnsafeMutablePointer<VL_OVERLAPPED>?) -> Int32
    typealias AcceptExNames = @convention(c) (UnsafeMutableRawPointer?, UInt32, UInt32, UInt32,
                                              UnsafeMutablePointer<UnsafeMutablePointer<VL_SOCKADDR_IN>?>?, UnsafeMutablePointer<Int32>?,
                                              UnsafeMutablePointer<UnsafeMutablePointer<VL_SOCKADDR_IN>?>?, UnsafeMutablePointer<Int32>?) -> Void

    static let acceptExID: [UInt8] = [0xF1, 0x7D, 0x36, 0xB5, 0xAC, 0xCB, 0xCF, 0x11, 0x95, 0xCA, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92]
    static let namesID: [UInt8] = [0xF2, 0x7D, 0x36, 0xB5, 0xAC, 0xCB, 0xCF, 0x11, 0x95, 0xCA, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92]
    /// A name block as Windows asks for one: the address and 16 bytes more.
    static let block: UInt32 = 16 + 16

    func extensionPointer(_ s: UInt, _ id: [UInt8]) -> UnsafeMutableRawPointer? { extensionFunction(s, id) }

    func acceptEx(_ s: UInt) throws -> AcceptEx {
        let pointer = try XCTUnwrap(extensionPointer(s, AcceptExTests.acceptExID), "WSAIoctl hands out AcceptEx on a TCP socket")
        XCTAssertEqual(pointer, Platform.default.extensionEntries.acceptEx)
        return unsafeBitCast(pointer, to: AcceptEx.self)
    }

    func names(_ s: UInt) throws -> AcceptExNames {
        let pointer = try XCTUnwrap(extensionPointer(s, AcceptExTests.namesID), "and GetAcceptExSockaddrs")
        return unsafeBitCast(pointer, to: AcceptExNames.self)
    }

    func listener(_ instance: Int, port: UInt16) -> UInt { lan.tcpListener(instance, port: port) }

    /// What an operation needs to outlive its call: the OVERLAPPED and the buffer.
    final class Operation {
        let overlapped = UnsafeMutablePointer<VL_OVERLAPPED>.allocate(capacity: 1)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
        nonisolated(unsafe) static var alive: [Operation] = []
        init(event: UnsafeMutableRawPointer?) {
            overlapped.initialize(to: VL_OVERLAPPED())
            overlapped.pointee.hEvent = event
            buffer.initializeMemory(as: UInt8.self, repeating: 0xEE, count: 256)
            Operation.alive.append(self)  // closesocket may end it after the test's scope
        }
    }

    /// The names GetAcceptExSockaddrs reads from `op`'s buffer.
    func readNames(_ function: AcceptExNames, _ op: Operation, receiveLength: UInt32) -> (local: SocketAddress?, remote: SocketAddress?) {
        var local: UnsafeMutablePointer<VL_SOCKADDR_IN>?, remote: UnsafeMutablePointer<VL_SOCKADDR_IN>?
        var localSize: Int32 = 0, remoteSize: Int32 = 0
        function(op.buffer, receiveLength, AcceptExTests.block, AcceptExTests.block, &local, &localSize, &remote, &remoteSize)
        return (SocketAddress.read(local, length: localSize).success, SocketAddress.read(remote, length: remoteSize).success)
    }

    func test_acceptExTakesTheConnectionOntoTheGamesSocketAndPostsOnTheListenersPort() throws {
        let host = listener(2, port: 6112)
        let op = lan.as(2) { Operation(event: $0.createEvent()) }
        let (acceptor, port, function) = try lan.as(2) { ws -> (UInt, UnsafeMutableRawPointer, AcceptEx) in
            let port = try XCTUnwrap(UnsafeMutableRawPointer(bitPattern: UInt(call("CreateIoCompletionPort", .socket(host), .null, .socket(41), .uint(0)))))
            let function = try acceptEx(host)
            let acceptor = ws.tcpSocket()
            var received: UInt32 = 7
            XCTAssertEqual(function(host, acceptor, op.buffer, 0, AcceptExTests.block, AcceptExTests.block, &received, op.overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING, "WSA_IO_PENDING, as Wine answers")
            XCTAssertEqual(UInt32(op.overlapped.pointee.Internal), VL_STATUS_PENDING)
            XCTAssertEqual(ws.wait([op.overlapped.pointee.hEvent], timeoutMs: 0), 258, "nothing has come yet")
            XCTAssertNil(ws.peername(acceptor), "not connected before the end")
            return (acceptor, port, function)
        }
        let client = lan.as(0) { ws -> UInt in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.connect(s, lan.address(2), 6112), 0)
            return s
        }
        let clientName = try XCTUnwrap(lan.as(0) { $0.sockname(client) })
        try lan.as(2) { ws in
            var key: UInt = 0, status: UInt32 = 1, bytes: UInt32 = 9
            var done: UnsafeMutablePointer<VL_OVERLAPPED>?
            XCTAssertEqual(vl_linux_port_take(port, 5000, &key, &done, &status, &bytes), 1, "a packet on the listener's port")
            XCTAssertEqual([UInt(key), UInt(status), UInt(bytes)], [41, 0, 0])
            XCTAssertEqual(done, op.overlapped)
            XCTAssertEqual(ws.wait([op.overlapped.pointee.hEvent], timeoutMs: 0), 0, "its event is set")
            let (local, remote) = readNames(try names(host), op, receiveLength: 0)
            XCTAssertEqual(local, SocketAddress(address: lan.address(2), port: 6112), "the listener's virtual name")
            XCTAssertEqual(remote, clientName, "the client's virtual name")
            XCTAssertEqual(ws.peername(acceptor), clientName)
            XCTAssertEqual(ws.sockname(acceptor), local)
            XCTAssertEqual(Int32(truncatingIfNeeded: withUnsafePointer(to: host) {
                call("setsockopt", .socket(acceptor), .int(Opt.SOL_SOCKET), .int(Opt.SO_UPDATE_ACCEPT_CONTEXT), .ptr($0), .int(Int32(MemoryLayout<UInt>.size)))
            }), 0, "SO_UPDATE_ACCEPT_CONTEXT, as the game calls it next")
            XCTAssertEqual(ws.send(acceptor, Array("pong".utf8)), 4)
        }
        lan.as(0) { ws in
            XCTAssertEqual(ws.recv(client, capacity: 16), Array("pong".utf8), "the session runs over the game's socket")
            XCTAssertEqual(ws.send(client, Array("ping".utf8)), 4)
        }
        lan.as(2) { ws in XCTAssertEqual(ws.recv(acceptor, capacity: 16), Array("ping".utf8)) }
        XCTAssertEqual(lan.registry.counters(ofSlot: 2).tcpConnectionsOpen, 1, "counted as accept() counts it")

        // A second AcceptEx on the same listener, with the first data: it ends with the data.
        let second = lan.as(2) { Operation(event: $0.createEvent()) }
        let acceptor2 = lan.as(2) { ws -> UInt in
            let s = ws.tcpSocket()
            XCTAssertEqual(function(host, s, second.buffer, 8, AcceptExTests.block, AcceptExTests.block, nil, second.overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING)
            return s
        }
        let client2 = lan.as(1) { ws -> UInt in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.connect(s, lan.address(2), 6112), 0)
            XCTAssertEqual(ws.send(s, Array("first".utf8)), 5)
            return s
        }
        try lan.as(2) { ws in
            var key: UInt = 0, status: UInt32 = 1, bytes: UInt32 = 0
            var done: UnsafeMutablePointer<VL_OVERLAPPED>?
            XCTAssertEqual(vl_linux_port_take(port, 5000, &key, &done, &status, &bytes), 1)
            XCTAssertEqual([UInt(key), UInt(status), UInt(bytes)], [41, 0, 5], "the first data's bytes")
            XCTAssertEqual(Array(UnsafeRawBufferPointer(start: second.buffer, count: 5)), Array("first".utf8))
            let (local, remote) = readNames(try names(host), second, receiveLength: 8)
            XCTAssertEqual(local, SocketAddress(address: lan.address(2), port: 6112))
            XCTAssertEqual(remote?.address, lan.address(1), "the second client's virtual address")
            XCTAssertEqual(ws.peername(acceptor2), remote)
        }
        lan.as(1) { XCTAssertEqual($0.close(client2), 0) }
        lan.as(0) { XCTAssertEqual($0.close(client), 0) }
    }

    /// Errors Windows gives in the call, and the ends a closed listener or acceptor gives.
    func test_acceptExRefusesWhatWindowsRefusesAndEndsWithItsSockets() throws {
        let host = listener(1, port: 6112)
        try lan.as(1) { ws in
            let function = try acceptEx(host)
            let op = Operation(event: ws.createEvent())
            let acceptor = ws.tcpSocket()
            XCTAssertEqual(function(host, acceptor, op.buffer, 0, AcceptExTests.block, AcceptExTests.block, nil, nil), 0)
            XCTAssertEqual(ws.lastError, 87, "no OVERLAPPED: WSA_INVALID_PARAMETER")
            XCTAssertEqual(function(host, acceptor, nil, 0, AcceptExTests.block, AcceptExTests.block, nil, op.overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "no buffer: WSAEINVAL")
            XCTAssertEqual(function(host, acceptor, op.buffer, 0, AcceptExTests.block, 0, nil, op.overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.EFAULT, "no room for the remote name: WSAEFAULT")
            // Places the operation writes later that cannot take it: WSAEFAULT now, no crash then.
            // A read-only page, then one without access.
            let sealed = mmap(nil, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
            defer { munmap(sealed, 8192) }
            XCTAssertEqual(mprotect(sealed + 4096, 4096, PROT_NONE), 0)
            XCTAssertEqual(function(host, acceptor, sealed, 0, AcceptExTests.block, AcceptExTests.block, nil, op.overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.EFAULT, "a read-only buffer: WSAEFAULT")
            XCTAssertEqual(function(host, acceptor, op.buffer, 0, AcceptExTests.block, AcceptExTests.block, nil,
                                   sealed.assumingMemoryBound(to: VL_OVERLAPPED.self)), 0)
            XCTAssertEqual(ws.lastError, WSA.EFAULT, "a read-only OVERLAPPED: WSAEFAULT")
            var (local, remote): (UnsafeMutablePointer<VL_SOCKADDR_IN>?, UnsafeMutablePointer<VL_SOCKADDR_IN>?) = (nil, nil)
            var (localSize, remoteSize): (Int32, Int32) = (-1, -1)
            try names(host)(sealed + 4090, 0, AcceptExTests.block, AcceptExTests.block, &local, &localSize, &remote, &remoteSize)
            XCTAssertEqual([localSize, remoteSize], [-1, -1], "GetAcceptExSockaddrs past the readable end: nothing written")
            let quiet = ws.tcpSocket()
            XCTAssertEqual(ws.bind(quiet, .any, 0), 0)
            XCTAssertEqual(function(quiet, acceptor, op.buffer, 0, AcceptExTests.block, AcceptExTests.block, nil, op.overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "a socket that does not listen: WSAEINVAL")
            XCTAssertEqual(function(host, quiet, op.buffer, 0, AcceptExTests.block, AcceptExTests.block, nil, op.overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "a bound acceptor: WSAEINVAL")
            XCTAssertEqual(function(host, ws.udpSocket(), op.buffer, 0, AcceptExTests.block, AcceptExTests.block, nil, op.overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "a UDP acceptor: WSAEINVAL")
            XCTAssertNil(extensionPointer(ws.udpSocket(), AcceptExTests.acceptExID), "a UDP socket has no AcceptEx")
            XCTAssertEqual(ws.lastError, WSA.EOPNOTSUPP)

            // Waiting, then its acceptor closed: aborted; then the listener closed: aborted.
            XCTAssertEqual(function(host, acceptor, op.buffer, 0, AcceptExTests.block, AcceptExTests.block, nil, op.overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING)
            XCTAssertEqual(function(host, acceptor, op.buffer, 0, AcceptExTests.block, AcceptExTests.block, nil, op.overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "an acceptor another AcceptEx waits for: WSAEINVAL")
            XCTAssertEqual(ws.close(acceptor), 0)
            XCTAssertEqual(ws.wait([op.overlapped.pointee.hEvent], timeoutMs: 0), 0)
            XCTAssertEqual(WinsockError(ntStatus: UInt32(op.overlapped.pointee.Internal)), .operationAborted)
            let next = Operation(event: ws.createEvent())
            XCTAssertEqual(function(host, ws.tcpSocket(), next.buffer, 0, AcceptExTests.block, AcceptExTests.block, nil, next.overlapped), 0)
            XCTAssertEqual(ws.close(host), 0)
            XCTAssertEqual(ws.wait([next.overlapped.pointee.hEvent], timeoutMs: 0), 0)
            XCTAssertEqual(WinsockError(ntStatus: UInt32(next.overlapped.pointee.Internal)), .operationAborted)
        }
    }

    /// A connection whose preamble the registry does not vouch for ends the AcceptEx with
    /// WSAECONNRESET (the acceptor took it), is closed and counted; the game's next AcceptEx
    /// takes the next honest connection.
    func test_aForgedConnectionEndsTheAcceptExWithAReset() throws {
        let host = listener(2, port: 6112)
        let realPort = try XCTUnwrap(lan.hosts[2].lock.locked { lan.hosts[2].sockets[host]?.realPort })
        let function = try lan.as(2) { _ in try acceptEx(host) }
        let op = lan.as(2) { Operation(event: $0.createEvent()) }
        lan.as(2) { ws in
            XCTAssertEqual(function(host, ws.tcpSocket(), op.buffer, 0, AcceptExTests.block, AcceptExTests.block, nil, op.overlapped), 0)
        }
        let forger = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(forger) }
        var to = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: realPort.bigEndian,
                             sin_addr: in_addr(s_addr: IPv4Address.loopback.networkOrder), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        XCTAssertEqual(withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(forger, $0, 16) } }, 0)
        let claim = WireHeader(source: lan.address(1), sourcePort: 50000, destination: lan.address(2), destinationPort: 6112,
                               isBroadcast: false, isStream: true).bytes
        // In two parts: the preamble is gathered across readiness, not read in one go.
        XCTAssertEqual(claim.withUnsafeBytes { Glibc.send(forger, $0.baseAddress, 5, 0) }, 5)
        XCTAssertEqual(claim.withUnsafeBytes { Glibc.send(forger, $0.baseAddress! + 5, 11, 0) }, 11)
        lan.as(2) { ws in
            XCTAssertEqual(ws.wait([op.overlapped.pointee.hEvent], timeoutMs: 5000), 0)
            XCTAssertEqual(WinsockError(ntStatus: UInt32(op.overlapped.pointee.Internal)), .connectionReset)
        }
        XCTAssertEqual(lan.registry.counters(ofSlot: 2).drops(.spoofedSource), 1)
        var byte: UInt8 = 0
        XCTAssertEqual(recv(forger, &byte, 1, 0), 0, "the forger's connection was closed")
        let next = lan.as(2) { Operation(event: $0.createEvent()) }
        let acceptor = lan.as(2) { ws -> UInt in
            let s = ws.tcpSocket()
            XCTAssertEqual(function(host, s, next.buffer, 0, AcceptExTests.block, AcceptExTests.block, nil, next.overlapped), 0)
            return s
        }
        lan.as(1) { ws in XCTAssertEqual(ws.connect(ws.tcpSocket(), lan.address(2), 6112), 0) }
        lan.as(2) { ws in
            XCTAssertEqual(ws.wait([next.overlapped.pointee.hEvent], timeoutMs: 5000), 0)
            XCTAssertEqual(UInt32(next.overlapped.pointee.Internal), VL_STATUS_SUCCESS)
            XCTAssertEqual(ws.peername(acceptor)?.address, lan.address(1))
        }
    }
}
