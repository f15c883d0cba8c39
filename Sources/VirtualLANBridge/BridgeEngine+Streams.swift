import Foundation
import HostKit
import VirtualIPCore
import WinsockDetours

/// Virtual TCP between hosts. A remote instance's TCP listener has a stand-in listener on
/// 127.0.0.1 here, registered as its socket, so a copy's connect reaches it the way it
/// reaches a local listener. The copy's DLL sends the preamble; the bridge checks it as a
/// listener would, connects to the bridge of the remote instance's host (the link's address
/// and port, over TCP) and sends an authenticated opening frame carrying the preamble. That
/// bridge checks the frame and connects to the listener's real port from a port it
/// registers as the source's, sends the preamble, and from then on both bridges pass the
/// bytes on (RelayedStream: chunks on the link, each with its tag, backpressure, resets
/// passed on).
extension BridgeEngine {
    // MARK: Stand-in listeners for remote instances (the side of the copy that connects)

    func openStandIn(_ remote: Remote, port: UInt16) {
        guard let (fd, realPort) = try? TCPSocket.listen(on: HostAddress.loopback(0).sockaddr) else {
            warnOnce("standin", "cannot open a stand-in TCP listener on 127.0.0.1 (out of file descriptors?)")
            return
        }
        guard registry.addSocket(slot: remote.claim.index, virtualPort: port, realPort: realPort, scope: .lan, transport: .tcp) else {
            close(fd)
            warnOnce("full-\(remote.claim.index)", "remote instance \(remote.claim.index) has more than \(RegistryLayout.socketsPerSlot) sockets: the rest are not reachable")
            return
        }
        registry.markListening(slot: remote.claim.index, realPort: realPort)
        remote.standIns[port] = (fd, realPort)
        standInOwners[fd] = (remote.claim.index, port)
    }

    /// Connections already relayed stay; new ones are refused by the OS (nothing listens).
    func closeStandIn(_ remote: Remote, port: UInt16) {
        guard let (fd, realPort) = remote.standIns.removeValue(forKey: port) else { return }
        registry.removeSocket(slot: remote.claim.index, realPort: realPort, transport: .tcp)
        standInOwners[fd] = nil
        close(fd)
    }

    /// A copy connected to a stand-in: its preamble comes next.
    func acceptForRemote(_ listener: Int32, owner: (slot: Int, virtualPort: UInt16)) {
        while let (fd, from) = TCPSocket.accept(listener) {
            guard from.address == 0x7F00_0001, let remote = remotes[owner.slot] else {
                TCPSocket.reset(fd)
                count(.localCheck)
                continue
            }
            let stream = RelayedStream(stage: .readingPreamble, local: fd, peer: remote.peer, nowMs: platform.nowMs)
            stream.target = (owner.slot, owner.virtualPort, from.port)
            streams[fd] = stream
            pump(stream)
        }
    }

    /// The copy's preamble is in: the same check a listener makes, then the link to the peer.
    private func connectToPeer(_ stream: RelayedStream) -> String? {
        guard let target = stream.target else { return "no target" }
        let receiver = Router.Receiver(instance: target.slot, virtualPort: target.virtualPort, scope: .lan)
        let verdict = stream.head.withUnsafeBytes { router.checkPreamble($0, realSourcePort: target.realSourcePort, listener: receiver) }
        guard case let .deliver(header) = verdict, let source = router.network.instance(of: header.source), !registry.isRemote(source) else {
            count(.localCheck)
            return "its preamble failed the check"
        }
        guard let peer = peers[stream.peer], peer.up else { count(.unknownPeer); return "the remote instance's host is not up" }
        guard let opening = sealed(.stream, body: stream.head) else { count(.tooLarge); return "its opening frame does not fit" }
        stream.seal = StreamSeal(keys: keys, opener: settings.range.first, session: session, sequence: sequence, connectingSide: true)
        stream.sendFirst(toLink: RelayedStream.framed(opening))
        if settings.relay {
            // A relay's own connections are called back too: their hosts may be behind NAT.
            return awaitCallBack(stream, token: StreamToken(opener: settings.range.first, session: session, sequence: sequence), from: peer)
        }
        let address = streamAddress(peer)
        guard let (link, _) = TCPSocket.connect(to: address.sockaddr, bindLoopback: false) else {
            count(.sendFailed)
            return "cannot connect to the bridge at \(address)"
        }
        stream.link = link
        stream.linkConnecting = true
        streams[link] = stream
        return nil
    }

    // MARK: Connections from other bridges (the listener's side)

    func acceptFromPeer() {
        while let (fd, from) = TCPSocket.accept(streamLink) {
            let stream = RelayedStream(stage: .readingOpen, link: fd, peer: 0, nowMs: platform.nowMs)
            stream.linkFrom = from
            streams[fd] = stream
            pump(stream)
        }
    }

    /// The opening frame is in and passed the check: connect to the listener as its source.
    private func connectToListener(_ stream: RelayedStream, _ frame: BridgeFrame) -> String? {
        guard frame.kind == .stream, case let .header(header) = frame.body.withUnsafeBytes({ WireHeader.decode($0) }), header.isStream,
              let source = router.network.instance(of: header.source), frame.sender.contains(source),
              let target = router.network.instance(of: header.destination), settings.range.contains(target),
              registry.isLive(target), !registry.isRemote(target)
        else { count(.malformed); return "its opening frame names no instance of this host" }
        stream.peer = frame.sender.first
        guard let listener = router.streamListener(of: .instance(target), virtualPort: header.destinationPort, sender: source) else {
            count(.noListener)
            return "nothing listens on \(header.destination.dotted):\(header.destinationPort) any more"
        }
        guard let remote = remoteInstance(source, peer: frame.sender.first) else { return "its source cannot be placed here" }
        guard let (fd, realPort) = TCPSocket.connect(to: HostAddress.loopback(listener).sockaddr, bindLoopback: true) else {
            count(.sendFailed)
            return "cannot connect to the listener's real port \(listener)"
        }
        guard registry.addSocket(slot: remote.claim.index, virtualPort: header.sourcePort, realPort: realPort, scope: .lan, transport: .tcp) else {
            TCPSocket.reset(fd)
            return "remote instance \(source) has \(RegistryLayout.socketsPerSlot) sockets here already"
        }
        TCPSocket.closesAbortively(fd, true)
        stream.entry = (remote.claim.index, realPort)
        stream.seal = StreamSeal(keys: keys, opener: frame.sender.first, session: frame.session, sequence: frame.sequence, connectingSide: false)
        stream.local = fd
        stream.localConnecting = true
        stream.sendFirst(toLocal: frame.body)
        streams[fd] = stream
        return nil
    }

    // MARK: Both sides

    func pump(_ stream: RelayedStream) {
        while true {
            switch stream.pump() {
            case .waiting: return
            case .finished:
                end(stream, reset: false)
                return
            case let .failed(reason):
                log("stream \(describe(stream)) reset: \(reason)")
                end(stream, reset: true)
                return
            case .headComplete:
                var failure: String?
                if stream.stage == .readingPreamble {
                    failure = connectToPeer(stream)
                } else if let from = stream.linkFrom,
                          let frame = stream.head[2...].withUnsafeBytes({ authenticated($0, from: from, overStreamLink: true) }) {
                    // A relay passes a connection for another host on, or joins one to it.
                    if settings.relay || frame.kind == .callback {
                        switch relay(stream, frame) {
                        case .notRelayed: break
                        case .taken: return
                        case let .failed(reason):
                            log("stream \(describe(stream)) refused: \(reason)")
                            end(stream, reset: true)
                            return
                        }
                    }
                    failure = connectToListener(stream, frame)
                } else {
                    failure = "its opening frame failed the check"
                }
                if let failure {
                    log("stream \(describe(stream)) refused: \(failure)")
                    end(stream, reset: true)
                    return
                }
                stream.stage = .open
                streamsRelayed += 1
            }
        }
    }

    func resetStreams(because reason: String, where matches: (RelayedStream) -> Bool) {
        var seen = Set<ObjectIdentifier>()
        for stream in streams.values where matches(stream) && seen.insert(ObjectIdentifier(stream)).inserted {
            log("stream \(describe(stream)) reset: \(reason)")
            end(stream, reset: true)
        }
    }

    func end(_ stream: RelayedStream, reset: Bool) {
        for fd in stream.fds {
            streams[fd] = nil
            if reset { TCPSocket.reset(fd) } else { close(fd) }
        }
        stream.local = -1
        stream.link = -1
        if reset && stream.stage == .open { streamsReset += 1 }
        if let entry = stream.entry { registry.removeSocket(slot: entry.slot, realPort: entry.realPort, transport: .tcp) }
        stream.entry = nil
    }

    func describe(_ stream: RelayedStream) -> String {
        guard stream.head.count >= WireHeader.size else { return "(not yet open)" }
        // A side: the preamble itself; B side: inside the opening frame, after its length.
        let preamble = stream.target != nil ? stream.head : Array(stream.head.dropFirst(2 + BridgeFrame.headerSize).prefix(WireHeader.size))
        guard case let .header(h) = preamble.withUnsafeBytes({ WireHeader.decode($0) }) else { return "(not yet open)" }
        return "\(h.source.dotted):\(h.sourcePort) -> \(h.destination.dotted):\(h.destinationPort) (\(stream.bytesOut) bytes out, \(stream.bytesIn) in)"
    }
}
