import ArgumentParser
import Foundation
import VirtualIPCore
import WinsockDetours

struct Launch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start N copies of a Windows program under Wine, each on its own virtual PC.",
        discussion: "Example: virtuallan launch --instances 4 --host 2 -- FlatOut2.exe -lan")

    @Option(help: "How many copies (1-64).") var instances: Int
    @Option(help: "The copy that hosts: it gets --host-args, the others --client-args.") var host: Int?
    @Option(name: .customLong("host-args"), parsing: .unconditional, help: "Extra arguments of the hosting copy.") var hostArgs = "-host"
    @Option(name: .customLong("client-args"), parsing: .unconditional, help: "Extra arguments of the other copies.") var clientArgs = ""
    @Flag(name: .customLong("prefix-per-instance"), help: "Give copy k its own Wine prefix <prefix>-k, copied from --prefix.")
    var prefixPerInstance = false
    @Option(help: "Wine prefix (the template with --prefix-per-instance). Default: $WINEPREFIX or ~/.wine.") var prefix: String?
    @Option(help: "Registry file shared by the copies.") var registry: String?
    @Option(name: .customLong("log-dir"), help: "Per-copy log files go here (copy-<k>.log).") var logDir: String?
    @Flag(help: "Log every Winsock call of every copy (function, socket, addresses, result, error) to its log (copy-<k>.log in --log-dir, default ./virtuallan-logs), and sum them up at the end.")
    var trace = false
    @Option(help: "Config file.") var config: String?
    @Option(help: "The hook DLL (default: wine/out/virtuallan.dll of the checkout).") var dll: String?
    @Argument(parsing: .postTerminator, help: "The Windows program and its arguments, after --.") var program: [String] = []

    func validate() throws {
        guard (1...64).contains(instances) else { throw ValidationError("--instances must be 1...64") }
        if let host, !(0..<instances).contains(host) { throw ValidationError("--host must name a copy 0...\(instances - 1)") }
        guard !program.isEmpty else { throw ValidationError("name the program after --, e.g. -- game.exe -lan") }
    }

    func run() throws {
        let toolConfig = try ToolConfig.load(path: config)
        let range = try hostRange(registry: toolConfig.registryPath(option: registry))
        if let range, instances > Int(range.count) {
            throw Failure("this host's bridge range \(range.first)-\(range.last) holds \(range.count) instances: --instances \(instances) does not fit")
        }
        let plan = try LaunchPlan(
            instances: instances, host: host, hostArgs: hostArgs, clientArgs: clientArgs,
            prefixPerInstance: prefixPerInstance, prefix: prefix, registry: registry,
            logDir: logDir ?? (trace ? "virtuallan-logs" : nil), trace: trace,
            config: toolConfig, dll: dll, program: program, checkout: Paths.checkout(), firstInstance: Int(range?.first ?? 0))
        try plan.prepare()
        for copy in plan.copies where trace { print("copy \(copy.index): tracing every Winsock call to \(copy.environment["VIRTUALLAN_LOG"]!)") }
        let launcher = Launcher(plan: plan, captureOutput: false)
        try launcher.start()
        launcher.forwardInterrupts()
        let codes = launcher.wait()
        for (copy, code) in zip(plan.copies, codes) {
            let log = copy.environment["VIRTUALLAN_LOG"]
            print("copy \(copy.index): exit \(code)" + (trace && log != nil ? "; " + TraceSummary(log: log!).text : ""))
        }
        if codes.contains(where: { $0 != 0 }) { throw ExitCode(1) }
    }
}

/// The instances a bridge gave this host (nil: no bridge, the whole subnet).
func hostRange(registry path: String) throws -> InstanceRange? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    let file = try openRegistry(path, network: nil)
    return withExtendedLifetime(file) { file.registry.localRange } // the registry lives in the file's mapping
}

/// Everything about starting the copies, decided before anything starts (and testable).
/// Copy k is pinned to instance `firstInstance + k` (the start of this host's range).
struct LaunchPlan {
    struct Copy {
        var index: Int
        var arguments: [String]            // for `wine`
        var environment: [String: String]
        var prefix: String
    }
    var copies: [Copy] = []
    var registry: String
    var templatePrefix: String
    var injector: URL
    var dll: URL

    init(instances: Int, host: Int?, hostArgs: String, clientArgs: String, prefixPerInstance: Bool, prefix: String?,
         registry: String?, logDir: String?, trace: Bool = false, config: ToolConfig, dll: String?, program: [String], checkout: URL,
         firstInstance: Int = 0, baseEnvironment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let out = Paths.wineOut(checkout)
        self.dll = dll.map { URL(fileURLWithPath: $0) } ?? out.appendingPathComponent("virtuallan.dll")
        injector = out.appendingPathComponent("inject.exe")
        self.registry = config.registryPath(option: registry, environment: baseEnvironment)
        let home = baseEnvironment["HOME"] ?? "/root"
        templatePrefix = prefix ?? baseEnvironment["WINEPREFIX"] ?? "\(home)/.wine"
        let split = { (text: String) in text.split(separator: " ").map(String.init) }
        for index in 0..<instances {
            var environment = baseEnvironment.merging(config.environment()) { _, configured in configured }
            environment["VIRTUALLAN_REGISTRY"] = self.registry
            environment["VIRTUALLAN_INSTANCE"] = String(firstInstance + index)
            environment["WINEPREFIX"] = prefixPerInstance ? "\(templatePrefix)-\(index)" : templatePrefix
            if let logDir { environment["VIRTUALLAN_LOG"] = "\(logDir)/copy-\(index).log" }
            if trace { environment["VIRTUALLAN_LOG_LEVEL"] = "trace" }
            environment["WINEDEBUG"] = environment["WINEDEBUG"] ?? "-all"
            let role = index == host ? split(hostArgs) : split(clientArgs)
            let extra = config.gameArgs[index] ?? []
            copies.append(Copy(index: index, arguments: [Paths.windows(injector), Paths.windows(self.dll)] + program + role + extra,
                               environment: environment, prefix: environment["WINEPREFIX"]!))
        }
    }

    /// Checks the pieces, creates per-copy prefixes from the template and the registry
    /// file (private, mode 0600) so every copy opens the same, valid one.
    func prepare() throws {
        let files = FileManager.default
        for (what, url) in [("the hook DLL", dll), ("the injector", injector)] where !files.fileExists(atPath: url.path) {
            throw Failure("\(what) is missing at \(url.path): run wine/build-dll (or virtuallan doctor)")
        }
        umask(0o077) // Wine creates files with our umask: keep what it writes private
        for copy in copies {
            if let log = copy.environment["VIRTUALLAN_LOG"] {
                try files.createDirectory(atPath: (log as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            }
        }
        for copy in copies where copy.prefix != templatePrefix && !files.fileExists(atPath: copy.prefix) {
            guard files.fileExists(atPath: "\(templatePrefix)/system.reg") else {
                throw Failure("template prefix \(templatePrefix) is not a Wine prefix: create it with wine/prefix \(templatePrefix)")
            }
            try files.copyItem(atPath: templatePrefix, toPath: copy.prefix)
        }
        _ = try openRegistry(registry, network: virtualNetwork(environment: copies.first?.environment ?? [:]))
    }
}

/// Runs the copies: starts them, forwards Ctrl-C, collects exit codes (and output).
final class Launcher {
    let plan: LaunchPlan
    let captureOutput: Bool
    var processes: [Process] = []
    var outputs: [Pipe] = []
    private var interrupt: DispatchSourceSignal?

    init(plan: LaunchPlan, captureOutput: Bool) {
        self.plan = plan
        self.captureOutput = captureOutput
    }

    func start() throws {
        for copy in plan.copies {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try executable("wine"))
            process.arguments = copy.arguments
            process.environment = copy.environment
            if captureOutput {
                let pipe = Pipe()
                process.standardOutput = pipe
                outputs.append(pipe)
            }
            try process.run()
            processes.append(process)
        }
    }

    func forwardInterrupts() {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT)
        source.setEventHandler { [processes] in
            for process in processes where process.isRunning { kill(process.processIdentifier, SIGINT) }
        }
        source.resume()
        interrupt = source
    }

    func wait() -> [Int32] {
        processes.map { process in
            process.waitUntilExit()
            return process.terminationStatus
        }
    }
}

/// The full path of a program on PATH, or a clear error.
func executable(_ name: String) throws -> String {
    for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let path = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw Failure("\(name) is not installed (not on PATH): run wine/setup, or see virtuallan doctor")
}

/// What a copy's trace says in one line: how many calls, how many failed, how many the
/// guard refused (aimed at the virtual LAN from a socket that is not virtual).
struct TraceSummary {
    var calls = 0, failed = 0, refused = 0
    let log: String

    init(log: String) {
        self.log = log
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        for line in text.split(whereSeparator: \.isNewline) where line.contains(" trace: ") {
            calls += 1
            if line.contains(" error ") { failed += 1 }
        }
        refused = text.components(separatedBy: "refused with WSAENETUNREACH").count - 1
    }

    var text: String { "\(calls) Winsock calls traced, \(failed) failed, \(refused) refused to keep traffic off real networks (\(log))" }
}
