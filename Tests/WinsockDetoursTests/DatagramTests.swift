import XCTest
import CWineBridge
import HostKit
import VirtualIPCore
@testable import WinsockDetours

final class DatagramTests: LANTestCase {
    override class var instances: Int { 4 }

    /// Every instance opens the discovery socket, as each copy of the game does.
    func discoverySockets() -> [UInt] {
        (0..<4).map { i in lan.as(i) { ws in
            let s = ws.gameSocket(port: 23757)
            XCTAssertEqual(ws.nonBlocking(s), 0)
            return s
        } }
    }

    func test_unicastBetweenTwoInstancesShowsTheVirtualSource() {
        let sockets = discoverySockets()
        lan.as(0) { ws in XCTAssertEqual(ws.sendto(sockets[0], Array("hello".utf8), lan.address(2), 23757), 5) }
        lan.as(2) { ws in
            let r = ws.recvfrom(sockets[2])
            XCTAssertEqual(r.result, 5)
            XCTAssertEqual(r.payload, Array("hello".utf8))
            XCTAssertEqual(r.from, SocketAddress(address: IPv4Address(192, 168, 80, 1), port: 23757))
        }
        for i in [0, 1, 3] {
            lan.as(i) { ws in
                XCTAssertEqual(ws.recvfrom(sockets[i]).result, Winsock.socketError, "instance \(i) got nothing")
                XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK)
            }
        }
        XCTAssertEqual(lan.registry.counters(ofSlot: 0).txDatagrams, 1)
        XCTAssertEqual(lan.registry.counters(ofSlot: 2).rxBytes, 5)
    }

    func test_broadcastFromANonZeroInstanceReachesAllInstances() {
        let sockets = discoverySockets()
        let request = [UInt8](repeating: 0x22, count: 36)
        lan.as(2) { ws in XCTAssertEqual(ws.sendto(sockets[2], request, .limitedBroadcast, 23757), 36) }
        for i in 0..<4 {
            lan.as(i) { ws in
                let r = ws.recvfrom(sockets[i])
                XCTAssertEqual(r.result, 36, "instance \(i)")
                XCTAssertEqual(r.from, SocketAddress(address: lan.address(2), port: 23757), "instance \(i) sees instance 2 as sender")
            }
        }
        // The subnet's directed broadcast too, from yet another instance.
        lan.as(3) { ws in XCTAssertEqual(ws.sendto(sockets[3], [1], IPv4Address(192, 168, 80, 255), 23757), 1) }
        for i in 0..<4 { lan.as(i) { ws in XCTAssertEqual(ws.recvfrom(sockets[i]).result, 1, "instance \(i)") } }
    }

    func test_broadcastNeedsSOBroadcastAsOnWindows() {
        lan.as(1) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.sendto(s, [1], .limitedBroadcast, 23757), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EACCES)
        }
    }

    func test_loopbackReachesOnlyTheOwnInstance() {
        let sockets = discoverySockets()
        lan.as(1) { ws in XCTAssertEqual(ws.sendto(sockets[1], [7, 7], .loopback, 23757), 2) }
        lan.as(1) { ws in
            let r = ws.recvfrom(sockets[1])
            XCTAssertEqual(r.result, 2)
            XCTAssertEqual(r.from, SocketAddress(address: .loopback, port: 23757))
        }
        for i in [0, 2, 3] { lan.as(i) { ws in XCTAssertEqual(ws.recvfrom(sockets[i]).result, Winsock.socketError) } }
    }

    func test_oversizeSendIsWSAEMSGSIZEAndSendsNothing() {
        let sockets = discoverySockets()
        lan.as(0) { ws in
            XCTAssertEqual(ws.sendto(sockets[0], [UInt8](repeating: 1, count: 65507 - 16 + 1), lan.address(1), 23757), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EMSGSIZE)
            XCTAssertEqual(ws.sendto(sockets[0], [UInt8](repeating: 2, count: 65507 - 16), lan.address(1), 23757), Int32(65507 - 16))
        }
        lan.as(1) { ws in
            let r = ws.recvfrom(sockets[1], capacity: 70000)
            XCTAssertEqual(r.result, Int32(65507 - 16), "only the largest legal datagram arrived")
            XCTAssertEqual(ws.recvfrom(sockets[1]).result, Winsock.socketError)
        }
    }

    func test_tooSmallBufferTruncatesDiscardsTheRestAndSaysWSAEMSGSIZE() {
        let sockets = discoverySockets()
        lan.as(0) { ws in
            XCTAssertEqual(ws.sendto(sockets[0], Array(0..<100), lan.address(1), 23757), 100)
            XCTAssertEqual(ws.sendto(sockets[0], [42], lan.address(1), 23757), 1)
        }
        lan.as(1) { ws in
            XCTAssertEqual(ws.bytesReadable(sockets[1]), 100, "FIONREAD is the next datagram's payload size")
            let r = ws.recvfrom(sockets[1], capacity: 10)
            XCTAssertEqual(r.result, Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EMSGSIZE)
            XCTAssertEqual(r.payload, Array(0..<10))
            let next = ws.recvfrom(sockets[1])
            XCTAssertEqual(next.payload, [42], "the rest of the long datagram is gone")
            XCTAssertEqual(ws.bytesReadable(sockets[1]), 0)
        }
    }

    func test_datagramSentRightBeforeClosingAndLeavingIsNotLost() {
        let sockets = discoverySockets()
        lan.as(0) { ws in
            XCTAssertEqual(ws.sendto(sockets[0], [1, 2], lan.address(1), 23757), 2)
            XCTAssertEqual(ws.close(sockets[0]), 0)
        }
        lan.hosts[0].shutdown() // the sending instance leaves the registry too
        lan.as(1) { ws in
            let r = ws.recvfrom(sockets[1])
            XCTAssertEqual(r.payload, [1, 2])
            XCTAssertEqual(r.from?.address, lan.address(0))
        }
    }

    func test_zeroLengthDatagramsArriveAsSuch() {
        let sockets = discoverySockets()
        lan.as(0) { ws in XCTAssertEqual(ws.sendto(sockets[0], [], lan.address(3), 23757), 0) }
        lan.as(3) { ws in
            let r = ws.recvfrom(sockets[3])
            XCTAssertEqual(r.result, 0)
            XCTAssertEqual(r.from?.address, lan.address(0))
        }
    }

    func test_destinationsOutsideTheVirtualLANAreUnreachable() {
        let sockets = discoverySockets()
        lan.as(0) { ws in
            XCTAssertEqual(ws.sendto(sockets[0], [1], IPv4Address(8, 8, 8, 8), 23757), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.ENETUNREACH)
            // Decided: UDP outside is not passed through; the log says so once per address.
            XCTAssertEqual(ws.sendto(sockets[0], [2], IPv4Address(8, 8, 8, 8), 27900), Winsock.socketError)
            XCTAssertEqual(lan.hosts[0].lock.locked { lan.hosts[0].warnedOutside }, [IPv4Address(8, 8, 8, 8)])
            XCTAssertEqual(ws.sendto(sockets[0], [1], lan.address(1), 0), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EADDRNOTAVAIL)
        }
    }

    func test_unboundSenderGetsAnEphemeralPortImplicitly() {
        let sockets = discoverySockets()
        let sender = lan.as(0) { ws -> UInt in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.sendto(s, [9], lan.address(1), 23757), 1)
            return s
        }
        let port = lan.as(0) { $0.sockname(sender)!.port }
        XCTAssertTrue((49152...65535).contains(port))
        lan.as(1) { ws in
            let r = ws.recvfrom(sockets[1])
            XCTAssertEqual(r.from, SocketAddress(address: lan.address(0), port: port))
            // And the answer finds its way back to the ephemeral port.
            XCTAssertEqual(ws.sendto(sockets[1], [10], lan.address(0), port), 1)
        }
        lan.as(0) { ws in
            XCTAssertEqual(ws.nonBlocking(sender), 0)
            XCTAssertEqual(ws.recvfrom(sender).payload, [10])
        }
    }

    func test_connectedUDPSocketSendsToAndHearsOnlyItsPeer() {
        let sockets = discoverySockets()
        lan.as(0) { ws in
            var peer = ws.sockaddr(lan.address(1), 23757)
            XCTAssertEqual(call("connect", .socket(sockets[0]), .ptr(&peer), .int(16)), 0)
            var name = VL_SOCKADDR_IN(), length: Int32 = 16
            XCTAssertEqual(call("getpeername", .socket(sockets[0]), .ptr(&name), .ptr(&length)), 0)
            XCTAssertEqual(SocketAddress.read(&name, length: length).success, SocketAddress(address: lan.address(1), port: 23757))
            let payload: [UInt8] = [5, 6]
            XCTAssertEqual(payload.withUnsafeBytes { Int32(truncatingIfNeeded: call("send", .socket(sockets[0]), .ptr($0.baseAddress), .int(2), .int(0))) }, 2)
        }
        lan.as(1) { ws in
            XCTAssertEqual(ws.recvfrom(sockets[1]).payload, [5, 6])
            XCTAssertEqual(ws.sendto(sockets[1], [1], lan.address(0), 23757), 1)
        }
        lan.as(2) { ws in XCTAssertEqual(ws.sendto(sockets[2], [2], lan.address(0), 23757), 1) }
        lan.as(0) { ws in
            var buffer = [UInt8](repeating: 0, count: 16)
            let n = buffer.withUnsafeMutableBytes { Int32(truncatingIfNeeded: call("recv", .socket(sockets[0]), .ptr($0.baseAddress), .int(16), .int(0))) }
            XCTAssertEqual(n, 1)
            XCTAssertEqual(buffer[0], 1, "from the peer")
            XCTAssertEqual(ws.recvfrom(sockets[0]).result, Winsock.socketError, "instance 2's datagram was not for a socket connected to 1")
        }
    }

    func test_selectReportsReadableOnlyWhenADeliverableDatagramIsQueued() {
        let sockets = discoverySockets()
        func select(_ s: UInt, timeoutMs: Int32) -> (Int32, UInt32) {
            var set = VL_FD_SET()
            set.fd_count = 1
            vl_fd_set_put(&set, 0, VL_SOCKET(s))
            var timeout = VL_TIMEVAL(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
            let n = Int32(truncatingIfNeeded: call("select", .int(0), .ptr(&set), .null, .null, .ptr(&timeout)))
            return (n, set.fd_count)
        }
        lan.as(1) { _ in XCTAssertEqual(select(sockets[1], timeoutMs: 0).0, 0) }
        lan.as(0) { ws in XCTAssertEqual(ws.sendto(sockets[0], [1, 2, 3], lan.address(1), 23757), 3) }
        lan.as(1) { ws in
            let (n, count) = select(sockets[1], timeoutMs: 5000)
            XCTAssertEqual(n, 1)
            XCTAssertEqual(count, 1)
            XCTAssertEqual(ws.recvfrom(sockets[1]).payload, [1, 2, 3])
        }
    }

    func test_blockingReceiveWakesWhenADatagramArrives() {
        let receiver = lan.as(1) { ws -> UInt in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 23756), 0)
            return s
        }
        let host1 = lan.hosts[1]
        let done = expectation(description: "blocking recvfrom returned")
        let received = Locked<[UInt8]>([])
        Thread.detachNewThread {
            // The entry point is bound to instance 1's host for this call.
            var buffer = [UInt8](repeating: 0, count: 64)
            var wsabuf = VL_WSABUF(len: 64, buf: nil)
            let n = buffer.withUnsafeMutableBytes { raw -> Result<Int, WinsockError> in
                wsabuf.buf = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
                return host1.receive(receiver, buffers: &wsabuf, count: 1, flags: 0, from: nil, fromLength: nil)
            }
            received.value = Array(buffer.prefix(n.success ?? 0))
            done.fulfill()
        }
        lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.sendto(s, [4, 2], lan.address(1), 23756), 2)
        }
        wait(for: [done], timeout: 10)
        XCTAssertEqual(received.value, [4, 2])
    }

    func test_closesocketWakesABlockedReceiverWithWSAEINTR() {
        let receiver = lan.as(1) { ws -> UInt in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 23756), 0)
            return s
        }
        let host1 = lan.hosts[1]
        let entered = DispatchSemaphore(value: 0)
        host1.willBlock = { entered.signal() }
        let done = expectation(description: "blocked recvfrom returned")
        let outcome = Locked<Result<Int, WinsockError>?>(nil)
        Thread.detachNewThread {
            var byte: UInt8 = 0
            var wsabuf = VL_WSABUF(len: 1, buf: nil)
            withUnsafeMutableBytes(of: &byte) { raw in
                wsabuf.buf = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
                outcome.value = host1.receive(receiver, buffers: &wsabuf, count: 1, flags: 0, from: nil, fromLength: nil)
            }
            done.fulfill()
        }
        XCTAssertEqual(entered.wait(timeout: .now() + 10), .success)
        // The receiver is registered as blocked: inside recvmsg or about to enter it. Either way it must end.
        lan.as(1) { ws in XCTAssertEqual(ws.close(receiver), 0) }
        wait(for: [done], timeout: 10)
        guard case let .failure(error)? = outcome.value else { return XCTFail("recvfrom on a closed socket must fail, got \(String(describing: outcome.value))") }
        XCTAssertEqual(error, WinsockError.interrupted, "WSAEINTR, as Windows ends a blocking call cut off by closesocket")
    }
}
