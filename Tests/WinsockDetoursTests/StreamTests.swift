import XCTest
import Glibc
import CWineBridge
import HostKit
import VirtualIPCore
@testable import WinsockDetours

/// Virtual TCP through the hook table: every copy has its own TCP port space, connections
/// carry the virtual addresses, and a connection whose preamble does not match the registry
/// never reaches the game.
final class StreamTests: LANTestCase {
    override class var instances: Int { 4 }

    /// A listening TCP socket on 0.0.0.0:port, as a game's host opens it.
    func listener(_ instance: Int, port: UInt16) -> UInt { lan.tcpListener(instance, port: port) }

    func test_connectAcceptAndExchangeBothWaysWithVirtualAddresses() {
        let host = listener(2, port: 6112)
        let client = lan.as(1) { ws -> UInt in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.connect(s, lan.address(2), 6112), 0, "connect: \(ws.lastError)")
            XCTAssertEqual(ws.peername(s), SocketAddress(address: lan.address(2), port: 6112))
            return s
        }
        let clientName = lan.as(1) { $0.sockname(client) }
        XCTAssertEqual(clientName?.address, lan.address(1), "an ANY-bound connected socket has its LAN address")
        let (accepted, from) = lan.as(2) { $0.accept(host) }
        XCTAssertNotEqual(accepted, Winsock.invalidSocket)
        XCTAssertEqual(from, clientName, "accept's peer is the client's virtual address and port")
        lan.as(2) { ws in
            XCTAssertEqual(ws.sockname(accepted), SocketAddress(address: lan.address(2), port: 6112))
            XCTAssertEqual(ws.peername(accepted), clientName)
        }
        lan.as(1) { XCTAssertEqual($0.send(client, Array("hello".utf8)), 5) }
        lan.as(2) { ws in
            XCTAssertEqual(ws.recv(accepted, capacity: 64), Array("hello".utf8), "the game's bytes only: the preamble is ours")
            XCTAssertEqual(ws.send(accepted, Array("world!".utf8)), 6)
        }
        lan.as(1) { XCTAssertEqual($0.recv(client, capacity: 64), Array("world!".utf8)) }
        // status counts each end's connection, and shows the listener as one.
        let open = { (i: Int) in self.lan.registry.counters(ofSlot: i).tcpConnectionsOpen }
        XCTAssertEqual([open(1), open(2)], [1, 1])
        lan.registry.forEachSocket(slot: 2, transport: .tcp) { port, realPort, _ in
            XCTAssertEqual(lan.registry.isListening(slot: 2, realPort: realPort), port == 6112, "TCP \(port)")
        }
        // A graceful close is the end of the stream for the other side.
        lan.as(1) { XCTAssertEqual($0.close(client), 0) }
        lan.as(2) { ws in
            XCTAssertEqual(ws.recv(accepted, capacity: 64), [], "recv returns 0 after the peer's close")
            XCTAssertEqual(ws.close(accepted), 0)
        }
        XCTAssertEqual([open(1), open(2)], [0, 0], "both ends closed")
        XCTAssertEqual(lan.registry.counters(ofSlot: 2).tcpConnectionsMade, 1)
    }

    func test_everyCopyListensOnTheSameFixedPortAndUDPKeepsItsOwn() {
        let hosts = (0..<4).map { listener($0, port: 6112) }
        XCTAssertFalse(hosts.contains(Winsock.invalidSocket))
        lan.as(0) { ws in
            let second = ws.tcpSocket()
            XCTAssertEqual(ws.bind(second, .any, 6112), Winsock.socketError, "the same copy's port is taken")
            XCTAssertEqual(ws.lastError, WSA.EADDRINUSE)
            let udp = ws.udpSocket()
            XCTAssertEqual(ws.bind(udp, .any, 6112), 0, "UDP 6112 is another port space")
        }
        // Each copy reaches each other's listener, from a non-zero host too.
        for (client, server) in [(3, 0), (0, 3), (1, 2)] {
            lan.as(client) { ws in
                let s = ws.tcpSocket()
                XCTAssertEqual(ws.connect(s, lan.address(server), 6112), 0, "\(client) -> \(server): \(ws.lastError)")
            }
            let (accepted, from) = lan.as(server) { $0.accept(hosts[server]) }
            XCTAssertNotEqual(accepted, Winsock.invalidSocket)
            XCTAssertEqual(from?.address, lan.address(client))
        }
    }

    func test_loopbackConnectionStaysInTheOwnCopy() {
        let host = listener(1, port: 7000)
        lan.as(1) { ws in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.connect(s, .loopback, 7000), 0, "\(ws.lastError)")
            let (accepted, from) = ws.accept(host)
            XCTAssertNotEqual(accepted, Winsock.invalidSocket)
            XCTAssertEqual(from?.address, .loopback)
            XCTAssertEqual(ws.sockname(accepted)?.address, .loopback)
        }
        lan.as(2) { ws in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.connect(s, .loopback, 7000), Winsock.socketError, "another copy's 127.0.0.1 has no listener")
            XCTAssertEqual(ws.lastError, WSA.ECONNREFUSED)
        }
    }

    func test_noListenerIsRefusedAndBroadcastHasNoListener() {
        _ = listener(2, port: 6112)
        lan.as(1) { ws in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.connect(s, lan.address(2), 7777), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.ECONNREFUSED, "WSAECONNREFUSED")
            let b = ws.tcpSocket()
            XCTAssertEqual(ws.connect(b, .limitedBroadcast, 6112), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.ENETUNREACH)
        }
    }

    func test_nonBlockingConnectSaysWouldBlockAndIsWritableWhenMade() {
        let host = listener(0, port: 6112)
        lan.as(3) { ws in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.nonBlocking(s), 0)
            XCTAssertEqual(ws.connect(s, lan.address(0), 6112), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK, "WSAEWOULDBLOCK, as Windows answers a non-blocking connect")
            XCTAssertEqual(ws.selectWritable(s), 1)
            XCTAssertEqual(ws.getOption(s, Opt.SO_ERROR), 0, "SO_ERROR: connected")
            XCTAssertEqual(ws.connect(s, lan.address(0), 6112), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EISCONN, "WSAEISCONN")
        }
        lan.as(0) { ws in
            XCTAssertEqual(ws.nonBlocking(host), 0)
            let (accepted, from) = ws.accept(host)
            XCTAssertNotEqual(accepted, Winsock.invalidSocket)
            XCTAssertEqual(from?.address, lan.address(3))
            XCTAssertEqual(ws.accept(host).0, Winsock.invalidSocket, "one connection only")
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK)
        }
    }

    func test_nonBlockingRefusedConnectReportsThroughSOError() {
        lan.as(3) { ws in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.nonBlocking(s), 0)
            XCTAssertEqual(ws.connect(s, lan.address(1), 6112), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK)
            XCTAssertEqual(ws.selectWritable(s), 1, "the attempt is over")
            XCTAssertEqual(ws.getOption(s, Opt.SO_ERROR), WSA.ECONNREFUSED, "SO_ERROR says WSAECONNREFUSED")
            XCTAssertNil(ws.peername(s))
        }
    }

    /// A connection to a listener's real port that claims to come from another copy (a
    /// process that is not that copy, or a copy lying about itself) is closed before the
    /// game sees it, and counted; the next honest one is accepted.
    func test_aPreambleTheRegistryDoesNotVouchForIsRefused() throws {
        let host = listener(2, port: 6112)
        let realPort = try XCTUnwrap(lan.hosts[2].lock.locked { lan.hosts[2].sockets[host]?.realPort })
        let forger = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(forger) }
        var to = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: realPort.bigEndian,
                             sin_addr: in_addr(s_addr: IPv4Address.loopback.networkOrder), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        let connected = withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(forger, $0, 16) } }
        XCTAssertEqual(connected, 0)
        let claim = WireHeader(source: lan.address(1), sourcePort: 50000, destination: lan.address(2), destinationPort: 6112,
                               isBroadcast: false, isStream: true).bytes
        XCTAssertEqual(claim.withUnsafeBytes { Glibc.send(forger, $0.baseAddress, 16, 0) }, 16)
        lan.as(2) { ws in
            XCTAssertEqual(ws.nonBlocking(host), 0)
            XCTAssertEqual(ws.accept(host).0, Winsock.invalidSocket, "the forged connection is not the game's")
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK)
        }
        XCTAssertEqual(lan.registry.counters(ofSlot: 2).drops(.spoofedSource), 1)
        var byte: UInt8 = 0
        XCTAssertEqual(recv(forger, &byte, 1, 0), 0, "the forger's connection was closed")
        lan.as(1) { ws in XCTAssertEqual(ws.connect(ws.tcpSocket(), lan.address(2), 6112), 0) }
        lan.as(2) { ws in XCTAssertEqual(ws.accept(host).1?.address, lan.address(1)) }
    }

    /// A bound socket's backing socket binds only when it listens or connects on the LAN:
    /// one connecting there is vouched for under that socket's own real port; one connecting
    /// outside the LAN is handed to the OS, as an unbound one is, and gives its port back.
    func test_aBoundSocketConnectsOnTheLANOrLeavesIt() {
        let host = listener(2, port: 6112)
        lan.as(1) { ws in
            let onLAN = ws.tcpSocket()
            XCTAssertEqual(ws.bind(onLAN, .any, 5000), 0)
            XCTAssertEqual(ws.connect(onLAN, lan.address(2), 6112), 0, "connect: \(ws.lastError)")
            let leaving = ws.tcpSocket()
            XCTAssertEqual(ws.bind(leaving, .any, 5001), 0)
            // TEST-NET-1 is outside the LAN, and the namespace has no route there: the OS
            // answers at once and sends nothing.
            XCTAssertEqual(ws.connect(leaving, IPv4Address(192, 0, 2, 1), 80), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.ENETUNREACH, "the OS's answer")
            XCTAssertFalse(lan.hosts[1].isVirtual(leaving), "handed to the OS")
            XCTAssertEqual(ws.bind(ws.tcpSocket(), .any, 5001), 0, "its virtual port is free again")
        }
        lan.as(2) { ws in
            XCTAssertEqual(ws.accept(host).1, SocketAddress(address: lan.address(1), port: 5000),
                           "the preamble passes the registry check under the backing socket's own port")
        }
    }

    func test_streamCallsOnTheWrongKindOfSocketAnswerAsWindows() {
        lan.as(0) { ws in
            let udp = ws.udpSocket()
            XCTAssertEqual(ws.bind(udp, .any, 6112), 0)
            XCTAssertEqual(ws.listen(udp), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EOPNOTSUPP, "listen on UDP: WSAEOPNOTSUPP")
            let unbound = ws.tcpSocket()
            XCTAssertEqual(ws.listen(unbound), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "listen unbound: WSAEINVAL")
            XCTAssertEqual(ws.accept(unbound).0, Winsock.invalidSocket)
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "accept without listen: WSAEINVAL")
            XCTAssertEqual(ws.send(unbound, [1]), -1)
            XCTAssertEqual(ws.lastError, WSA.ENOTCONN, "send unconnected: WSAENOTCONN")
            XCTAssertEqual(ws.getOption(unbound, Opt.SO_TYPE), 1, "SO_TYPE is SOCK_STREAM")
        }
    }

    func test_blockingAcceptIsInterruptedByClose() {
        let host = listener(0, port: 6112)
        let result = Locked<(UInt, Int32)?>(nil)
        let done = DispatchGroup()
        let started = DispatchSemaphore(value: 0)
        lan.hosts[0].willBlock = { started.signal() }
        done.enter()
        let owner = lan.hosts[0]
        Thread.detachNewThread {
            var length: Int32 = 16
            var address = VL_SOCKADDR_IN()
            let s = owner.accept(host, address: &address, length: &length)
            result.value = (s.success ?? Winsock.invalidSocket, s.failure?.rawValue ?? 0)
            done.leave()
        }
        started.wait()
        lan.as(0) { XCTAssertEqual($0.close(host), 0) }
        done.wait()
        XCTAssertEqual(result.value?.0, Winsock.invalidSocket)
        XCTAssertEqual(result.value?.1, WSA.EINTR, "WSAEINTR, as for a blocked receive")
    }

    func test_overlappedReceiveOnAStreamCompletesWithTheBytes() {
        let (client, accepted) = lan.connection(from: 0, to: 1, listener: listener(1, port: 6112), port: 6112)
        lan.as(1) { ws in
            let op = OverlappedReceive(event: ws.createEvent())
            XCTAssertEqual(op.post(accepted).1, WSA.IO_PENDING, "nothing there yet: WSA_IO_PENDING")
            lan.as(0) { XCTAssertEqual($0.send(client, Array("ping".utf8)), 4) }
            XCTAssertEqual(ws.wait([op.overlapped.pointee.hEvent]), 0)
            let r = op.result(accepted)
            XCTAssertTrue(r.ok)
            XCTAssertEqual(op.payload(r.bytes), Array("ping".utf8))
        }
    }
}

extension Result {
    var failure: Failure? { if case let .failure(e) = self { return e } else { return nil } }
}

extension Winsock {
    func tcpSocket() -> UInt { UInt(call("socket", .int(2), .int(1), .int(6))) }

    func listen(_ s: UInt) -> Int32 { Int32(truncatingIfNeeded: call("listen", .socket(s), .int(5))) }

    func connect(_ s: UInt, _ address: IPv4Address, _ port: UInt16) -> Int32 {
        var a = sockaddr(address, port)
        return withUnsafeMutablePointer(to: &a) { Int32(truncatingIfNeeded: call("connect", .socket(s), .ptr($0), .int(16))) }
    }

    /// accept: the new socket and the peer it reports.
    func accept(_ s: UInt) -> (UInt, SocketAddress?) {
        var a = VL_SOCKADDR_IN()
        var length: Int32 = 16
        let r = withUnsafeMutablePointer(to: &a) { p in
            withUnsafeMutablePointer(to: &length) { UInt(call("accept", .socket(s), .ptr(p), .ptr($0))) }
        }
        return (r, r == Winsock.invalidSocket ? nil : SocketAddress.read(&a, length: length).success)
    }

    func peername(_ s: UInt) -> SocketAddress? {
        var a = VL_SOCKADDR_IN()
        var length: Int32 = 16
        let r = withUnsafeMutablePointer(to: &a) { p in
            withUnsafeMutablePointer(to: &length) { Int32(truncatingIfNeeded: call("getpeername", .socket(s), .ptr(p), .ptr($0))) }
        }
        return r == 0 ? SocketAddress.read(&a, length: length).success : nil
    }

    func send(_ s: UInt, _ bytes: [UInt8]) -> Int32 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: bytes)
        return Int32(truncatingIfNeeded: call("send", .socket(s), .ptr(UnsafeRawPointer(buffer.baseAddress)), .int(Int32(bytes.count)), .int(0)))
    }

    /// recv into `capacity` bytes: what came, or nil on an error.
    func recv(_ s: UInt, capacity: Int) -> [UInt8]? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 1)
        defer { buffer.deallocate() }
        let r = Int32(truncatingIfNeeded: call("recv", .socket(s), .ptr(buffer.baseAddress), .int(Int32(capacity)), .int(0)))
        return r < 0 ? nil : Array(buffer.prefix(Int(r)))
    }

    /// select on one socket's writability (and exceptions) without waiting long: how many sets hold it.
    func selectWritable(_ s: UInt) -> Int32 {
        let sets = UnsafeMutablePointer<VL_FD_SET>.allocate(capacity: 2)
        defer { sets.deallocate() }
        sets.initialize(repeating: VL_FD_SET(), count: 2)
        for i in 0..<2 { sets[i].fd_count = 1; vl_fd_set_put(sets + i, 0, VL_SOCKET(s)) }
        var timeout = VL_TIMEVAL(tv_sec: 2, tv_usec: 0)
        return withUnsafePointer(to: &timeout) { t in
            Int32(truncatingIfNeeded: call("select", .int(0), .null, .ptr(sets), .ptr(sets + 1), .ptr(t)))
        }
    }
}
