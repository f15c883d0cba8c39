import CWineBridge
import VirtualIPCore
import WinsockDetours
#if canImport(Glibc)
import Glibc
#endif

/// virtuallan: the Linux-side tool. `status` reads the shared registry; `peer` and `claim`
/// are small instances used by the multi-process tests (they talk through the same Winsock
/// entry points a hooked game uses).
let usage = """
usage: virtuallan status [--registry PATH]
       virtuallan peer echo|ping --count N [--peer-instance K] [--port P] [--timeout-ms T] [--hold]
       virtuallan claim
Environment: VIRTUALLAN_REGISTRY, VIRTUALLAN_INSTANCE, VIRTUALLAN_SUBNET, VIRTUALLAN_HOSTNAME_PREFIX,
VIRTUALLAN_LOG, VIRTUALLAN_LOG_LEVEL (see README.md).
"""

func fail(_ message: String, code: Int32 = 2) -> Never {
    fputs("virtuallan: \(message)\n", stderr)
    exit(code)
}

/// "--name value" options after the command words.
func option(_ name: String, in args: [String]) -> String? {
    guard let i = args.firstIndex(of: name) else { return nil }
    guard i + 1 < args.count else { fail("\(name) needs a value\n\(usage)") }
    return args[i + 1]
}

func number(_ name: String, in args: [String], default value: Int) -> Int {
    guard let text = option(name, in: args) else { return value }
    guard let n = Int(text), n >= 0 else { fail("\(name) takes a whole number, got '\(text)'") }
    return n
}

func say(_ line: String) {
    print(line)
    fflush(stdout)
}

let args = Array(CommandLine.arguments.dropFirst())
switch args.first {
case "status":
    let platform = Platform.default
    let configured = option("--registry", in: args) ?? getenv("VIRTUALLAN_REGISTRY").map { String(cString: $0) }
    let path = configured.map { Array($0.utf8) } ?? RegistryFile.defaultPath(platform)
    let pathText = String(decoding: path, as: UTF8.self)
    guard access(pathText, F_OK) == 0 else {
        fail("no registry at \(pathText): no instance has run with it yet (start one, or pass --registry)", code: 1)
    }
    do {
        let file = try RegistryFile(platform: platform, path: path, network: nil)
        print(StatusTable(registry: file.registry, nowMs: platform.nowMs).render(), terminator: "")
    } catch {
        fail(error.message, code: 1)
    }
case "peer":
    runPeer(Array(args.dropFirst()))
case "claim":
    guard let host = VirtualHost.current else { exit(1) }
    say("claimed \(host.instance) \(host.address.dotted)")
    // Hold the slot until our stdin closes (the test decides when).
    while getchar() != EOF {}
    host.shutdown()
case "-h", "--help", "help":
    print(usage)
default:
    fail("unknown command '\(args.first ?? "")'\n\(usage)")
}
