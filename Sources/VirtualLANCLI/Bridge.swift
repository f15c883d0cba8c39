import ArgumentParser
import Foundation
import HostKit
import VirtualLANBridge
import VirtualIPCore
import WinsockDetours

/// `virtuallan bridge`: one virtual LAN over several hosts. Run one per host, each with its
/// own --range, the same key, and the other hosts as --peer; `bridge invite` makes the line
/// that carries the key and this host's address to another host.
struct Bridge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join this host's virtual LAN to other hosts' over UDP (one bridge per host).",
        discussion: """
        Every host gets its own range of instances (addresses never collide) and
        runs one bridge. On host A, make a secret invite line, then run the bridge:
          virtuallan bridge invite --key-file lan.key --peer 10.0.0.1:47800
          virtuallan bridge --range 0-31 --listen 10.0.0.1:47800 --key-file lan.key
        On host B, paste the line when asked:
          virtuallan bridge --range 32-63 --listen 10.0.0.2:47800 --invite -
        (Or copy the key file to every host and name the others with --peer.)
        Hosts behind NAT that cannot reach each other: run one bridge with --relay on
        a host they all reach, and give them its address (its invite).
        Start the bridge before the copies of the game. The link is plain UDP: put
        it on any network the hosts share (a LAN, WireGuard, ZeroTier, Tailscale).
        Frames are encrypted and authenticated with the key (ChaCha20-Poly1305);
        frames with another key, replayed or older than 30 s are dropped.
        """,
        subcommands: [BridgeRun.self, BridgeInvite.self],
        defaultSubcommand: BridgeRun.self)
}

/// The bridge itself (`virtuallan bridge [run] ...`).
struct BridgeRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run this host's bridge (the default).")

    @Option(help: "Address and port to receive other bridges' frames on, e.g. 10.0.0.1:47800.")
    var listen: String
    @Option(help: "Another host's bridge (address:port); repeat for each. A peer that reaches this bridge first is answered too.")
    var peer: [String] = []
    @Option(help: "This host's instances, first-last (e.g. 0-31; instance n has address .n+1). Disjoint on every host.")
    var range: String
    @Option(name: .customLong("key-file"), help: "File holding the shared key (at least 16 bytes; `virtuallan bridge invite` makes one).")
    var keyFile: String?
    @Option(help: "An invite line from `virtuallan bridge invite` on another host (its key and bridge), or - to read it from stdin (a command line is visible to other users).")
    var invite: String?
    @Option(help: "Registry file (default: $VIRTUALLAN_REGISTRY, the config file's, or the per-user default).")
    var registry: String?
    @Option(help: "Config file.") var config: String?
    @Flag(help: "Pass frames on between the other hosts: run it on a host every other host reaches (a server, or the one with a forwarded port), for hosts behind NAT that cannot reach each other (UDP and TCP).")
    var relay = false
    @Option(name: .customLong("max-clock-skew"), help: "Seconds a frame may be old (or ahead) before it counts as a replay.")
    var maxClockSkew: UInt64 = 30

    func run() throws {
        guard let listenAddress = HostAddress(parsing: listen) else {
            throw Failure("--listen \(listen): expected address:port, e.g. 10.0.0.1:47800")
        }
        var peers = try peer.map { text -> HostAddress in
            guard let address = HostAddress(parsing: text) else { throw Failure("--peer \(text): expected address:port, e.g. 10.0.0.2:47800") }
            return address
        }
        guard let instances = InstanceRange(parsing: Array(range.utf8)) else {
            throw Failure("--range \(range): expected first-last instance numbers, e.g. 0-31")
        }
        let key: [UInt8]
        switch (keyFile, invite) {
        case let (path?, nil): key = try BridgeRun.readKey(path)
        case let (nil, text?):
            if text == "-" && isatty(0) != 0 { warn("bridge: paste the invite line from the other host, then Enter:") }
            let invited = try Invite(parsing: text == "-" ? readLine() ?? "" : text)
            key = invited.key
            peers += invited.peers.filter { !peers.contains($0) }
        default: throw Failure("give the LAN's key with --key-file FILE or --invite LINE (one of them)")
        }
        let path = try registryPath(registry, config: config)
        let network = try virtualNetwork(environment: ToolConfig.load(path: config).environment())
        let file = try openRegistry(path, network: network)
        guard instances.last < file.registry.slotCount else {
            throw Failure("--range \(range) goes past the registry's \(file.registry.slotCount) instances: use numbers 0-\(file.registry.slotCount - 1)")
        }
        let lock = try BridgeLock(registryPath: path)
        let settings = BridgeEngine.Settings(listen: listenAddress, peers: peers, range: instances, key: key,
                                             maxClockSkewMs: maxClockSkew * 1000, relay: relay, peersFile: path + ".bridge-peers")
        let engine = try BridgeEngine(settings: settings, registry: file.registry) { say("bridge: \($0)") }
        say("bridge: listening on \(listenAddress), this host has instances \(instances.first)-\(instances.last) "
            + "(\(network.address(ofInstance: Int(instances.first)).dotted) - \(network.address(ofInstance: instances.last).dotted)), "
            + "peers: \(peers.isEmpty ? "those that reach us" : peers.map(\.description).joined(separator: " ")), registry \(path)"
            + (relay ? "; relaying between the other hosts" : ""))
        // The registry lives in the file's mapping, and the lock must outlive the bridge.
        withExtendedLifetime((file, lock)) {
            BridgeSignals.install()
            engine.run(until: { BridgeSignals.stopRequested })
            engine.stop()
        }
        say("bridge: \(engine.statsLine)")
    }

    static func readKey(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure("cannot read --key-file \(path): create it on one host with `head -c 32 /dev/urandom > \(path)` and copy it to every host")
        }
        guard data.count >= 16 else { throw Failure("--key-file \(path) holds \(data.count) bytes: a key needs at least 16 (use `head -c 32 /dev/urandom`)") }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
           let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            say("bridge: warning: \(path) is readable by other users (mode \(String(mode, radix: 8))): chmod 600 it")
        }
        return Array(data)
    }
}
