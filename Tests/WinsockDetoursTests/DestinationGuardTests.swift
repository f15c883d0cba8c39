import XCTest
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// The guard the DLL puts before handing a connect or send of a non-virtual socket (TCP,
/// IPv6) to the original ws2_32: nothing aimed at the virtual LAN may reach a real network.
final class DestinationGuardTests: LANTestCase {
    override class var instances: Int { 1 }
    override class var startedInstances: Int { 0 }

    private func ipv4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16 = 6112) -> [UInt8] {
        [2, 0, UInt8(port >> 8), UInt8(port & 0xFF), a, b, c, d] + [UInt8](repeating: 0, count: 8)
    }

    private func ipv6(mapped v4: [UInt8]?, port: UInt16 = 6112) -> [UInt8] {
        var address = [UInt8](repeating: 0, count: 16)
        if let v4 { address[10] = 0xFF; address[11] = 0xFF; address[12...15] = v4[...] } else { address[0] = 0x20; address[1] = 0x01 }
        return [23, 0, UInt8(port >> 8), UInt8(port & 0xFF), 0, 0, 0, 0] + address + [0, 0, 0, 0]
    }

    private func refused(_ sockaddr: [UInt8], length: Int32? = nil) -> Bool {
        sockaddr.withUnsafeBytes { refuseRealSend("connect", 99, $0.baseAddress, length ?? Int32(sockaddr.count)) } == 1
    }

    func test_theVirtualSubnetItsBroadcastAndMulticastAreRefusedWithNetworkUnreachable() {
        for address in [ipv4(192, 168, 80, 3), ipv4(192, 168, 80, 255), ipv4(192, 168, 80, 0), ipv4(255, 255, 255, 255),
                        ipv4(224, 0, 0, 1), ipv4(239, 255, 255, 250)] {
            Platform.default.lastError = WinsockError(rawValue: 0)
            XCTAssertTrue(refused(address), "\(address)")
            XCTAssertEqual(Platform.default.lastError, .networkUnreachable)
        }
    }

    func test_ipv4MappedIPv6IsTheSameDestination() {
        XCTAssertTrue(refused(ipv6(mapped: [192, 168, 80, 2])))
        XCTAssertTrue(refused(ipv6(mapped: [239, 1, 2, 3])))
        XCTAssertFalse(refused(ipv6(mapped: [93, 184, 216, 34])))
        XCTAssertFalse(refused(ipv6(mapped: nil)), "a real IPv6 address is not ours to stop")
    }

    func test_everythingElseMayGo() {
        for address in [ipv4(127, 0, 0, 1), ipv4(10, 1, 2, 3), ipv4(192, 168, 81, 1), ipv4(93, 184, 216, 34), ipv4(240, 0, 0, 1)] {
            XCTAssertFalse(refused(address), "\(address)")
        }
        XCTAssertFalse(refused([]), "no address (a connected TCP send): nothing to check")
        XCTAssertFalse(refused(ipv4(192, 168, 80, 3), length: 4), "too short to hold an address: the original answers WSAEFAULT")
    }

    func test_aConfiguredSubnetIsGuardedInsteadOfTheDefault() throws {
        lan.shutdown()
        lan = try TestLAN(instances: 1, config: InstanceConfig(network: VirtualNetwork(parsing: Array("10.77.0.0/16".utf8))!))
        XCTAssertTrue(refused(ipv4(10, 77, 3, 4)))
        XCTAssertFalse(refused(ipv4(192, 168, 80, 3)))
    }

    func test_WSAIoctlOnAVirtualSocketAnswersWhatItKnowsAndRefusesTheRestVisibly() {
        lan.as(0) { ws in
            ws.startup()
            let s = ws.gameSocket(port: 23756)
            var returned: UInt32 = 99
            func ioctl(_ code: UInt32, _ input: UInt32? = nil, output: UnsafeMutablePointer<UInt32>? = nil) -> Int32 {
                var value = input ?? 0
                return withUnsafeMutablePointer(to: &value) { pointer in
                    Int32(truncatingIfNeeded: call("WSAIoctl", .socket(s), .uint(code), .ptr(input == nil ? nil : pointer),
                                                   .uint(input == nil ? 0 : 4), .ptr(output), .uint(output == nil ? 0 : 4),
                                                   .ptr(&returned), .null, .null))
                }
            }
            XCTAssertEqual(ioctl(UInt32(bitPattern: Ioctl.FIONBIO), 1), 0, "FIONBIO")
            XCTAssertEqual(ws.recvfrom(s).result, Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK, "now non-blocking")
            XCTAssertEqual(ws.sendto(s, [1, 2, 3], lan.address(0), 23756), 3)
            var readable: UInt32 = 0
            XCTAssertEqual(ioctl(UInt32(Ioctl.FIONREAD), output: &readable), 0, "FIONREAD")
            XCTAssertEqual(readable, 3)
            XCTAssertEqual(returned, 4)
            XCTAssertEqual(ioctl(Ioctl.SIO_UDP_CONNRESET, 0), 0, "SIO_UDP_CONNRESET off, as games ask")
            XCTAssertEqual(ioctl(Ioctl.SIO_GET_EXTENSION_FUNCTION_POINTER, 0), Winsock.socketError, "a GUID is 16 bytes, not 4")
            XCTAssertEqual(ws.lastError, WSA.EFAULT)
            XCTAssertEqual(ioctl(0xDEAD_BEEF, 0), Winsock.socketError, "a request no provider knows (the Linux backend hands none on)")
            XCTAssertEqual(ws.lastError, WSA.EOPNOTSUPP)
            XCTAssertEqual(returned, 0)
            ws.cleanup()
        }
    }

    func test_WSAConnectOnAVirtualSocketIsConnect() {
        lan.as(0) { ws in
            ws.startup()
            let s = ws.udpSocket()
            var peer = VL_SOCKADDR_IN()
            peer.sin_family = UInt16(VL_AF_INET)
            peer.sin_port = UInt16(23756).bigEndian
            peer.sin_addr = IPv4Address(192, 168, 80, 2).networkOrder
            var callee = VL_WSABUF(len: 64, buf: nil)
            let result = Int32(truncatingIfNeeded: call("WSAConnect", .socket(s), .ptr(&peer), .int(16), .null, .ptr(&callee), .null, .null))
            XCTAssertEqual(result, 0)
            XCTAssertEqual(callee.len, 0, "no connect data comes back on a datagram socket")
            var name = VL_SOCKADDR_IN()
            var length: Int32 = 16
            XCTAssertEqual(Int32(truncatingIfNeeded: call("getpeername", .socket(s), .ptr(&name), .ptr(&length))), 0)
            XCTAssertEqual(IPv4Address(networkOrder: name.sin_addr), IPv4Address(192, 168, 80, 2))
            ws.cleanup()
        }
    }
}
