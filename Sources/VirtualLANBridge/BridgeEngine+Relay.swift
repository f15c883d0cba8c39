import HostKit

/// A relay: a bridge that every host reaches passes frames on between hosts that cannot
/// reach each other (each behind a NAT of its own, no port forwarded). Their bridges name
/// only the relay as a peer; their own frames to it open their NAT's way back, and the relay
/// sends to the address each frame came from. A frame is passed on as it came, sealed by its
/// sender under the LAN's key: the bridge that gets it checks it as if it had come directly
/// (tag, clock, range, replay window), takes the relay's address as its sender's, and so
/// sends its own frames for that host to the relay too.
///
/// Who gets a frame: an announcement (a goodbye too) goes to every other host that is up,
/// and the relay takes it too; a datagram goes to the host it names (its target instance's:
/// a broadcast names the first instance of the host it is for, and a sender sends one per
/// host), and only a datagram for the relay's own host is the relay's. Never back to where
/// it came from. A host that also reaches the sender directly gets an announcement twice,
/// and its replay window drops the second. Over UDP only: a relayed TCP connection still
/// needs the listener's host reachable from the connecting one.
extension BridgeEngine {
    /// Passes the frame on where it goes; true when it is not this host's to take.
    func passedOn(_ bytes: UnsafeRawBufferPointer, _ frame: BridgeFrame, from: HostAddress) -> Bool {
        let others = peers.values.filter { $0.up && $0.address != from && $0.range.first != frame.sender.first }
        let targets: [Peer]
        switch frame.kind {
        case .announce:
            targets = others
        case .datagram:
            guard let (target, _) = ForwardedDatagram.parse(frame.body), !settings.range.contains(Int(target)) else { return false }
            targets = others.filter { $0.range.contains(Int(target)) }
            if targets.isEmpty { count(.noTarget) }
        case .stream:
            return false
        }
        for peer in targets {
            if link.send(bytes, to: peer.address.sockaddr) { framesPassedOn += 1 } else { count(.sendFailed) }
        }
        return frame.kind == .datagram
    }
}
