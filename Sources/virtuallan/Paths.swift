import Foundation
import VirtualIPCore
import WinsockDetours

/// Where things are: the checkout (for wine/ and its build output) and the registry.
enum Paths {
    /// VIRTUALLAN_HOME, else the checkout this binary was built in (it lives in
    /// <checkout>/.build/<triple>/<config>/), else the current folder.
    static func checkout() -> URL {
        if let home = ProcessInfo.processInfo.environment["VIRTUALLAN_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home)
        }
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("wine/build-dll").path) { return folder }
            folder.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }

    static func wineOut(_ checkout: URL) -> URL { checkout.appendingPathComponent("wine/out") }

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

/// A line on stderr and exit status `code`: the one way this tool reports a fatal problem.
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
