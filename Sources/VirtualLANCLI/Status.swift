import ArgumentParser
import Foundation
import HostKit
import VirtualLANBridge
import VirtualIPCore
import WinsockDetours

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the instances of the virtual LAN: addresses, MACs, sockets and traffic.")

    @Option(help: "Registry file (default: $VIRTUALLAN_REGISTRY, the config file's, or the per-user default).")
    var registry: String?
    @Option(help: "Config file.") var config: String?
    @Flag(help: "Machine-readable output.") var json = false
    @Flag(help: "A live view, redrawn in place every --interval seconds until interrupted: rates per instance, drops by reason (new ones highlighted), stale instances marked. With --json: one JSON object per line and reading.")
    var watch = false
    @Option(help: "Seconds between redraws with --watch.") var interval: Double = 1

    func validate() throws {
        guard interval >= 0.1 else { throw ValidationError("--interval must be at least 0.1 seconds") }
    }

    func run() throws {
        let path = try registryPath(registry, config: config)
        let platform = Platform.default
        var view = LiveView(color: isatty(1) != 0)
        let live = watch && !json && isatty(1) != 0
        if live {
            print(LiveView.hideCursor, terminator: "")
            signal(SIGINT) { _ in // give the cursor back on Ctrl-C (write and _exit: safe in a signal handler)
                let restore: StaticString = "\u{1B}[?25h\n"
                _ = write(1, restore.utf8Start, restore.utf8CodeUnitCount)
                _exit(0)
            }
        }
        var file: RegistryFile?
        repeat {
            if file == nil && FileManager.default.fileExists(atPath: path) { file = try openRegistry(path, network: nil) }
            var text: String
            if let file {
                var snapshot = RegistrySnapshot(registry: file.registry, nowMs: platform.nowMs)
                let others = OtherHosts(registry: path)
                snapshot.otherHosts = others?.hosts
                text = json ? snapshot.json(pretty: !watch) + "\n" : watch ? view.frame(snapshot, atMs: MonotonicClock.milliseconds, registry: path) : snapshot.table()
                if !json, let others { text += others.table }
            } else if json {
                text = RegistrySnapshot.missing(path: path) + "\n"
            } else if watch {
                text = "virtuallan status --watch   registry \(path)\nno registry yet: waiting for the first instance (start copies with virtuallan launch)\n"
            } else {
                throw Failure("no registry at \(path): no instance has run with it yet (start one, or pass --registry)")
            }
            print(live ? LiveView.inPlace(text) : text, terminator: "")
            fflush(nil) // all streams (Swift 6 will not touch the C global stdout)
            if watch { Thread.sleep(forTimeInterval: interval) }
        } while watch
    }
}

/// --registry, else $VIRTUALLAN_REGISTRY, else the config file's, else the default.
/// The config file is only read when it is the one that decides.
func registryPath(_ option: String?, config: String?) throws -> String {
    let decided = option != nil || !(ProcessInfo.processInfo.environment["VIRTUALLAN_REGISTRY"] ?? "").isEmpty
    return try (decided ? ToolConfig() : ToolConfig.load(path: config)).registryPath(option: option)
}

/// One reading of the registry, rendered as a table or JSON.
struct RegistrySnapshot: Codable, Equatable {
    struct Socket: Codable, Equatable {
        var virtualPort: UInt16
        var realPort: UInt16
        var scope: String
        var transport = "udp"
        /// TCP: the socket listens (a game's lobby or session port).
        var listening = false

        var text: String { (transport == "tcp" ? "tcp:" : "") + "\(virtualPort)->\(realPort)" + (listening ? "(listen)" : "") }
    }
    /// One UDP socket's membership of a multicast group.
    struct Group: Codable, Equatable {
        var group: String
        /// The one source taken (source-specific join) or blocked; nil: any source.
        var source: String?
        var blocked = false
        var virtualPort: UInt16?
        var realPort: UInt16

        var text: String {
            group + (source.map { (blocked ? " not from " : " from ") + $0 } ?? "") + " on " + (virtualPort.map { "\($0)" } ?? "real \(realPort)")
        }
    }
    struct Instance: Codable, Equatable {
        var index: Int
        var address: String
        var mac: String
        var pid: UInt32
        var kind: String
        var state: String
        var heartbeatAgeMs: Int
        var sockets: [Socket]
        var txDatagrams: UInt32
        var txBytes: UInt64
        var rxDatagrams: UInt32
        var rxBytes: UInt64
        var tcpConnectionsOpen: UInt32
        var tcpConnectionsMade: UInt32
        var groups: [Group]
        var drops: [String: UInt32]
    }
    var subnet: String
    var slots: Int
    /// "first-last" when a bridge gave this host a range of instances.
    var localRange: String?
    var instances: [Instance]
    /// The other hosts as this host's bridge sees them; nil without a bridge.
    var otherHosts: [OtherHosts.Host]?

    init(registry: Registry, nowMs: UInt32) {
        subnet = "\(registry.network.network.dotted)/\(registry.network.prefixLength)"
        slots = registry.slotCount
        localRange = registry.localRange.map { "\($0.first)-\($0.last)" }
        instances = (0..<registry.slotCount).filter { registry.state(ofSlot: $0).state != .free }.map { index in
            let owner = registry.owner(ofSlot: index)
            let counters = registry.counters(ofSlot: index)
            var sockets: [Socket] = []
            registry.forEachSocket(slot: index) { virtualPort, realPort, scope in
                sockets.append(Socket(virtualPort: virtualPort, realPort: realPort, scope: "\(scope)"))
            }
            registry.forEachSocket(slot: index, transport: .tcp) { virtualPort, realPort, scope in
                sockets.append(Socket(virtualPort: virtualPort, realPort: realPort, scope: "\(scope)", transport: "tcp",
                                      listening: registry.isListening(slot: index, realPort: realPort)))
            }
            var groups: [Group] = []
            registry.forEachMembership(slot: index) { m in
                groups.append(Group(group: m.group.dotted, source: m.source == .any ? nil : m.source.dotted, blocked: m.mode == .exclude,
                                    virtualPort: registry.virtualPort(slot: index, realPort: m.realPort), realPort: m.realPort))
            }
            var drops: [String: UInt32] = [:]
            for reason in DropReason.allCases { drops["\(reason.name)"] = counters.drops(reason) }
            return Instance(
                index: index, address: registry.address(ofSlot: index).dotted,
                mac: registry.mac(ofSlot: index).array.map { String(format: "%02x", $0) }.joined(separator: ":"),
                pid: owner.pid, kind: owner.kind.map { "\($0)" } ?? "unknown",
                state: registry.isStale(index, nowMs: nowMs) ? "stale" : (registry.state(ofSlot: index).state == .live ? "live" : "claiming"),
                heartbeatAgeMs: max(0, Int(Int32(bitPattern: nowMs &- registry.heartbeat(ofSlot: index)))),
                sockets: sockets, txDatagrams: counters.txDatagrams, txBytes: counters.txBytes,
                rxDatagrams: counters.rxDatagrams, rxBytes: counters.rxBytes,
                tcpConnectionsOpen: counters.tcpConnectionsOpen, tcpConnectionsMade: counters.tcpConnectionsMade,
                groups: groups, drops: drops)
        }
    }

    /// Pretty for one reading; one line per reading with --watch (a JSON-lines stream).
    func json(pretty: Bool = true) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// What --json says when there is no registry yet (no instance has run with it).
    static func missing(path: String) -> String {
        struct Missing: Encodable { var registry: String; var exists = false; var instances: [Int] = [] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(Missing(registry: path))) ?? Data(), as: UTF8.self)
    }

    func table() -> String {
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count + 1), withPad: " ", startingAt: 0) }
        var out = "registry: subnet \(subnet), \(slots) slots"
        out += localRange.map { ", this host: instances \($0) (others are remote, via the bridge)\n" } ?? "\n"
        out += pad("INST", 5) + pad("ADDRESS", 16) + pad("MAC", 19) + pad("KIND", 8) + pad("PID", 9) + pad("STATE", 7)
            + pad("AGE", 7) + pad("TX", 9) + pad("RX", 9) + pad("DROPS", 7) + pad("TCP", 5) + "SOCKETS (virtual->real), GROUPS\n"
        for i in instances {
            out += pad("\(i.index)", 5) + pad(i.address, 16) + pad(i.mac, 19) + pad(i.kind, 8) + pad("\(i.pid)", 9) + pad(i.state, 7)
            out += pad("\(i.heartbeatAgeMs / 1000)s", 7) + pad("\(i.txDatagrams)", 9) + pad("\(i.rxDatagrams)", 9)
            out += pad("\(i.drops.values.reduce(0, +))", 7) + pad("\(i.tcpConnectionsOpen)", 5)
            out += (i.sockets.map(\.text) + i.groups.map { "group " + $0.text }).joined(separator: " ") + "\n"
        }
        if instances.isEmpty { out += "(no instances)\n" }
        return out
    }
}
