import XCTest
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

final class StartupAndBindTests: LANTestCase {
    override class var instances: Int { 2 }
    override class var startedInstances: Int { 0 }

    func test_startupIsRefcountedAndCalledTwiceIsNormal() {
        lan.as(0) { ws in
            XCTAssertEqual(ws.udpSocket(), Winsock.invalidSocket, "no socket before WSAStartup")
            XCTAssertEqual(ws.lastError, WSA.NOTINITIALISED)
            var data = VL_WSADATA()
            XCTAssertEqual(call("WSAStartup", .uint(0x0202), .ptr(&data)), 0)
            XCTAssertEqual(data.wVersion, 0x0202)
            XCTAssertEqual(data.wHighVersion, 0x0202)
            XCTAssertEqual(ws.startup(), 0, "FlatOut 2 calls WSAStartup twice")
            XCTAssertEqual(ws.cleanup(), 0)
            let s = ws.udpSocket()
            XCTAssertNotEqual(s, Winsock.invalidSocket, "one WSAStartup is still in force")
            XCTAssertEqual(ws.cleanup(), 0)
            XCTAssertEqual(ws.cleanup(), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.NOTINITIALISED)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("WSAStartup", .uint(0x0202), .null)), WSA.EFAULT)
            XCTAssertEqual(Int32(truncatingIfNeeded: call("WSAStartup", .uint(0x0100), .null)), WSA.VERNOTSUPPORTED)
        }
    }

    /// What Windows grants and writes (Wine's protocol.c, test_startup, which passes on
    /// Windows): 1.0 and up are granted, clamped to 1.1 or 2.2; 0.x is refused with the
    /// WSADATA still written; lpVendorInfo is never touched.
    func test_startupGrantsTheVersionsWindowsGrantsAndWritesWSADATAEvenWhenRefusing() {
        lan.as(0) { _ in
            for (asked, granted, refused) in [(0x0000, 0x0202, true), (0x0100, 0x0202, true), (0x0001, 0x0001, false), (0x0201, 0x0101, false),
                                              (0xFF01, 0x0101, false), (0x0002, 0x0002, false), (0x0302, 0x0202, false), (0x0003, 0x0202, false)] {
                var data = VL_WSADATA()
                data.iMaxSockets = 0xCCCC
                let vendor = UnsafeMutablePointer<CChar>(bitPattern: 0xDEADBEEF)
                data.lpVendorInfo = vendor
                let answer = Int32(truncatingIfNeeded: call("WSAStartup", .uint(UInt32(asked)), .ptr(&data)))
                XCTAssertEqual(answer, refused ? WSA.VERNOTSUPPORTED : 0, "version \(asked)")
                XCTAssertEqual(data.wVersion, UInt16(granted), "version \(asked)")
                XCTAssertEqual(data.wHighVersion, 0x0202)
                XCTAssertEqual(data.lpVendorInfo, vendor, "left as it was")
                XCTAssertEqual(data.iMaxSockets, UInt16(asked & 0xFF == 1 ? 32767 : 0), "version \(asked)")
                let description = withUnsafeBytes(of: data.szDescription) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                XCTAssertEqual(description, "WinSock 2.0")
                if !refused {
                    XCTAssertEqual(call("WSACleanup"), 0)
                }
            }
        }
    }

    func test_getsocknameAnswersTheBoundAddressNotTheBackingOne() {
        lan.as(1) { ws in
            ws.startup()
            let any = ws.gameSocket(port: 23757)
            XCTAssertEqual(ws.sockname(any), SocketAddress(address: .any, port: 23757))
            let own = ws.gameSocket(port: 23756, address: lan.address(1))
            XCTAssertEqual(ws.sockname(own), SocketAddress(address: IPv4Address(192, 168, 80, 2), port: 23756))
            let local = ws.gameSocket(port: 4000, address: .loopback)
            XCTAssertEqual(ws.sockname(local), SocketAddress(address: .loopback, port: 4000))
            let unbound = ws.udpSocket()
            XCTAssertNil(ws.sockname(unbound))
            XCTAssertEqual(ws.lastError, WSA.EINVAL, "getsockname on an unbound socket is WSAEINVAL")
            ws.cleanup()
        }
    }

    /// Windows: once connected, an ANY-bound socket's name is the local address towards its
    /// peer (netcat prints it); connecting it away again gives 0.0.0.0 back.
    func test_getsocknameAfterConnectIsTheInterfaceTowardsThePeer() {
        lan.as(1) { ws in
            ws.startup()
            let s = ws.gameSocket(port: 9000)
            func connect(_ address: IPv4Address, _ port: UInt16) -> Int32 {
                var peer = ws.sockaddr(address, port)
                return Int32(truncatingIfNeeded: call("connect", .socket(s), .ptr(&peer), .int(16)))
            }
            XCTAssertEqual(connect(lan.address(2), 9000), 0)
            XCTAssertEqual(ws.sockname(s), SocketAddress(address: lan.address(1), port: 9000))
            XCTAssertEqual(connect(.loopback, 9000), 0)
            XCTAssertEqual(ws.sockname(s), SocketAddress(address: .loopback, port: 9000))
            XCTAssertEqual(connect(.any, 0), 0)
            XCTAssertEqual(ws.sockname(s), SocketAddress(address: .any, port: 9000))
            ws.cleanup()
        }
    }

    /// gethostbyaddr of an instance's address names that instance, as a LAN's name service
    /// would; any other address is not ours (the DLL asks the system).
    func test_gethostbyaddrNamesInstances() {
        lan.as(0) { ws in
            ws.startup()
            func lookup(_ address: IPv4Address, type: Int32 = 2) -> String? {
                var raw = address.networkOrder
                let entry = withUnsafeBytes(of: &raw) { p in
                    UnsafeMutablePointer<VL_HOSTENT>(bitPattern: UInt(call("gethostbyaddr", .ptr(p.baseAddress), .int(4), .int(type))))
                }
                return entry.map { String(cString: $0.pointee.h_name) }
            }
            XCTAssertEqual(lookup(IPv4Address(192, 168, 80, 3)), "VLAN-3")
            XCTAssertEqual(lookup(lan.address(0)), "VLAN-1")
            XCTAssertNil(lookup(IPv4Address(10, 1, 2, 3)))
            XCTAssertEqual(ws.lastError, WSA.HOST_NOT_FOUND, "WSAHOST_NOT_FOUND: the DLL hands it to the system resolver")
            XCTAssertNil(lookup(IPv4Address(192, 168, 80, 255)), "the broadcast address is no host")
            XCTAssertNil(lookup(IPv4Address(192, 168, 80, 3), type: 23))
            XCTAssertEqual(ws.lastError, WSA.EAFNOSUPPORT)
            ws.cleanup()
        }
    }

    func test_bindFollowsTheOwnPCModel() {
        lan.as(0) { ws in
            ws.startup()
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, lan.address(1), 23757), Winsock.socketError, "another instance's address is not ours")
            XCTAssertEqual(ws.lastError, WSA.EADDRNOTAVAIL)
            XCTAssertEqual(ws.bind(s, IPv4Address(10, 0, 0, 1), 23757), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EADDRNOTAVAIL)
            XCTAssertEqual(ws.bind(s, .any, 23757), 0)
            XCTAssertEqual(ws.bind(s, .any, 23758), Winsock.socketError, "bound twice")
            XCTAssertEqual(ws.lastError, WSA.EINVAL)
            let second = ws.udpSocket()
            XCTAssertEqual(ws.bind(second, .any, 23757), Winsock.socketError, "same port twice in one instance")
            XCTAssertEqual(ws.lastError, WSA.EADDRINUSE)
            let ephemeral = ws.udpSocket()
            XCTAssertEqual(ws.bind(ephemeral, .any, 0), 0)
            XCTAssertTrue((49152...65535).contains(ws.sockname(ephemeral)!.port))
            ws.cleanup()
        }
    }

    func test_samePortInTwoInstancesIsTheWholePoint() {
        lan.as(0) { ws in ws.startup(); _ = ws.gameSocket(port: 23757) }
        lan.as(1) { ws in
            ws.startup()
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 23757), 0, "no WSAEADDRINUSE across instances")
            ws.cleanup()
        }
        lan.as(0) { ws in ws.cleanup() }
    }

    func test_reuseAddressAsWindowsDecidesIt() {
        lan.as(0) { ws in
            ws.startup()
            let a = ws.udpSocket(), b = ws.udpSocket(), c = ws.udpSocket()
            XCTAssertEqual(ws.bind(a, .any, 5000), 0)
            XCTAssertEqual(ws.setOption(b, 4, 1), 0)
            XCTAssertEqual(ws.bind(b, .any, 5000), Winsock.socketError, "SO_REUSEADDR on the newcomer only")
            XCTAssertEqual(ws.lastError, WSA.EACCES)
            let d = ws.udpSocket()
            XCTAssertEqual(ws.setOption(c, 4, 1), 0)
            XCTAssertEqual(ws.setOption(d, 4, 1), 0)
            XCTAssertEqual(ws.bind(c, .any, 5001), 0)
            XCTAssertEqual(ws.bind(d, .any, 5001), 0, "SO_REUSEADDR on both")
            XCTAssertEqual(ws.getOption(d, 4), 1)
            ws.cleanup()
        }
    }

    /// 0.0.0.0 and 127.0.0.1 share a port on Windows; a datagram to 127.0.0.1 goes to the
    /// socket bound there, one to the LAN address to the 0.0.0.0 one. An exclusive 0.0.0.0
    /// binding covers every address (sock.c's test_reuseaddr).
    func test_aWildcardAndASpecificBindingShareAPortAndTheSpecificOneReceives() {
        lan.as(0) { ws in
            ws.startup()
            let wildcard = ws.udpSocket(), loopback = ws.udpSocket()
            XCTAssertEqual(ws.bind(wildcard, .any, 5100), 0)
            XCTAssertEqual(ws.bind(loopback, .loopback, 5100), 0, "another address: no conflict")
            let sender = ws.udpSocket()
            XCTAssertEqual(ws.sendto(sender, [1], .loopback, 5100), 1)
            XCTAssertEqual(ws.recvfrom(loopback).payload, [1], "to 127.0.0.1: the socket bound there")
            XCTAssertEqual(ws.sendto(sender, [2], lan.address(0), 5100), 1)
            XCTAssertEqual(ws.recvfrom(wildcard).payload, [2], "to the LAN address: the 0.0.0.0 socket")
            let exclusive = ws.udpSocket(), late = ws.udpSocket()
            XCTAssertEqual(ws.setOption(exclusive, Int32(VL_SO_EXCLUSIVEADDRUSE), 1), 0)
            XCTAssertEqual(ws.bind(exclusive, .any, 5101), 0)
            XCTAssertEqual(ws.bind(late, .loopback, 5101), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EACCES, "an exclusive 0.0.0.0 binding covers 127.0.0.1")
            let newcomer = ws.udpSocket()
            XCTAssertEqual(ws.setOption(newcomer, Int32(VL_SO_EXCLUSIVEADDRUSE), 1), 0)
            XCTAssertEqual(ws.bind(newcomer, .any, 5100), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EADDRINUSE, "an exclusive 0.0.0.0 binding over sockets already there")
            ws.cleanup()
        }
    }

    func test_closedSocketFreesItsPortAndHandle() {
        lan.as(0) { ws in
            ws.startup()
            let s = ws.gameSocket(port: 23757)
            XCTAssertEqual(ws.close(s), 0)
            XCTAssertEqual(ws.close(s), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.ENOTSOCK)
            _ = ws.gameSocket(port: 23757)
            ws.cleanup()
        }
    }

    func test_socketOptionsAnswerAsWindows() {
        lan.as(0) { ws in
            ws.startup()
            let s = ws.udpSocket()
            XCTAssertEqual(ws.getOption(s, Opt.SO_MAX_MSG_SIZE), Int32(65507 - 16), "SO_MAX_MSG_SIZE less our header")
            XCTAssertEqual(ws.getOption(s, Opt.SO_TYPE), 2, "SO_TYPE is SOCK_DGRAM")
            XCTAssertEqual(ws.getOption(s, Opt.SO_BROADCAST), 0)
            XCTAssertEqual(ws.setOption(s, Opt.SO_BROADCAST, 1), 0)
            XCTAssertEqual(ws.getOption(s, Opt.SO_BROADCAST), 1)
            XCTAssertEqual(ws.setOption(s, Opt.SO_RCVBUF, 262_144), 0)
            XCTAssertEqual(ws.getOption(s, Opt.SO_RCVBUF), 262_144)
            XCTAssertEqual(ws.setOption(s, 0x7777, 1), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.ENOPROTOOPT)
            XCTAssertEqual(ws.udpSocket() == Winsock.invalidSocket, false)
            XCTAssertNotEqual(UInt(call("socket", .int(2), .int(1), .int(6))), Winsock.invalidSocket, "TCP is virtual too")
            XCTAssertEqual(UInt(call("socket", .int(2), .int(1), .int(17))), Winsock.invalidSocket, "a stream is not UDP")
            XCTAssertEqual(ws.lastError, WSA.EPROTONOSUPPORT)
            XCTAssertEqual(UInt(call("socket", .int(2), .int(3), .int(0))), Winsock.invalidSocket, "raw sockets are not virtual")
            XCTAssertEqual(ws.lastError, WSA.ESOCKTNOSUPPORT)
            XCTAssertEqual(UInt(call("socket", .int(23), .int(2), .int(0))), Winsock.invalidSocket)
            XCTAssertEqual(ws.lastError, WSA.EAFNOSUPPORT)
            ws.cleanup()
        }
    }

    /// Zeros Winsock fills from its catalog (sock.c's test_sioAddressListChange opens
    /// socket(AF_INET, 0, IPPROTO_TCP)): type 0 takes the protocol's type, family 0 with UDP
    /// or TCP is IPv4. Each is virtual: it binds the instance's own address.
    func test_zeroTypeOrFamilyIsFilledAsWinsockFillsIt() {
        lan.as(0) { ws in
            ws.startup()
            for (af, type, proto, expected) in [(Int32(2), Int32(0), Int32(6), Int32(1)), (2, 0, 17, 2), (2, 0, 0, 1), (0, 2, 17, 2), (0, 1, 6, 1)] {
                let s = UInt(call("socket", .int(af), .int(type), .int(proto)))
                XCTAssertNotEqual(s, Winsock.invalidSocket, "socket(\(af), \(type), \(proto))")
                XCTAssertEqual(ws.getOption(s, Opt.SO_TYPE), expected, "socket(\(af), \(type), \(proto))")
                XCTAssertEqual(ws.bind(s, lan.address(0), 0), 0, "socket(\(af), \(type), \(proto)) is virtual")
                _ = ws.close(s)
            }
            ws.cleanup()
        }
    }

    /// SO_REUSEADDR and SO_EXCLUSIVEADDRUSE exclude each other (sock.c's test_reuseaddr):
    /// the second one on is WSAEINVAL; off again, the other may be set.
    func test_reuseAndExclusiveUseExcludeEachOther() {
        lan.as(0) { ws in
            ws.startup()
            let s = ws.udpSocket()
            let exclusive = Int32(VL_SO_EXCLUSIVEADDRUSE)
            XCTAssertEqual(ws.setOption(s, Opt.SO_REUSEADDR, 1), 0)
            XCTAssertEqual(ws.setOption(s, exclusive, 1), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EINVAL)
            XCTAssertEqual(ws.setOption(s, Opt.SO_REUSEADDR, 0), 0)
            XCTAssertEqual(ws.setOption(s, exclusive, 1), 0)
            XCTAssertEqual(ws.setOption(s, Opt.SO_REUSEADDR, 1), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EINVAL)
            ws.cleanup()
        }
    }
}
