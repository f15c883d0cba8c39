/// The settings of one instance. Read from the environment (Wine passes it on to Windows
/// processes); every key is optional and the defaults work with zero configuration.
public struct InstanceConfig: Equatable, Sendable {
    /// Registry file path (platform syntax). nil: the platform's default location.
    public var registryPath: [UInt8]?
    /// Pinned instance index (0-based; instance n has host address .n+1). nil: lowest free.
    public var pinnedInstance: Int?
    public var network: VirtualNetwork
    /// gethostname answers "<prefix>-<n>" with n = instance index + 1.
    public var hostnamePrefix: [UInt8]
    public var logPath: [UInt8]?
    public var logLevel: LogLevel
    /// Processes this one starts get the DLL and join its instance (a copy is a PC); off,
    /// they run as started, outside the virtual LAN.
    public var followsChildren: Bool

    public init(registryPath: [UInt8]? = nil, pinnedInstance: Int? = nil,
                network: VirtualNetwork = .defaultNetwork, hostnamePrefix: [UInt8] = Array("VLAN".utf8),
                logPath: [UInt8]? = nil, logLevel: LogLevel = .warning, followsChildren: Bool = true) {
        self.registryPath = registryPath
        self.pinnedInstance = pinnedInstance
        self.network = network
        self.hostnamePrefix = hostnamePrefix
        self.logPath = logPath
        self.logLevel = logLevel
        self.followsChildren = followsChildren
    }

    public enum Key: CaseIterable, Sendable {
        case registry, instance, subnet, hostnamePrefix, log, logLevel, children

        public var name: StaticString {
            switch self {
            case .registry: return "VIRTUALLAN_REGISTRY"
            case .instance: return "VIRTUALLAN_INSTANCE"
            case .subnet: return "VIRTUALLAN_SUBNET"
            case .hostnamePrefix: return "VIRTUALLAN_HOSTNAME_PREFIX"
            case .log: return "VIRTUALLAN_LOG"
            case .logLevel: return "VIRTUALLAN_LOG_LEVEL"
            case .children: return "VIRTUALLAN_CHILDREN"
            }
        }

        /// What a valid value looks like, for the error message.
        public var expectedText: String { "\(expected)" }

        var expected: StaticString {
            switch self {
            case .registry, .log: return "a file path"
            case .instance: return "a whole number 0...252"
            case .subnet: return "a subnet such as 192.168.80.0/24 (prefix 8...30, host bits zero)"
            case .hostnamePrefix: return "1-15 letters, digits or '-'"
            case .logLevel: return "one of error, warning, info, debug, trace"
            case .children: return "follow (processes it starts join the instance) or ignore"
            }
        }
    }

    /// Reads every key through `lookup` (nil or empty = unset).
    public static func fromEnvironment(_ lookup: (Key) -> [UInt8]?) throws(ConfigError) -> InstanceConfig {
        var config = InstanceConfig()
        func value(_ key: Key) -> [UInt8]? {
            guard let v = lookup(key), !v.isEmpty else { return nil }
            return v
        }
        config.registryPath = value(.registry)
        config.logPath = value(.log)
        if let text = value(.subnet) {
            guard let network = VirtualNetwork(parsing: text) else { throw ConfigError(key: .subnet, value: text) }
            config.network = network
        }
        if let text = value(.instance) {
            guard let index = parseDecimal(text[...]), index < config.network.capacity else { throw ConfigError(key: .instance, value: text) }
            config.pinnedInstance = index
        }
        if let text = value(.hostnamePrefix) {
            let valid = text.count <= 15 && text.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D
            }
            guard valid else { throw ConfigError(key: .hostnamePrefix, value: text) }
            config.hostnamePrefix = text
        }
        if let text = value(.logLevel) {
            guard let level = LogLevel(parsing: text) else { throw ConfigError(key: .logLevel, value: text) }
            config.logLevel = level
        }
        if let text = value(.children) {
            if text.elementsEqual("follow".utf8) { config.followsChildren = true }
            else if text.elementsEqual("ignore".utf8) { config.followsChildren = false }
            else { throw ConfigError(key: .children, value: text) }
        }
        return config
    }

    /// "<prefix>-<index + 1>".
    public func hostname(instance index: Int) -> [UInt8] {
        var name = hostnamePrefix
        name.append(UInt8(ascii: "-"))
        appendDecimal(UInt32(index + 1), to: &name)
        return name
    }
}

/// A whole number of 1-5 decimal digits (no sign, no spaces), or nil.
func parseDecimal(_ text: ArraySlice<UInt8>) -> Int? {
    guard !text.isEmpty, text.count <= 5 else { return nil }
    var n = 0
    for b in text {
        guard b >= 0x30, b <= 0x39 else { return nil }
        n = n * 10 + Int(b - 0x30)
    }
    return n
}

public struct ConfigError: Error, Equatable, Sendable {
    public var key: InstanceConfig.Key
    public var value: [UInt8]

    /// One line naming the key, the bad value and the fix.
    public var message: String {
        "\(key.name) has an invalid value '\(String(decoding: value, as: UTF8.self))': expected \(key.expected); fix or unset it"
    }
}

public enum LogLevel: Int, Comparable, Sendable {
    /// trace: debug, and the DLL logs every hooked call (arguments, result, error).
    case error = 0, warning = 1, info = 2, debug = 3, trace = 4

    init?(parsing text: [UInt8]) {
        let lower = text.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        for level in [LogLevel.error, .warning, .info, .debug, .trace] where lower.elementsEqual(level.name.utf8Bytes) {
            self = level
            return
        }
        if lower.elementsEqual("warn".utf8) { self = .warning; return }
        return nil
    }

    public var name: StaticString {
        switch self {
        case .error: return "error"
        case .warning: return "warning"
        case .info: return "info"
        case .debug: return "debug"
        case .trace: return "trace"
        }
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

extension StaticString {
    var utf8Bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: utf8Start, count: utf8CodeUnitCount) }
}
