import ArgumentParser
import Foundation
import HostKit
import VirtualLANBridge
import VirtualIPCore
import WinsockDetours

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check that everything needed is in place, and say what to fix.")

    @Option(help: "Registry file to check.") var registry: String?
    @Option(help: "The hook DLL to check.") var dll: String?
    @Option(help: "Config file.") var config: String?

    func run() throws {
        let findings = try Checkup(registry: registryPath(registry, config: config), dll: dll, files: Paths.files()).run()
        for finding in findings { print(finding.line) }
        let problems = findings.filter { !$0.ok }.count
        print(problems == 0 ? "all good" : "\(problems) problem\(problems == 1 ? "" : "s") to fix")
        if problems > 0 { throw ExitCode(1) }
    }
}

struct Finding {
    var ok: Bool
    var what: String
    var detail: String
    var fix: String

    var line: String { ok ? "ok    \(what): \(detail)" : "FAIL  \(what): \(detail)\n      fix: \(fix)" }
}

/// The checks, in the order a user fixes them.
struct Checkup {
    var registry: String
    var dll: String?
    var files: URL

    func run() -> [Finding] {
        var findings: [Finding] = []
        let setup = "run scripts/setup in the checkout (installs Wine 32-bit and the i686 mingw compilers from Debian), or apt-get install wine32:i386 wine"
        let command = (try? Runner.choose(wine: nil, proton: nil))?.command([]).first ?? "wine" // $WINE, else wine
        let wine = try? executable(command)
        findings.append(Finding(ok: wine != nil, what: "wine", detail: wine ?? "not found on PATH", fix: setup))
        let loader32 = ["/usr/lib/wine/wine", "/usr/lib/i386-linux-gnu/wine/wine"].first { FileManager.default.fileExists(atPath: $0) }
        findings.append(Finding(ok: loader32 != nil, what: "32-bit Wine", detail: loader32 ?? "no 32-bit Wine loader (wine32:i386)", fix: setup))
        let mingw = try? executable("i686-w64-mingw32-gcc")
        findings.append(Finding(ok: mingw != nil, what: "i686 mingw compiler", detail: mingw ?? "not found on PATH", fix: setup))
        let dllPath = dll ?? files.appendingPathComponent("virtuallan.dll").path
        findings.append(Finding(ok: FileManager.default.fileExists(atPath: dllPath), what: "hook DLL",
                                detail: FileManager.default.fileExists(atPath: dllPath) ? dllPath : "missing at \(dllPath)",
                                fix: "run wine/build-dll in the checkout, or install the tool: virtuallan install"))
        findings.append(registryFinding())
        findings.append(loopbackFinding())
        return findings
    }

    private func registryFinding() -> Finding {
        let what = "registry"
        guard FileManager.default.fileExists(atPath: registry) else {
            let folder = (registry as NSString).deletingLastPathComponent
            let writable = FileManager.default.isWritableFile(atPath: folder)
                || FileManager.default.isWritableFile(atPath: (folder as NSString).deletingLastPathComponent)
            return Finding(ok: writable, what: what, detail: writable ? "\(registry) (created by the first instance)" : "cannot create \(registry)",
                           fix: "make \(folder) writable or set VIRTUALLAN_REGISTRY to a path of yours")
        }
        do {
            let file = try RegistryFile(platform: .default, path: Array(registry.utf8), network: nil)
            let live = (0..<file.registry.slotCount).filter { file.registry.isLive($0) }
            let remote = live.filter { file.registry.isRemote($0) }.count
            var detail = "\(registry), \(live.count) instance\(live.count == 1 ? "" : "s") live"
            if remote > 0 { detail += " (\(remote) on other hosts)" }
            if let range = file.registry.localRange { detail += ", this host's range \(range.first)-\(range.last) (bridge)" }
            return Finding(ok: true, what: what, detail: detail, fix: "")
        } catch {
            return Finding(ok: false, what: what, detail: error.message, fix: "see above")
        }
    }

    private func loopbackFinding() -> Finding {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { if fd >= 0 { close(fd) } }
        var address = HostAddress.loopback(0).sockaddr
        let bound = fd >= 0 && withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
        return Finding(ok: bound, what: "loopback", detail: bound ? "UDP on 127.0.0.1 works" : "cannot bind UDP on 127.0.0.1",
                       fix: "bring the loopback interface up: ip link set lo up")
    }
}
