import XCTest
import CWineBridge
import HostKit
import VirtualIPCore
@testable import WinsockDetours

/// A TCP connect to an address of the LAN where no PC answers gets Windows' answer: the SYN
/// is sent again after TcpInitialRTT and twice that, and the attempt gives up twice the
/// last delay later, WSAETIMEDOUT (21 s with Windows' 3 s; the tests shorten the delay). A
/// copy that starts meanwhile is reached by the next SYN. An instance that is there but
/// has no listener refuses at once (WSAECONNREFUSED, StreamTests).
final class UnansweredConnectTests: LANTestCase {
    override class var instances: Int { 2 }

    /// Starts instance 2 (its address had no PC until now) with a listener on 6112.
    func startThirdCopy() throws -> UInt {
        var config = InstanceConfig()
        config.pinnedInstance = 2
        lan.hosts.append(try VirtualHost(platform: .default, config: config, registry: lan.registry))
        _ = lan.as(2) { $0.startup() }
        return lan.tcpListener(2, port: 6112)
    }

    /// Instance 0's blocking connect to instance 2's address, on a thread of its own, once it
    /// waits in the handshake: the socket, and what waits for the connect's outcome.
    func connectToTheThirdAddress() -> (UInt, () -> WinsockError??) {
        let owner = lan.hosts[0]
        let client = lan.as(0) { $0.tcpSocket() }
        let result = Locked<WinsockError??>(nil)
        let waiting = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        owner.willBlock = { waiting.signal() }
        let unanswered = SocketAddress(address: lan.address(2), port: 6112)
        Thread.detachNewThread {
            result.value = .some(owner.connectStream(client, to: unanswered))
            done.signal()
        }
        waiting.wait()
        return (client, { done.wait(); return result.value })
    }

    func test_aBlockingConnectWhereNoPCAnswersTimesOutOnWindowsSchedule() {
        lan.hosts[0].initialRetransmitMs = 30
        lan.as(0) { ws in
            let s = ws.tcpSocket()
            let start = Platform.default.nowMs
            XCTAssertEqual(ws.connect(s, lan.address(2), 6112), -1)
            XCTAssertEqual(ws.lastError, WSA.ETIMEDOUT, "WSAETIMEDOUT, as Windows after its SYN retransmissions")
            XCTAssertGreaterThanOrEqual(Platform.default.nowMs &- start, 7 * 30 - 5, "the whole schedule: 1 + 2 + 4 times TcpInitialRTT")
            XCTAssertNil(ws.peername(s))
            XCTAssertEqual(ws.connect(s, lan.address(1), 6112), -1, "the socket is usable again")
            XCTAssertEqual(ws.lastError, WSA.ECONNREFUSED, "a PC that is there refuses at once")
        }
    }

    /// Non-blocking, the connect stays under way (its SYN goes to the host's silent port,
    /// where the OS drops it): neither writable nor failed, as towards a PC that is not there.
    func test_aNonBlockingConnectWhereNoPCAnswersStaysUnderWay() {
        lan.as(0) { ws in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.nonBlocking(s), 0)
            XCTAssertEqual(ws.connect(s, lan.address(2), 6112), -1)
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK, "WSAEWOULDBLOCK")
            XCTAssertEqual(ws.selectWritable(s), 0, "neither connected nor failed within select's 2 s: under way")
            XCTAssertEqual(ws.getOption(s, Opt.SO_ERROR), 0, "SO_ERROR: nothing yet")
            XCTAssertNil(ws.peername(s))
            let refused = ws.tcpSocket()
            XCTAssertEqual(ws.nonBlocking(refused), 0)
            XCTAssertEqual(ws.connect(refused, lan.address(1), 6113), -1, "a PC that is there, with no listener")
            XCTAssertEqual(ws.selectWritable(refused), 1, "refused at once: select reports it")
            XCTAssertEqual(ws.getOption(refused, Opt.SO_ERROR), WSA.ECONNREFUSED)
            XCTAssertEqual(ws.close(s), 0)
        }
    }

    func test_aCopyThatStartsDuringTheHandshakeIsReached() throws {
        lan.hosts[0].initialRetransmitMs = 300
        let (_, connected) = connectToTheThirdAddress()
        let host = try startThirdCopy()
        XCTAssertEqual(connected(), .some(nil), "connected: a retransmitted SYN reached the new copy")
        let (accepted, from) = lan.as(2) { $0.accept(host) }
        XCTAssertNotEqual(accepted, Winsock.invalidSocket)
        XCTAssertEqual(from?.address, lan.address(0))
    }

    func test_closesocketEndsTheHandshakeWait() {
        lan.hosts[0].initialRetransmitMs = 10_000
        let (client, connected) = connectToTheThirdAddress()
        lan.as(0) { XCTAssertEqual($0.close(client), 0) }
        XCTAssertEqual(connected(), .some(.interrupted), "WSAEINTR, as for any blocked call closesocket ends")
    }

    /// ConnectEx never blocks: pending at once, then the end on the heartbeat: WSAETIMEDOUT
    /// (STATUS_IO_TIMEOUT in the OVERLAPPED), or connected when a copy started in time.
    func test_connectExWhereNoPCAnswersEndsLaterTimedOutOrConnected() throws {
        lan.hosts[0].initialRetransmitMs = 20
        let overlapped = UnsafeMutablePointer<VL_OVERLAPPED>.allocate(capacity: 2)
        defer { overlapped.deallocate() }
        overlapped.initialize(repeating: VL_OVERLAPPED(), count: 2)
        let function = try lan.as(0) { ws -> ConnectExTests.ConnectEx in
            let s = ws.tcpSocket()
            let function = try XCTUnwrap(ConnectExTests.connectEx(s))
            XCTAssertEqual(ws.bind(s, .any, 0), 0)
            overlapped.pointee.hEvent = ws.createEvent()
            var to = ws.sockaddr(lan.address(2), 6112)
            XCTAssertEqual(function(s, &to, 16, nil, 0, nil, overlapped), 0)
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING)
            XCTAssertEqual(UInt32(overlapped.pointee.Internal), VL_STATUS_PENDING, "still under way after the call")
            XCTAssertEqual(function(s, &to, 16, nil, 0, nil, overlapped + 1), 0)
            XCTAssertEqual(ws.lastError, WSA.EALREADY, "one handshake at a time: WSAEALREADY")
            XCTAssertEqual(ws.wait([overlapped.pointee.hEvent], timeoutMs: 10_000), 0)
            XCTAssertEqual(UInt32(overlapped.pointee.Internal), 0xC000_00B5, "STATUS_IO_TIMEOUT")
            XCTAssertEqual(WinsockError(ntStatus: UInt32(overlapped.pointee.Internal)), .timedOut)
            return function
        }
        lan.hosts[0].initialRetransmitMs = 400
        let second = overlapped + 1
        // The first bytes stay the caller's until the end, as Windows requires.
        let hello = UnsafeMutableRawPointer.allocate(byteCount: 5, alignment: 1)
        defer { hello.deallocate() }
        hello.copyMemory(from: Array("hello".utf8), byteCount: 5)
        let client = lan.as(0) { ws -> UInt in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.bind(s, .any, 0), 0)
            second.pointee.hEvent = ws.createEvent()
            var to = ws.sockaddr(lan.address(2), 6112)
            XCTAssertEqual(function(s, &to, 16, hello, 5, nil, second), 0)
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING)
            return s
        }
        let host = try startThirdCopy()
        lan.as(0) { ws in
            XCTAssertEqual(ws.wait([second.pointee.hEvent], timeoutMs: 10_000), 0)
            XCTAssertEqual(UInt32(second.pointee.Internal), VL_STATUS_SUCCESS, "connected at a retransmission")
            XCTAssertEqual(second.pointee.InternalHigh, 5)
            XCTAssertEqual(ws.peername(client), SocketAddress(address: lan.address(2), port: 6112))
        }
        let (accepted, _) = lan.as(2) { $0.accept(host) }
        lan.as(2) { XCTAssertEqual($0.recv(accepted, capacity: 16), Array("hello".utf8)) }
    }
}
