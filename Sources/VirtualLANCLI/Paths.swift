import Foundation
import HostKit
import VirtualLANBridge
import VirtualIPCore
import WinsockDetours

/// Where things are: the Windows pieces the tool starts (the hook DLL, the injector, the
/// stand-in game), the demo's Wine prefix and the registry. The tool works from a source
/// checkout and from an installed or unpacked layout (bin/virtuallan beside
/// share/virtuallan/), so nothing here needs a checkout.
enum Paths {
    /// The files every copy needs; the demo also needs fo2sim.exe.
    static let windowsFiles = ["virtuallan.dll", "inject.exe"]

    /// The folder holding virtuallan.dll and inject.exe, first match wins:
    /// VIRTUALLAN_HOME (a checkout: its wine/out, or an install prefix: its
    /// share/virtuallan), then share/virtuallan next to the executable's bin/ (installed,
    /// or an unpacked bundle), then the executable's own folder, then wine/out of the
    /// checkout the executable was built in (<checkout>/.build/<triple>/<config>/).
    /// Nothing found: wine/out of the current folder (the error then names that path).
    static func files(environment: [String: String] = ProcessInfo.processInfo.environment,
                      executable: String = Paths.ownExecutable()) -> URL {
        candidates(environment: environment, executable: executable).first(where: holdsWindowsFiles)
            ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("wine/out")
    }

    static func candidates(environment: [String: String], executable: String) -> [URL] {
        var found: [URL] = []
        if let home = environment["VIRTUALLAN_HOME"], !home.isEmpty {
            let root = URL(fileURLWithPath: home)
            found += [root.appendingPathComponent("wine/out"), root.appendingPathComponent("share/virtuallan"), root]
        }
        let folder = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        found += [folder.deletingLastPathComponent().appendingPathComponent("share/virtuallan"), folder]
        var up = folder
        for _ in 0..<5 {
            up.deleteLastPathComponent()
            found.append(up.appendingPathComponent("wine/out"))
        }
        return found
    }

    /// This executable's path (Linux: /proc/self/exe; argv[0] is only a name when the
    /// tool was found on PATH, as Steam's launch options run it).
    static func ownExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static func holdsWindowsFiles(_ folder: URL) -> Bool {
        windowsFiles.allSatisfy { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
    }

    /// The demo's Wine prefix: the checkout's test prefix when running from a checkout
    /// (scripts/demo and the tests share it), else the user's data folder.
    static func demoPrefix(files: URL, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if files.lastPathComponent == "out", files.deletingLastPathComponent().lastPathComponent == "wine" {
            return files.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".wine-test/prefix").path
        }
        let data = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(environment["HOME"] ?? "/root")/.local/share"
        return "\(data)/virtuallan/demo-prefix"
    }

    /// The registry the platform uses by default (the same rule as the instances).
    static var defaultRegistry: String { String(decoding: RegistryFile.defaultPath(.default), as: UTF8.self) }

    /// Unix path -> the Z: path Wine programs understand.
    static func windows(_ url: URL) -> String { "Z:" + url.path.replacingOccurrences(of: "/", with: "\\") }
}

/// The registry at `path` (created when missing; `network` nil: any subnet), its errors
/// turned into the tool's one-line failure.
func openRegistry(_ path: String, network: VirtualNetwork?) throws -> RegistryFile {
    do {
        return try RegistryFile(platform: .default, path: Array(path.utf8), network: network)
    } catch {
        throw Failure(error.message)
    }
}

/// The subnet instances started with `environment` will use (VIRTUALLAN_SUBNET, else the
/// default), its error turned into the tool's one-line failure.
func virtualNetwork(environment: [String: String]) throws -> VirtualNetwork {
    do {
        return try InstanceConfig.fromEnvironment { key in environment["\(key.name)"].map { Array($0.utf8) } }.network
    } catch {
        throw Failure(error.message)
    }
}
