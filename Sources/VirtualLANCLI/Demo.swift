import ArgumentParser
import Foundation
import HostKit
import VirtualLANBridge
import VirtualIPCore
import WinsockDetours

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show it working: copies of the stand-in game under Wine find a lobby and race on the virtual LAN.",
        discussion: "Needs Wine and the Windows files (scripts/demo sets them up first, then runs this in a private network namespace; an installed tool has them).")

    @Option(help: "How many copies (2-8).") var instances = 4
    @Option(help: "The copy that hosts (any copy can).") var host = 2
    @Option(help: "Rounds of the race.") var rounds = 300
    @Option(help: "Milliseconds per round.") var tick = 20

    func validate() throws {
        guard (2...8).contains(instances) else { throw ValidationError("--instances must be 2...8 (the game's limit)") }
        guard (0..<instances).contains(host) else { throw ValidationError("--host must name a copy 0...\(instances - 1)") }
    }

    func run() throws {
        let files = Paths.files()
        let runner = try Runner.choose(wine: nil, proton: nil)
        let prefix = Paths.demoPrefix(files: files)
        try ensureReady(files: files, runner: runner, prefix: prefix)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("virtuallan-demo-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: work) }
        let registry = work.appendingPathComponent("registry").path
        let game = Paths.windows(files.appendingPathComponent("fo2sim.exe"))
        let common = "-rounds=\(rounds) -tick=\(tick) -timeout=120 -name=VirtualLAN-demo"
        let plan = try LaunchPlan(
            instances: instances, host: host, hostArgs: "-lan -host -players=\(instances) \(common)",
            clientArgs: "-lan -join \(common)", prefixPerInstance: false,
            prefix: prefix, registry: registry, logDir: work.path,
            config: ToolConfig(), dll: nil, program: [game], files: files, runner: runner)
        try plan.prepare()
        print("demo: \(instances) copies of the stand-in game; copy \(host) hosts, the others find it by broadcast")
        let launcher = Launcher(plan: plan, captureOutput: true)
        try launcher.start()
        launcher.forwardInterrupts()
        let results = collectResults(launcher)
        watchStatus(registry: registry, until: launcher)
        let codes = launcher.wait()
        if let wineserver = wineserver(for: runner) { _ = try? Process.run(URL(fileURLWithPath: wineserver), arguments: ["-k"]) }
        try summarize(results: results.wait(), codes: codes)
    }

    /// Installs nothing (scripts/demo and scripts/setup do, before any network namespace is
    /// entered: no package registry can be reached from inside one): checks that Wine and
    /// the Windows files are there, saying what to run when not, and creates the demo's Wine
    /// prefix when missing (that needs no network).
    func ensureReady(files: URL, runner: Runner, prefix: String) throws {
        guard case let .wine(wine) = runner, (try? executable(wine)) != nil else {
            throw Failure("Wine is not installed (no \(runner.command([]).first ?? "wine") on PATH): run scripts/setup in the checkout, or install Debian's wine32:i386 (virtuallan doctor lists what is missing)")
        }
        for name in Paths.windowsFiles + ["fo2sim.exe"] where !FileManager.default.fileExists(atPath: files.appendingPathComponent(name).path) {
            throw Failure("\(name) is missing in \(files.path): run scripts/demo from the checkout (it builds it), or install the tool (virtuallan install)")
        }
        guard !runner.isPrefix(prefix) else { return }
        print("demo: creating the Wine prefix \(prefix) (once, about half a minute)")
        try FileManager.default.createDirectory(atPath: prefix, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["WINEPREFIX"] = prefix
        environment["WINEDEBUG"] = "-all"
        environment["WINEDLLOVERRIDES"] = "mscoree,mshtml=" // no Mono/Gecko installer dialogs
        let boot = Process()
        boot.executableURL = URL(fileURLWithPath: try executable(wine))
        boot.arguments = ["wineboot", "-i"]
        boot.environment = environment
        boot.standardOutput = FileHandle.nullDevice
        boot.standardError = FileHandle.nullDevice
        try boot.run()
        boot.waitUntilExit()
        if let wineserver = wineserver(for: runner) {
            let wait = Process() // until wineboot's services have finished
            wait.executableURL = URL(fileURLWithPath: wineserver)
            wait.arguments = ["-w"]
            wait.environment = environment
            try wait.run()
            wait.waitUntilExit()
        }
        guard runner.isPrefix(prefix) else { throw Failure("could not create the Wine prefix \(prefix) (wineboot exit \(boot.terminationStatus)): try WINEPREFIX=\(prefix) wineboot -i") }
    }

    /// The wineserver that belongs to the Wine command (beside it, else on PATH).
    func wineserver(for runner: Runner) -> String? {
        guard case let .wine(wine) = runner else { return nil }
        if wine.contains("/") {
            let beside = URL(fileURLWithPath: wine).deletingLastPathComponent().appendingPathComponent("wineserver").path
            if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        }
        return try? executable("wineserver")
    }

    /// Reads every copy's output on its own thread, keeping its RESULT line.
    func collectResults(_ launcher: Launcher) -> ResultCollector {
        let collector = ResultCollector(count: launcher.outputs.count)
        for (index, pipe) in launcher.outputs.enumerated() {
            Thread.detachNewThread {
                let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                // Wine console lines end in "\r\n", one Character in Swift: split on any newline.
                collector.set(index, text.split(whereSeparator: \.isNewline).last { $0.hasPrefix("RESULT") }.map(String.init))
            }
        }
        return collector
    }

    /// The live view (status --watch) while the copies race: in place on a terminal,
    /// one frame every 2 s otherwise (a log).
    func watchStatus(registry: String, until launcher: Launcher) {
        guard let file = try? RegistryFile(platform: .default, path: Array(registry.utf8), network: nil) else { return }
        let terminal = isatty(1) != 0
        var view = LiveView(color: terminal)
        while launcher.processes.contains(where: { $0.isRunning }) {
            let snapshot = RegistrySnapshot(registry: file.registry, nowMs: Platform.default.nowMs)
            // The copies leave at the end of the race: keep the last frame that shows them.
            if snapshot.instances.isEmpty && !launcher.processes.allSatisfy({ $0.isRunning }) { break }
            let frame = view.frame(snapshot, atMs: MonotonicClock.milliseconds, registry: registry)
            print(terminal ? LiveView.inPlace(frame) : frame, terminator: "")
            fflush(nil) // all streams: stdout itself is a C global Swift 6 will not touch
            Thread.sleep(forTimeInterval: terminal ? 1 : 2)
        }
    }

    func summarize(results: [String?], codes: [Int32]) throws {
        var sent = 0, received = 0, lost = 0, lobbies = 0
        print("\nsummary:")
        for (index, (result, code)) in zip(results, codes).enumerated() {
            let fields = Dictionary((result ?? "").split(separator: " ").compactMap { word -> (String, String)? in
                let parts = word.split(separator: "=", maxSplits: 1)
                return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
            }, uniquingKeysWith: { a, _ in a })
            sent += Int(fields["sent"] ?? "") ?? 0
            received += Int(fields["received"] ?? "") ?? 0
            lost += Int(fields["lost"] ?? "") ?? 0
            if fields["lobby"] == "1" { lobbies += 1 }
            print("  copy \(index) (\(fields["role"] ?? "?"), \(fields["ip"] ?? "?")): \(fields["ok"] == "1" && code == 0 ? "ok" : "FAILED") \(result ?? "(no result)")")
        }
        let worked = lobbies == codes.count && lost == 0 && codes.allSatisfy { $0 == 0 } && results.allSatisfy { $0?.contains("ok=1") == true }
        print("  lobby found by \(lobbies) of \(codes.count) copies; \(sent) datagrams sent, \(received) game packets received, \(lost) lost")
        print(worked ? "demo: the virtual LAN worked" : "demo: the virtual LAN did NOT work (see above; virtuallan doctor helps)")
        if !worked { throw ExitCode(1) }
    }
}

/// RESULT lines arriving from reader threads.
final class ResultCollector: Sendable {
    private let done = DispatchGroup()
    private let results: Locked<[String?]>

    init(count: Int) {
        results = Locked(Array(repeating: nil, count: count))
        for _ in 0..<count { done.enter() }
    }

    func set(_ index: Int, _ result: String?) {
        results.withLock { $0[index] = result }
        done.leave()
    }

    func wait() -> [String?] {
        done.wait()
        return results.value
    }
}
