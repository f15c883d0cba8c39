import Foundation
import HostKit

/// What this bridge knows of each other host, for `virtuallan status`: whether it is
/// reached directly or through a relay, and the round trip to it. Once a second (with the
/// announcement) a probe goes to every host that is up; it answers at once, and the answer
/// gives the round trip (the probe carries the pinger's clock, so nothing is kept per
/// probe). A relay passes probes on like datagrams, so a relayed host's round trip is the
/// one through the relay. After each round the bridge writes `Settings.peersFile`. Probes
/// also punch the holes of BridgeEngine+Punching.
extension BridgeEngine {
    func probePeers() {
        let now = MonotonicClock.microseconds
        for peer in peers.values where peer.up {
            let ping = Probe(target: peer.range.first, isAnswer: false, sentAtUs: now).body
            _ = send(.probe, body: ping, to: peer.address)
            // Hole punching (BridgeEngine+Punching): where the relay sees it, until it answers there.
            if let place = peer.meetingPlace, place != peer.address { _ = send(.probe, body: ping, to: place) }
        }
        if settings.relay { sendMeetings() }
        writePeersFile()
    }

    func probed(_ frame: BridgeFrame, from: HostAddress) {
        guard let probe = Probe(body: frame.body), probe.target == settings.range.first else { count(.malformed); return }
        if probe.isAnswer {
            let now = MonotonicClock.microseconds
            if now >= probe.sentAtUs { peers[frame.sender.first]?.roundTripUs = now - probe.sentAtUs }
        } else {
            _ = send(.probe, body: Probe(target: frame.sender.first, isAnswer: true, sentAtUs: probe.sentAtUs).body, to: from)
        }
    }

    /// One line per other host, by range: "first-last address up|silent path rtt", written
    /// whole (a temporary file renamed over the last).
    func writePeersFile() {
        guard let path = settings.peersFile else { return }
        let lines = peers.values.sorted { $0.range.first < $1.range.first }.map { peer in
            let rtt = peer.roundTripUs.map { String(format: "%.2f ms", Double($0) / 1000) } ?? "-"
            return "\(peer.range.first)-\(peer.range.last)\t\(peer.address)\t\(peer.up ? "up" : "silent")\t\(route(to: peer))\t\(rtt)"
        }
        let text = (["# virtuallan bridge: the other hosts, as this host's bridge sees them (\(settings.relay ? "it relays" : "it does not relay"))"]
            + lines).joined(separator: "\n") + "\n"
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]),
              rename(temporary, path) == 0
        else { warnOnce("peers-file", "cannot write \(path): `virtuallan status` will not show the other hosts"); return }
    }
}
