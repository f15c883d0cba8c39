import Foundation
import HostKit
import VirtualIPCore

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
/// and its replay window drops the second.
///
/// A relayed TCP connection for another host comes to the relay as to that host (its
/// opening frame over TCP, the connecting host having the relay's address for it). The
/// relay cannot connect to a host behind NAT, so it asks it to call back (a `callback`
/// frame over UDP naming the connection, `StreamToken`); that host connects to the relay,
/// says which connection it is, and the relay joins the two (`SplicedStream`): the opening
/// frame first, then the chunks, sealed end to end by the two hosts. The relay's own
/// copies' connections are called back the same way.
extension BridgeEngine {
    /// Passes the frame on where it goes; true when it is not this host's to take.
    func passedOn(_ bytes: UnsafeRawBufferPointer, _ frame: BridgeFrame, from: HostAddress) -> Bool {
        let others = peers.values.filter { $0.up && $0.address != from && $0.range.first != frame.sender.first }
        let targets: [Peer]
        switch frame.kind {
        case .announce:
            targets = others
        case .datagram, .probe:
            let target = frame.kind == .datagram ? ForwardedDatagram.parse(frame.body)?.target : Probe(body: frame.body)?.target
            guard let target, !settings.range.contains(Int(target)) else { return false }
            targets = others.filter { $0.range.contains(Int(target)) }
            if targets.isEmpty { count(.noTarget) }
        case .stream, .callback, .meeting:
            return false
        }
        for peer in targets {
            if link.send(bytes, to: peer.address.sockaddr) { framesPassedOn += 1 } else { count(.sendFailed) }
        }
        return frame.kind == .datagram || frame.kind == .probe
    }
}

/// What a relay did with a connection's first frame.
enum RelayOutcome {
    /// For this host: it goes on as any connection does.
    case notRelayed
    /// Parked until the listener's host calls back, or joined to the connection it waited for.
    case taken
    case failed(String)
}

extension BridgeEngine {
    /// A connection's first frame, authenticated: a connection for another host is parked
    /// and that host asked to call back; a call back is joined to the connection it names.
    func relay(_ stream: RelayedStream, _ frame: BridgeFrame) -> RelayOutcome {
        switch frame.kind {
        case .callback:
            guard settings.relay, let token = StreamToken(body: frame.body), let waiting = parked[token], waiting.host == frame.sender.first else {
                return .failed("a call back for no connection waiting here")
            }
            parked[token] = nil
            streams[stream.link] = nil
            if waiting.own {
                // The relay's own connection: the call back is its link from here on.
                waiting.stream.link = stream.link
                streams[stream.link] = waiting.stream
                pump(waiting.stream)
                return .taken
            }
            let splice = SplicedStream(a: waiting.stream.link, b: stream.link, first: waiting.stream.head)
            splices[splice.a] = splice
            splices[splice.b] = splice
            streamsSpliced += 1
            log("stream \(describe(waiting.stream)) passes through this relay")
            pump(splice)
            return .taken
        case .stream:
            guard case let .header(header) = frame.body.withUnsafeBytes({ WireHeader.decode($0) }), header.isStream,
                  let target = router.network.instance(of: header.destination), !settings.range.contains(target)
            else { return .notRelayed }
            guard let host = peers.values.first(where: { $0.up && $0.range.contains(target) && $0.range.first != frame.sender.first }) else {
                return .failed("the host of instance \(target) is not up")
            }
            let token = StreamToken(opener: frame.sender.first, session: frame.session, sequence: frame.sequence)
            if let failure = awaitCallBack(stream, token: token, from: host) { return .failed(failure) }  // the caller resets it
            streams[stream.link] = nil  // parked: out of the poll set until the call back
            return .taken
        case .announce, .datagram, .probe, .meeting:
            return .failed("not an opening frame")
        }
    }

    /// Parks `stream` (one passed on, or the relay's own, `stream.link` still to come) and asks
    /// `host` to call back; the failure, or nil.
    func awaitCallBack(_ stream: RelayedStream, token: StreamToken, from host: Peer) -> String? {
        guard send(.callback, body: token.body, to: host.address) else { return "cannot ask \(host.address) to call back" }
        parked[token] = (stream, platform.nowMs, host.range.first, stream.link < 0)
        return nil
    }

    /// A relay asks for a connection (over UDP): connect to it and say which one; the relay
    /// then sends that connection's opening frame, and it goes on as one from its host.
    func callBack(_ frame: BridgeFrame, relay: HostAddress) {
        guard let token = StreamToken(body: frame.body) else { count(.malformed); return }
        guard let opening = sealed(.callback, body: token.body),
              let (link, _) = TCPSocket.connect(to: relay.sockaddr, bindLoopback: false)
        else { count(.sendFailed); return }
        let stream = RelayedStream(stage: .readingOpen, link: link, peer: 0, nowMs: platform.nowMs)
        stream.linkFrom = relay
        stream.linkConnecting = true
        stream.sendFirst(toLink: RelayedStream.framed(opening))
        streams[link] = stream
    }

    func pump(_ splice: SplicedStream) {
        let outcome = splice.pump()
        guard outcome != .waiting else { return }
        if case let .failed(reason) = outcome { log("stream through this relay reset: \(reason)") }
        for fd in splice.fds {
            splices[fd] = nil
            if outcome == .finished { TCPSocket.closesAbortively(fd, false) }
            close(fd)
        }
    }

    /// A connection whose listener's host did not call back in time is reset.
    func expireParked(_ nowMs: UInt32) {
        for (token, waiting) in parked where Int32(bitPattern: nowMs &- waiting.sinceMs) > Int32(RelayedStream.setupWaitMs) {
            parked[token] = nil
            log("stream \(describe(waiting.stream)) reset: its listener's host did not call back within \(RelayedStream.setupWaitMs) ms")
            if waiting.own { end(waiting.stream, reset: true) } else { TCPSocket.reset(waiting.stream.link) }
        }
    }
}
