import ArgumentParser
import Foundation
import HostKit
import VirtualLANBridge
import VirtualIPCore
import WinsockDetours

struct Launch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start N copies of a Windows program under Wine (or Proton), each on its own virtual PC.",
        discussion: """
        Example: virtuallan launch --instances 4 --host 2 -- FlatOut2.exe -lan
        Wine: --wine CMD, else $WINE, else `wine` on PATH. Proton: --proton PATH (its folder or its `proton` \
        script); --prefix then names the compat data folder (STEAM_COMPAT_DATA_PATH).
        """)

    @OptionGroup var copies: CopyOptions
    @Option(help: "Wine prefix (the template with --prefix-per-instance). Default: $WINEPREFIX or ~/.wine; with --proton: $STEAM_COMPAT_DATA_PATH or ~/.local/share/virtuallan/proton.")
    var prefix: String?
    @Option(help: "The Wine command that runs a Windows program (default: $WINE, else wine).") var wine: String?
    @Option(help: "Run the copies with Proton: its folder or its proton script.") var proton: String?
    @Argument(parsing: .postTerminator, help: "The Windows program and its arguments, after --.") var program: [String] = []

    func validate() throws {
        try copies.validate()
        guard !program.isEmpty else { throw ValidationError("name the program after --, e.g. -- game.exe -lan") }
        if wine != nil && proton != nil { throw ValidationError("--wine and --proton exclude each other: name one") }
    }

    func run() throws {
        let runner = try Runner.choose(wine: wine, proton: proton)
        let plan = try copies.plan(runner: runner, prefix: prefix, program: program)
        try copies.run(plan)
    }
}

/// What `launch` and `wrap` share: how many copies, who hosts, the registry, logs, the DLL.
struct CopyOptions: ParsableArguments {
    @Option(help: "How many copies (1-64).") var instances: Int
    @Option(help: "The copy that hosts: it gets --host-args, the others --client-args.") var host: Int?
    @Option(name: .customLong("host-args"), parsing: .unconditional, help: "Extra arguments of the hosting copy.") var hostArgs = "-host"
    @Option(name: .customLong("client-args"), parsing: .unconditional, help: "Extra arguments of the other copies.") var clientArgs = ""
    @Flag(name: .customLong("prefix-per-instance"), help: "Give copy k its own Wine prefix (or Proton compat data folder) <prefix>-k, copied from --prefix.")
    var prefixPerInstance = false
    @Option(help: "Registry file shared by the copies.") var registry: String?
    @Option(name: .customLong("log-dir"), help: "Per-copy log files go here (copy-<k>.log).") var logDir: String?
    @Flag(help: "Log every Winsock call of every copy (function, socket, addresses, result, error) to its log (copy-<k>.log in --log-dir, default ./virtuallan-logs), and sum them up at the end.")
    var trace = false
    @Option(help: "Config file.") var config: String?
    @Option(help: "The hook DLL (default: the installed one, or wine/out/virtuallan.dll of the checkout).") var dll: String?

    func validate() throws {
        guard (1...64).contains(instances) else { throw ValidationError("--instances must be 1...64") }
        if let host, !(0..<instances).contains(host) { throw ValidationError("--host must name a copy 0...\(instances - 1)") }
    }

    func plan(runner: Runner, prefix: String?, program: [String],
              commandFor: ((_ index: Int, _ injector: [String], _ role: [String]) -> [String])? = nil) throws -> LaunchPlan {
        let toolConfig = try ToolConfig.load(path: config)
        let range = try hostRange(registry: toolConfig.registryPath(option: registry))
        if let range, instances > Int(range.count) {
            throw Failure("this host's bridge range \(range.first)-\(range.last) holds \(range.count) instances: --instances \(instances) does not fit")
        }
        return try LaunchPlan(
            instances: instances, host: host, hostArgs: hostArgs, clientArgs: clientArgs,
            prefixPerInstance: prefixPerInstance, prefix: prefix, registry: registry,
            logDir: logDir ?? (trace ? "virtuallan-logs" : nil), trace: trace,
            config: toolConfig, dll: dll, program: program, files: Paths.files(), runner: runner,
            firstInstance: Int(range?.first ?? 0), commandFor: commandFor)
    }

    /// Starts the copies, waits for all of them, says how each ended.
    func run(_ plan: LaunchPlan) throws {
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

/// What runs a Windows program on this machine.
enum Runner: Equatable {
    /// A Wine command (a name on PATH or a path): `wine PROGRAM ARGS`, prefix in WINEPREFIX.
    case wine(String)
    /// Proton's `proton` script: `proton run PROGRAM ARGS`, prefix in STEAM_COMPAT_DATA_PATH/pfx.
    case proton(String)

    /// --proton, else --wine, else $WINE (as winetricks honours it), else `wine`.
    static func choose(wine: String?, proton: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Runner {
        if let proton {
            var isFolder: ObjCBool = false
            let script = FileManager.default.fileExists(atPath: proton, isDirectory: &isFolder) && isFolder.boolValue
                ? URL(fileURLWithPath: proton).appendingPathComponent("proton").path : proton
            guard FileManager.default.isExecutableFile(atPath: script) else {
                throw Failure("--proton \(proton): no executable proton script at \(script) (name Proton's folder, e.g. ~/.steam/steam/steamapps/common/Proton 8.0)")
            }
            return .proton(script)
        }
        return .wine(wine ?? environment["WINE"].flatMap { $0.isEmpty ? nil : $0 } ?? "wine")
    }

    /// The command line that starts `windowsArguments` (the injector first).
    func command(_ windowsArguments: [String]) -> [String] {
        switch self {
        case let .wine(wine): return [wine] + windowsArguments
        case let .proton(script): return [script, "run"] + windowsArguments
        }
    }

    /// The environment variable that names a copy's prefix, and the default prefix.
    func prefixVariable() -> String {
        switch self {
        case .wine: return "WINEPREFIX"
        case .proton: return "STEAM_COMPAT_DATA_PATH"
        }
    }

    func defaultPrefix(_ environment: [String: String]) -> String {
        let home = environment["HOME"] ?? "/root"
        let set = { (name: String) in environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        switch self {
        case .wine: return set("WINEPREFIX") ?? "\(home)/.wine"
        case .proton: return set("STEAM_COMPAT_DATA_PATH") ?? "\(set("XDG_DATA_HOME") ?? "\(home)/.local/share")/virtuallan/proton"
        }
    }

    /// What makes `folder` a ready prefix: Wine's system.reg, Proton's pfx/system.reg.
    func isPrefix(_ folder: String) -> Bool {
        switch self {
        case .wine: return FileManager.default.fileExists(atPath: "\(folder)/system.reg")
        case .proton: return FileManager.default.fileExists(atPath: "\(folder)/pfx/system.reg")
        }
    }
}

/// Everything about starting the copies, decided before anything starts (and testable).
/// Copy k is pinned to instance `firstInstance + k` (the start of this host's range).
struct LaunchPlan {
    struct Copy {
        var index: Int
        var command: [String]              // the runner first, then the injector, the DLL, the program
        var environment: [String: String]
        var prefix: String
    }
    var copies: [Copy] = []
    var registry: String
    var templatePrefix: String
    var injector: URL
    var dll: URL
    var runner: Runner

    /// `program` is handed to the injector as is; `commandFor` (wrap) builds a copy's
    /// command line itself from the injector's and the DLL's Windows paths and the copy's
    /// role arguments.
    init(instances: Int, host: Int?, hostArgs: String, clientArgs: String, prefixPerInstance: Bool, prefix: String?,
         registry: String?, logDir: String?, trace: Bool = false, config: ToolConfig, dll: String?, program: [String], files: URL,
         runner: Runner = .wine("wine"), firstInstance: Int = 0,
         baseEnvironment: [String: String] = ProcessInfo.processInfo.environment,
         commandFor: ((_ index: Int, _ injector: [String], _ role: [String]) -> [String])? = nil) throws {
        self.dll = dll.map { URL(fileURLWithPath: $0) } ?? files.appendingPathComponent("virtuallan.dll")
        injector = files.appendingPathComponent("inject.exe")
        self.runner = runner
        // Absolute paths: Wine refuses a relative WINEPREFIX, and a copy's relative path
        // would be read against its Windows working folder.
        self.registry = absolutePath(config.registryPath(option: registry, environment: baseEnvironment))
        templatePrefix = absolutePath(prefix ?? runner.defaultPrefix(baseEnvironment))
        let split = { (text: String) in text.split(separator: " ").map(String.init) }
        let variable = runner.prefixVariable()
        for index in 0..<instances {
            var environment = baseEnvironment.merging(config.environment()) { _, configured in configured }
            environment["VIRTUALLAN_REGISTRY"] = self.registry
            environment["VIRTUALLAN_INSTANCE"] = String(firstInstance + index)
            environment[variable] = prefixPerInstance ? "\(templatePrefix)-\(index)" : templatePrefix
            if let logDir { environment["VIRTUALLAN_LOG"] = absolutePath("\(logDir)/copy-\(index).log") }
            if trace { environment["VIRTUALLAN_LOG_LEVEL"] = "trace" }
            environment["WINEDEBUG"] = environment["WINEDEBUG"] ?? "-all"
            if case .proton = runner, environment["STEAM_COMPAT_CLIENT_INSTALL_PATH"] == nil {
                // Proton needs it to find Steam's files; the usual place of Steam's root.
                environment["STEAM_COMPAT_CLIENT_INSTALL_PATH"] = "\(baseEnvironment["HOME"] ?? "/root")/.steam/steam"
            }
            let role = (index == host ? split(hostArgs) : split(clientArgs)) + (config.gameArgs[index] ?? [])
            let inject = [Paths.windows(injector), Paths.windows(self.dll)]
            let command = commandFor?(index, inject, role) ?? runner.command(inject + program + role)
            copies.append(Copy(index: index, command: command, environment: environment, prefix: environment[variable]!))
        }
    }

    /// Checks the pieces, creates per-copy prefixes from the template and the registry
    /// file (private, mode 0600) so every copy opens the same, valid one.
    func prepare() throws {
        let files = FileManager.default
        for (what, url) in [("the hook DLL", dll), ("the injector", injector)] where !files.fileExists(atPath: url.path) {
            throw Failure("\(what) is missing at \(url.path): install the tool (virtuallan install), run wine/build-dll in a checkout, or pass --dll (virtuallan doctor helps)")
        }
        umask(0o077) // Wine creates files with our umask: keep what it writes private
        for copy in copies {
            if let log = copy.environment["VIRTUALLAN_LOG"] {
                try files.createDirectory(atPath: (log as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            }
        }
        for copy in copies where copy.prefix != templatePrefix && !files.fileExists(atPath: copy.prefix) {
            if case .proton = runner, !runner.isPrefix(templatePrefix) {
                try files.createDirectory(atPath: copy.prefix, withIntermediateDirectories: true) // Proton fills a new one itself
                continue
            }
            guard runner.isPrefix(templatePrefix) else {
                throw Failure("template prefix \(templatePrefix) is not a Wine prefix: create it with wine/prefix \(templatePrefix) (or run the program once without --prefix-per-instance)")
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
        // The copies inherit how SIGINT is handled: when ours is ignored (started in the
        // background, or by a launch earlier in this process), Ctrl-C forwarded to them would
        // be ignored too. They get the default; forwardInterrupts ignores it for us alone.
        signal(SIGINT, SIG_DFL)
        for copy in plan.copies {
            let process = Process()
            let program = copy.command[0]
            process.executableURL = URL(fileURLWithPath: try executable(program))
            process.arguments = Array(copy.command.dropFirst())
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

/// `path` from the current folder when it is relative.
func absolutePath(_ path: String) -> String {
    path.hasPrefix("/") ? path : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path).standardized.path
}

/// The full path of a program: a path (it has a "/") as given when it is executable, a
/// name looked up on PATH; else a clear error.
func executable(_ name: String) throws -> String {
    if name.contains("/") {
        guard FileManager.default.isExecutableFile(atPath: name) else { throw Failure("\(name) is not an executable file: name the program itself, or see virtuallan doctor") }
        return name
    }
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
