import XCTest
import Foundation
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// WSADuplicateSocket into another process of the same PC (here a second host in this test
/// process, standing in for a child by its pid): the copy there is the same virtual socket,
/// and its port stays taken until the last process that holds it lets go.
final class SharedSocketTests: LANTestCase {
    /// A pid that is alive for the whole test (the process that runs the tests' runner).
    let childPid = UInt32(getppid())

    /// The child of instance 0's process; it is shut down with the LAN.
    func startChild() throws -> Int {
        let parent = lan.hosts[0]
        let joining = try XCTUnwrap(parent.adopt(childProcess: childPid)).instance
        let child = try VirtualHost(platform: .default, config: parent.config, registry: lan.registry, joining: joining, processID: childPid)
        lan.hosts.append(child)
        return lan.hosts.count - 1
    }

    /// WSADuplicateSocketW's answer for `s` in `process` (a WSAPROTOCOL_INFOW's 628 bytes),
    /// or the error.
    func copy(_ ws: Winsock, _ s: UInt, for process: UInt32) -> ([UInt8], Int32) {
        var info = [UInt8](repeating: 0, count: 628)
        let r = info.withUnsafeMutableBytes { Int32(truncatingIfNeeded: call("WSADuplicateSocketW", .socket(s), .uint(process), .ptr($0.baseAddress))) }
        return (info, r == 0 ? 0 : ws.lastError)
    }

    func open(_ info: inout [UInt8]) -> UInt {
        info.withUnsafeMutableBytes { UInt(call("WSASocketW", .int(0), .int(0), .int(0), .ptr($0.baseAddress), .uint(0), .uint(0))) }
    }

    func test_aDatagramSocketCopiedIntoAChildIsTheSameVirtualSocketUntilTheLastProcessLetsGo() throws {
        let child = try startChild()
        var info = lan.as(0) { ws -> [UInt8] in
            let s = ws.gameSocket(port: 7200)  // with SO_BROADCAST (a new socket's is 0)
            let (info, error) = copy(ws, s, for: childPid)
            XCTAssertEqual(error, 0)
            // The parent lets go first: the child holds the socket now.
            XCTAssertEqual(ws.close(s), 0)
            return info
        }
        let copied = lan.as(child) { ws -> UInt in
            ws.startup()
            let copied = open(&info)
            XCTAssertNotEqual(copied, Winsock.invalidSocket)
            XCTAssertEqual(ws.sockname(copied), SocketAddress(address: .any, port: 7200), "its virtual name")
            XCTAssertEqual(ws.getOption(copied, Opt.SO_BROADCAST), 1, "its options")
            return copied
        }
        lan.as(1) { ws in
            let s = ws.gameSocket(port: 7201)
            XCTAssertEqual(ws.sendto(s, [5], lan.address(0), 7200), 1)
        }
        lan.as(child) { ws in
            XCTAssertEqual(ws.setOption(copied, Opt.SO_RCVTIMEO, 2000), 0)  // bounded, should the datagram be lost
            let got = ws.recvfrom(copied)
            XCTAssertEqual(got.payload, [5])
            XCTAssertEqual(got.from, SocketAddress(address: lan.address(1), port: 7201), "with the sender's virtual address")
        }
        lan.as(0) { ws in
            let again = ws.udpSocket()
            XCTAssertEqual(ws.bind(again, .any, 7200), Winsock.socketError, "the child still holds the port")
            XCTAssertEqual(ws.lastError, WSA.EADDRINUSE)
        }
        lan.as(child) { ws in XCTAssertEqual(ws.close(copied), 0) }
        lan.as(0) { ws in
            let again = ws.udpSocket()
            XCTAssertEqual(ws.bind(again, .any, 7200), 0, "the last holder let go: the port is free")
        }
    }

    func test_aListenerCopiedIntoAChildAcceptsThere() throws {
        let child = try startChild()
        var info = lan.as(0) { ws -> [UInt8] in
            let listener = ws.tcpSocket()
            XCTAssertEqual(ws.bind(listener, .any, 7300), 0)
            XCTAssertEqual(ws.listen(listener), 0)
            let (info, error) = copy(ws, listener, for: childPid)
            XCTAssertEqual(error, 0)
            XCTAssertEqual(ws.close(listener), 0)
            return info
        }
        let copied = lan.as(child) { ws -> UInt in
            ws.startup()
            return open(&info)
        }
        XCTAssertNotEqual(copied, Winsock.invalidSocket)
        let client = lan.as(1) { ws -> UInt in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.connect(s, lan.address(0), 7300), 0, "the listener is still there, in the child")
            XCTAssertEqual(ws.send(s, Array("hi".utf8)), 2)
            return s
        }
        guard lan.as(1, { ws in ws.peername(client) }) != nil else { return }  // no connection to wait for
        lan.as(child) { ws in
            let (accepted, from) = ws.accept(copied)
            XCTAssertNotEqual(accepted, Winsock.invalidSocket)
            XCTAssertEqual(from?.address, lan.address(1))
            XCTAssertEqual(ws.sockname(accepted), SocketAddress(address: lan.address(0), port: 7300))
            XCTAssertEqual(ws.recv(accepted, capacity: 8), Array("hi".utf8))
        }
        lan.as(1) { ws in XCTAssertEqual(ws.close(client), 0) }
    }

    /// The server's pattern: accept, hand the connection to a worker process, close it
    /// here. The worker carries the conversation on; the parent's close sent no FIN.
    func test_aConnectionHandedToAChildGoesOnAfterTheParentClosesIt() throws {
        let child = try startChild()
        let listener = lan.as(0) { ws -> UInt in
            let listener = ws.tcpSocket()
            XCTAssertEqual(ws.bind(listener, .any, 7900), 0)
            XCTAssertEqual(ws.listen(listener), 0)
            return listener
        }
        let (client, clientName) = lan.as(1) { ws -> (UInt, SocketAddress?) in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.connect(s, lan.address(0), 7900), 0)
            XCTAssertEqual(ws.setOption(s, Opt.SO_RCVTIMEO, 2000), 0)  // bounded, should the answer be lost
            return (s, ws.sockname(s))
        }
        var info = lan.as(0) { ws -> [UInt8] in
            let (accepted, _) = ws.accept(listener)
            let (info, error) = copy(ws, accepted, for: childPid)
            XCTAssertEqual(error, 0)
            XCTAssertEqual(ws.close(accepted), 0)
            return info
        }
        lan.as(1) { ws in XCTAssertEqual(ws.send(client, Array("ask".utf8)), 3) }
        lan.as(child) { ws in
            ws.startup()
            let worker = open(&info)
            XCTAssertEqual(ws.peername(worker), clientName.map { SocketAddress(address: lan.address(1), port: $0.port) })
            XCTAssertEqual(ws.recv(worker, capacity: 8), Array("ask".utf8))
            XCTAssertEqual(ws.send(worker, Array("answer".utf8)), 6)
        }
        lan.as(1) { ws in XCTAssertEqual(ws.recv(client, capacity: 8), Array("answer".utf8), "the connection went on: no FIN from the parent's close") }
    }

    /// The copy goes only to a process of this PC; one of another instance (or none the
    /// layer follows) would get the bare backing socket. Control: a pid the instance lists.
    func test_aCopyForAProcessOfAnotherPCIsRefused() throws {
        lan.as(0) { ws in
            let s = ws.gameSocket(port: 7400)
            XCTAssertEqual(copy(ws, s, for: childPid).1, WSA.EINVAL)
        }
        _ = try startChild()
        lan.as(0) { ws in
            let s = ws.gameSocket(port: 7401)
            XCTAssertEqual(copy(ws, s, for: childPid).1, 0)
        }
    }

    /// A process that leaves without closing its copy lets go of the port too (Windows
    /// closes a process's handles when it ends).
    func test_aChildThatLeavesLetsGoOfItsCopy() throws {
        let child = try startChild()
        lan.as(0) { ws in
            let s = ws.gameSocket(port: 7500)
            XCTAssertEqual(copy(ws, s, for: childPid).1, 0)
            XCTAssertEqual(ws.close(s), 0)
            let again = ws.udpSocket()
            XCTAssertEqual(ws.bind(again, .any, 7500), Winsock.socketError, "the child holds it, opened or not")
        }
        lan.registry.leave(lan.hosts[child].claim, member: lan.hosts[child].member)
        lan.as(0) { ws in
            let again = ws.udpSocket()
            XCTAssertEqual(ws.bind(again, .any, 7500), 0)
        }
    }

    /// DuplicateHandle(source, s, process, &copy, 0, FALSE, options) from this process into
    /// the process `pid` stands for (the Linux backend takes a pid as a process handle).
    func duplicateHandle(_ s: UInt, into pid: UInt32, options: UInt32) -> (ok: Int32, copy: UInt) {
        var copy: UnsafeMutableRawPointer?
        let current = UnsafeMutableRawPointer(bitPattern: UInt.max)  // GetCurrentProcess()
        let ok = call("DuplicateHandle", .ptr(current), .socket(s), .ptr(UnsafeMutableRawPointer(bitPattern: UInt(pid))), .ptr(&copy),
                      .uint(0), .int(0), .uint(options))
        return (Int32(truncatingIfNeeded: ok), UInt(bitPattern: copy))
    }

    /// A bare handle carries nothing: the state waits in the registry until the child first
    /// uses the handle, which is then the virtual socket there.
    func test_aHandleDuplicatedIntoAChildIsTheVirtualSocketThere() throws {
        let child = try startChild()
        let copied = lan.as(0) { ws -> UInt in
            let s = ws.gameSocket(port: 7600)
            let (ok, copy) = duplicateHandle(s, into: childPid, options: 3)  // DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE
            XCTAssertEqual(ok, 1)
            XCTAssertNil(ws.sockname(s), "DUPLICATE_CLOSE_SOURCE closed the parent's handle")
            let again = ws.udpSocket()
            XCTAssertEqual(ws.bind(again, .any, 7600), Winsock.socketError, "the child holds the port, before it uses the handle")
            return copy
        }
        lan.as(1) { ws in
            let s = ws.gameSocket(port: 7601)
            XCTAssertEqual(ws.sendto(s, [6], lan.address(0), 7600), 1)
        }
        lan.as(child) { ws in
            ws.startup()
            XCTAssertEqual(ws.sockname(copied), SocketAddress(address: .any, port: 7600), "its virtual name")
            XCTAssertEqual(ws.setOption(copied, Opt.SO_RCVTIMEO, 2000), 0)
            let got = ws.recvfrom(copied)
            XCTAssertEqual(got.payload, [6])
            XCTAssertEqual(got.from, SocketAddress(address: lan.address(1), port: 7601))
            // Not in Winsock's socket list, as a copy DuplicateHandle made within a process.
            XCTAssertEqual(ws.close(copied), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.ENOTSOCK)
            XCTAssertEqual(call("CloseHandle", .socket(copied)), 1)
        }
        lan.as(0) { ws in
            let again = ws.udpSocket()
            XCTAssertEqual(ws.bind(again, .any, 7600), 0, "the child closed the last handle")
        }
    }

    /// A copy the child closed without Winsock before its first use leaves its record; the
    /// handle's number, the OS's to give to anything since (here a file), is not taken for
    /// the socket. (The test above is the control: a copy that is there is the socket.)
    func test_aCopysNumberReusedAfterItClosedUnusedIsNotTheSocket() throws {
        let child = try startChild()
        let copied = lan.as(0) { ws -> UInt in
            let s = ws.gameSocket(port: 7800)
            let (ok, copy) = duplicateHandle(s, into: childPid, options: 2)  // DUPLICATE_SAME_ACCESS
            XCTAssertEqual(ok, 1)
            return copy
        }
        // The copy goes without the layer seeing it, and its number is a file's now.
        let file = Glibc.open("/dev/null", O_RDONLY)
        XCTAssertEqual(dup2(file, Int32(copied)), Int32(copied))
        Glibc.close(file)
        XCTAssertFalse(lan.hosts[child].isVirtual(copied), "a file under the copy's old number is no virtual socket")
    }

    /// Into a process of no virtual PC the copy is refused before it is made. Control: into
    /// the child it is made.
    func test_aHandleForAProcessOfAnotherPCIsRefused() throws {
        lan.as(0) { ws in
            let s = ws.gameSocket(port: 7700)
            XCTAssertEqual(duplicateHandle(s, into: childPid, options: 2).ok, 0)
            XCTAssertEqual(ws.lastError, 50, "ERROR_NOT_SUPPORTED")
        }
        _ = try startChild()
        lan.as(0) { ws in
            let s = ws.gameSocket(port: 7701)
            XCTAssertEqual(duplicateHandle(s, into: childPid, options: 2).ok, 1)
        }
    }

    /// A process started with bInheritHandles has the parent's inheritable sockets under
    /// the same handles: each is the virtual socket there too, and holds its port. (On
    /// Linux a descriptor without FD_CLOEXEC is inheritable; the backend's own have it.)
    /// Control: a socket that is not inheritable is not the child's.
    func test_anInheritedHandleIsTheVirtualSocketInTheChild() throws {
        let child = try startChild()
        let (kept, inherited) = lan.as(0) { ws -> (UInt, UInt) in
            let kept = ws.gameSocket(port: 7800), inherited = ws.gameSocket(port: 7801)
            XCTAssertFalse(lan.hosts[0].platform.isInheritable(kept))
            XCTAssertEqual(fcntl(Int32(inherited), F_SETFD, 0), 0)
            return (kept, inherited)
        }
        lan.hosts[0].handInheritedSockets(to: lan.hosts[child].member)
        // (One test process stands in both: the child's handle is the parent's descriptor,
        // so the child uses it before the parent closes it.)
        lan.as(child) { ws in
            ws.startup()
            XCTAssertEqual(ws.sockname(inherited), SocketAddress(address: .any, port: 7801), "the same handle, virtual in the child")
            XCTAssertNil(ws.sockname(kept), "control: not inherited")
        }
        lan.as(0) { ws in
            XCTAssertEqual(ws.close(inherited), 0)
            XCTAssertEqual(ws.close(kept), 0)
            let again = ws.udpSocket()
            XCTAssertEqual(ws.bind(again, .any, 7801), Winsock.socketError, "the child holds the port")
            XCTAssertEqual(ws.bind(again, .any, 7800), 0, "control: the parent held this one alone")
        }
    }
}
