import XCTest
import Foundation
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// Real processes, each its own instance, meeting through a file-backed registry.
final class MultiProcessTests: XCTestCase {
    var folder: URL!
    var registryPath: String { folder.appendingPathComponent("registry").path }

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("virtuallan-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// An executable built next to the test bundle: the test peer (test support), or the tool.
    func built(_ name: String) -> URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
    }

    final class Child {
        let process = Process()
        let output = Pipe()
        let input = Pipe()
        var buffered = Data()

        /// The next line the child prints (bounded: a dead child gives nil).
        func line() -> String? {
            while true {
                if let newline = buffered.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffered[buffered.startIndex..<newline], as: UTF8.self)
                    buffered = Data(buffered[(newline + 1)...])
                    return line
                }
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                buffered.append(chunk)
            }
        }

        func finish() -> Int32 {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    func start(_ arguments: [String], instance: Int? = nil, program: String = "virtuallan-testpeer") throws -> Child {
        let child = Child()
        child.process.executableURL = built(program)
        child.process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["VIRTUALLAN_REGISTRY"] = registryPath
        environment["VIRTUALLAN_INSTANCE"] = instance.map(String.init)
        child.process.environment = environment
        child.process.standardOutput = child.output
        child.process.standardInput = child.input
        try child.process.run()
        return child
    }

    func test_twoProcessesExchangeDatagramsThroughAFileBackedRegistry() throws {
        let echo = try start(["peer", "echo", "--count", "50"], instance: 3)
        XCTAssertEqual(echo.line(), "ready 3 192.168.80.4")
        let ping = try start(["peer", "ping", "--count", "50", "--peer-instance", "3"], instance: 1)
        XCTAssertEqual(ping.line(), "ready 1 192.168.80.2")
        XCTAssertEqual(ping.line()?.hasPrefix("pinged 50, rtt p50 "), true)
        XCTAssertEqual(echo.line(), "echoed 50")
        XCTAssertEqual(ping.finish(), 0)
        XCTAssertEqual(echo.finish(), 0)

        let attributes = try FileManager.default.attributesOfItem(atPath: registryPath)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600, "the registry is private")
    }

    func test_processesStartingAtOnceClaimDistinctInstances() throws {
        let children = try (0..<8).map { _ in try start(["claim"]) }
        let claims = children.map { $0.line() ?? "none" }
        let indexes = claims.compactMap { $0.split(separator: " ").dropFirst().first.flatMap { Int($0) } }
        XCTAssertEqual(indexes.count, 8, "\(claims)")
        XCTAssertEqual(Set(indexes), Set(0..<8), "\(claims)")
        for child in children { XCTAssertEqual(child.finish(), 0) }
        // Released on exit: the next process gets instance 0 again.
        let next = try start(["claim"])
        XCTAssertEqual(next.line(), "claimed 0 192.168.80.1")
        XCTAssertEqual(next.finish(), 0)
    }

    /// 16 processes released at one instant claim slots, 20 times over: always 16 distinct
    /// instances (hence addresses), and every slot is free again after they exit.
    func test_sixteenProcessesClaimingAtOnceGetDistinctInstances() throws {
        for round in 0..<20 {
            let children = try (0..<16).map { _ in try start(["claim", "--wait-for-go"]) }
            for child in children { XCTAssertEqual(child.line(), "waiting") }
            for child in children { child.input.fileHandleForWriting.write(Data("go\n".utf8)) }
            let indexes = children.compactMap { $0.line()?.split(separator: " ").dropFirst().first.flatMap { Int($0) } }
            XCTAssertEqual(Set(indexes), Set(0..<16), "round \(round): \(indexes)")
            for child in children { XCTAssertEqual(child.finish(), 0) }
        }
        let file = try RegistryFile(platform: .default, path: Array(registryPath.utf8), network: .defaultNetwork)
        XCTAssertTrue((0..<64).allSatisfy { !file.registry.isLive($0) }, "every slot was given back")
    }

    func test_backingSocketsListenOnLoopbackOnlyAndTheRegistryFolderIsPrivate() throws {
        let echo = try start(["peer", "echo", "--count", "1", "--hold"], instance: 0)
        XCTAssertEqual(echo.line(), "ready 0 192.168.80.1")
        let file = try RegistryFile(platform: .default, path: Array(registryPath.utf8), network: .defaultNetwork)
        var realPorts: [UInt16] = []
        file.registry.forEachSocket(slot: 0) { _, realPort, _ in realPorts.append(realPort) }
        XCTAssertEqual(realPorts.count, 1)
        // The kernel's own view of that port: bound to 127.0.0.1, nothing on any other address.
        let table = try String(contentsOfFile: "/proc/net/udp", encoding: .utf8)
        let hexPort = String(format: "%04X", realPorts[0])
        let rows = table.split(separator: "\n").filter { $0.contains(":\(hexPort) ") }
        XCTAssertFalse(rows.isEmpty)
        for row in rows { XCTAssertTrue(row.contains("0100007F:\(hexPort)"), "bound to 127.0.0.1: \(row)") }
        echo.process.terminate()
        echo.process.waitUntilExit()
        // A registry in a folder that does not exist yet: the folder is created private.
        let nested = folder.appendingPathComponent("private/registry").path
        _ = try RegistryFile(platform: .default, path: Array(nested.utf8), network: .defaultNetwork)
        let attributes = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent("private").path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o700)
    }

    /// kill -9 at random moments of a process's life (before, during or after its claim,
    /// in the middle of a send burst): afterwards every slot they held can be claimed again
    /// (a dead Linux owner is reclaimed at once; one killed inside the claim itself, before
    /// its pid was written, within the stale limit), and live instances keep working.
    func test_processesKilledAtRandomMomentsLeaveNoSlotBehind() throws {
        let echo = try start(["peer", "echo", "--count", "1000000", "--timeout-ms", "60000"], instance: 40)
        XCTAssertEqual(echo.line(), "ready 40 192.168.80.41")
        var generator = SystemRandomNumberGenerator()
        for i in 0..<24 {
            // Half of them claim and hold; half ping the live echo instance in a burst.
            let child = i % 2 == 0 ? try start(["claim"]) : try start(["peer", "ping", "--count", "100000", "--peer-instance", "40"])
            // The fault's timing is the point: a random moment, 0-30 ms into the child's life.
            usleep(UInt32.random(in: 0...30_000, using: &generator))
            kill(child.process.processIdentifier, SIGKILL)
            child.process.waitUntilExit()
        }
        let file = try RegistryFile(platform: .default, path: Array(registryPath.utf8), network: .defaultNetwork)
        let held = (0..<40).filter { file.registry.state(ofSlot: $0).state != .free }
        for index in held {
            var claimed = false
            let deadline = Date().addingTimeInterval(Double(RegistryLayout.defaultStaleAfterMs) / 1000 + 3)
            while !claimed && Date() < deadline {
                let child = try start(["claim"], instance: index)
                claimed = child.line() == "claimed \(index) 192.168.80.\(index + 1)"
                _ = child.finish()
                if !claimed { usleep(250_000) } // waiting out the documented stale limit
            }
            XCTAssertTrue(claimed, "slot \(index) left behind by a killed process can be claimed again")
        }
        // The live instance survived the storm.
        let ping = try start(["peer", "ping", "--count", "20", "--peer-instance", "40"])
        XCTAssertNotNil(ping.line(), "ready")
        XCTAssertEqual(ping.line()?.hasPrefix("pinged 20, rtt p50 "), true)
        XCTAssertEqual(ping.finish(), 0)
        echo.process.terminate()
        echo.process.waitUntilExit()
    }

    /// Whatever the configuration says, an instance writes only its registry and its log,
    /// and follows no planted symbolic link to write elsewhere.
    func test_anInstanceWritesOnlyItsRegistryAndLogAndFollowsNoLinks() throws {
        let target = folder.appendingPathComponent("precious.txt")
        try Data("keep me".utf8).write(to: target)
        let link = folder.appendingPathComponent("log.txt")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        let child = Child()
        child.process.executableURL = built("virtuallan-testpeer")
        child.process.arguments = ["claim"]
        child.process.environment = ["VIRTUALLAN_REGISTRY": registryPath, "VIRTUALLAN_LOG": link.path, "VIRTUALLAN_LOG_LEVEL": "debug",
                                     "HOME": folder.path, "TMPDIR": folder.path, "XDG_RUNTIME_DIR": folder.path]
        child.process.standardOutput = child.output
        child.process.standardInput = child.input
        try child.process.run()
        XCTAssertEqual(child.line(), "claimed 0 192.168.80.1")
        XCTAssertEqual(child.finish(), 0)
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "keep me", "the log did not follow the link")
        let entries = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertEqual(entries, ["log.txt", "precious.txt", "registry"], "nothing else was written")
    }

    func test_slotOfAKilledProcessIsReclaimed() throws {
        let victim = try start(["claim"])
        XCTAssertEqual(victim.line(), "claimed 0 192.168.80.1")
        victim.process.terminate() // SIGTERM: no release; the dead pid is what frees the slot
        victim.process.waitUntilExit()
        let next = try start(["claim"])
        XCTAssertEqual(next.line(), "claimed 0 192.168.80.1", "a provably dead owner's slot is taken at once")
        XCTAssertEqual(next.finish(), 0)
    }

    func test_statusShowsLiveInstancesAndTheirSockets() throws {
        let echo = try start(["peer", "echo", "--count", "1"], instance: 2)
        XCTAssertEqual(echo.line(), "ready 2 192.168.80.3")
        let status = try start(["status", "--registry", registryPath], program: "virtuallan")
        var lines: [String] = []
        while let line = status.line() { lines.append(line) }
        XCTAssertEqual(status.finish(), 0)
        XCTAssertEqual(lines.first, "registry: subnet 192.168.80.0/24, 64 slots")
        let row = lines.first { $0.hasPrefix("2 ") }
        XCTAssertNotNil(row, "\(lines)")
        XCTAssertTrue(row?.contains("192.168.80.3") == true)
        XCTAssertTrue(row?.contains("02:56:4c:00:00:03") == true)
        XCTAssertTrue(row?.contains("live") == true)
        XCTAssertTrue(row?.contains("23756->") == true)
        echo.process.terminate()
        echo.process.waitUntilExit()
    }

    func test_registryFilesThatAreNotOursAreRefusedWithAClearMessage() throws {
        let platform = Platform.default
        let path = Array(registryPath.utf8)
        XCTAssertThrowsError(try RegistryFile(platform: platform, path: Array(folder.path.utf8), network: .defaultNetwork)) {
            XCTAssertTrue(($0 as! HostError).message.contains("not a regular file"), ($0 as! HostError).message)
        }
        try Data(repeating: 0x41, count: 30_000).write(to: URL(fileURLWithPath: registryPath))
        chmod(registryPath, 0o600)
        XCTAssertThrowsError(try RegistryFile(platform: platform, path: path, network: .defaultNetwork)) {
            XCTAssertTrue(($0 as! HostError).message.contains("not a VirtualLAN registry"), ($0 as! HostError).message)
        }
        chmod(registryPath, 0o644)
        XCTAssertThrowsError(try RegistryFile(platform: platform, path: path, network: .defaultNetwork)) {
            XCTAssertTrue(($0 as! HostError).message.contains("chmod 600"), ($0 as! HostError).message)
        }
        try Data(repeating: 0x41, count: 64).write(to: URL(fileURLWithPath: registryPath))
        chmod(registryPath, 0o600)
        XCTAssertNil(try? RegistryFile(platform: platform, path: path, network: .defaultNetwork), "a short foreign file is refused")
        // A truncated registry of ours (the header survived, the slots did not).
        let good = try RegistryFile(platform: platform, path: Array(folder.appendingPathComponent("good").path.utf8), network: .defaultNetwork)
        let header = Data(bytes: good.registry.region.base, count: 64)
        try header.write(to: URL(fileURLWithPath: registryPath))
        chmod(registryPath, 0o600)
        XCTAssertThrowsError(try RegistryFile(platform: platform, path: path, network: .defaultNetwork)) {
            XCTAssertTrue(($0 as! HostError).message.contains("truncated"), ($0 as! HostError).message)
        }
        if geteuid() == 0 {
            chown(registryPath, 65534, 65534)
            XCTAssertThrowsError(try RegistryFile(platform: platform, path: path, network: .defaultNetwork)) {
                XCTAssertTrue(($0 as! HostError).message.contains("belongs to another user"), ($0 as! HostError).message)
            }
        }
        try FileManager.default.removeItem(atPath: registryPath)
        let fresh = try RegistryFile(platform: platform, path: path, network: .defaultNetwork)
        XCTAssertEqual(fresh.registry.slotCount, 64)
        let other = VirtualNetwork(parsing: Array("10.1.0.0/24".utf8))!
        XCTAssertThrowsError(try RegistryFile(platform: platform, path: path, network: other)) {
            XCTAssertTrue(($0 as! HostError).message.contains("VIRTUALLAN_SUBNET"), ($0 as! HostError).message)
        }
    }

    func test_badConfigurationStopsTheInstanceWithOneClearLine() throws {
        let child = Child()
        child.process.executableURL = built("virtuallan-testpeer")
        child.process.arguments = ["claim"]
        child.process.environment = ["VIRTUALLAN_REGISTRY": registryPath, "VIRTUALLAN_SUBNET": "192.168.80.1/24"]
        let errors = Pipe()
        child.process.standardError = errors
        child.process.standardOutput = child.output
        try child.process.run()
        child.process.waitUntilExit()
        XCTAssertNotEqual(child.process.terminationStatus, 0)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(message.contains("VIRTUALLAN_SUBNET has an invalid value '192.168.80.1/24'"), message)
    }
}
