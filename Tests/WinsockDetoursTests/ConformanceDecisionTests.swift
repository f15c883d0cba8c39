import XCTest
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// The decisions docs/CONFORMANCE.md lists, through the hook table's entry points (the
/// conformance program checks the same under Wine, with and without the DLL).
final class ConformanceDecisionTests: LANTestCase {
    override class var instances: Int { 2 }

    private func option(_ ws: Winsock, _ s: UInt, level: Int32, _ name: Int32, set value: Int32? = nil) -> (Int32, Int32) {
        if var v = value {
            let r = Int32(truncatingIfNeeded: call("setsockopt", .socket(s), .int(level), .int(name), .ptr(&v), .int(4)))
            if r != 0 { return (r, ws.lastError) }
        }
        var v: Int32 = -7, length: Int32 = 4
        let r = Int32(truncatingIfNeeded: call("getsockopt", .socket(s), .int(level), .int(name), .ptr(&v), .ptr(&length)))
        return (r, r == 0 ? v : ws.lastError)
    }

    func test_optionsAreVirtualHandedOnOrRefusedOneDecisionEach() {
        XCTAssertEqual(optionDecision(level: Opt.SOL_SOCKET, name: Opt.SO_RCVTIMEO), .virtual, "SO_RCVTIMEO")
        XCTAssertEqual(optionDecision(level: 0, name: 4), .handedOn, "IP_TTL")
        XCTAssertEqual(optionDecision(level: 0, name: 12), .virtual, "IP_ADD_MEMBERSHIP: the registry's")
        XCTAssertEqual(optionDecision(level: 0, name: 12, transport: .tcp), .refused, "IP_ADD_MEMBERSHIP on TCP")
        XCTAssertEqual(optionDecision(level: 0, name: 14), .handedOn, "IP_DONTFRAGMENT sits between the membership options")
        lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 0), 0)
            XCTAssertEqual(option(ws, s, level: 0, 4, set: 33).1, 33, "IP_TTL reaches the backing socket and reads back")
            XCTAssertEqual(option(ws, s, level: Opt.SOL_SOCKET, Opt.SO_RCVTIMEO, set: 250).1, 250, "SO_RCVTIMEO is kept")
            XCTAssertEqual(option(ws, s, level: Opt.SOL_SOCKET, Opt.SO_ERROR).1, 0, "SO_ERROR: nothing pending")
            var membership: (UInt32, UInt32) = (0x0150_FFEF, 0)
            let joined = Int32(truncatingIfNeeded: call("setsockopt", .socket(s), .int(0), .int(12), .ptr(&membership), .int(8)))
            XCTAssertEqual(joined, 0, "a membership of the virtual LAN")
            XCTAssertEqual(lan.registry.takesGroupDatagram(slot: 0, realPort: UInt16(ws.host.withSocket(s, orFail: { _ in 0 }) { $0.realPort }),
                                                           group: IPv4Address(239, 255, 80, 1), source: lan.address(1), fromOwnInstance: false), true)
            XCTAssertEqual(option(ws, s, level: 0x6543, 1).1, WSA.ENOPROTOOPT, "unknown levels are the backing socket's (the Linux backend knows none)")
        }
    }

    func test_soRcvtimeoEndsABlockingReceiveWithWSAETIMEDOUT() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 0), 0)
            XCTAssertEqual(ws.setOption(s, Opt.SO_RCVTIMEO, 100), 0)
            let started = Platform.default.nowMs
            let r = ws.recvfrom(s)
            XCTAssertEqual(r.result, -1)
            XCTAssertEqual(ws.lastError, WSA.ETIMEDOUT)
            XCTAssertGreaterThanOrEqual(Platform.default.nowMs &- started, 90, "it waited for the timeout")
            // Control: with a datagram queued the same receive returns it.
            guard let port = ws.sockname(s)?.port else { return XCTFail("no port") }
            XCTAssertEqual(ws.sendto(s, [1, 2, 3], lan.address(0), port), 3)
            XCTAssertEqual(ws.recvfrom(s).payload, [1, 2, 3])
        }
    }

    /// UDP connect: INADDR_ANY is refused (Windows' WSAEADDRNOTAVAIL); port 0 is a
    /// destination like any other (sock.c's test_events connects to 127.0.0.1:0).
    func test_connectRefusesTheAnyAddressTakesPortZeroAndKeepsTheLastError() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            var any = ws.sockaddr(.any, 5000)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("connect", .socket(s), .ptr(&any), .int(16))), -1)
            XCTAssertEqual(ws.lastError, WSA.EADDRNOTAVAIL)
            var zero = ws.sockaddr(lan.address(1), 0)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("connect", .socket(s), .ptr(&zero), .int(16))), 0)
            call("WSASetLastError", .int(12345))
            var peer = ws.sockaddr(lan.address(1), 5000)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("connect", .socket(s), .ptr(&peer), .int(16))), 0)
            XCTAssertEqual(ws.lastError, 12345, "connect leaves the last error on success")
            let t = ws.udpSocket()
            call("WSASetLastError", .int(12345))
            XCTAssertEqual(ws.bind(t, .any, 0), 0)
            XCTAssertEqual(ws.lastError, 0, "bind clears it")
            call("WSASetLastError", .int(12345))
            XCTAssertEqual(ws.close(t), 0)
            XCTAssertEqual(ws.lastError, 12345, "closesocket leaves it")
        }
    }

    func test_badArgumentsGetWindowsErrors() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            var six = [UInt8](repeating: 0, count: 16)
            six[0] = 23 // AF_INET6 in a 16-byte sockaddr
            XCTAssertEqual(six.withUnsafeMutableBytes { Int32(truncatingIfNeeded: call("bind", .socket(s), .ptr($0.baseAddress), .int(16))) }, -1)
            XCTAssertEqual(ws.lastError, WSA.EFAULT, "an IPv6 address is judged by its own size first")
            var value: UInt32 = 0
            XCTAssertEqual(Int32(truncatingIfNeeded: call("ioctlsocket", .socket(s), .int(0x4004_667E), .ptr(&value))), -1)
            XCTAssertEqual(ws.lastError, WSA.EOPNOTSUPP, "an unknown ioctlsocket command: as WSAIoctl answers it")
        }
    }

    func test_wsaEventSelectMakesTheSocketNonBlockingUntilItIsCleared() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 0), 0)
            let event = ws.createEvent()
            XCTAssertEqual(Int32(truncatingIfNeeded: call("WSAEventSelect", .socket(s), .ptr(event), .int(1 | 2))), 0)
            XCTAssertEqual(ws.recvfrom(s).result, -1)
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK, "non-blocking now: WSAEWOULDBLOCK instead of waiting")
            var off: UInt32 = 0
            XCTAssertEqual(Int32(truncatingIfNeeded: call("ioctlsocket", .socket(s), .int(Ioctl.FIONBIO), .ptr(&off))), -1)
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "FIONBIO 0 is refused while events are selected")
            XCTAssertEqual(Int32(truncatingIfNeeded: call("WSAEventSelect", .socket(s), .ptr(nil as UnsafeRawPointer?), .int(0))), 0)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("ioctlsocket", .socket(s), .int(Ioctl.FIONBIO), .ptr(&off))), 0)
            _ = call("WSACloseEvent", .ptr(event))
        }
    }

    func test_wsaAsyncSelectMakesTheSocketNonBlockingToo() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 0), 0)
            let window = UnsafeMutableRawPointer(bitPattern: 0x1234)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("WSAAsyncSelect", .socket(s), .ptr(window), .uint(0x407), .int(1))), 0)
            XCTAssertEqual(ws.recvfrom(s).result, -1)
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK)
            var off: UInt32 = 0
            XCTAssertEqual(Int32(truncatingIfNeeded: call("ioctlsocket", .socket(s), .int(Ioctl.FIONBIO), .ptr(&off))), -1)
            XCTAssertEqual(ws.lastError, WSA.EINVAL)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("WSAAsyncSelect", .socket(s), .ptr(nil as UnsafeRawPointer?), .uint(1), .int(1))), -1,
                           "events without a window")
            XCTAssertEqual(Int32(truncatingIfNeeded: call("WSAAsyncSelect", .socket(s), .ptr(window), .uint(0), .int(0))), 0)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("ioctlsocket", .socket(s), .int(Ioctl.FIONBIO), .ptr(&off))), 0)
        }
    }

    func test_wsaSendAndWSARecvOnAConnectedSocket() {
        let b = lan.as(1) { ws -> UInt in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 7100), 0)
            return s
        }
        lan.as(0) { ws in
            let s = ws.udpSocket()
            var payload: [UInt8] = Array("scatter".utf8)
            var sent: UInt32 = 0
            let unconnected = payload.withUnsafeMutableBytes { raw -> Int32 in
                var buffer = VL_WSABUF(len: 7, buf: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                return Int32(truncatingIfNeeded: call("WSASend", .socket(s), .ptr(&buffer), .uint(1), .ptr(&sent), .uint(0),
                                                      .ptr(nil as UnsafeRawPointer?), .ptr(nil as UnsafeRawPointer?)))
            }
            XCTAssertEqual(unconnected, -1)
            XCTAssertEqual(ws.lastError, WSA.ENOTCONN, "WSASend without a peer: WSAENOTCONN, as send")
            var peer = ws.sockaddr(lan.address(1), 7100)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("connect", .socket(s), .ptr(&peer), .int(16))), 0)
            let r = payload.withUnsafeMutableBytes { raw -> Int32 in
                var buffer = VL_WSABUF(len: 7, buf: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                return Int32(truncatingIfNeeded: call("WSASend", .socket(s), .ptr(&buffer), .uint(1), .ptr(&sent), .uint(0),
                                                      .ptr(nil as UnsafeRawPointer?), .ptr(nil as UnsafeRawPointer?)))
            }
            XCTAssertEqual(r, 0)
            XCTAssertEqual(sent, 7)
        }
        lan.as(1) { ws in
            var bytes = [UInt8](repeating: 0, count: 32)
            var received: UInt32 = 0, flags: UInt32 = 0
            let r = bytes.withUnsafeMutableBytes { raw -> Int32 in
                var buffer = VL_WSABUF(len: 32, buf: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                return Int32(truncatingIfNeeded: call("WSARecv", .socket(b), .ptr(&buffer), .uint(1), .ptr(&received), .ptr(&flags),
                                                      .ptr(nil as UnsafeRawPointer?), .ptr(nil as UnsafeRawPointer?)))
            }
            XCTAssertEqual(r, 0)
            XCTAssertEqual(Array(bytes.prefix(Int(received))), Array("scatter".utf8))
        }
    }

    /// WSARecvMsg from its WSAIoctl pointer: a broadcast is flagged MSG_BCAST and, with
    /// IP_PKTINFO, the control data names the broadcast address it was sent to and the
    /// virtual adapter (the instance's index + 2, as GetAdaptersInfo numbers it; loopback is 1).
    func test_wsaRecvMsgTellsTheVirtualDestinationAndBroadcast() {
        let receiver = lan.as(0) { ws -> UInt in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 7200), 0)
            var on: Int32 = 1
            XCTAssertEqual(Int32(truncatingIfNeeded: call("setsockopt", .socket(s), .int(0), .int(19), .ptr(&on), .int(4))), 0)
            var id: [UInt8] = [0xC8, 0xD7, 0x89, 0xF6, 0x1F, 0x6F, 0x6B, 0x43, 0x8A, 0x53, 0xE5, 0x4F, 0xE3, 0x51, 0xC3, 0x22]
            var pointer: UnsafeMutableRawPointer?
            var returned: UInt32 = 0
            let r = Int32(truncatingIfNeeded: call("WSAIoctl", .socket(s), .uint(Ioctl.SIO_GET_EXTENSION_FUNCTION_POINTER), .ptr(&id), .uint(16), .ptr(&pointer),
                                                   .uint(UInt32(MemoryLayout<UnsafeRawPointer>.size)), .ptr(&returned),
                                                   .ptr(nil as UnsafeRawPointer?), .ptr(nil as UnsafeRawPointer?)))
            XCTAssertEqual(r, 0)
            XCTAssertEqual(pointer, Platform.default.extensionEntries.receiveMessage, "the platform's WSARecvMsg entry")
            return s
        }
        lan.as(1) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.setOption(s, Opt.SO_BROADCAST, 1), 0)
            XCTAssertEqual(ws.sendto(s, [7, 7, 7], lan.registry.network.broadcast, 7200), 3)
        }
        lan.as(0) { ws in
            var data = [UInt8](repeating: 0, count: 16), control = [UInt8](repeating: 0, count: 64)
            var from = VL_SOCKADDR_IN()
            var received: UInt32 = 0
            let r = data.withUnsafeMutableBytes { d in
                control.withUnsafeMutableBytes { c -> Int32 in
                    var buffer = VL_WSABUF(len: 16, buf: d.baseAddress!.assumingMemoryBound(to: CChar.self))
                    // The message's pointers must outlive the call: taken for its whole span.
                    return withUnsafeMutablePointer(to: &from) { name in
                        withUnsafeMutablePointer(to: &buffer) { buffers in
                            var message = VL_WSAMSG(name: name, namelen: 16, lpBuffers: buffers, dwBufferCount: 1,
                                                    Control: VL_WSABUF(len: 64, buf: c.baseAddress!.assumingMemoryBound(to: CChar.self)), dwFlags: 0)
                            defer { XCTAssertEqual(message.dwFlags, UInt32(VL_MSG_BCAST)) }
                            return hookWSARecvMsg(receiver, &message, &received, nil, nil)
                        }
                    }
                }
            }
            XCTAssertEqual(r, 0)
            XCTAssertEqual(Array(data.prefix(Int(received))), [7, 7, 7])
            XCTAssertEqual(SocketAddress.read(&from, length: 16).success?.address, lan.address(1), "the sender")
            let header = MemoryLayout<VL_WSACMSGHDR>.size
            let info = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: header, as: VL_IN_PKTINFO.self) }
            let level = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: MemoryLayout<UInt>.size, as: Int32.self) }
            XCTAssertEqual(level, 0, "IPPROTO_IP")
            XCTAssertEqual(IPv4Address(networkOrder: info.ipi_addr), lan.registry.network.broadcast, "sent to the subnet's broadcast")
            XCTAssertEqual(info.ipi_ifindex, 2, "the virtual adapter of instance 0 (loopback is 1)")
        }
    }

    /// WSASendMsg is WSASendTo with the message's name and buffers; an overlapped WSARecvMsg
    /// completes the message (flags, name, IP_PKTINFO) when the datagram comes.
    func test_wsaSendMsgAndAnOverlappedWsaRecvMsg() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 7250), 0)
            var on: Int32 = 1
            XCTAssertEqual(Int32(truncatingIfNeeded: call("setsockopt", .socket(s), .int(0), .int(19), .ptr(&on), .int(4))), 0)
            // The receive is posted first: its message and buffers outlive the call.
            let data = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 8)
            let control = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
            let from = UnsafeMutablePointer<VL_SOCKADDR_IN>.allocate(capacity: 1)
            let buffer = UnsafeMutablePointer<VL_WSABUF>.allocate(capacity: 1)
            let message = UnsafeMutablePointer<VL_WSAMSG>.allocate(capacity: 1)
            let overlapped = UnsafeMutablePointer<VL_OVERLAPPED>.allocate(capacity: 1)
            defer { data.deallocate(); control.deallocate(); from.deallocate(); buffer.deallocate(); message.deallocate(); overlapped.deallocate() }
            from.initialize(to: VL_SOCKADDR_IN())
            buffer.initialize(to: VL_WSABUF(len: 16, buf: data.baseAddress!.assumingMemoryBound(to: CChar.self)))
            message.initialize(to: VL_WSAMSG(name: from, namelen: 16, lpBuffers: buffer, dwBufferCount: 1,
                                             Control: VL_WSABUF(len: 64, buf: control.baseAddress!.assumingMemoryBound(to: CChar.self)), dwFlags: 0))
            let event = ws.createEvent()
            overlapped.initialize(to: VL_OVERLAPPED())
            overlapped.pointee.hEvent = event
            var received: UInt32 = 0
            XCTAssertEqual(hookWSARecvMsg(s, message, &received, overlapped, nil), -1)
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING, "pending")

            var to = ws.sockaddr(lan.address(0), 7250)
            let parts = UnsafeMutableRawBufferPointer.allocate(byteCount: 7, alignment: 1)
            defer { parts.deallocate() }
            parts.copyBytes(from: Array("sendmsg".utf8))
            let base = parts.baseAddress!.assumingMemoryBound(to: CChar.self)
            var two = [VL_WSABUF(len: 4, buf: base), VL_WSABUF(len: 3, buf: base + 4)]
            var sent: UInt32 = 0
            let r = two.withUnsafeMutableBufferPointer { b -> Int32 in
                withUnsafeMutablePointer(to: &to) { name in
                    var outgoing = VL_WSAMSG(name: name, namelen: 16, lpBuffers: b.baseAddress, dwBufferCount: 2, Control: VL_WSABUF(), dwFlags: 0)
                    return hookWSASendMsg(s, &outgoing, 0, &sent, nil, nil)
                }
            }
            XCTAssertEqual(r, 0)
            XCTAssertEqual(sent, 7)
            XCTAssertEqual(ws.wait([event]), 0)
            XCTAssertEqual(overlapped.pointee.InternalHigh, 7)
            XCTAssertEqual(Array(data.prefix(7)), Array("sendmsg".utf8))
            XCTAssertEqual(message.pointee.namelen, 16)
            XCTAssertEqual(SocketAddress.read(from, length: 16).success?.address, lan.address(0))
            XCTAssertEqual(message.pointee.Control.len, UInt32(MemoryLayout<VL_WSACMSGHDR>.size + MemoryLayout<VL_IN_PKTINFO>.size))
            let info = control.loadUnaligned(fromByteOffset: MemoryLayout<VL_WSACMSGHDR>.size, as: VL_IN_PKTINFO.self)
            XCTAssertEqual(IPv4Address(networkOrder: info.ipi_addr), lan.address(0), "the virtual destination")
            var none = VL_WSAMSG(name: nil, namelen: 0, lpBuffers: nil, dwBufferCount: 0, Control: VL_WSABUF(), dwFlags: 0)
            XCTAssertEqual(hookWSASendMsg(s, &none, 0, &sent, nil, nil), -1)
            XCTAssertEqual(ws.lastError, WSA.EDESTADDRREQ, "no name, not connected: WSAEDESTADDRREQ, as WSASendTo")
        }
    }

    /// Handles: CloseHandle closes a virtual socket as closesocket does; copies of one into
    /// a process of no virtual PC (WSADuplicateSocket) or any other process (DuplicateHandle)
    /// are refused.
    func test_closeHandleClosesAndCopiesIntoOtherProcessesAreRefused() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 7350), 0)
            let none = nil as UnsafeRawPointer?
            var info = [UInt8](repeating: 0, count: 372)
            let r = info.withUnsafeMutableBytes { call("WSADuplicateSocketA", .socket(s), .uint(UInt32(getpid()) &+ 1), .ptr($0.baseAddress)) }
            XCTAssertEqual(Int32(truncatingIfNeeded: r), -1)
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "a process of no virtual PC")
            XCTAssertEqual(call("DuplicateHandle", .ptr(none), .socket(s), .ptr(none), .ptr(none), .uint(0), .int(0), .uint(2)), 0)
            XCTAssertEqual(ws.lastError, 50)
            XCTAssertEqual(call("CloseHandle", .socket(s)), 1)
            XCTAssertEqual(ws.close(s), -1, "gone")
            XCTAssertEqual(ws.lastError, WSA.ENOTSOCK)
            let t = ws.udpSocket()
            XCTAssertEqual(ws.bind(t, .any, 7350), 0, "the port is free again")
        }
    }

    /// WSARecvEx hands back the first part of a long datagram with MSG_PARTIAL.
    func test_wsaRecvExReturnsPartOfALongDatagram() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 7360), 0)
            XCTAssertEqual(ws.sendto(s, [1, 2, 3, 4, 5], lan.address(0), 7360), 5)
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: 8)
            defer { buffer.deallocate() }
            var flags: Int32 = 0
            XCTAssertEqual(hookWSARecvEx(s, buffer, 2, &flags), 2)
            XCTAssertEqual(flags, Int32(VL_MSG_PARTIAL))
            XCTAssertEqual(ws.bytesReadable(s), 0, "the rest is gone")
            XCTAssertEqual(ws.sendto(s, [9], lan.address(0), 7360), 1)
            XCTAssertEqual(hookWSARecvEx(s, buffer, 8, &flags), 1)
            XCTAssertEqual(flags, 0)
        }
    }

    /// CancelIoEx and CancelIo end our pending receives as the OS ends its own: 995 in the
    /// result, the event signalled; nothing left to cancel: ERROR_NOT_FOUND.
    func test_cancelIoExEndsAPendingReceiveWithOperationAborted() {
        lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 7300), 0)
            let first = OverlappedReceive(event: ws.createEvent()), second = OverlappedReceive(event: ws.createEvent())
            XCTAssertEqual(first.post(s).1, WSA.IO_PENDING)
            XCTAssertEqual(second.post(s).1, WSA.IO_PENDING)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("CancelIoEx", .socket(s), .ptr(first.overlapped))), 1)
            XCTAssertEqual(ws.wait([first.overlapped.pointee.hEvent], timeoutMs: 2000), 0, "signalled")
            XCTAssertEqual(first.result(s).error, WSA.OPERATION_ABORTED)
            XCTAssertEqual(second.result(s).error, WSA.IO_INCOMPLETE, "only the named operation: the other is still pending")
            XCTAssertEqual(Int32(truncatingIfNeeded: call("CancelIo", .socket(s))), 1, "the calling thread's: the second one")
            XCTAssertEqual(second.result(s).error, WSA.OPERATION_ABORTED)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("CancelIoEx", .socket(s), .ptr(nil as UnsafeRawPointer?))), 0)
            XCTAssertEqual(ws.lastError, 1168, "nothing left: ERROR_NOT_FOUND")
        }
    }

    /// The interface queries describe the virtual PC: its adapter on the LAN and loopback.
    func test_interfaceQueriesAnswerWithTheVirtualAdapter() {
        lan.as(1) { ws in
            let s = ws.udpSocket()
            func ioctl(_ code: UInt32, _ input: UnsafeRawPointer?, _ inputLength: UInt32, _ output: UnsafeMutableRawPointer, _ outputLength: UInt32) -> (Int32, UInt32) {
                var returned: UInt32 = 0
                let r = Int32(truncatingIfNeeded: call("WSAIoctl", .socket(s), .uint(code), .ptr(input), .uint(inputLength), .ptr(output),
                                                       .uint(outputLength), .ptr(&returned), .ptr(nil as UnsafeRawPointer?), .ptr(nil as UnsafeRawPointer?)))
                return (r, returned)
            }
            var out = [UInt8](repeating: 0, count: 256)
            var target = ws.sockaddr(lan.address(5), 9)
            XCTAssertEqual(out.withUnsafeMutableBytes { ioctl(Ioctl.SIO_ROUTING_INTERFACE_QUERY, &target, 16, $0.baseAddress!, 16) }.0, 0)
            XCTAssertEqual(out.withUnsafeBytes { IPv4Address(networkOrder: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }, lan.address(1),
                           "a datagram to the LAN leaves from this instance's address")
            var remote = ws.sockaddr(IPv4Address(203, 0, 113, 9), 9)
            XCTAssertEqual(out.withUnsafeMutableBytes { ioctl(Ioctl.SIO_ROUTING_INTERFACE_QUERY, &remote, 16, $0.baseAddress!, 16) }.0, -1)
            XCTAssertEqual(ws.lastError, WSA.ENETUNREACH, "no gateway: no route beyond the LAN")
            let (r, returned) = out.withUnsafeMutableBytes { ioctl(0x4004_747F, nil, 0, $0.baseAddress!, 256) }
            XCTAssertEqual(r, 0)
            XCTAssertEqual(returned, 2 * 76, "two INTERFACE_INFO entries")
            out.withUnsafeBytes { raw in
                XCTAssertEqual(raw.loadUnaligned(as: UInt32.self), 1 | 2 | 16, "up, broadcast, multicast")
                XCTAssertEqual(IPv4Address(networkOrder: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)), lan.address(1))
                XCTAssertEqual(IPv4Address(networkOrder: raw.loadUnaligned(fromByteOffset: 32, as: UInt32.self)), lan.registry.network.broadcast)
                XCTAssertEqual(IPv4Address(networkOrder: raw.loadUnaligned(fromByteOffset: 84, as: UInt32.self)), .loopback)
            }
            let countOnly = UInt32(MemoryLayout<UnsafeRawPointer>.size)  // FIELD_OFFSET(SOCKET_ADDRESS_LIST, Address[0])
            let (short, needed) = out.withUnsafeMutableBytes { ioctl(Ioctl.SIO_ADDRESS_LIST_QUERY, nil, 0, $0.baseAddress!, countOnly) }
            XCTAssertEqual(short, -1)
            XCTAssertEqual(ws.lastError, WSA.EFAULT, "room for the count only: WSAEFAULT and the size needed")
            let (tiny, none) = out.withUnsafeMutableBytes { ioctl(Ioctl.SIO_ADDRESS_LIST_QUERY, nil, 0, $0.baseAddress!, 1) }
            XCTAssertEqual(tiny, -1)
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "no room for the count: WSAEINVAL (ws2_32)")
            XCTAssertEqual(none, 0)
            XCTAssertEqual(out.withUnsafeMutableBytes { ioctl(Ioctl.SIO_ADDRESS_LIST_QUERY, nil, 0, $0.baseAddress!, needed) }.0, 0)
            XCTAssertEqual(out.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }, 1, "one address")
        }
    }
}

/// select and WSAPoll over a virtual socket and a socket that is not the layer's (a real
/// TCP listener): one call answers both, the other socket as the OS does.
final class MixedWaitTests: LANTestCase {
    override class var instances: Int { 1 }

    func test_selectAndPollAnswerVirtualAndRealSocketsTogether() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &local) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                XCTAssertEqual(bind(listener, a, length), 0)
                XCTAssertEqual(getsockname(listener, a, &length), 0)
            }
        }
        XCTAssertEqual(listen(listener, 4), 0)
        try lan.as(0) { ws in
            let u = ws.udpSocket()
            XCTAssertEqual(ws.bind(u, .any, 0), 0)
            var set = VL_FD_SET()
            func fill(_ handles: [UInt]) {
                set.fd_count = UInt32(handles.count)
                for (i, h) in handles.enumerated() { vl_fd_set_put(&set, UInt32(i), VL_SOCKET(h)) }
            }
            var zero = VL_TIMEVAL(tv_sec: 0, tv_usec: 100_000)
            let none = nil as UnsafeRawPointer?
            fill([u, UInt(listener)])
            XCTAssertEqual(call("select", .int(0), .ptr(&set), .ptr(none), .ptr(none), .ptr(&zero)), 0, "nothing yet, no WSAENOTSOCK")

            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(client) }
            withUnsafeMutablePointer(to: &local) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { XCTAssertEqual(connect(client, $0, length), 0) }
            }
            var second = VL_TIMEVAL(tv_sec: 2, tv_usec: 0)
            fill([u, UInt(listener)])
            XCTAssertEqual(call("select", .int(0), .ptr(&set), .ptr(none), .ptr(none), .ptr(&second)), 1)
            XCTAssertEqual(set.fd_count, 1)
            XCTAssertEqual(UInt(vl_fd_set_get(&set, 0)), UInt(listener), "the listener has a connection")

            let port = try XCTUnwrap(ws.sockname(u)?.port)
            XCTAssertEqual(ws.sendto(u, [1], lan.address(0), port), 1)
            var fds = [VL_WSAPOLLFD(fd: VL_SOCKET(u), events: Int16(VL_POLLRDNORM), revents: 0),
                       VL_WSAPOLLFD(fd: VL_SOCKET(listener), events: Int16(VL_POLLRDNORM), revents: 0)]
            let r = fds.withUnsafeMutableBufferPointer { hookWSAPoll($0.baseAddress, 2, 2000) }
            XCTAssertEqual(r, 2)
            XCTAssertEqual(fds[0].revents, Int16(VL_POLLRDNORM), "the datagram")
            XCTAssertNotEqual(fds[1].revents & Int16(VL_POLLRDNORM), 0, "the pending connection, as the OS says")
        }
    }
}
