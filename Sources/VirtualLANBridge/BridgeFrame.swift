import VirtualIPCore

/// The frames bridges exchange over plain UDP between hosts (little endian):
///
///     0  "VLBR" magic u32     4  version u8     5  kind u8 (1 announce, 2 datagram, 3 stream, 4 callback, 5 probe, 6 meeting)
///     6  sender's first instance u16     8  sender's instance count u16
///     10 flags u16 (bit 0: the sender relays for other hosts; the other bits 0)
///     12 session u64 (the sender's start time, unix ms: a restarted bridge counts higher)
///     20 sequence u64 (1, 2, ... within the session)     28 sent at u64 (unix ms)
///     36 body, encrypted     end - 16: tag
///
/// The body is sealed with ChaCha20-Poly1305 under the LAN's frame key (`LinkKeys`); the
/// header travels in the clear and the tag covers it too. The nonce is the header's own:
/// the sender's first instance (u16), then the low 40 bits of the session and of the
/// sequence (5 bytes each), unique per frame as long as senders' ranges are disjoint (a
/// bridge checks that) and a session sends fewer than 2^40 frames.
/// Announce body: u16 instance count, then per instance u16 index, u8 port count, u16 ports
/// (UDP); then, optional (a bridge before TCP sends none), u16 count of instances with TCP
/// listeners, per instance u16 index, u8 port count, u16 ports.
/// Stream body (kind 3, the first bytes a bridge sends on a TCP connection to a peer's link
/// port, after a u16 length of the sealed frame): the 16-byte preamble of the relayed
/// connection, as the local instance sent it. The stream's chunks follow, each with a tag
/// of its own (virtuallan's `StreamSeal`).
/// Datagram body: u16 target instance, then the wire frame exactly as the game's instance
/// sent it (the 16-byte `WireHeader` and the payload). A broadcast (the header says so) is
/// for every instance of one host, and its target is that host's first instance: every
/// datagram names the host it is for, so a relay knows where to pass it on.
public struct BridgeFrame: Equatable, Sendable {
    public static let magic: UInt32 = 0x5242_4C56 // "VLBR" little endian
    /// 2: the body is encrypted (version 1 only authenticated it, with HMAC-SHA-256).
    public static let version: UInt8 = 2
    public static let headerSize = 36
    public static let tagSize = LinkCipher.tagSize
    /// A session's frames: as many as the nonce's 40 sequence bits tell apart.
    public static let sequenceLimit: UInt64 = 1 << 40
    public static let overhead = headerSize + tagSize
    /// The largest UDP payload over IPv4.
    public static let maxSize = 65507

    /// `callback` (4): a relay asks the listener's host of a relayed connection to connect to
    /// it (over UDP), and that host's connection opens with one (over TCP); the body names
    /// the connection (`StreamToken`). `probe` (5): a ping or its answer, for the round
    /// trip to a host (`Probe`). `meeting` (6): a relay tells a host where it sees the
    /// other hosts, so that they can try to reach each other directly (`Meeting`).
    public enum Kind: UInt8, Sendable { case announce = 1, datagram = 2, stream = 3, callback = 4, probe = 5, meeting = 6 }

    public var kind: Kind
    public var sender: InstanceRange
    public var session: UInt64
    public var sequence: UInt64
    public var sentAtMs: UInt64
    public var body: [UInt8]
    /// The sender relays for other hosts (`bridge --relay`): hosts whose frames come from its
    /// address are reached through it.
    public var senderRelays: Bool

    public init(kind: Kind, sender: InstanceRange, session: UInt64, sequence: UInt64, sentAtMs: UInt64, body: [UInt8],
                senderRelays: Bool = false) {
        self.senderRelays = senderRelays
        self.kind = kind
        self.sender = sender
        self.session = session
        self.sequence = sequence
        self.sentAtMs = sentAtMs
        self.body = body
    }

    /// The encrypted bytes to send; nil when they would not fit in one UDP datagram (or the
    /// session has sent all the frames it may).
    public func sealed(with keys: LinkKeys) -> [UInt8]? {
        guard body.count <= BridgeFrame.maxSize - BridgeFrame.overhead, sequence < BridgeFrame.sequenceLimit else { return nil }
        var out = [UInt8](repeating: 0, count: BridgeFrame.headerSize)
        out.withUnsafeMutableBytes { p in
            let b = p.baseAddress!
            b.storeLE32(BridgeFrame.magic, 0)
            b.storeBytes(of: BridgeFrame.version, toByteOffset: 4, as: UInt8.self)
            b.storeBytes(of: kind.rawValue, toByteOffset: 5, as: UInt8.self)
            b.storeLE16(sender.first, 6)
            b.storeLE16(sender.count, 8)
            b.storeLE16(senderRelays ? 1 : 0, 10)
            b.storeLE64(session, 12)
            b.storeLE64(sequence, 20)
            b.storeLE64(sentAtMs, 28)
        }
        return LinkCipher.seal(body[...], key: keys.frames, nonce: BridgeFrame.nonce(out), authenticating: out, after: out)
    }

    /// The nonce of the frame whose header is `header` (see the type's comment).
    static func nonce(_ header: [UInt8]) -> [UInt8] {
        Array(header[6..<8]) + Array(header[12..<17]) + Array(header[20..<25])
    }

    public enum Rejection: Error, Equatable, Sendable {
        /// Too short, wrong magic or version, unknown kind, impossible range.
        case malformed
        /// The tag does not match: another key, another version, or bytes changed on the way.
        case badTag
    }

    /// Opens the body first (nothing of a frame whose tag fails is trusted), then checks the header.
    public static func open(_ bytes: UnsafeRawBufferPointer, with keys: LinkKeys) -> Result<BridgeFrame, Rejection> {
        guard bytes.count >= overhead, let base = bytes.baseAddress else { return .failure(.malformed) }
        let header = Array(bytes[..<headerSize])
        guard let body = LinkCipher.open(Array(bytes[headerSize...])[...], key: keys.frames, nonce: nonce(header), authenticating: header)
        else { return .failure(.badTag) }
        guard base.loadLE32(0) == magic, base.load(fromByteOffset: 4, as: UInt8.self) == version,
              let kind = Kind(rawValue: base.load(fromByteOffset: 5, as: UInt8.self)),
              base.loadLE16(10) & ~1 == 0, base.loadLE64(20) < sequenceLimit,
              let sender = InstanceRange(first: base.loadLE16(6), count: base.loadLE16(8))
        else { return .failure(.malformed) }
        return .success(BridgeFrame(
            kind: kind, sender: sender, session: base.loadLE64(12), sequence: base.loadLE64(20),
            sentAtMs: base.loadLE64(28), body: body, senderRelays: base.loadLE16(10) & 1 != 0))
    }

    public static func open(_ bytes: [UInt8], with keys: LinkKeys) -> Result<BridgeFrame, Rejection> {
        bytes.withUnsafeBytes { open($0, with: keys) }
    }
}

/// Drops replayed frames of one peer: a frame is accepted once, and only if it is of the
/// peer's newest session and not older than the last `width` sequence numbers seen.
public struct ReplayWindow: Equatable, Sendable {
    public static let width: UInt64 = 64
    public private(set) var session: UInt64 = 0
    public private(set) var highest: UInt64 = 0
    /// Bit i: sequence `highest - i` was seen.
    private var seen: UInt64 = 0

    public init() {}

    public enum Verdict: Equatable, Sendable {
        case accept
        /// A frame of an older session of the peer (it restarted since).
        case oldSession
        /// Seen before, or too far behind to tell.
        case replayed
    }

    public mutating func check(session frameSession: UInt64, sequence: UInt64) -> Verdict {
        if frameSession < session { return .oldSession }
        if frameSession > session {
            session = frameSession
            highest = sequence
            seen = 1
            return .accept
        }
        if sequence > highest {
            let shift = sequence - highest
            seen = shift >= ReplayWindow.width ? 1 : seen << shift | 1
            highest = sequence
            return .accept
        }
        let behind = highest - sequence
        guard behind < ReplayWindow.width, seen & (1 << behind) == 0 else { return .replayed }
        seen |= 1 << behind
        return .accept
    }
}

/// What a bridge tells its peers: the live instances of its host and the virtual ports they
/// listen on for LAN traffic. An empty list says "my instances are gone" (the bridge stops).
public struct Announcement: Equatable, Sendable {
    public struct Instance: Equatable, Sendable {
        public var index: UInt16
        /// UDP ports bound for LAN traffic.
        public var ports: [UInt16]
        /// TCP ports listening for LAN connections.
        public var streamPorts: [UInt16]
        public init(index: UInt16, ports: [UInt16], streamPorts: [UInt16] = []) {
            self.index = index
            self.ports = ports
            self.streamPorts = streamPorts
        }
    }
    public var instances: [Instance]
    public init(instances: [Instance]) { self.instances = instances }

    /// The ports of one transport an announcement carries per instance (a one-byte count):
    /// the first ones, when an instance has more bound (a registry slot holds more).
    public static let portsPerInstance = 255

    public var body: [UInt8] {
        var out: [UInt8] = []
        func append(_ index: UInt16, _ ports: [UInt16]) {
            let carried = ports.prefix(Announcement.portsPerInstance)
            appendLE16(index, to: &out)
            out.append(UInt8(carried.count))
            for port in carried { appendLE16(port, to: &out) }
        }
        appendLE16(UInt16(truncatingIfNeeded: instances.count), to: &out)
        for instance in instances { append(instance.index, instance.ports) }
        let listening = instances.filter { !$0.streamPorts.isEmpty }
        if !listening.isEmpty {
            appendLE16(UInt16(truncatingIfNeeded: listening.count), to: &out)
            for instance in listening { append(instance.index, instance.streamPorts) }
        }
        return out
    }

    /// Total parsing: nil for any body that is not exactly a well-formed announcement.
    public init?(body: [UInt8]) {
        var reader = ByteReader(body)
        func ports() -> (UInt16, [UInt16])? {
            guard let index = reader.le16(), let portCount = reader.byte() else { return nil }
            var ports: [UInt16] = []
            for _ in 0..<portCount {
                guard let port = reader.le16(), port != 0 else { return nil }
                ports.append(port)
            }
            return (index, ports)
        }
        guard let count = reader.le16() else { return nil }
        var instances: [Instance] = []
        for _ in 0..<count {
            guard let (index, udp) = ports() else { return nil }
            instances.append(Instance(index: index, ports: udp))
        }
        if !reader.atEnd {
            // In the order of the UDP part, as `body` writes it: one encoding per announcement.
            guard let listening = reader.le16(), listening > 0 else { return nil }
            var next = 0
            for _ in 0..<listening {
                guard let (index, tcp) = ports(), !tcp.isEmpty,
                      let at = instances[next...].firstIndex(where: { $0.index == index }) else { return nil }
                instances[at].streamPorts = tcp
                next = at + 1
            }
        }
        guard reader.atEnd else { return nil }
        self.instances = instances
    }
}

/// A probe body: u16 the host it is for (its first instance), u8 0 a ping or 1 its answer,
/// u64 the pinger's clock (µs) as it sent the ping, echoed in the answer.
public struct Probe: Equatable, Sendable {
    public var target: UInt16
    public var isAnswer: Bool
    public var sentAtUs: UInt64

    public init(target: UInt16, isAnswer: Bool, sentAtUs: UInt64) {
        self.target = target
        self.isAnswer = isAnswer
        self.sentAtUs = sentAtUs
    }

    public var body: [UInt8] {
        var out: [UInt8] = []
        appendLE16(target, to: &out)
        out.append(isAnswer ? 1 : 0)
        appendLE64(sentAtUs, to: &out)
        return out
    }

    /// Total parsing: nil for any body that is not exactly a probe.
    public init?(body: [UInt8]) {
        var reader = ByteReader(body)
        guard let target = reader.le16(), let kind = reader.byte(), kind <= 1, let sentAtUs = reader.le64(), reader.atEnd else { return nil }
        self.init(target: target, isAnswer: kind == 1, sentAtUs: sentAtUs)
    }
}

/// A meeting body, from a relay to one host: u8 count, then per other host its first
/// instance u16, the IPv4 address u32 and port u16 the relay sees its frames come from (its
/// NAT's public side). Both hosts then probe each other there: each one's probe opens its
/// own NAT for the other's (UDP hole punching, the relay as the meeting point).
public struct Meeting: Equatable, Sendable {
    public struct Place: Equatable, Sendable {
        public var host: UInt16
        public var address: UInt32
        public var port: UInt16
        public init(host: UInt16, address: UInt32, port: UInt16) {
            self.host = host
            self.address = address
            self.port = port
        }
    }
    /// As many as one count byte holds.
    public static let maxPlaces = 255
    public var places: [Place]

    public init(places: [Place]) { self.places = Array(places.prefix(Meeting.maxPlaces)) }

    public var body: [UInt8] {
        var out: [UInt8] = [UInt8(places.count)]
        for place in places {
            appendLE16(place.host, to: &out)
            appendLE32(place.address, to: &out)
            appendLE16(place.port, to: &out)
        }
        return out
    }

    /// Total parsing: nil for any body that is not exactly a meeting (a port 0 is none).
    public init?(body: [UInt8]) {
        var reader = ByteReader(body)
        guard let count = reader.byte() else { return nil }
        var places: [Place] = []
        for _ in 0..<count {
            guard let host = reader.le16(), let address = reader.le32(), let port = reader.le16(), port != 0 else { return nil }
            places.append(Place(host: host, address: address, port: port))
        }
        guard reader.atEnd else { return nil }
        self.places = places
    }
}

/// A datagram body: the target instance and the game's wire frame.
public enum ForwardedDatagram {
    public static func body(target: UInt16, frame: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(2 + frame.count)
        appendLE16(target, to: &out)
        out.append(contentsOf: frame)
        return out
    }

    /// (target, wire frame); nil when the body is too short to hold a target.
    public static func parse(_ body: [UInt8]) -> (target: UInt16, frame: ArraySlice<UInt8>)? {
        guard body.count >= 2 else { return nil }
        return (UInt16(body[0]) | UInt16(body[1]) << 8, body[2...])
    }
}

/// Names one relayed connection: its opening frame's sender (first instance), session and
/// sequence. The body of a `callback` frame.
struct StreamToken: Hashable {
    var opener: UInt16
    var session: UInt64
    var sequence: UInt64

    var body: [UInt8] {
        var out: [UInt8] = []
        appendLE16(opener, to: &out)
        appendLE64(session, to: &out)
        appendLE64(sequence, to: &out)
        return out
    }

    init(opener: UInt16, session: UInt64, sequence: UInt64) {
        self.opener = opener
        self.session = session
        self.sequence = sequence
    }

    init?(body: [UInt8]) {
        var reader = ByteReader(body)
        guard let opener = reader.le16(), let session = reader.le64(), let sequence = reader.le64(), reader.atEnd else { return nil }
        self.init(opener: opener, session: session, sequence: sequence)
    }
}

func appendLE32(_ value: UInt32, to out: inout [UInt8]) {
    for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))) }
}

func appendLE16(_ value: UInt16, to out: inout [UInt8]) {
    out.append(UInt8(truncatingIfNeeded: value))
    out.append(UInt8(truncatingIfNeeded: value >> 8))
}

struct ByteReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var atEnd: Bool { offset == bytes.count }
    mutating func byte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        offset += 1
        return bytes[offset - 1]
    }
    mutating func le16() -> UInt16? {
        guard offset + 2 <= bytes.count else { return nil }
        offset += 2
        return UInt16(bytes[offset - 2]) | UInt16(bytes[offset - 1]) << 8
    }
    mutating func le32() -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        offset += 4
        return (1...4).reduce(0) { $0 << 8 | UInt32(bytes[offset - $1]) }
    }
    mutating func le64() -> UInt64? {
        guard offset + 8 <= bytes.count else { return nil }
        offset += 8
        return (1...8).reduce(0) { $0 << 8 | UInt64(bytes[offset - $1]) }
    }
}
