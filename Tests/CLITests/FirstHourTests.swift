import XCTest
import Foundation
import HostKit
import VirtualIPCore
@testable import VirtualLANCLI

/// What a new player meets: any Wine command, Proton, Steam's launch option, and the tool
/// installed away from the checkout. The Wine and Proton commands are stand-in scripts on
/// disk that write down the command line and environment each copy got, as the real ones
/// would receive them.
final class FirstHourTests: XCTestCase {
    var folder: URL!
    var marks: URL { folder.appendingPathComponent("marks") }
    var tool: URL { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("virtuallan") }

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vl-first-hour-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: marks, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// A stand-in for a program that runs a Windows program: one file per copy with its
    /// arguments (one per line) and the environment variables a runner reads.
    @discardableResult
    func standIn(_ path: String, name: String) throws -> URL {
        let url = folder.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try """
            #!/bin/sh
            out="$MARKS/\(name)-$VIRTUALLAN_INSTANCE"
            for a in "$@"; do printf 'arg %s\n' "$a"; done > "$out"
            for v in WINEPREFIX STEAM_COMPAT_DATA_PATH STEAM_COMPAT_CLIENT_INSTALL_PATH VIRTUALLAN_REGISTRY; do
              eval "printf 'env %s=%s\\n' $v \\"\\${$v:-}\\"" >> "$out"
            done
            """.write(to: url, atomically: true, encoding: .utf8)
        chmod(url.path, 0o755)
        return url
    }

    /// Drops its arguments up to the first `--` and runs the rest, as Steam's reaper and
    /// the runtime's entry point (`--verb=... -- command`) do.
    func passthrough(_ path: String) throws -> URL {
        let url = folder.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try """
            #!/bin/sh
            while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
            shift
            exec "$@"
            """.write(to: url, atomically: true, encoding: .utf8)
        chmod(url.path, 0o755)
        return url
    }

    /// Windows files where the tool looks: a fake checkout's wine/out.
    func windowsFiles() throws -> URL {
        let out = folder.appendingPathComponent("checkout/wine/out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        for name in InstallLayout.windowsFiles { _ = FileManager.default.createFile(atPath: out.appendingPathComponent(name).path, contents: Data(name.utf8)) }
        return out
    }

    @discardableResult
    func run(_ executable: URL, _ arguments: [String], environment: [String: String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        // PATH: only a folder of the test's (the machine's own wine must not be found).
        process.environment = ["PATH": folder.appendingPathComponent("bin").path, "MARKS": marks.path, "HOME": folder.path].merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    func recorded(_ name: String, copy: Int) throws -> (arguments: [String], environment: [String: String]) {
        let lines = try String(contentsOf: marks.appendingPathComponent("\(name)-\(copy)"), encoding: .utf8).split(separator: "\n").map(String.init)
        let arguments = lines.filter { $0.hasPrefix("arg ") }.map { String($0.dropFirst(4)) }
        var environment: [String: String] = [:]
        for line in lines where line.hasPrefix("env ") {
            let pair = line.dropFirst(4).split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            environment[String(pair[0])] = String(pair[1])
        }
        return (arguments, environment)
    }

    func test_launchRunsTheWineCommandGivenByOptionOrByWINE() throws {
        let out = try windowsFiles()
        let custom = try standIn("opt/wine-9/bin/wine", name: "custom")
        try standIn("fromenv/wine", name: "fromenv")
        let registry = folder.appendingPathComponent("registry").path
        let common = ["launch", "--instances", "2", "--registry", registry, "--prefix", folder.appendingPathComponent("pfx").path]
        let byOption = try run(tool, common + ["--wine", custom.path, "--", "game.exe", "-lan"], environment: ["VIRTUALLAN_HOME": out.deletingLastPathComponent().deletingLastPathComponent().path])
        XCTAssertEqual(byOption.status, 0, byOption.output)
        for copy in 0..<2 {
            let seen = try recorded("custom", copy: copy)
            XCTAssertEqual(seen.arguments, [Paths.windows(out.appendingPathComponent("inject.exe")), Paths.windows(out.appendingPathComponent("virtuallan.dll")), "game.exe", "-lan"])
            XCTAssertEqual(seen.environment["WINEPREFIX"], folder.appendingPathComponent("pfx").path)
            XCTAssertEqual(seen.environment["VIRTUALLAN_REGISTRY"], registry)
        }
        let byEnvironment = try run(tool, common + ["--", "game.exe"], environment: [
            "VIRTUALLAN_HOME": out.deletingLastPathComponent().deletingLastPathComponent().path,
            "WINE": folder.appendingPathComponent("fromenv/wine").path])
        XCTAssertEqual(byEnvironment.status, 0, byEnvironment.output)
        XCTAssertEqual(try recorded("fromenv", copy: 1).arguments.last, "game.exe")
        // Control: without either, `wine` from PATH, which is not there: a clear error.
        let neither = try run(tool, common + ["--", "game.exe"], environment: ["VIRTUALLAN_HOME": out.deletingLastPathComponent().deletingLastPathComponent().path])
        XCTAssertNotEqual(neither.status, 0)
        XCTAssertTrue(neither.output.contains("wine is not installed"), neither.output)
    }

    func test_launchWithProtonGivesEachCopyItsCompatDataFolder() throws {
        let out = try windowsFiles()
        let protonFolder = folder.appendingPathComponent("steam/steamapps/common/Proton 8.0")
        try standIn("steam/steamapps/common/Proton 8.0/proton", name: "proton")
        let data = folder.appendingPathComponent("compatdata/6220").path
        let result = try run(tool, ["launch", "--instances", "3", "--host", "1", "--prefix-per-instance", "--prefix", data,
                                    "--registry", folder.appendingPathComponent("registry").path,
                                    "--proton", protonFolder.path, "--", "Z:\\games\\FlatOut2.exe", "-lan"],
                             environment: ["VIRTUALLAN_HOME": out.deletingLastPathComponent().deletingLastPathComponent().path])
        XCTAssertEqual(result.status, 0, result.output)
        for copy in 0..<3 {
            let seen = try recorded("proton", copy: copy)
            XCTAssertEqual(Array(seen.arguments.prefix(2)), ["run", Paths.windows(out.appendingPathComponent("inject.exe"))], "proton run INJECTOR ...")
            XCTAssertEqual(Array(seen.arguments.suffix(copy == 1 ? 3 : 2)), ["Z:\\games\\FlatOut2.exe", "-lan"] + (copy == 1 ? ["-host"] : []))
            XCTAssertEqual(seen.environment["STEAM_COMPAT_DATA_PATH"], "\(data)-\(copy)")
            XCTAssertEqual(seen.environment["STEAM_COMPAT_CLIENT_INSTALL_PATH"], "\(folder.path)/.steam/steam")
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(data)-\(copy)"), "a new compat data folder is made for Proton to fill")
        }
        let missing = try run(tool, ["launch", "--instances", "1", "--proton", folder.appendingPathComponent("nothing").path, "--", "g.exe"],
                              environment: ["VIRTUALLAN_HOME": out.deletingLastPathComponent().deletingLastPathComponent().path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("no executable proton script"), missing.output)
    }

    func test_wrapRunsSteamsOwnCommandOncePerCopyWithTheInjectorInFrontOfTheGame() throws {
        let out = try windowsFiles()
        let reaper = try passthrough("steam/ubuntu12_32/reaper")
        let entry = try passthrough("steam/steamapps/common/SteamLinuxRuntime_sniper/_v2-entry-point")
        let proton = try standIn("steam/steamapps/common/Proton 8.0/proton", name: "proton")
        let game = folder.appendingPathComponent("steam/steamapps/common/FlatOut 2/FlatOut2.exe").path
        // %command% as Steam expands it for a Proton game in its runtime container.
        let steamCommand = [reaper.path, "SteamLaunch", "AppId=6220", "--", entry.path, "--verb=waitforexitandrun", "--",
                            proton.path, "waitforexitandrun", game, "-lan"]
        let data = folder.appendingPathComponent("steam/steamapps/compatdata/6220").path
        let result = try run(tool, ["wrap", "--instances", "3", "--host", "2", "--host-args", "-host", "--client-args", "-join",
                                    "--registry", folder.appendingPathComponent("registry").path, "--"] + steamCommand,
                             environment: ["VIRTUALLAN_HOME": out.deletingLastPathComponent().deletingLastPathComponent().path,
                                           "STEAM_COMPAT_DATA_PATH": data, "STEAM_COMPAT_CLIENT_INSTALL_PATH": "/steam"])
        XCTAssertEqual(result.status, 0, result.output)
        let injector = [Paths.windows(out.appendingPathComponent("inject.exe")), Paths.windows(out.appendingPathComponent("virtuallan.dll"))]
        for copy in 0..<3 {
            let seen = try recorded("proton", copy: copy)
            // The first copy keeps Steam's verb; the others must not wait for its wineserver.
            XCTAssertEqual(seen.arguments, [copy == 0 ? "waitforexitandrun" : "run"] + injector
                           + [Paths.windows(URL(fileURLWithPath: game)), "-lan", copy == 2 ? "-host" : "-join"])
            XCTAssertEqual(seen.environment["STEAM_COMPAT_DATA_PATH"], data, "one prefix: Steam's")
            XCTAssertEqual(seen.environment["STEAM_COMPAT_CLIENT_INSTALL_PATH"], "/steam", "Steam's own value stays")
        }
        XCTAssertTrue(result.output.contains("copy 2: exit 0"), result.output)
        let plain = try run(tool, ["wrap", "--instances", "2", "--", "/bin/true"], environment: [:])
        XCTAssertNotEqual(plain.status, 0)
        XCTAssertTrue(plain.output.contains("no Windows program (.exe)"), plain.output)
    }

    func test_installedToolFindsItsFilesWithoutTheCheckoutAndUninstallRemovesThem() throws {
        let out = try windowsFiles()
        let prefix = folder.appendingPathComponent("prefix")
        let install = try run(tool, ["install", "--prefix", prefix.path],
                              environment: ["VIRTUALLAN_HOME": out.deletingLastPathComponent().deletingLastPathComponent().path])
        XCTAssertEqual(install.status, 0, install.output)
        let layout = InstallLayout(prefix: prefix.path)
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: layout.tool.path))
        for name in InstallLayout.windowsFiles {
            XCTAssertEqual(FileManager.default.contents(atPath: layout.share.appendingPathComponent(name).path), Data(name.utf8), name)
        }
        // The checkout goes away: the installed tool launches with its own files.
        try FileManager.default.removeItem(at: out.deletingLastPathComponent().deletingLastPathComponent())
        try standIn("bin/wine", name: "wine") // the only wine on the test's PATH
        let launched = try run(layout.tool, ["launch", "--instances", "1", "--registry", folder.appendingPathComponent("registry").path,
                                             "--prefix", folder.path, "--", "game.exe"],
                               environment: [:])
        XCTAssertEqual(launched.status, 0, launched.output)
        XCTAssertEqual(try recorded("wine", copy: 0).arguments.prefix(2),
                       [Paths.windows(layout.share.appendingPathComponent("inject.exe")), Paths.windows(layout.share.appendingPathComponent("virtuallan.dll"))])
        // A file of the user's in share/virtuallan stays; everything installed goes.
        _ = FileManager.default.createFile(atPath: layout.share.appendingPathComponent("mine.txt").path, contents: Data())
        let uninstall = try run(layout.tool, ["uninstall", "--prefix", prefix.path], environment: [:])
        XCTAssertEqual(uninstall.status, 0, uninstall.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: layout.tool.path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: layout.share.path), ["mine.txt"])
        let again = try run(tool, ["uninstall", "--prefix", prefix.path], environment: [:])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.output.contains("nothing installed"), again.output)
    }

    func test_launchAndWrapRefuseAnUnprotectedRegistryBeforeAnyCopyStarts() throws {
        let out = try windowsFiles()
        try standIn("bin/wine", name: "wine")
        let home = ["VIRTUALLAN_HOME": out.deletingLastPathComponent().deletingLastPathComponent().path]
        let readable = folder.appendingPathComponent("readable-registry").path
        XCTAssertTrue(FileManager.default.createFile(atPath: readable, contents: Data(), attributes: [.posixPermissions: 0o644]))
        let link = folder.appendingPathComponent("link-registry").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: folder.appendingPathComponent("elsewhere").path)
        for (registry, expected) in [(readable, "readable or writable by others"), (link, "is not a regular file")] {
            for command in [["launch", "--instances", "2", "--registry", registry, "--prefix", folder.path, "--", "game.exe"],
                            ["wrap", "--instances", "2", "--registry", registry, "--", "wine", "game.exe"]] {
                let result = try run(tool, command, environment: home)
                XCTAssertNotEqual(result.status, 0)
                XCTAssertTrue(result.output.contains(expected), "\(command[0]): \(result.output)")
                XCTAssertFalse(FileManager.default.fileExists(atPath: marks.appendingPathComponent("wine-0").path), "no copy started")
            }
        }
        // Control: a private registry path lets the same commands start their copies.
        let fine = try run(tool, ["wrap", "--instances", "1", "--registry", folder.appendingPathComponent("private/registry").path,
                                  "--", "wine", "game.exe"], environment: home)
        XCTAssertEqual(fine.status, 0, fine.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: marks.appendingPathComponent("wine-0").path))
    }

    func test_relativePathsReachTheCopiesAbsolute() throws {
        // Wine refuses a relative WINEPREFIX; a relative registry or log would be read
        // against the copy's Windows working folder.
        let plan = try LaunchPlan(instances: 1, host: nil, hostArgs: "", clientArgs: "", prefixPerInstance: false, prefix: "pfx",
                                  registry: "run/registry", logDir: "logs", config: ToolConfig(), dll: nil, program: ["g.exe"],
                                  files: URL(fileURLWithPath: "/w/out"), baseEnvironment: ["HOME": "/home/u"])
        let here = FileManager.default.currentDirectoryPath
        XCTAssertEqual(plan.copies[0].environment["WINEPREFIX"], "\(here)/pfx")
        XCTAssertEqual(plan.copies[0].environment["VIRTUALLAN_REGISTRY"], "\(here)/run/registry")
        XCTAssertEqual(plan.copies[0].environment["VIRTUALLAN_LOG"], "\(here)/logs/copy-0.log")
    }

    func test_filesAreLookedUpInstalledBesideTheToolThenInTheCheckout() {
        let candidates = Paths.candidates(environment: [:], executable: "/usr/local/bin/virtuallan").map(\.path)
        XCTAssertEqual(Array(candidates.prefix(2)), ["/usr/local/share/virtuallan", "/usr/local/bin"])
        let built = Paths.candidates(environment: [:], executable: "/src/vl/.build/x86_64-unknown-linux-gnu/debug/virtuallan").map(\.path)
        XCTAssertTrue(built.contains("/src/vl/wine/out"), "\(built)")
        XCTAssertEqual(Paths.demoPrefix(files: URL(fileURLWithPath: "/src/vl/wine/out")), "/src/vl/.wine-test/prefix")
        XCTAssertEqual(Paths.demoPrefix(files: URL(fileURLWithPath: "/usr/local/share/virtuallan"), environment: ["HOME": "/home/u"]),
                       "/home/u/.local/share/virtuallan/demo-prefix")
    }
}

/// The live view's frame, pinned as text: rates from two readings, drops by reason with the
/// new ones in bold red, a stale instance in yellow.
final class LiveViewTests: XCTestCase {
    func test_frameShowsRatesDropsByReasonAndStaleInstances() throws {
        let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: 64))
        let registry = try Registry.attach(memory.region, network: .defaultNetwork)
        let a = try registry.claim(owner: 4242, kind: .windows, pinned: 0, nowMs: 10_000, isOwnerAlive: { _, _ in nil })
        let b = try registry.claim(owner: 4343, kind: .windows, pinned: 3, nowMs: 10_000, isOwnerAlive: { _, _ in nil })
        XCTAssertTrue(registry.addSocket(slot: a.index, virtualPort: 23756, realPort: 40001, scope: .any))
        registry.countDrop(slot: a.index, .noListener)
        var view = LiveView(color: true)
        let first = view.frame(RegistrySnapshot(registry: registry, nowMs: 10_500), atMs: 1_000, registry: "/r")
        for _ in 0..<300 { registry.countDatagram(slot: a.index, received: false, bytes: 100) }
        for _ in 0..<200 { registry.countDatagram(slot: a.index, received: true, bytes: 50) }
        registry.countDrop(slot: a.index, .spoofedSource)
        XCTAssertTrue(registry.beat(a, nowMs: 12_000))
        let second = view.frame(RegistrySnapshot(registry: registry, nowMs: 16_000), atMs: 3_000, registry: "/r")
        XCTAssertEqual(first.split(separator: "\n")[2], "0    192.168.80.1    4242    live        1       -       -       -        -        0       0       no-listener=1")
        XCTAssertEqual(second, """
            virtuallan status --watch   registry /r   subnet 192.168.80.0/24
            INST ADDRESS         PID     STATE       SOCKETS TX/s    RX/s    TX B/s   RX B/s   TX      RX      DROPS
            0    192.168.80.1    4242    live        1       150     100     15.0k    5.0k     300     200     no-listener=1 \u{1B}[1;31mspoofed-source=1\u{1B}[0m
            3    192.168.80.4    4343    \u{1B}[33mSTALE 6s    \u{1B}[0m0       0       0       0        0        0       0       0

            """)
        XCTAssertFalse(LiveView(color: false).paint("x", "33").contains("\u{1B}"), "no escapes when the output is not a terminal")
        _ = b
    }

    func test_jsonSaysSoWhenThereIsNoRegistryYet() throws {
        let object = try JSONSerialization.jsonObject(with: Data(RegistrySnapshot.missing(path: "/nowhere/registry").utf8)) as? [String: Any]
        XCTAssertEqual(object?["exists"] as? Bool, false)
        XCTAssertEqual(object?["registry"] as? String, "/nowhere/registry")
        XCTAssertEqual((object?["instances"] as? [Any])?.count, 0)
    }
}
