import CWineBridge
import VirtualIPCore

/// The instance this process is: created on first use from the environment and the
/// registry file, or installed by a test.
extension VirtualHost {
    nonisolated(unsafe) static var processHost: VirtualHost?
    nonisolated(unsafe) static var processHostFailure: HostError?
    /// The instance the process that started this one listed it in (`vl_join_instance`).
    nonisolated(unsafe) static var joining: SlotClaim?

    /// This process's instance, or nil when it could not be set up (reported once).
    public static var current: VirtualHost? {
        if let host = processHost { return host }
        let platform = Platform.default
        return platform.withGlobalLock {
            if processHost == nil && processHostFailure == nil {
                do throws(HostError) {
                    processHost = try create(platform: platform)
                } catch {
                    processHostFailure = error
                    platform.reportError(error.message)
                }
            }
            return processHost
        }
    }

    /// Makes `host` this process's instance (tests; the DLL sets itself up through `current`).
    public static func install(_ host: VirtualHost?) {
        processHost = host
        processHostFailure = nil
    }

    public static func create(platform: Platform) throws(HostError) -> VirtualHost {
        let config: InstanceConfig
        do {
            config = try InstanceConfig.fromEnvironment { key in platform.environment(key.name) }
        } catch {
            throw .config(error)
        }
        let file = try RegistryFile(platform: platform, path: config.registryPath ?? RegistryFile.defaultPath(platform), network: config.network)
        do {
            return try VirtualHost(platform: platform, config: config, registry: file.registry, registryOwner: file, joining: joining)
        } catch {
            throw .claim(error)
        }
    }
}
