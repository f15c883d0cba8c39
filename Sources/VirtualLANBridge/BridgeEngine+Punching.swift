import HostKit
import VirtualIPCore

/// Direct first: two hosts that meet through a relay try to reach each other directly (UDP
/// hole punching, with the relay as the meeting point, as STUN and ICE do).
///
/// - Once a second a relay sends each host it hears directly a `meeting`: where it sees the
///   other hosts' frames come from, their NATs' public side.
/// - A host probes each relayed host there, beside its probes through the relay. Its own
///   probe opens its NAT for the other's (to that address and port): when both NATs keep one
///   public port per socket, whatever the destination, the second host's probes get through,
///   and its answers too.
/// - A frame that comes directly makes the direct address the host's (`heard`); its frames
///   go there from then on, and the relay's copies of its announcements are passed over.
/// - With no direct frame for `directWaitMs` (probes answer every second), the host is
///   reached through its relay again (`fallBackToRelays`); the probes go on, so a path that
///   returns is taken again.
/// - A NAT that maps each destination to a new port lets no probe through: those hosts stay
///   relayed.
/// - TCP is not punched: a connection to a host this bridge did not name as a peer goes
///   through its relay when it has one (`streamAddress`), even when its datagrams go direct.
extension BridgeEngine {
    /// Three probe rounds unanswered.
    static let directWaitMs: UInt32 = 3000

    /// Whether a frame of `sender` from `from` came through a relay (one of the peers that
    /// relay, other than the sender itself).
    func isRelay(_ from: HostAddress, for sender: InstanceRange) -> Bool {
        peers.values.contains { $0.up && $0.relays && $0.address == from && $0.range.first != sender.first }
    }

    /// An authenticated frame of `peer` came from `from`: the path its frames take now.
    func heard(_ peer: inout Peer, from: HostAddress, throughRelay: Bool, nowMs: UInt32) {
        let hosts = "host of instances \(peer.range.first)-\(peer.range.last)"
        if throughRelay {
            peer.relay = from
            // A direct path that is still heard stays the one used.
            if let heard = peer.directHeardMs, peer.address != from, Int32(bitPattern: nowMs &- heard) <= Int32(BridgeEngine.directWaitMs) { return }
            if peer.up && peer.address != from { log("\(hosts) reached through the relay at \(from)") }
            peer.address = from
        } else {
            if peer.up && peer.address != from {
                log("\(hosts) reached directly at \(from)" + (peer.meetingPlace == from ? " (hole punched)" : ""))
            }
            peer.address = from
            peer.directHeardMs = nowMs
        }
    }

    /// A relay's meeting: where the other hosts can be probed directly.
    func met(_ frame: BridgeFrame) {
        guard frame.senderRelays, let meeting = Meeting(body: frame.body) else { count(.malformed); return }
        for place in meeting.places where !settings.range.contains(Int(place.host)) {
            guard let peer = peers[place.host] else { continue }  // its announcement comes through the relay soon
            let address = HostAddress(address: place.address, port: place.port)
            if peer.meetingPlace != address && peer.address != address {
                log("host of instances \(peer.range.first)-\(peer.range.last): the relay sees it at \(address), probing it there")
            }
            peers[place.host]?.meetingPlace = address
        }
    }

    /// A relay: one meeting to each host it hears directly, naming the others.
    func sendMeetings() {
        let hosts = peers.values.filter { $0.up && !$0.isRelayed }
        guard hosts.count >= 2 else { return }
        for host in hosts {
            let places = hosts.filter { $0.range.first != host.range.first }
                .map { Meeting.Place(host: $0.range.first, address: $0.address.address, port: $0.address.port) }
            _ = send(.meeting, body: Meeting(places: places).body, to: host.address)
        }
    }

    /// Hosts whose direct path went quiet are reached through their relay again.
    func fallBackToRelays(_ nowMs: UInt32) {
        for (first, peer) in peers where peer.up {
            guard let relay = peer.relay, peer.address != relay, let heard = peer.directHeardMs,
                  Int32(bitPattern: nowMs &- heard) > Int32(BridgeEngine.directWaitMs)
            else { continue }
            peers[first]?.address = relay
            log("host of instances \(peer.range.first)-\(peer.range.last): nothing directly for \(BridgeEngine.directWaitMs) ms, reached through the relay at \(relay) again")
        }
    }

    /// Where a relayed TCP connection for `peer` goes: its address when this bridge named it
    /// as a peer or it has no relay, else its relay (a NAT lets datagrams through a punched
    /// hole, not connections).
    func streamAddress(_ peer: Peer) -> HostAddress {
        guard let relay = peer.relay, !settings.peers.contains(peer.address) else { return peer.address }
        return relay
    }

    /// The path to `peer`, for `status`.
    func route(to peer: Peer) -> String {
        if peer.isRelayed, let relay = peer.relay { return "relayed by \(relay)" }
        return streamAddress(peer) == peer.address ? "direct" : "direct (hole punched)"
    }
}
