import Foundation

/// The other hosts as this host's bridge sees them: `<registry>.bridge-peers`, which the
/// bridge rewrites every second (BridgeEngine+Probes). nil when there is no such file (no
/// bridge runs for this registry).
struct OtherHosts {
    struct Host: Codable, Equatable {
        /// "first-last".
        var instances: String
        var bridge: String
        /// "up" or "silent".
        var state: String
        /// "direct", "direct (hole punched)" or "relayed by address:port".
        var route: String
        var roundTripMs: Double?
    }
    var hosts: [Host]
    /// Seconds since the bridge last wrote the file (more than 5: is it still running?).
    var ageSeconds: Int

    init?(registry: String) {
        let path = registry + ".bridge-peers"
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else { return nil }
        hosts = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            let row = line.split(separator: "\t").map(String.init)
            guard row.count == 5 else { return nil }
            return Host(instances: row[0], bridge: row[1], state: row[2], route: row[3], roundTripMs: Double(row[4].split(separator: " ").first ?? ""))
        }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        ageSeconds = modified.map { max(0, Int(Date().timeIntervalSince($0))) } ?? 0
    }

    var table: String {
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
        var out = "other hosts (this host's bridge):\n"
        if ageSeconds > 5 { out += "    (written \(ageSeconds) s ago: is the bridge still running?)\n" }
        out += "    INSTANCES  BRIDGE                 STATE   ROUTE                             RTT\n"
        for host in hosts {
            let rtt = host.roundTripMs.map { String(format: "%.2f ms", $0) } ?? "-"
            out += "    " + [pad(host.instances, 10), pad(host.bridge, 22), pad(host.state, 7), pad(host.route, 33), rtt].joined(separator: " ") + "\n"
        }
        return out
    }
}
