import Crypto
import Foundation
import HostKit
import VirtualIPCore

/// One virtual TCP connection between hosts, as one bridge relays it. `local` is the
/// connection on this host (a copy's connection to the stand-in listener of a remote
/// instance, or this bridge's connection to a copy's listener); `link` is the connection to
/// the other host's bridge.
///
/// On the link the game's bytes travel in chunks (u16 length, that many bytes encrypted, a
/// 16-byte tag: `StreamSeal`, so nothing can be read, put into or cut out of a stream on the way); a
/// chunk of length 0 is the end of the stream (the game closed gracefully). A link that
/// ends without one means the other host went away: the local end gets a reset, as does
/// the link when the local end resets. Until the far end's graceful close is passed on, the
/// local socket closes abortively (SO_LINGER 0): a bridge that dies resets its host's end
/// of every open stream too, instead of the kernel's FIN looking like a graceful close. Backpressure: a side is read only when what was
/// read from it before has been written on, so a slow reader fills the kernel's buffers
/// and the sender's send blocks; nothing is dropped or reordered.
final class RelayedStream {
    enum Stage {
        /// A side: waiting for the 16-byte preamble the copy's DLL sends first.
        case readingPreamble
        /// B side: waiting for the u16 length and the sealed opening frame.
        case readingOpen
        case open
    }

    /// What the bridge must do after a pump.
    enum Outcome: Equatable {
        case waiting
        /// The preamble or the opening frame is in `head`: check it, set up the other side.
        case headComplete
        /// Both directions ended gracefully and were passed on: close both sides.
        case finished
        /// A reset, an error, or a link that ended without the end chunk: reset both sides.
        case failed(String)
    }

    static let chunkSize = 32 * 1024
    /// A connection that has not sent its preamble or opening frame by then is reset.
    static let setupWaitMs: UInt32 = 5000
    static let maxOpenFrame = 512

    var stage: Stage
    var local: Int32
    var link: Int32
    var localConnecting = false
    var linkConnecting = false
    /// The other host's bridge (its first instance); on the B side known once the opening frame passed.
    var peer: UInt16
    /// B side: where the link connection came from.
    var linkFrom: HostAddress?
    let startedMs: UInt32
    /// The preamble or opening frame, as read so far.
    var head: [UInt8] = []
    /// B side: the registry entry that vouches for this bridge's connection as the source.
    var entry: (slot: Int, realPort: UInt16)?
    /// A side: the remote instance and virtual port the copy connected to.
    var target: (slot: Int, virtualPort: UInt16, realSourcePort: UInt16)?

    /// Set when the stream opens: its chunks' cipher.
    var seal: StreamSeal?
    private var sentChunks: UInt64 = 0, takenChunks: UInt64 = 0

    /// Local -> link, already in chunks; link -> local, out of its chunks.
    /// What one recv reads into (a chunk and its framing): one buffer for the stream's life.
    private var scratch = [UInt8](repeating: 0, count: RelayedStream.chunkSize + 2 + StreamSeal.tagSize)
    private var outbound = Pending()
    private var inbound = Pending()
    private var carry: [UInt8] = []
    private var localEnded = false, linkEnded = false
    private var localShut = false, linkShut = false
    private(set) var bytesOut = 0, bytesIn = 0

    init(stage: Stage, local: Int32 = -1, link: Int32 = -1, peer: UInt16, nowMs: UInt32) {
        self.stage = stage
        if local >= 0 { TCPSocket.closesAbortively(local, true) }
        self.local = local
        self.link = link
        self.peer = peer
        startedMs = nowMs
    }

    var fds: [Int32] { [local, link].filter { $0 >= 0 } }

    /// A sealed frame as the first bytes on a link: its u16 length, then the frame.
    static func framed(_ frame: [UInt8]) -> [UInt8] { lengthBytes(frame.count) + frame }

    /// Bytes to send before anything the local side sends (the opening frame), or before
    /// anything from the link (the preamble for the copy's listener).
    func sendFirst(toLink bytes: [UInt8]) { outbound.bytes += bytes }
    func sendFirst(toLocal bytes: [UInt8]) { inbound.bytes += bytes }

    /// Whether a side is done both ways (its end read, ours sent): nothing can come from it,
    /// and poll would report its hang-up at once on every round while the other side drains.
    func isDone(_ fd: Int32) -> Bool { fd == local ? localEnded && localShut : linkEnded && linkShut }

    /// The poll events each side waits for now.
    func events(of fd: Int32) -> Int16 {
        let isLocal = fd == local
        if isLocal ? localConnecting : linkConnecting { return Int16(POLLOUT) }
        var events: Int32 = 0
        if isLocal {
            if stage == .readingPreamble || (stage == .open && outbound.isEmpty && !localEnded) { events |= POLLIN }
            if !inbound.isEmpty { events |= POLLOUT }
        } else {
            if stage == .readingOpen || (stage == .open && inbound.isEmpty && !linkEnded) { events |= POLLIN }
            if !outbound.isEmpty { events |= POLLOUT }
        }
        return Int16(events)
    }

    /// Moves what can move without blocking.
    func pump() -> Outcome {
        for fd in [local, link] where fd >= 0 && (fd == local ? localConnecting : linkConnecting) {
            // poll said writable or failed: the connect has ended one way or the other.
            var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&ready, 1, 0) == 1 else { continue }
            let error = TCPSocket.connectError(fd)
            guard error == 0 else { return .failed("connect: \(String(cString: strerror(error)))") }
            if fd == local { localConnecting = false } else { linkConnecting = false }
        }
        var progress = true
        while progress {
            progress = false
            switch stage {
            case .readingPreamble:
                switch readHead(from: local, upTo: 16) {
                case .some(true): return .headComplete
                case .some(false): return .failed("the connection closed before its preamble")
                case nil: return .waiting
                }
            case .readingOpen:
                // A call back to a relay says who it is first (`sendFirst(toLink:)`).
                if !outbound.isEmpty && !linkConnecting {
                    guard send(link, &outbound) != nil else { return .failed("link: \(String(cString: strerror(errno)))") }
                    if !outbound.isEmpty { return .waiting }
                }
                let needed = head.count < 2 ? 2 : 2 + (Int(head[0]) | Int(head[1]) << 8)
                guard needed <= RelayedStream.maxOpenFrame, head.count < 2 || needed > 2 else {
                    return .failed("an opening frame of \(needed - 2) bytes")
                }
                switch readHead(from: link, upTo: needed) {
                case .some(true):
                    if head.count == needed && needed > 2 { return .headComplete }
                    progress = true
                case .some(false): return .failed("the link closed before its opening frame")
                case nil: return .waiting
                }
            case .open:
                if let failure = move(&progress) { return .failed(failure) }
            }
        }
        return localShut && linkShut ? .finished : .waiting
    }

    /// One round of the open stream's four moves; a failure's reason, or nil.
    private func move(_ progress: inout Bool) -> String? {
        if !localConnecting && local >= 0 {
            if outbound.isEmpty && !localEnded {
                let n = recv(local, &scratch, RelayedStream.chunkSize, Int32(MSG_DONTWAIT))
                if n > 0 {
                    outbound.bytes = chunk(scratch[..<n])
                    bytesOut += n
                    progress = true
                } else if n == 0 {
                    localEnded = true
                    outbound.bytes = chunk([])
                    progress = true
                } else if errno != EAGAIN && errno != EINTR {
                    return "local side: \(String(cString: strerror(errno)))"
                }
            }
            if !inbound.isEmpty {
                guard let sent = send(local, &inbound) else { return "local side: \(String(cString: strerror(errno)))" }
                if sent { progress = true }
            }
            if inbound.isEmpty && linkEnded && !localShut {
                TCPSocket.closesAbortively(local, false)  // the end is graceful from here on
                shutdown(local, Int32(SHUT_WR))
                localShut = true
            }
        }
        if !linkConnecting && link >= 0 {
            if inbound.isEmpty && !linkEnded {
                let n = recv(link, &scratch, scratch.count, Int32(MSG_DONTWAIT))
                if n > 0 {
                    carry += scratch[..<n]
                    if let failure = unchunk() { return failure }
                    progress = true
                } else if n == 0 {
                    return "the other host's bridge went away"
                } else if errno != EAGAIN && errno != EINTR {
                    return "the link failed: the other end reset, or its host went away (\(String(cString: strerror(errno))))"
                }
            }
            if !outbound.isEmpty {
                guard let sent = send(link, &outbound) else { return "link: \(String(cString: strerror(errno)))" }
                if sent { progress = true }
            }
            if outbound.isEmpty && localEnded && !linkShut {
                shutdown(link, Int32(SHUT_WR))
                linkShut = true
            }
        }
        return nil
    }

    /// One chunk for the link: length, the bytes encrypted, tag. Chunks are made only once
    /// the stream is open, so its seal is there.
    private func chunk(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        defer { sentChunks += 1 }
        return seal!.seal(index: sentChunks, bytes, after: lengthBytes(bytes.count))
    }

    /// Whole chunks of `carry` whose tag is right move to `inbound`; the end chunk ends the
    /// link's direction. A wrong tag is a failure: the stream is reset, nothing of it passed.
    private func unchunk() -> String? {
        var at = 0
        while carry.count - at >= 2 {
            let length = Int(carry[at]) | Int(carry[at + 1]) << 8
            let whole = 2 + length + StreamSeal.tagSize
            guard carry.count - at >= whole else { break }
            guard let seal, seal.open(index: takenChunks, carry[(at + 2)..<(at + whole)], appendingTo: &inbound.bytes) else {
                return "a chunk from the link failed its tag (another key, or changed on the way)"
            }
            takenChunks += 1
            at += whole
            if length == 0 {
                guard carry.count == at else { return "bytes after the end of the stream" }
                linkEnded = true
                break
            }
            bytesIn += length
        }
        if at == carry.count { carry.removeAll(keepingCapacity: true) } else { carry.removeFirst(at) }
        return nil
    }

    /// Reads into `head` until it holds `count` bytes: true when it does, false at the end
    /// of the stream or an error, nil when the rest has not come yet.
    private func readHead(from fd: Int32, upTo count: Int) -> Bool? {
        while head.count < count {
            var buffer = [UInt8](repeating: 0, count: count - head.count)
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n > 0 { head += buffer[..<n]; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return nil }
            return false
        }
        return true
    }

    /// Writes what it can: true when bytes moved, false when the socket is full, nil on error.
    private func send(_ fd: Int32, _ pending: inout Pending) -> Bool? {
        let n = pending.bytes[pending.offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        if n < 0 { return errno == EAGAIN || errno == EINTR ? false : nil }
        pending.offset += n
        if pending.offset == pending.bytes.count {
            pending.bytes.removeAll(keepingCapacity: true)  // the next chunk goes in the same buffer
            pending.offset = 0
        }
        return n > 0
    }

    private struct Pending {
        var bytes: [UInt8] = []
        var offset = 0
        var isEmpty: Bool { offset == bytes.count }
    }
}

/// The cipher of one relayed stream's chunks (`LinkCipher`): the stream's own key
/// (`LinkKeys.stream`), and a nonce of the direction (0: from the side that connected) and
/// the chunk's number in that direction; the tag also covers the chunk's length. A chunk
/// cannot be read, forged, changed, dropped, replayed or moved to another stream or
/// direction without failing its tag, and the end chunk (length 0) has one too, so a
/// stream cannot be cut short unseen.
struct StreamSeal {
    static let tagSize = LinkCipher.tagSize
    let key: SymmetricKey
    /// This side's direction: 0 on the side of the copy that connected, 1 on the listener's.
    let direction: UInt8

    init(keys: LinkKeys, opener: UInt16, session: UInt64, sequence: UInt64, connectingSide: Bool) {
        key = keys.stream(opener: opener, session: session, sequence: sequence)
        direction = connectingSide ? 0 : 1
    }

    /// The chunk `index` this side sends: its bytes encrypted, then the tag (after `prefix`).
    func seal(index: UInt64, _ bytes: ArraySlice<UInt8>, after prefix: [UInt8] = []) -> [UInt8] {
        LinkCipher.seal(bytes, key: key, nonce: nonce(direction, index), authenticating: lengthBytes(bytes.count), after: prefix)
    }

    /// The bytes of chunk `index` from the other side (`sealed`: ciphertext and tag); nil
    /// when its tag fails.
    func open(index: UInt64, _ sealed: ArraySlice<UInt8>) -> [UInt8]? {
        var plaintext: [UInt8] = []
        return open(index: index, sealed, appendingTo: &plaintext) ? plaintext : nil
    }

    /// Appends the bytes of chunk `index` to `out`; false (nothing appended) when its tag fails.
    func open(index: UInt64, _ sealed: ArraySlice<UInt8>, appendingTo out: inout [UInt8]) -> Bool {
        LinkCipher.open(sealed, key: key, nonce: nonce(1 - direction, index), authenticating: lengthBytes(sealed.count - StreamSeal.tagSize),
                        appendingTo: &out)
    }

    private func nonce(_ direction: UInt8, _ index: UInt64) -> [UInt8] {
        var out: [UInt8] = [direction, 0, 0, 0]
        appendLE64(index, to: &out)
        return out
    }
}

/// A u16 length as a link writes it before a frame or a chunk (little endian).
private func lengthBytes(_ count: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: count), UInt8(truncatingIfNeeded: count >> 8)] }
