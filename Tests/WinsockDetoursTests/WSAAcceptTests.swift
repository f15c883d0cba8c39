import XCTest
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// WSAAccept on a virtual listener: the condition function sees the virtual names and
/// decides (conformance `tcp.wsaaccept*`: before, Wine's own WSAAccept handed the game the
/// backing connection, our preamble as its first bytes).
final class WSAAcceptTests: LANTestCase {
    override class var instances: Int { 2 }

    /// What the condition function was shown, and what it answers (passed as its data).
    final class Judge {
        var answer: Int32
        var caller: SocketAddress?
        var callee: SocketAddress?
        var calls = 0
        init(answer: Int32) { self.answer = answer }
    }

    static let condition: @convention(c) (UnsafeMutablePointer<VL_WSABUF>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?,
                                          UnsafeMutableRawPointer?, UnsafeMutablePointer<VL_WSABUF>?, UnsafeMutableRawPointer?,
                                          UnsafeMutablePointer<UInt32>?, UInt) -> Int32 = { caller, _, _, _, callee, _, _, data in
        let judge = Unmanaged<Judge>.fromOpaque(UnsafeRawPointer(bitPattern: data)!).takeUnretainedValue()
        judge.calls += 1
        func name(_ buffer: UnsafeMutablePointer<VL_WSABUF>?) -> SocketAddress? {
            guard let buffer, let bytes = buffer.pointee.buf else { return nil }
            return SocketAddress.read(UnsafeRawPointer(bytes).assumingMemoryBound(to: VL_SOCKADDR_IN.self), length: Int32(buffer.pointee.len)).success
        }
        judge.caller = name(caller)
        judge.callee = name(callee)
        return judge.answer
    }

    func wsaAccept(_ ws: Winsock, _ listener: UInt, _ judge: Judge?) -> (UInt, SocketAddress?) {
        var address = VL_SOCKADDR_IN()
        var length: Int32 = 16
        let condition = judge.map { _ in unsafeBitCast(WSAAcceptTests.condition, to: UnsafeRawPointer.self) }
        let data = judge.map { UInt(bitPattern: Unmanaged.passUnretained($0).toOpaque()) } ?? 0
        let s = UInt(call("WSAAccept", .socket(listener), .ptr(&address), .ptr(&length), .ptr(condition), .socket(data)))
        return (s, s == Winsock.invalidSocket ? nil : SocketAddress.read(&address, length: length).success)
    }

    func connectFrom0() -> (UInt, SocketAddress) {
        lan.as(0) { ws in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.connect(s, lan.address(1), 6112), 0)
            return (s, ws.sockname(s)!)
        }
    }

    func test_theConditionSeesTheVirtualNamesAndAccepts() {
        let host = lan.tcpListener(1, port: 6112)
        let (client, clientName) = connectFrom0()
        let judge = Judge(answer: 0)  // CF_ACCEPT
        lan.as(1) { ws in
            let (accepted, peer) = wsaAccept(ws, host, judge)
            XCTAssertNotEqual(accepted, Winsock.invalidSocket)
            XCTAssertEqual(judge.calls, 1)
            XCTAssertEqual(judge.caller, clientName, "CallerId: the client's virtual name")
            XCTAssertEqual(judge.callee, SocketAddress(address: lan.address(1), port: 6112), "CalleeId: the listener's virtual name")
            XCTAssertEqual(peer, clientName)
            XCTAssertEqual(ws.send(accepted, Array("hi".utf8)), 2)
        }
        lan.as(0) { XCTAssertEqual($0.recv(client, capacity: 8), Array("hi".utf8), "no preamble among the bytes") }
        _ = connectFrom0()
        lan.as(1) { ws in
            let (plain, peer) = wsaAccept(ws, host, nil)
            XCTAssertNotEqual(plain, Winsock.invalidSocket, "no condition function: accept")
            XCTAssertEqual(peer?.address, lan.address(0))
        }
    }

    func test_rejectedIsClosedAndDeferredComesAgain() {
        let host = lan.tcpListener(1, port: 6112)
        let (rejected, _) = connectFrom0()
        lan.as(1) { ws in
            XCTAssertEqual(wsaAccept(ws, host, Judge(answer: 1)).0, Winsock.invalidSocket)  // CF_REJECT
            XCTAssertEqual(ws.lastError, WSA.ECONNREFUSED, "WSAECONNREFUSED")
        }
        lan.as(0) { ws in
            // Refused by the OS with bytes unread (our preamble): a reset, as plain Wine's
            // client sees it (conformance `tcp.wsaaccept-rejected-client`).
            XCTAssertNil(ws.recv(rejected, capacity: 8), "the client's connection is reset")
            XCTAssertEqual(ws.lastError, WSA.ECONNRESET)
        }
        let (_, clientName) = connectFrom0()
        let judge = Judge(answer: 2)  // CF_DEFER
        lan.as(1) { ws in
            XCTAssertEqual(wsaAccept(ws, host, judge).0, Winsock.invalidSocket)
            XCTAssertEqual(ws.lastError, WSA.TRY_AGAIN, "WSATRY_AGAIN")
            judge.answer = 0
            let (again, peer) = wsaAccept(ws, host, judge)
            XCTAssertNotEqual(again, Winsock.invalidSocket)
            XCTAssertEqual(judge.calls, 2, "asked again about the same connection")
            XCTAssertEqual(peer, clientName)
        }
        XCTAssertEqual(lan.registry.counters(ofSlot: 1).tcpConnectionsOpen, 1, "the rejected one is closed, the deferred one open")
    }

    /// sock.c's test_AcceptEx ("CF_DEFER & AcceptEx interaction"): a connection the
    /// condition deferred is the next AcceptEx's, and accept() then takes the one after it.
    /// Control: when the layer kept the deferred connection itself, the AcceptEx took the
    /// second client and accept() the first.
    func test_aDeferredConnectionIsTheNextAcceptExs() throws {
        let host = lan.tcpListener(1, port: 6112)
        let (first, firstName) = connectFrom0()
        lan.as(1) { ws in
            XCTAssertEqual(wsaAccept(ws, host, Judge(answer: 2)).0, Winsock.invalidSocket)  // CF_DEFER
            XCTAssertEqual(ws.lastError, WSA.TRY_AGAIN)
        }
        let op = lan.as(1) { AcceptExTests.Operation(event: $0.createEvent()) }
        let acceptor = try lan.as(1) { ws -> UInt in
            let pointer = try XCTUnwrap(extensionFunction(host, AcceptExTests.acceptExID))
            let function = unsafeBitCast(pointer, to: AcceptExTests.AcceptEx.self)
            let acceptor = ws.tcpSocket()
            let started = function(host, acceptor, op.buffer, 0, AcceptExTests.block, AcceptExTests.block, nil, op.overlapped)
            XCTAssertTrue(started != 0 || ws.lastError == WSA.IO_PENDING, "AcceptEx: \(ws.lastError)")
            return acceptor
        }
        let (second, secondName) = connectFrom0()
        lan.as(0) { ws in
            XCTAssertEqual(ws.send(first, Array("1".utf8)), 1)
            XCTAssertEqual(ws.send(second, Array("2".utf8)), 1)
        }
        lan.as(1) { ws in
            let (accepted, peer) = ws.accept(host)
            XCTAssertNotEqual(accepted, Winsock.invalidSocket)
            XCTAssertEqual(peer, secondName, "accept takes the connection after the deferred one")
            XCTAssertEqual(ws.recv(accepted, capacity: 4), Array("2".utf8))
            XCTAssertEqual(ws.wait([op.overlapped.pointee.hEvent]), 0, "the AcceptEx has ended")
            XCTAssertEqual(UInt32(op.overlapped.pointee.Internal), 0)
            XCTAssertEqual(ws.peername(acceptor), firstName, "the AcceptEx took the deferred connection")
            XCTAssertEqual(ws.recv(acceptor, capacity: 4), Array("1".utf8), "its bytes, the preamble read off")
        }
    }

    /// A copy connecting to its own listener over loopback is named 127.0.0.1 to the
    /// condition, and so is the listener (the names Windows gives a loopback connection).
    func test_aLoopbackCallerIsShownAsLoopback() {
        let host = lan.tcpListener(1, port: 6112)
        let (client, clientName) = lan.as(1) { ws -> (UInt, SocketAddress?) in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.connect(s, .loopback, 6112), 0)
            return (s, ws.sockname(s))
        }
        XCTAssertEqual(clientName?.address, .loopback)
        let judge = Judge(answer: 0)
        lan.as(1) { ws in
            let (accepted, peer) = wsaAccept(ws, host, judge)
            XCTAssertNotEqual(accepted, Winsock.invalidSocket)
            XCTAssertEqual(judge.caller, clientName, "CallerId: 127.0.0.1 and the client's port")
            XCTAssertEqual(judge.callee, SocketAddress(address: .loopback, port: 6112))
            XCTAssertEqual(peer, clientName)
            XCTAssertEqual(ws.close(client), 0)
        }
    }
}
