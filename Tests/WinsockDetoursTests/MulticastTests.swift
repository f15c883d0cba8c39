import XCTest
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// Multicast on the virtual LAN through the hook table: memberships in the registry, a
/// datagram to a group reaching exactly the members, Windows' errors and IP_MULTICAST_LOOP.
final class MulticastTests: LANTestCase {
    let group = IPv4Address(239, 255, 80, 1)
    let port: UInt16 = 5353

    override class var instances: Int { 4 }

    /// setsockopt(IPPROTO_IP, name) with an ip_mreq / ip_mreq_source; (result, error).
    func membership(_ ws: Winsock, _ s: UInt, _ name: Int32, group: IPv4Address, source: IPv4Address? = nil,
                    interface: IPv4Address = .any, length: Int32? = nil) -> (Int32, Int32) {
        var words: [UInt32] = source.map { [group.networkOrder, $0.networkOrder, interface.networkOrder] }
            ?? [group.networkOrder, interface.networkOrder]
        let r = words.withUnsafeMutableBytes { p in
            Int32(truncatingIfNeeded: call("setsockopt", .socket(s), .int(0), .int(name), .ptr(p.baseAddress),
                                           .int(length ?? Int32(p.count))))
        }
        return (r, r == 0 ? 0 : ws.lastError)
    }

    func memberSocket(_ ws: Winsock) -> UInt {
        let s = ws.gameSocket(port: port)
        XCTAssertEqual(ws.nonBlocking(s), 0)
        return s
    }

    func received(_ ws: Winsock, _ s: UInt) -> [[UInt8]] {
        var got: [[UInt8]] = []
        for _ in 0..<8 {
            let r = ws.recvfrom(s)
            guard r.result >= 0 else { XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK); break }
            got.append(r.payload)
        }
        return got
    }

    func test_aGroupDatagramReachesTheMembersOnlyWithTheSenderAsSource() {
        let sockets = (0..<4).map { i in lan.as(i) { memberSocket($0) } }
        // 0, 1 and 3 join; 2 is bound to the same port and does not.
        for i in [0, 1, 3] { lan.as(i) { ws in XCTAssertEqual(membership(ws, sockets[i], 12, group: group).0, 0) } }
        lan.as(1) { ws in XCTAssertEqual(ws.sendto(sockets[1], Array("hi".utf8), group, port), 2) }
        for i in [0, 1, 3] {
            lan.as(i) { ws in
                let r = ws.recvfrom(sockets[i])
                XCTAssertEqual(r.payload, Array("hi".utf8), "member \(i)")
                XCTAssertEqual(r.from, SocketAddress(address: lan.address(1), port: port))
            }
        }
        lan.as(2) { ws in XCTAssertEqual(received(ws, sockets[2]), [], "a socket that did not join sees nothing") }
        // Leaving: 3 drops the group and gets nothing more; a second drop is WSAEINVAL.
        lan.as(3) { ws in
            XCTAssertEqual(membership(ws, sockets[3], 13, group: group).0, 0)
            XCTAssertEqual(membership(ws, sockets[3], 13, group: group).1, WSA.EINVAL)
        }
        lan.as(0) { ws in XCTAssertEqual(ws.sendto(sockets[0], Array("again".utf8), group, port), 5) }
        lan.as(3) { ws in XCTAssertEqual(received(ws, sockets[3]), []) }
        lan.as(1) { ws in XCTAssertEqual(received(ws, sockets[1]), [Array("again".utf8)]) }
        // Another group, and the same group on another port, reach nobody.
        lan.as(0) { ws in
            XCTAssertEqual(ws.sendto(sockets[0], [1], IPv4Address(239, 255, 80, 2), port), 1)
            XCTAssertEqual(ws.sendto(sockets[0], [2], group, port + 1), 1)
        }
        for i in 0..<4 { lan.as(i) { ws in XCTAssertEqual(received(ws, sockets[i]).filter { $0 != Array("again".utf8) }, [], "instance \(i)") } }
    }

    func test_multicastLoopOffKeepsTheSendersOwnInstanceOut() {
        let sockets = (0..<2).map { i in lan.as(i) { memberSocket($0) } }
        for i in 0..<2 { lan.as(i) { ws in XCTAssertEqual(membership(ws, sockets[i], 12, group: group).0, 0) } }
        lan.as(0) { ws in
            var off: Int32 = 0, length: Int32 = 4, read: Int32 = 7
            XCTAssertEqual(Int32(truncatingIfNeeded: call("getsockopt", .socket(sockets[0]), .int(0), .int(11), .ptr(&read), .ptr(&length))), 0)
            XCTAssertEqual(read, 1, "IP_MULTICAST_LOOP is on by default, as Windows")
            XCTAssertEqual(Int32(truncatingIfNeeded: call("setsockopt", .socket(sockets[0]), .int(0), .int(11), .ptr(&off), .int(4))), 0)
            XCTAssertEqual(ws.sendto(sockets[0], Array("x".utf8), group, port), 1)
            XCTAssertEqual(received(ws, sockets[0]), [], "loop off: its own instance's datagram does not come back")
        }
        lan.as(1) { ws in XCTAssertEqual(received(ws, sockets[1]), [Array("x".utf8)], "another instance still gets it") }
        // Winsock applies the option on the receive path: instance 1 (loop on) sends, 0 (off) still gets it.
        lan.as(1) { ws in XCTAssertEqual(ws.sendto(sockets[1], Array("y".utf8), group, port), 1) }
        lan.as(0) { ws in XCTAssertEqual(received(ws, sockets[0]), [Array("y".utf8)]) }
        lan.as(1) { ws in XCTAssertEqual(received(ws, sockets[1]), [Array("y".utf8)], "loop on: its own comes back") }
    }

    func test_sourceFiltersAndWindowsErrors() {
        let sockets = (0..<3).map { i in lan.as(i) { memberSocket($0) } }
        lan.as(0) { ws in
            let s = sockets[0]
            XCTAssertEqual(membership(ws, s, 12, group: IPv4Address(192, 168, 80, 9)).1, WSA.EINVAL, "not a group: WSAEINVAL")
            XCTAssertEqual(membership(ws, s, 12, group: group, length: 7).1, WSA.EFAULT, "short ip_mreq: WSAEFAULT")
            XCTAssertEqual(membership(ws, s, 12, group: group, interface: IPv4Address(10, 1, 2, 3)).1, WSA.EADDRNOTAVAIL, "not our interface")
            let unbound = ws.udpSocket()
            XCTAssertEqual(membership(ws, unbound, 12, group: group).1, WSA.EINVAL, "Windows joins only a bound socket")
            XCTAssertEqual(membership(ws, s, 12, group: group, interface: lan.address(0)).0, 0, "our LAN address is the interface")
            XCTAssertEqual(membership(ws, s, 12, group: group).1, WSA.EADDRNOTAVAIL, "joined twice: WSAEADDRNOTAVAIL")
            XCTAssertEqual(membership(ws, s, 15, group: group, source: lan.address(1)).1, WSA.EADDRNOTAVAIL, "a source join on an any-source one")
            XCTAssertEqual(membership(ws, s, 16, group: group, source: lan.address(1)).1, WSA.EINVAL, "drop a source of an any-source join")
            XCTAssertEqual(membership(ws, s, 18, group: group, source: lan.address(1)).1, WSA.EINVAL, "unblock what is not blocked")
            XCTAssertEqual(membership(ws, s, 17, group: group, source: lan.address(1)).0, 0, "block instance 1")
            XCTAssertEqual(membership(ws, s, 17, group: group, source: lan.address(1)).1, WSA.EADDRNOTAVAIL, "blocked twice")
            var v: Int32 = 0, length: Int32 = 4
            XCTAssertEqual(Int32(truncatingIfNeeded: call("getsockopt", .socket(s), .int(0), .int(12), .ptr(&v), .ptr(&length))), -1)
            XCTAssertEqual(ws.lastError, WSA.ENOPROTOOPT, "the membership options are set-only")
        }
        // Instance 2 joins for instance 1 only (source-specific).
        lan.as(2) { ws in XCTAssertEqual(membership(ws, sockets[2], 15, group: group, source: lan.address(1)).0, 0) }
        lan.as(1) { ws in XCTAssertEqual(ws.sendto(sockets[1], Array("from1".utf8), group, port), 5) }
        lan.as(3) { _ in }
        lan.as(0) { ws in XCTAssertEqual(received(ws, sockets[0]), [], "instance 1 is blocked") }
        lan.as(2) { ws in XCTAssertEqual(received(ws, sockets[2]), [Array("from1".utf8)], "its one source") }
        lan.as(0) { ws in XCTAssertEqual(membership(ws, sockets[0], 18, group: group, source: lan.address(1)).0, 0, "unblocked") }
        lan.as(2) { ws in
            let other = ws.gameSocket(port: 9)
            XCTAssertEqual(ws.sendto(other, Array("from2".utf8), group, port), 5)
            XCTAssertEqual(received(ws, sockets[2]), [], "a source it did not name")
            XCTAssertEqual(membership(ws, sockets[2], 16, group: group, source: lan.address(1)).0, 0, "source dropped")
        }
        lan.as(0) { ws in XCTAssertEqual(received(ws, sockets[0]), [Array("from2".utf8)]) }
    }

    func test_closingASocketLeavesItsGroupsAndTheRegistryShowsMemberships() {
        let s = lan.as(1) { memberSocket($0) }
        lan.as(1) { ws in XCTAssertEqual(membership(ws, s, 12, group: group).0, 0) }
        var groups: [IPv4Address] = []
        lan.registry.forEachMembership(slot: 1) { groups.append($0.group) }
        XCTAssertEqual(groups, [group])
        lan.as(1) { ws in XCTAssertEqual(ws.close(s), 0) }
        groups = []
        lan.registry.forEachMembership(slot: 1) { groups.append($0.group) }
        XCTAssertEqual(groups, [], "a closed socket is in no group")
    }

    func test_twentyMembershipsPerSocketThenWSAENOBUFS() {
        lan.as(0) { ws in
            let s = memberSocket(ws)
            for i in 0..<20 { XCTAssertEqual(membership(ws, s, 12, group: IPv4Address(239, 1, 0, UInt8(i))).0, 0) }
            XCTAssertEqual(membership(ws, s, 12, group: IPv4Address(239, 1, 0, 99)).1, WSA.ENOBUFS)
        }
    }

    func test_aFrameToAGroupTheSocketDidNotJoinIsDroppedAsMisdirected() {
        let sockets = (0..<2).map { i in lan.as(i) { memberSocket($0) } }
        // Instance 0 joins; instance 1's socket has not, but a forged frame to the group is sent straight to its real port.
        lan.as(0) { ws in XCTAssertEqual(membership(ws, sockets[0], 12, group: group).0, 0) }
        let real = lan.hosts[1].withSocket(sockets[1], orFail: { _ in 0 }) { $0.realPort }
        let real0 = lan.hosts[0].withSocket(sockets[0], orFail: { _ in 0 }) { $0.realPort }
        let frame = WireHeader(source: lan.address(0), sourcePort: port, destination: group, destinationPort: port, isBroadcast: true)
        let router = Router(registry: lan.registry)
        let verdict = frame.bytes.withUnsafeBytes {
            router.check(frame: $0, realSourcePort: real0, receiver: Router.Receiver(instance: 1, virtualPort: port, scope: .any,
                                                                                   groups: .joinedBy(realPort: real)))
        }
        XCTAssertEqual(verdict, .drop(.misdirected))
        let member = frame.bytes.withUnsafeBytes {
            router.check(frame: $0, realSourcePort: real0, receiver: Router.Receiver(instance: 0, virtualPort: port, scope: .any,
                                                                                   groups: .joinedBy(realPort: real0)))
        }
        XCTAssertEqual(member, .deliver(frame))
    }
}
