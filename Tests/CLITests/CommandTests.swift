import XCTest
import Foundation
import HostKit
import ArgumentParser
import VirtualIPCore
import WinsockDetours
@testable import VirtualLANCLI
@testable import VirtualLANBridge

final class CommandTests: XCTestCase {
    func test_launchArgumentsAreParsedAndCheckedWithClearErrors() throws {
        let launch = try VirtualLAN.parseAsRoot(["launch", "--instances", "4", "--host", "2", "--host-args", "-host -private",
                                                 "--", "game.exe", "-lan"]) as! Launch
        XCTAssertEqual(launch.copies.instances, 4)
        XCTAssertEqual(launch.copies.host, 2)
        XCTAssertEqual(launch.copies.hostArgs, "-host -private", "game switches start with '-' and are taken as the value")
        XCTAssertEqual(launch.program, ["game.exe", "-lan"])
        for (arguments, expected) in [
            (["launch", "--instances", "0", "--", "g.exe"], "--instances must be 1...64"),
            (["launch", "--instances", "2", "--host", "2", "--", "g.exe"], "--host must name a copy 0...1"),
            (["launch", "--instances", "2"], "name the program after --"),
        ] {
            XCTAssertThrowsError(try VirtualLAN.parseAsRoot(arguments)) { error in
                XCTAssertTrue(VirtualLAN.message(for: error).contains(expected), VirtualLAN.message(for: error))
            }
        }
    }

    func test_launchPlanGivesEveryCopyItsInstancePrefixAndArguments() throws {
        var config = ToolConfig()
        config.gameArgs[1] = ["-name=second"]
        let plan = try LaunchPlan(
            instances: 3, host: 1, hostArgs: "-host -players=3", clientArgs: "-join", prefixPerInstance: true,
            prefix: "/p/template", registry: "/r/registry", logDir: "/logs", config: config, dll: nil,
            program: ["Z:\\game.exe", "-lan"], files: URL(fileURLWithPath: "/checkout/wine/out"),
            baseEnvironment: ["HOME": "/home/u", "PATH": "/bin"])
        XCTAssertEqual(plan.copies.map(\.environment["VIRTUALLAN_INSTANCE"]), ["0", "1", "2"])
        XCTAssertEqual(plan.copies.map(\.prefix), ["/p/template-0", "/p/template-1", "/p/template-2"])
        XCTAssertEqual(plan.copies[1].environment["VIRTUALLAN_REGISTRY"], "/r/registry")
        XCTAssertEqual(plan.copies[2].environment["VIRTUALLAN_LOG"], "/logs/copy-2.log")
        XCTAssertEqual(plan.copies[1].command, ["wine", "Z:\\checkout\\wine\\out\\inject.exe", "Z:\\checkout\\wine\\out\\virtuallan.dll",
                                                  "Z:\\game.exe", "-lan", "-host", "-players=3", "-name=second"])
        XCTAssertEqual(Array(plan.copies[0].command.suffix(3)), ["Z:\\game.exe", "-lan", "-join"])
    }

    func test_launchWithTraceLogsEveryCopyAtTraceLevelAndSumsUpItsLog() throws {
        let plan = try LaunchPlan(
            instances: 2, host: 0, hostArgs: "-host", clientArgs: "", prefixPerInstance: false, prefix: "/p", registry: "/r/registry",
            logDir: "/logs", trace: true, config: ToolConfig(), dll: nil, program: ["Z:\\game.exe"],
            files: URL(fileURLWithPath: "/checkout/wine/out"), baseEnvironment: ["HOME": "/home/u"])
        XCTAssertEqual(plan.copies.map(\.environment["VIRTUALLAN_LOG_LEVEL"]), ["trace", "trace"])
        XCTAssertEqual(plan.copies[1].environment["VIRTUALLAN_LOG"], "/logs/copy-1.log")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(getpid()).log").path
        try """
        [0] pid 9 info: hooks installed: 34 of 34 functions hooked inline in ws2_32/iphlpapi/kernel32/mswsock (every module's calls)
        [1] pid 9 trace: socket(2, 1, 6) = 80
        [2] pid 9 warning: connect on socket 80 (not a virtual socket) to 192.168.80.2:6112 refused with WSAENETUNREACH: it would leave this machine
        [2] pid 9 trace: connect(80, 192.168.80.2:6112, 16) = -1 error 10051
        [3] pid 9 trace: sendto(64(virtual), 0073fa30, 11, 0, 192.168.80.2:31000, 16) = 11
        """.write(toFile: log, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: log) }
        let summary = TraceSummary(log: log)
        XCTAssertEqual([summary.calls, summary.failed, summary.refused], [3, 1, 1])
    }

    func test_statusShowsARegistryAsATableAndAsJSON() throws {
        let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: 64))
        let registry = try Registry.attach(memory.region, network: .defaultNetwork)
        let claim = try registry.claim(owner: 4242, kind: .windows, pinned: 2, nowMs: 10_000, isOwnerAlive: { _, _ in nil })
        XCTAssertTrue(registry.addSocket(slot: claim.index, virtualPort: 23757, realPort: 40001, scope: .any))
        registry.countDatagram(slot: claim.index, received: false, bytes: 36)
        registry.countDrop(slot: claim.index, .spoofedSource)
        // A TCP lobby that listens, one client connection of it, a group joined on the UDP port.
        XCTAssertTrue(registry.addSocket(slot: claim.index, virtualPort: 6112, realPort: 40002, scope: .any, transport: .tcp))
        XCTAssertTrue(registry.addSocket(slot: claim.index, virtualPort: 49152, realPort: 40003, scope: .any, transport: .tcp))
        registry.markListening(slot: claim.index, realPort: 40002)
        for opened in [true, true, false] { registry.countConnection(slot: claim.index, opened: opened) }
        XCTAssertTrue(registry.addMembership(slot: claim.index, Membership(group: IPv4Address(239, 255, 80, 1), realPort: 40001)))
        let snapshot = RegistrySnapshot(registry: registry, nowMs: 12_000)
        XCTAssertEqual(snapshot.table(), """
            registry: subnet 192.168.80.0/24, 64 slots
            INST ADDRESS         MAC                KIND    PID      STATE  AGE    TX       RX       DROPS  TCP  SOCKETS (virtual->real), GROUPS
            2    192.168.80.3    02:56:4c:00:00:03  windows 4242     live   2s     1        0        1      1    23757->40001 tcp:6112->40002(listen) tcp:49152->40003 group 239.255.80.1 on 23757

            """)
        XCTAssertEqual(snapshot.instances.first?.tcpConnectionsMade, 2)
        let decoded = try JSONDecoder().decode(RegistrySnapshot.self, from: Data(snapshot.json().utf8))
        XCTAssertEqual(decoded, snapshot)
        XCTAssertEqual(decoded.instances.first?.drops["spoofed-source"], 1)
        XCTAssertEqual(decoded.instances.first?.heartbeatAgeMs, 2000)
        XCTAssertEqual(RegistrySnapshot(registry: registry, nowMs: 16_000).instances.first?.state, "stale")
    }

    func test_statusShowsTheOtherHostsOfTheBridgeAsATableAndAsJSON() throws {
        let registry = FileManager.default.temporaryDirectory.appendingPathComponent("vl-others-\(getpid())").path
        XCTAssertNil(OtherHosts(registry: registry), "no bridge: no other hosts, not an empty list")
        try """
            # virtuallan bridge: the other hosts, as this host's bridge sees them (it does not relay)
            0-15	10.214.0.1:47800	up	direct	1.50 ms
            32-47	10.214.0.3:47800	up	direct (hole punched)	1.53 ms
            48-63	10.214.0.1:47800	silent	relayed by 10.214.0.1:47800	-

            """.write(toFile: registry + ".bridge-peers", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: registry + ".bridge-peers") }
        let others = try XCTUnwrap(OtherHosts(registry: registry))
        XCTAssertEqual(others.hosts.map(\.route), ["direct", "direct (hole punched)", "relayed by 10.214.0.1:47800"])
        XCTAssertEqual(others.hosts.map(\.roundTripMs), [1.5, 1.53, nil])
        XCTAssertEqual(others.table.split(separator: "\n").last,
                       "    48-63      10.214.0.1:47800       silent  relayed by 10.214.0.1:47800       -")
        let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: 64))
        var snapshot = RegistrySnapshot(registry: try Registry.attach(memory.region, network: .defaultNetwork), nowMs: 0)
        snapshot.otherHosts = others.hosts
        let object = try JSONSerialization.jsonObject(with: Data(snapshot.json().utf8)) as? [String: Any]
        let hosts = object?["otherHosts"] as? [[String: Any]]
        XCTAssertEqual(hosts?[1]["route"] as? String, "direct (hole punched)")
        XCTAssertEqual(hosts?[1]["roundTripMs"] as? Double, 1.53)
        XCTAssertNil(hosts?[2]["roundTripMs"], "no round trip measured: no key")
        snapshot.otherHosts = nil
        XCTAssertFalse(snapshot.json().contains("otherHosts"), "no bridge: no key")
    }

    func test_doctorNamesAMissingPieceAndItsFix() {
        let findings = Checkup(registry: "/nonexistent-folder/x/registry", dll: "/nonexistent/virtuallan.dll",
                               files: URL(fileURLWithPath: "/nonexistent")).run()
        let dll = findings.first { $0.what == "hook DLL" }
        XCTAssertEqual(dll?.ok, false)
        XCTAssertTrue(dll?.line.contains("fix: run wine/build-dll") == true, dll?.line ?? "")
        let registry = findings.first { $0.what == "registry" }
        XCTAssertEqual(registry?.ok, false)
        XCTAssertTrue(registry?.line.contains("VIRTUALLAN_REGISTRY") == true, registry?.line ?? "")
    }
}

/// The bridge's command line and what a host with a bridge looks like to launch and status.
final class BridgeCommandTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vl-bridge-cli-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func failure(_ arguments: [String]) -> String? {
        do {
            var command = try VirtualLAN.parseAsRoot(arguments)
            try command.run()
            return nil
        } catch let failure as Failure {
            return failure.description
        } catch {
            return "\(error)"
        }
    }

    func test_badBridgeArgumentsAreRefusedWithTheFix() throws {
        let key = folder.appendingPathComponent("key").path
        let short = folder.appendingPathComponent("short").path
        _ = FileManager.default.createFile(atPath: key, contents: Data(repeating: 7, count: 32), attributes: [.posixPermissions: 0o600])
        _ = FileManager.default.createFile(atPath: short, contents: Data(repeating: 7, count: 8), attributes: [.posixPermissions: 0o600])
        let registry = folder.appendingPathComponent("registry").path
        let base = ["bridge", "--registry", registry]
        let cases: [([String], String)] = [
            (["--listen", "10.0.0.1", "--range", "0-15", "--key-file", key], "expected address:port"),
            (["--listen", "127.0.0.1:0", "--peer", "nowhere", "--range", "0-15", "--key-file", key], "--peer nowhere"),
            (["--listen", "127.0.0.1:0", "--range", "15-0", "--key-file", key], "expected first-last"),
            (["--listen", "127.0.0.1:0", "--range", "0-15", "--key-file", folder.appendingPathComponent("none").path], "head -c 32 /dev/urandom"),
            (["--listen", "127.0.0.1:0", "--range", "0-15", "--key-file", short], "at least 16"),
            (["--listen", "127.0.0.1:0", "--range", "60-70", "--key-file", key], "use numbers 0-63"),
            (["--listen", "127.0.0.1:0", "--range", "0-15"], "--key-file FILE or --invite LINE"),
            (["--listen", "127.0.0.1:0", "--range", "0-15", "--key-file", key, "--invite", "x"], "--key-file FILE or --invite LINE"),
            (["--listen", "127.0.0.1:0", "--range", "0-15", "--invite", "lan.key"], "not an invite"),
        ]
        for (arguments, expected) in cases {
            let message = failure(base + arguments)
            XCTAssertTrue(message?.contains(expected) == true, "\(arguments): \(message ?? "no error")")
        }
    }

    func test_aBridgeRefusesToStartWhileAnInstanceLivesOutsideItsRange() throws {
        let path = folder.appendingPathComponent("registry").path
        let file = try RegistryFile(platform: .default, path: Array(path.utf8), network: .defaultNetwork)
        let claim = try file.registry.claim(owner: UInt32(getpid()), kind: .linux, pinned: 20, nowMs: Platform.default.nowMs,
                                            isOwnerAlive: { _, _ in true })
        let settings = BridgeEngine.Settings(listen: HostAddress.loopback(0), peers: [], range: InstanceRange(first: 0, count: 16)!,
                                             key: Array(repeating: 1, count: 32))
        XCTAssertThrowsError(try BridgeEngine(settings: settings, registry: file.registry, log: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("instance 20"), "\(error)")
            XCTAssertTrue("\(error)".contains("start the bridge before the copies"), "\(error)")
        }
        XCTAssertNil(file.registry.localRange, "a refused bridge leaves the registry as it was")
        file.registry.release(claim)
        _ = try BridgeEngine(settings: settings, registry: file.registry, log: { _ in })
        XCTAssertEqual(file.registry.localRange, InstanceRange(first: 0, count: 16))
        XCTAssertEqual(try hostRange(registry: path), InstanceRange(first: 0, count: 16), "what launch reads")
    }

    func test_launchPinsCopiesFromTheStartOfTheHostsRange() throws {
        let plan = try LaunchPlan(
            instances: 2, host: 0, hostArgs: "-host", clientArgs: "-join", prefixPerInstance: false,
            prefix: "/p", registry: "/r/registry", logDir: nil, config: ToolConfig(), dll: nil,
            program: ["game.exe"], files: URL(fileURLWithPath: "/checkout/wine/out"), firstInstance: 16, baseEnvironment: [:])
        XCTAssertEqual(plan.copies.map(\.environment["VIRTUALLAN_INSTANCE"]), ["16", "17"])
    }

    func test_statusShowsTheHostsRangeAndRemoteInstances() throws {
        let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: 64))
        let registry = try Registry.attach(memory.region, network: .defaultNetwork)
        registry.setLocalRange(InstanceRange(first: 0, count: 16)!)
        _ = try registry.claim(owner: 99, kind: .remote, pinned: 16, peer: 16, nowMs: 0, isOwnerAlive: { _, _ in nil })
        let table = RegistrySnapshot(registry: registry, nowMs: 0).table()
        XCTAssertTrue(table.hasPrefix("registry: subnet 192.168.80.0/24, 64 slots, this host: instances 0-15"), table)
        XCTAssertTrue(table.contains("16   192.168.80.17   02:56:4c:00:00:11  remote  99 "), table)
    }
}
