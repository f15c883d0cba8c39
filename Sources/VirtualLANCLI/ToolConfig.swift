import Foundation
import HostKit
import VirtualLANBridge
import VirtualIPCore

/// The optional config file: `key = value` lines, `#` comments. Keys: registry, subnet,
/// hostname_prefix, log_level, game_args.<k> (extra game arguments for copy k).
/// Looked up at --config, else $VIRTUALLAN_CONFIG, else ~/.config/virtuallan/config.
struct ToolConfig: Equatable {
    var registry: String?
    var subnet: String?
    var hostnamePrefix: String?
    var logLevel: String?
    var gameArgs: [Int: [String]] = [:]

    static let knownKeys = "registry, subnet, hostname_prefix, log_level, game_args.<copy>"

    static func parse(_ text: String, source: String) throws -> ToolConfig {
        var config = ToolConfig()
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0].trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let where_ = "\(source) line \(number + 1)"
            guard let equals = line.firstIndex(of: "=") else {
                throw Failure("\(where_): expected 'key = value', got '\(line)'")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            switch key {
            case "registry": config.registry = value
            case "subnet": config.subnet = value
            case "hostname_prefix": config.hostnamePrefix = value
            case "log_level": config.logLevel = value
            default:
                guard key.hasPrefix("game_args."), let copy = Int(key.dropFirst("game_args.".count)), copy >= 0 else {
                    throw Failure("\(where_): unknown key '\(key)'; the keys are \(knownKeys)")
                }
                config.gameArgs[copy] = value.split(separator: " ").map(String.init)
            }
        }
        try config.validate(source: source)
        return config
    }

    /// The file to read, if any.
    static func load(path: String?) throws -> ToolConfig {
        let environment = ProcessInfo.processInfo.environment
        let chosen = path ?? environment["VIRTUALLAN_CONFIG"]
        let candidate = chosen ?? (environment["HOME"].map { "\($0)/.config/virtuallan/config" })
        guard let file = candidate, FileManager.default.fileExists(atPath: file) else {
            if let chosen { throw Failure("config file \(chosen) does not exist: create it or drop --config/VIRTUALLAN_CONFIG") }
            return ToolConfig()
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw Failure("config file \(file) cannot be read as UTF-8 text")
        }
        return try parse(text, source: file)
    }

    /// The same checks an instance makes, so a bad value is reported here, once, naming the key.
    func validate(source: String) throws {
        let values: [InstanceConfig.Key: String?] = [.subnet: subnet, .hostnamePrefix: hostnamePrefix, .logLevel: logLevel]
        do {
            _ = try InstanceConfig.fromEnvironment { key in (values[key] ?? nil).map { Array($0.utf8) } }
        } catch {
            let name = ["VIRTUALLAN_SUBNET": "subnet", "VIRTUALLAN_HOSTNAME_PREFIX": "hostname_prefix",
                        "VIRTUALLAN_LOG_LEVEL": "log_level"]["\(error.key.name)"] ?? "\(error.key.name)"
            throw Failure("\(source): \(name) = '\(String(decoding: error.value, as: UTF8.self))' is invalid: expected \(error.key.expectedText); fix or remove the line")
        }
    }

    /// The registry every command uses: the option, else $VIRTUALLAN_REGISTRY, else this
    /// file's, else the per-user default.
    func registryPath(option: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let option { return option }
        if let fromEnvironment = environment["VIRTUALLAN_REGISTRY"], !fromEnvironment.isEmpty { return fromEnvironment }
        return registry ?? Paths.defaultRegistry
    }

    /// VIRTUALLAN_* variables for the instances (the environment's own values win).
    func environment() -> [String: String] {
        var out: [String: String] = [:]
        out["VIRTUALLAN_REGISTRY"] = registry
        out["VIRTUALLAN_SUBNET"] = subnet
        out["VIRTUALLAN_HOSTNAME_PREFIX"] = hostnamePrefix
        out["VIRTUALLAN_LOG_LEVEL"] = logLevel
        return out.merging(ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("VIRTUALLAN_") }) { _, own in own }
    }
}
