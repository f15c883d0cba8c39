import CWineBridge
import VirtualIPCore

/// The registry in a shared file (mode 0600, private folder): mapped by the platform,
/// validated or initialised under the file's lock.
public final class RegistryFile: @unchecked Sendable {
    let platform: Platform
    var mapping: vl_mapping
    public let registry: Registry
    public let path: [UInt8]

    /// `network` nil: read an existing registry whatever its subnet (the status tool).
    public init(platform: Platform, path: [UInt8], network: VirtualNetwork?) throws(HostError) {
        self.platform = platform
        self.path = path
        let size = UInt32(RegistryLayout.size(slotCount: RegistryLayout.defaultSlotCount))
        var mapping = vl_mapping()
        let status = platform.mapRegistry(path, sizeIfNew: size, into: &mapping)
        guard status == 0, let base = mapping.base else {
            throw .mapping(path: path, code: mapping.error, osError: mapping.os_error)
        }
        let region = SharedRegion(base: base, size: Int(mapping.size))
        do throws(RegistryError) {
            if let network {
                registry = try Registry.attach(region, network: network)
            } else {
                registry = try Registry.attachExisting(region)
            }
        } catch {
            platform.unlockRegistry(&mapping)
            platform.unmapRegistry(&mapping)
            throw .registry(path: path, error)
        }
        platform.unlockRegistry(&mapping)
        self.mapping = mapping
    }

    /// The platform's default location (private runtime folder of the user).
    public static func defaultPath(_ platform: Platform) -> [UInt8] {
        platform.defaultRegistryPath()
    }

    deinit { platform.unmapRegistry(&mapping) }
}

/// Why this process could not become an instance, said so the user can fix it.
public enum HostError: Error {
    case config(ConfigError)
    case mapping(path: [UInt8], code: Int32, osError: Int32)
    case registry(path: [UInt8], RegistryError)
    case claim(ClaimError)

    public var message: String {
        switch self {
        case let .config(error):
            return error.message
        case let .mapping(path, code, osError):
            let file = String(decoding: path, as: UTF8.self)
            switch code {
            case Int32(VL_MAP_WRONG_OWNER):
                return "registry file \(file) belongs to another user: refusing to share it; set VIRTUALLAN_REGISTRY to a path of your own"
            case Int32(VL_MAP_MODE_TOO_OPEN):
                return "registry file \(file) is readable or writable by others: run 'chmod 600 \(file)' or delete it"
            case Int32(VL_MAP_UNCHECKABLE):
                return "registry file \(file) cannot be checked as a private Unix file (Wine could not name or examine it, OS error \(osError)): set VIRTUALLAN_REGISTRY to a Unix path such as /tmp/virtuallan-$USER/registry"
            case Int32(VL_MAP_SWAPPED):
                return "registry file \(file) was replaced while it was being opened: refusing it; check who else writes to its folder"
            case Int32(VL_MAP_NOT_A_FILE):
                return "registry path \(file) is not a regular file (a folder, a symbolic link or a huge file): set VIRTUALLAN_REGISTRY to a file path"
            default:
                return "cannot open or map registry file \(file) (step \(code), OS error \(osError)): check that its folder exists and is writable, or set VIRTUALLAN_REGISTRY"
            }
        case let .registry(path, error):
            return "\(String(decoding: path, as: UTF8.self)): \(error.message)"
        case let .claim(error):
            return error.message
        }
    }
}
