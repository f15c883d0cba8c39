import XCTest
import Foundation
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// A copy is a PC, not a process: a process that a member of instance 0 starts joins it
/// (here a second host in this test process, standing in for that child by its pid).
final class InstanceProcessesTests: LANTestCase {
    /// A pid that is alive for the whole test (the process that runs the tests' runner).
    let livePid = UInt32(getppid())
    /// A pid no process has (above Linux's pid_max).
    let endedPid: UInt32 = 0x7FFF_FFF0

    /// The child of instance 0's process, joined as `pid`; it is shut down with the LAN.
    func startChild(pid: UInt32) throws -> Int {
        let parent = lan.hosts[0]
        let joining = try XCTUnwrap(parent.adopt(childProcess: pid)).instance
        let child = try VirtualHost(platform: .default, config: parent.config, registry: lan.registry, joining: joining, processID: pid)
        lan.hosts.append(child)
        return lan.hosts.count - 1
    }

    func test_aStartedProcessIsTheSamePCWithOnePortSpace() throws {
        let child = try startChild(pid: livePid)
        XCTAssertEqual(lan.hosts[child].instance, 0)
        XCTAssertEqual(lan.hosts[child].member, 1)
        XCTAssertEqual(lan.hosts[child].address, lan.address(0))
        let server = lan.as(0) { $0.gameSocket(port: 27000) }
        lan.as(child) { ws in
            ws.startup()
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 27000), Winsock.socketError, "the port is taken on this PC, by its other process")
            XCTAssertEqual(ws.lastError, WSA.EADDRINUSE)
            XCTAssertEqual(ws.bind(s, .any, 27001), 0)
            // The other process reaches it at 127.0.0.1, the other instance at the PC's address.
            XCTAssertEqual(ws.sendto(s, [1], .loopback, 27000), 1)
            XCTAssertEqual(ws.sendto(s, [2], lan.address(1), 27000), 1)
        }
        lan.as(0) { ws in
            let got = ws.recvfrom(server)
            XCTAssertEqual(got.payload, [1])
            XCTAssertEqual(got.from, SocketAddress(address: .loopback, port: 27001))
        }
        lan.as(1) { ws in
            let s = ws.gameSocket(port: 27000)
            XCTAssertEqual(ws.sendto(s, [3], lan.address(0), 27001), 1)
        }
        lan.as(child) { ws in
            // The bound socket is the child's second; find it by its name.
            XCTAssertEqual(lan.hosts[child].sockets.count, 1)
            let s = lan.hosts[child].sockets.keys.first!
            let got = ws.recvfrom(s)
            XCTAssertEqual(got.payload, [3])
            XCTAssertEqual(got.from, SocketAddress(address: lan.address(1), port: 27000))
        }
    }

    /// SO_REUSEADDR on both sockets shares the port across the PC's processes, as within one.
    func test_reuseAcrossProcessesFollowsTheOptionsOfBoth() throws {
        let child = try startChild(pid: livePid)
        lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.setOption(s, Opt.SO_REUSEADDR, 1), 0)
            XCTAssertEqual(ws.bind(s, .any, 5000), 0)
        }
        lan.as(child) { ws in
            ws.startup()
            let plain = ws.udpSocket()
            XCTAssertEqual(ws.bind(plain, .any, 5000), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EADDRINUSE)
            let sharing = ws.udpSocket()
            XCTAssertEqual(ws.setOption(sharing, Opt.SO_REUSEADDR, 1), 0)
            XCTAssertEqual(ws.bind(sharing, .any, 5000), 0)
        }
    }

    func test_ephemeralPortsAreDistinctAcrossTheProcesses() throws {
        let child = try startChild(pid: livePid)
        let parentPorts = lan.as(0) { ws in (0..<3).compactMap { _ in ws.sockname(ws.gameSocket(port: 0))?.port } }
        let childPorts: [UInt16] = lan.as(child) { ws in
            ws.startup()
            return (0..<3).compactMap { _ in ws.sockname(ws.gameSocket(port: 0))?.port }
        }
        XCTAssertEqual(parentPorts.count, 3)
        XCTAssertEqual(childPorts.count, 3)
        XCTAssertTrue(Set(parentPorts).isDisjoint(with: childPorts), "\(parentPorts) and \(childPorts)")
    }

    func test_theInstanceLivesWhileAnyOfItsProcessesDoes() throws {
        let child = try startChild(pid: livePid)
        let claim = lan.hosts[0].claim
        lan.hosts[0].shutdown()
        XCTAssertTrue(lan.registry.isLive(claim.index), "the child still runs")
        XCTAssertEqual(lan.registry.members(ofSlot: claim.index).filter { $0 != 0 }, [livePid])
        lan.hosts[child].shutdown()
        XCTAssertFalse(lan.registry.isLive(claim.index), "its last process left")
    }

    /// A process that ended without leaving (it crashed) leaves at the next heartbeat of
    /// another: its port is free again. Control: before that heartbeat it is taken.
    func test_aProcessThatEndedWithoutLeavingFreesItsPorts() throws {
        let child = try startChild(pid: endedPid)
        lan.as(child) { ws in
            ws.startup()
            _ = ws.gameSocket(port: 6000)
        }
        lan.as(0) { ws in
            let s = ws.udpSocket()
            XCTAssertEqual(ws.bind(s, .any, 6000), Winsock.socketError)
            lan.hosts[0].removeEndedProcesses()
            XCTAssertEqual(lan.registry.members(ofSlot: 0).filter { $0 != 0 }, [lan.hosts[0].platform.processID])
            XCTAssertEqual(ws.bind(s, .any, 6000), 0)
        }
    }

    /// A slot whose claimer ended is not taken over while a process it started lives.
    func test_anInstanceWithALiveProcessIsNotReclaimed() throws {
        let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: 4))
        let registry = try Registry.attach(memory.region, network: .defaultNetwork, slotCount: 4)
        let claim = try registry.claim(owner: endedPid, kind: .linux, pinned: 2, nowMs: 0, isOwnerAlive: { _, _ in nil })
        XCTAssertNotNil(registry.addMember(claim, pid: livePid))
        let alive: (UInt32, OwnerKind) -> Bool? = { pid, _ in pid == self.livePid }
        XCTAssertThrowsError(try registry.claim(owner: 1, kind: .linux, pinned: 2, nowMs: 0, isOwnerAlive: alive))
        registry.leave(claim, member: 1)
        XCTAssertNoThrow(try registry.claim(owner: 1, kind: .linux, pinned: 2, nowMs: 0, isOwnerAlive: alive),
                         "control: with only the ended claimer listed, the slot is taken over")
    }
}
