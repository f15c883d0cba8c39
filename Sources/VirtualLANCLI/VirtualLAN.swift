import ArgumentParser

/// virtuallan: run several copies of a Windows LAN game on one machine, each on its own
/// virtual PC of one virtual LAN, and look at that LAN.
public struct VirtualLAN: ParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "virtuallan",
        abstract: "Several copies of a Windows LAN game on one machine, each with its own virtual IP.",
        discussion: """
        Environment: VIRTUALLAN_REGISTRY, VIRTUALLAN_INSTANCE, VIRTUALLAN_SUBNET, VIRTUALLAN_HOSTNAME_PREFIX,
        VIRTUALLAN_LOG, VIRTUALLAN_LOG_LEVEL, VIRTUALLAN_CONFIG (a config file), VIRTUALLAN_HOME (a checkout or install prefix
        holding the Windows files), WINE (the Wine command launch uses).
        """,
        subcommands: [Demo.self, Launch.self, Wrap.self, Install.self, Uninstall.self, Status.self, Doctor.self, Bridge.self, Bench.self])
}
