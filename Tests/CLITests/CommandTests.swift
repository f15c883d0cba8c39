import XCTest
import Foundation
import ArgumentParser
import VirtualIPCore
import WinsockDetours
@testable import virtuallan

final class CommandTests: XCTestCase {
    func test_launchArgumentsAreParsedAndCheckedWithClearErrors() throws {
        let launch = try VirtualLAN.parseAsRoot(["launch", "--instances", "4", "--host", "2", "--host-args", "-host -private",
                                                 "--", "game.exe", "-lan"]) as! Launch
        XCTAssertEqual(launch.instances, 4)
        XCTAssertEqual(launch.host, 2)
        XCTAssertEqual(launch.hostArgs, "-host -private", "game switches start with '-' and are taken as the value")
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
            program: ["Z:\\game.exe", "-lan"], checkout: URL(fileURLWithPath: "/checkout"),
            baseEnvironment: ["HOME": "/home/u", "PATH": "/bin"])
        XCTAssertEqual(plan.copies.map(\.environment["VIRTUALLAN_INSTANCE"]), ["0", "1", "2"])
        XCTAssertEqual(plan.copies.map(\.prefix), ["/p/template-0", "/p/template-1", "/p/template-2"])
        XCTAssertEqual(plan.copies[1].environment["VIRTUALLAN_REGISTRY"], "/r/registry")
        XCTAssertEqual(plan.copies[2].environment["VIRTUALLAN_LOG"], "/logs/copy-2.log")
        XCTAssertEqual(plan.copies[1].arguments, ["Z:\\checkout\\wine\\out\\inject.exe", "Z:\\checkout\\wine\\out\\virtuallan.dll",
                                                  "Z:\\game.exe", "-lan", "-host", "-players=3", "-name=second"])
        XCTAssertEqual(Array(plan.copies[0].arguments.suffix(3)), ["Z:\\game.exe", "-lan", "-join"])
    }

    func test_statusShowsARegistryAsATableAndAsJSON() throws {
        let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: 64))
        let registry = try Registry.attach(memory.region, network: .defaultNetwork)
        let claim = try registry.claim(owner: 4242, kind: .windows, pinned: 2, nowMs: 10_000, isOwnerAlive: { _, _ in nil })
        XCTAssertTrue(registry.addSocket(slot: claim.index, virtualPort: 23757, realPort: 40001, scope: .any))
        registry.countDatagram(slot: claim.index, received: false, bytes: 36)
        registry.countDrop(slot: claim.index, .spoofedSource)
        let snapshot = RegistrySnapshot(registry: registry, nowMs: 12_000)
        XCTAssertEqual(snapshot.table(), """
            registry: subnet 192.168.80.0/24, 64 slots
            INST ADDRESS         MAC                KIND    PID      STATE  AGE    TX       RX       DROPS  SOCKETS (virtual->real)
            2    192.168.80.3    02:56:4c:00:00:03  windows 4242     live   2s     1        0        1      23757->40001

            """)
        let decoded = try JSONDecoder().decode(RegistrySnapshot.self, from: Data(snapshot.json().utf8))
        XCTAssertEqual(decoded, snapshot)
        XCTAssertEqual(decoded.instances.first?.drops["spoofed-source"], 1)
        XCTAssertEqual(decoded.instances.first?.heartbeatAgeMs, 2000)
        XCTAssertEqual(RegistrySnapshot(registry: registry, nowMs: 16_000).instances.first?.state, "stale")
    }

    func test_doctorNamesAMissingPieceAndItsFix() {
        let findings = Checkup(registry: "/nonexistent-folder/x/registry", dll: "/nonexistent/virtuallan.dll",
                               checkout: URL(fileURLWithPath: "/nonexistent")).run()
        let dll = findings.first { $0.what == "hook DLL" }
        XCTAssertEqual(dll?.ok, false)
        XCTAssertTrue(dll?.line.contains("fix: run wine/build-dll") == true, dll?.line ?? "")
        let registry = findings.first { $0.what == "registry" }
        XCTAssertEqual(registry?.ok, false)
        XCTAssertTrue(registry?.line.contains("VIRTUALLAN_REGISTRY") == true, registry?.line ?? "")
    }
}
