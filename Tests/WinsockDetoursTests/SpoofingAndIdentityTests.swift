import XCTest
import Glibc
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// A raw Linux UDP socket on 127.0.0.1 that is in no registry: an attacker or a stray program.
final class RawLoopbackSocket {
    let fd: Int32
    init() {
        fd = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    }
    deinit { Glibc.close(fd) }

    func send(_ bytes: [UInt8], toRealPort port: UInt16) {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let n = bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            } }
        }
        precondition(n == bytes.count)
    }
}

final class SpoofingAndIdentityTests: LANTestCase {
    override class var instances: Int { 3 }

    func realPort(_ instance: Int, _ s: UInt) -> UInt16 { lan.hosts[instance].sockets[s]!.realPort }

    /// recvfrom(MSG_PEEK): the datagram and its sender as the next recvfrom will see them,
    /// left queued (as Windows; netcat's UDP listener peeks to learn whom to connect to);
    /// a bad frame in front is dropped, never peeked at forever.
    func test_peekShowsTheNextDatagramAndLeavesItQueued() {
        let receiver = lan.as(1) { ws -> UInt in
            let s = ws.gameSocket(port: 23756)
            XCTAssertEqual(ws.nonBlocking(s), 0)
            return s
        }
        RawLoopbackSocket().send([UInt8](repeating: 0xFF, count: 40), toRealPort: realPort(1, receiver))
        let sender = lan.as(2) { ws -> UInt in ws.gameSocket(port: 23756) }
        lan.as(2) { ws in XCTAssertEqual(ws.sendto(sender, Array("peek me".utf8), lan.address(1), 23756), 7) }
        lan.as(1) { ws in
            func peek(_ capacity: Int32) -> (Int32, [UInt8], SocketAddress?) {
                var buffer = [UInt8](repeating: 0, count: 64)
                var from = VL_SOCKADDR_IN()
                var fromLength: Int32 = 16
                let r = buffer.withUnsafeMutableBytes { p in
                    Int32(truncatingIfNeeded: call("recvfrom", .socket(receiver), .ptr(p.baseAddress), .int(capacity), .int(Int32(VL_MSG_PEEK)), .ptr(&from), .ptr(&fromLength)))
                }
                return (r, Array(buffer.prefix(max(Int(r), 0))), SocketAddress.read(&from, length: fromLength).success)
            }
            let first = peek(64)
            XCTAssertEqual(first.0, 7)
            XCTAssertEqual(first.1, Array("peek me".utf8))
            XCTAssertEqual(first.2, SocketAddress(address: lan.address(2), port: 23756))
            XCTAssertEqual(peek(64).0, 7, "still queued")
            XCTAssertEqual(peek(3).0, Winsock.socketError, "too small a buffer: WSAEMSGSIZE, and the datagram stays")
            XCTAssertEqual(ws.lastError, WSA.EMSGSIZE)
            let taken = ws.recvfrom(receiver)
            XCTAssertEqual(taken.result, 7)
            XCTAssertEqual(taken.payload, Array("peek me".utf8))
            XCTAssertEqual(peek(64).0, Winsock.socketError, "taken now")
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK)
        }
        XCTAssertEqual(lan.registry.counters(ofSlot: 1).rxDatagrams, 1, "a peek does not count as a receive")
        XCTAssertEqual(lan.registry.counters(ofSlot: 1).drops(.malformed), 1)
    }

    func test_spoofedAndGarbageFramesAreDroppedAndCountedNeverDelivered() {
        let victim = lan.as(1) { ws -> UInt in
            let s = ws.gameSocket(port: 23756)
            XCTAssertEqual(ws.nonBlocking(s), 0)
            return s
        }
        let attacker = RawLoopbackSocket()
        let target = realPort(1, victim)
        // A perfectly valid header claiming to come from instance 0, from a port nobody registered.
        let spoofed = WireHeader(source: lan.address(0), sourcePort: 23756, destination: lan.address(1),
                                 destinationPort: 23756, isBroadcast: false)
        attacker.send(spoofed.bytes + [0xAA], toRealPort: target)
        attacker.send([1, 2, 3], toRealPort: target)                                      // shorter than a header
        attacker.send([UInt8](repeating: 0xFF, count: 40), toRealPort: target)             // garbage
        var future = spoofed.bytes
        future[2] = 9
        attacker.send(future, toRealPort: target)                                          // unknown version
        var ghost = spoofed
        ghost.source = lan.address(100)
        attacker.send(ghost.bytes, toRealPort: target)                                     // beyond the registry's slots
        // Then a genuine datagram: it must be the only thing the game sees.
        lan.as(0) { ws in XCTAssertEqual(ws.sendto(ws.gameSocket(port: 23756), [42], lan.address(1), 23756), 1) }
        lan.as(1) { ws in
            XCTAssertEqual(ws.bytesReadable(victim), 1, "FIONREAD skips the bad frames")
            let r = ws.recvfrom(victim)
            XCTAssertEqual(r.payload, [42])
            XCTAssertEqual(r.from, SocketAddress(address: lan.address(0), port: 23756))
            XCTAssertEqual(ws.recvfrom(victim).result, Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK)
        }
        let counters = lan.registry.counters(ofSlot: 1)
        XCTAssertEqual(counters.drops(.spoofedSource), 1)
        XCTAssertEqual(counters.drops(.malformed), 2)
        XCTAssertEqual(counters.drops(.unsupportedVersion), 1)
        XCTAssertEqual(counters.drops(.unknownSource), 1)
        XCTAssertEqual(counters.rxDatagrams, 1)
    }

    func test_pendingOverlappedReceiveIgnoresSpoofedFramesAndCompletesOnTheGenuineOne() {
        let victim = lan.as(1) { $0.gameSocket(port: 23756) }
        let attacker = RawLoopbackSocket()
        lan.as(1) { ws in
            let event = ws.createEvent()
            let op = OverlappedReceive(event: event)
            XCTAssertEqual(op.post(victim).1, WSA.IO_PENDING)
            attacker.send([UInt8](repeating: 0x56, count: 30), toRealPort: realPort(1, victim))
            lan.as(2) { ws in XCTAssertEqual(ws.sendto(ws.gameSocket(port: 23756), [7], lan.address(1), 23756), 1) }
            XCTAssertEqual(ws.wait([event]), 0)
            let result = op.result(victim)
            XCTAssertEqual(result.bytes, 1)
            XCTAssertEqual(op.payload(1), [7], "the garbage frame never completed the operation")
            XCTAssertEqual(op.source?.address, lan.address(2))
        }
        XCTAssertEqual(lan.registry.counters(ofSlot: 1).drops(.malformed), 1)
    }

    func test_eachInstanceSeesItsOwnNameAddressAndAdapter() {
        for i in 0..<3 {
            lan.as(i) { ws in
                var name = [CChar](repeating: 0, count: 64)
                XCTAssertEqual(call("gethostname", .ptr(&name), .int(64)), 0)
                let hostname = String(cString: name)
                XCTAssertEqual(hostname, "VLAN-\(i + 1)")
                let entry = UnsafeMutablePointer<VL_HOSTENT>(bitPattern: UInt(call("gethostbyname", .ptr(&name))))
                XCTAssertNotNil(entry)
                let address = entry!.pointee.h_addr_list[0]!.withMemoryRebound(to: UInt32.self, capacity: 1) { $0.pointee }
                XCTAssertEqual(IPv4Address(networkOrder: address), lan.address(i), "gethostbyname(gethostname()) is the own virtual IP")
                XCTAssertEqual(entry!.pointee.h_length, 4)

                var size: UInt32 = 0
                XCTAssertEqual(call("GetAdaptersInfo", .null, .ptr(&size)), 111, "ERROR_BUFFER_OVERFLOW tells the size")
                XCTAssertEqual(size, UInt32(MemoryLayout<VL_IP_ADAPTER_INFO>.size))
                let info = UnsafeMutableRawPointer.allocate(byteCount: Int(size), alignment: 8)
                defer { info.deallocate() }
                XCTAssertEqual(call("GetAdaptersInfo", .ptr(info), .ptr(&size)), 0)
                let adapter = info.assumingMemoryBound(to: VL_IP_ADAPTER_INFO.self).pointee
                var ip = adapter.IpAddressList.IpAddress
                var mask = adapter.IpAddressList.IpMask
                XCTAssertEqual(withUnsafeBytes(of: &ip) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }, lan.address(i).dotted)
                XCTAssertEqual(withUnsafeBytes(of: &mask) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }, "255.255.255.0")
                XCTAssertEqual(adapter.AddressLength, 6)
                var mac = adapter.Address
                XCTAssertEqual(withUnsafeBytes(of: &mac) { Array($0.prefix(6)) }, MACAddress(instance: i).array)
                XCTAssertNil(adapter.Next)
            }
        }
    }

    func test_getaddrinfoAnswersLikeGethostbyname() {
        lan.as(1) { ws in
            func lookup(_ node: String?, _ service: String?, flags: Int32 = 0, family: Int32 = 0) -> (Int32, IPv4Address?, UInt16?, String?) {
                var hints = VL_ADDRINFO()
                hints.ai_flags = flags
                hints.ai_family = family
                hints.ai_socktype = 2
                hints.ai_protocol = 17
                var result: UnsafeMutablePointer<VL_ADDRINFO>?
                let error = withOptionalCString(node) { n in withOptionalCString(service) { s in
                    Int32(truncatingIfNeeded: call("getaddrinfo", .ptr(n), .ptr(s), .ptr(&hints), .ptr(&result)))
                } }
                guard error == 0, let info = result else { return (error, nil, nil, nil) }
                defer { call("freeaddrinfo", .ptr(info)) }
                XCTAssertEqual(info.pointee.ai_family, 2)
                XCTAssertEqual(info.pointee.ai_socktype, 2)
                XCTAssertNil(info.pointee.ai_next)
                let address = SocketAddress.read(info.pointee.ai_addr, length: Int32(info.pointee.ai_addrlen)).success
                return (0, address?.address, address?.port, info.pointee.ai_canonname.map { String(cString: $0) })
            }
            let own = lookup("VLAN-2", "23756", flags: 2)
            XCTAssertEqual(own.0, 0)
            XCTAssertEqual(own.1, lan.address(1), "getaddrinfo(gethostname()) is the own virtual IP")
            XCTAssertEqual(own.2, 23756)
            XCTAssertEqual(own.3, "VLAN-2", "AI_CANONNAME")
            XCTAssertEqual(lookup("vlan-1", nil).1, lan.address(0))
            XCTAssertEqual(lookup("192.168.80.9", "1").1, IPv4Address(192, 168, 80, 9))
            XCTAssertEqual(lookup(nil, "23757", flags: 1).1, .any, "no node + AI_PASSIVE: bind to any")
            XCTAssertEqual(lookup(nil, "23757").1, .loopback)
            XCTAssertEqual(lookup("www.example.org", "80").0, WSA.HOST_NOT_FOUND)
            XCTAssertEqual(lookup("VLAN-2", "http").0, 10109, "only numeric services")
            XCTAssertEqual(lookup(nil, "").2, 0, "an empty service is port 0, as \"0\" (protocol.c on Windows)")
            XCTAssertEqual(lookup("VLAN-2", "1", family: 23).0, WSA.HOST_NOT_FOUND, "no IPv6 on the virtual LAN")
            var result: UnsafeMutablePointer<VL_ADDRINFO>?
            XCTAssertEqual(Int32(truncatingIfNeeded: call("getaddrinfo", .null, .null, .null, .ptr(&result))), WSA.HOST_NOT_FOUND, "neither node nor service")
            XCTAssertEqual(ws.lastError, WSA.HOST_NOT_FOUND)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("getaddrinfo", .null, .null, .null, .null)), WSA.EINVAL, "no place for the result")
        }
    }

    func test_otherInstancesAndLiteralsResolveUnknownNamesDoNot() {
        lan.as(0) { ws in
            func resolve(_ name: String) -> IPv4Address? {
                let entry = name.withCString { UnsafeMutablePointer<VL_HOSTENT>(bitPattern: UInt(call("gethostbyname", .ptr($0)))) }
                return entry.map { IPv4Address(networkOrder: $0.pointee.h_addr_list[0]!.withMemoryRebound(to: UInt32.self, capacity: 1) { $0.pointee }) }
            }
            XCTAssertEqual(resolve("vlan-3"), lan.address(2), "names are case-insensitive, as on Windows")
            XCTAssertEqual(resolve("localhost"), .loopback)
            XCTAssertEqual(resolve("192.168.80.7"), IPv4Address(192, 168, 80, 7))
            XCTAssertNil(resolve("www.example.org"))
            XCTAssertEqual(ws.lastError, WSA.HOST_NOT_FOUND)
            var small = [CChar](repeating: 0, count: 3)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("gethostname", .ptr(&small), .int(3))), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EFAULT)
        }
    }
}
