import Foundation
import HostKit
import VirtualLANBridge

/// `status --watch`: one frame per interval, drawn over the previous one on a terminal.
/// Rates come from two readings of the registry's counters; drops are shown by reason,
/// and the reasons that grew since the last frame and stale instances are highlighted.
struct LiveView {
    var color: Bool
    private var previous: (snapshot: RegistrySnapshot, atMs: UInt64)?

    init(color: Bool) { self.color = color }

    /// Escape sequences: a frame starts at the top-left and clears what the last one left.
    static let home = "\u{1B}[H", clearBelow = "\u{1B}[J", hideCursor = "\u{1B}[?25l", showCursor = "\u{1B}[?25h"

    /// `frame` drawn over the previous one: from the top-left, each line clearing the rest
    /// of its row, and what is below the frame cleared.
    static func inPlace(_ frame: String) -> String {
        home + frame.replacingOccurrences(of: "\n", with: "\u{1B}[K\n") + clearBelow
    }

    /// The next frame for a reading taken at `atMs` (a monotonic clock); remembers it for
    /// the rates of the frame after.
    mutating func frame(_ snapshot: RegistrySnapshot, atMs: UInt64, registry: String) -> String {
        let before = previous
        previous = (snapshot, atMs)
        let seconds = before.map { Double(atMs &- $0.atMs) / 1000 } ?? 0
        func old(_ index: Int) -> RegistrySnapshot.Instance? {
            before?.snapshot.instances.first { $0.index == index && $0.pid == snapshot.instances.first { $0.index == index }?.pid }
        }
        func rate(_ now: UInt64, _ then: UInt64?) -> String {
            guard let then, seconds > 0, now >= then else { return "-" }
            return LiveView.short(Double(now - then) / seconds)
        }
        var out = "virtuallan status --watch   registry \(registry)   subnet \(snapshot.subnet)"
        out += snapshot.localRange.map { "   this host: instances \($0)" } ?? ""
        out += "\n" + LiveView.header.map { LiveView.pad($0.0, $0.1) }.joined() + "DROPS\n"
        for i in snapshot.instances {
            let was = old(i.index)
            let state = i.state == "stale" ? "STALE \(i.heartbeatAgeMs / 1000)s" : i.state
            let cells = ["\(i.index)", i.address, "\(i.pid)", state, "\(i.sockets.count)",
                         rate(UInt64(i.txDatagrams), was.map { UInt64($0.txDatagrams) }),
                         rate(UInt64(i.rxDatagrams), was.map { UInt64($0.rxDatagrams) }),
                         rate(i.txBytes, was?.txBytes), rate(i.rxBytes, was?.rxBytes),
                         LiveView.short(Double(i.txDatagrams)), LiveView.short(Double(i.rxDatagrams))]
            for (index, (cell, (_, width))) in zip(cells, LiveView.header).enumerated() {
                // Padded first, painted after: escape sequences take no room on screen.
                let padded = LiveView.pad(cell, width)
                out += index == 3 && i.state == "stale" ? paint(padded, "33") : padded // yellow: it stopped beating
            }
            let drops = i.drops.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { reason, count in
                let grew = was != nil && (was?.drops[reason] ?? 0) < count
                return grew ? paint("\(reason)=\(count)", "1;31") : "\(reason)=\(count)" // bold red: new since the last frame
            }
            out += (drops.isEmpty ? "0" : drops.joined(separator: " ")) + "\n"
        }
        if snapshot.instances.isEmpty { out += "(no instances yet: start copies with virtuallan launch)\n" }
        return out
    }

    func paint(_ text: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }

    static let header = [("INST", 5), ("ADDRESS", 16), ("PID", 8), ("STATE", 12), ("SOCKETS", 8), ("TX/s", 8), ("RX/s", 8),
                         ("TX B/s", 9), ("RX B/s", 9), ("TX", 8), ("RX", 8)]

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    /// 950, 12.3k, 4.5M: rates and totals that fit a column.
    static func short(_ value: Double) -> String {
        switch value {
        case ..<1000: return value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
        case ..<1_000_000: return String(format: "%.1fk", value / 1000)
        case ..<1_000_000_000: return String(format: "%.1fM", value / 1_000_000)
        default: return String(format: "%.1fG", value / 1_000_000_000)
        }
    }
}
