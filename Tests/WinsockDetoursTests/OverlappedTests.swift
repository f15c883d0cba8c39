import XCTest
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// Counts completion-routine calls (a C-callable function cannot capture).
nonisolated(unsafe) var completions: [(error: UInt32, bytes: UInt32, overlapped: UnsafeMutableRawPointer?)] = []
let completionRoutine: @convention(c) (UInt32, UInt32, UnsafeMutableRawPointer?, UInt32) -> Void = { error, bytes, overlapped, _ in
    completions.append((error, bytes, overlapped))
}

final class OverlappedTests: LANTestCase {
    var sockets: [UInt] = []
    override func setUpWithError() throws {
        try super.setUpWithError()
        sockets = (0..<2).map { i in lan.as(i) { ws in ws.gameSocket(port: 23756) } }
        completions = []
    }

    func send(from i: Int, _ payload: [UInt8], to j: Int) {
        lan.as(i) { ws in XCTAssertEqual(ws.sendto(sockets[i], payload, lan.address(j), 23756), Int32(payload.count)) }
    }

    /// An operation without an event signals the socket's handle: WaitForSingleObject on the
    /// socket times out while it is pending and returns once it ended, as on Windows.
    func test_aReceiveWithoutAnEventSignalsTheSocketHandle() {
        lan.as(1) { ws in
            let op = OverlappedReceive(event: nil)
            XCTAssertEqual(op.post(sockets[1]).1, WSA.IO_PENDING)
            XCTAssertEqual(UInt32(call("WaitForSingleObject", .socket(sockets[1]), .uint(0))), 258, "WAIT_TIMEOUT while pending")
            send(from: 0, [1, 2], to: 1)
            XCTAssertEqual(UInt32(call("WaitForSingleObject", .socket(sockets[1]), .uint(10_000))), 0, "signalled at its end")
            XCTAssertEqual(op.result(sockets[1]).bytes, 2)
        }
    }

    func test_pendingReceiveCompletesThroughEventAndGetOverlappedResult() {
        lan.as(1) { ws in
            let event = ws.createEvent()
            let op = OverlappedReceive(event: event)
            let (r, error) = op.post(sockets[1])
            XCTAssertEqual(r, Winsock.socketError)
            XCTAssertEqual(error, WSA.IO_PENDING, "WSA_IO_PENDING")
            XCTAssertEqual(op.result(sockets[1]).error, WSA.IO_INCOMPLETE, "WSA_IO_INCOMPLETE before the datagram")
            XCTAssertEqual(ws.wait([event], timeoutMs: 0), 258, "WSA_WAIT_TIMEOUT while nothing arrived")
            send(from: 0, Array("FO14 packet".utf8), to: 1)
            XCTAssertEqual(ws.wait([event]), 0, "the event is signaled on completion")
            let result = op.result(sockets[1])
            XCTAssertTrue(result.ok)
            XCTAssertEqual(result.bytes, 11)
            XCTAssertEqual(op.payload(result.bytes), Array("FO14 packet".utf8))
            XCTAssertEqual(op.source, SocketAddress(address: lan.address(0), port: 23756))
            XCTAssertEqual(call("WSACloseEvent", .ptr(event)), 1)
        }
    }

    func test_dataAlreadyQueuedCompletesImmediatelyAndSignalsTheEvent() {
        send(from: 0, [1, 2, 3, 4], to: 1)
        lan.as(1) { ws in
            // select first: the datagram is certainly queued before the post.
            XCTAssertEqual(ws.bytesReadable(sockets[1]), 4)
            let event = ws.createEvent()
            let op = OverlappedReceive(event: event)
            let (r, _) = op.post(sockets[1])
            XCTAssertEqual(r, 0, "immediate success")
            XCTAssertEqual(op.received, 4)
            XCTAssertEqual(ws.wait([event], timeoutMs: 0), 0, "and the event is signaled, as Windows does")
            XCTAssertEqual(op.result(sockets[1]).bytes, 4)
            XCTAssertEqual(op.payload(4), [1, 2, 3, 4])
        }
    }

    func test_waitForMultipleEventsNamesTheSignaledOne() {
        lan.as(1) { ws in
            let other = ws.gameSocket(port: 23757)
            let events = [ws.createEvent(), ws.createEvent()]
            let ops = [OverlappedReceive(event: events[0]), OverlappedReceive(event: events[1])]
            XCTAssertEqual(ops[0].post(other).1, WSA.IO_PENDING)
            XCTAssertEqual(ops[1].post(sockets[1]).1, WSA.IO_PENDING)
            send(from: 0, [8], to: 1)
            XCTAssertEqual(ws.wait(events), 1, "WSA_WAIT_EVENT_0 + 1: the game-port receive")
            XCTAssertEqual(call("WSAResetEvent", .ptr(events[1])), 1)
            XCTAssertEqual(ws.wait(events, timeoutMs: 0), 258)
            XCTAssertEqual(ops[0].result(other).error, WSA.IO_INCOMPLETE)
        }
    }

    func test_completionRoutineRunsInTheAlertableWaitOfThePostingThread() {
        lan.as(1) { ws in
            let event = ws.createEvent()
            let op = OverlappedReceive(event: nil)
            XCTAssertEqual(op.post(sockets[1], routine: unsafeBitCast(completionRoutine, to: UnsafeRawPointer.self)).1, WSA.IO_PENDING)
            send(from: 0, [1, 1, 1], to: 1)
            XCTAssertEqual(ws.wait([event], alertable: true), 0xC0, "WSA_WAIT_IO_COMPLETION")
            XCTAssertEqual(completions.count, 1)
            XCTAssertEqual(completions.first?.error, 0)
            XCTAssertEqual(completions.first?.bytes, 3)
            XCTAssertEqual(completions.first?.overlapped, UnsafeMutableRawPointer(op.overlapped))
        }
    }

    func test_closesocketAbortsPendingReceivesWithOperationAborted() {
        lan.as(1) { ws in
            let event = ws.createEvent()
            let op = OverlappedReceive(event: event)
            XCTAssertEqual(op.post(sockets[1]).1, WSA.IO_PENDING)
            XCTAssertEqual(ws.close(sockets[1]), 0)
            XCTAssertEqual(ws.wait([event], timeoutMs: 0), 0, "the event is signaled")
            let result = op.result(sockets[1])
            XCTAssertFalse(result.ok)
            XCTAssertEqual(result.error, WSA.ENOTSOCK, "WSAGetOverlappedResult asks the socket first: WSAENOTSOCK, as Wine (tcp.acceptex-listener-closed)")
            XCTAssertEqual(UInt32(op.overlapped.pointee.Internal), 0xC000_0120, "the OVERLAPPED says aborted, as kernel32's GetOverlappedResult reads")
            var transferred: UInt32 = 0
            XCTAssertEqual(call("GetOverlappedResult", .socket(sockets[1]), .ptr(op.overlapped), .ptr(&transferred), .int(0)), 0)
            XCTAssertEqual(ws.lastError, WSA.OPERATION_ABORTED, "kernel32's: WSA_OPERATION_ABORTED from the OVERLAPPED")
        }
    }

    func test_truncatedOverlappedReceiveReportsWSAEMSGSIZE() {
        send(from: 0, Array(0..<50), to: 1)
        lan.as(1) { ws in
            XCTAssertEqual(ws.bytesReadable(sockets[1]), 50)
            let event = ws.createEvent()
            let op = OverlappedReceive(event: event)
            let (r, error) = op.post(sockets[1], capacity: 20)
            XCTAssertEqual(r, Winsock.socketError)
            XCTAssertEqual(error, WSA.EMSGSIZE)
            XCTAssertEqual(ws.wait([event], timeoutMs: 0), 0)
            let result = op.result(sockets[1])
            XCTAssertEqual(result.error, WSA.EMSGSIZE)
            XCTAssertEqual(result.bytes, 20)
            XCTAssertEqual(UInt32(op.overlapped.pointee.Internal), 0x8000_0005, "STATUS_BUFFER_OVERFLOW, as measured on Wine")
        }
    }

    func test_overlappedSendCompletesAtOnce() {
        lan.as(0) { ws in
            let event = ws.createEvent()
            let overlapped = UnsafeMutablePointer<VL_OVERLAPPED>.allocate(capacity: 1)
            defer { overlapped.deallocate() }
            overlapped.initialize(to: VL_OVERLAPPED())
            overlapped.pointee.hEvent = event
            var payload: [UInt8] = [3, 3, 3]
            var to = ws.sockaddr(lan.address(1), 23756)
            var sent: UInt32 = 0
            let r = payload.withUnsafeMutableBytes { p -> UInt64 in
                var wsabuf = VL_WSABUF(len: 3, buf: p.baseAddress!.assumingMemoryBound(to: CChar.self))
                return call("WSASendTo", .socket(sockets[0]), .ptr(&wsabuf), .uint(1), .ptr(&sent), .uint(0), .ptr(&to), .int(16), .ptr(overlapped), .null)
            }
            XCTAssertEqual(r, 0)
            XCTAssertEqual(sent, 3)
            XCTAssertEqual(ws.wait([event], timeoutMs: 0), 0)
        }
        lan.as(1) { ws in
            XCTAssertEqual(ws.nonBlocking(sockets[1]), 0)
            XCTAssertEqual(ws.recvfrom(sockets[1]).payload, [3, 3, 3])
        }
    }

    func test_invalidEventHandlesAreRefused() {
        lan.as(0) { ws in
            let event = ws.createEvent()
            XCTAssertEqual(call("WSACloseEvent", .ptr(event)), 1)
            XCTAssertEqual(call("WSASetEvent", .ptr(event)), 0, "a closed event")
            XCTAssertEqual(ws.lastError, 6)
            XCTAssertEqual(ws.wait([event]), 0xFFFF_FFFF)
            XCTAssertEqual(UInt32(truncatingIfNeeded: call("WSAWaitForMultipleEvents", .uint(0), .null, .int(0), .uint(0), .int(0))), 0xFFFF_FFFF)
            XCTAssertEqual(ws.lastError, 87)
        }
    }
}
