/// The 16-byte header in front of every payload on the loopback wire (little endian):
///
///     0  u16 magic 0x4C56 ("VL")   2  u8 version   3  u8 flags (bit0 for many: broadcast or multicast, bit1 stream)
///     4  u32 source virtual IPv4   8  u16 source virtual port
///     10 u16 destination virtual port  12 u32 destination virtual IPv4 as addressed
///
/// The same header, with the stream flag, is the preamble of a virtual TCP connection: the
/// connecting side sends it once, before any of the game's bytes, and the accepting side
/// checks it as a datagram's (a stream has one destination: never a broadcast).
public struct WireHeader: Equatable, Sendable {
    public static let size = 16
    public static let magic: UInt16 = 0x4C56
    public static let version: UInt8 = 1
    public static let broadcastFlag: UInt8 = 0x01
    public static let streamFlag: UInt8 = 0x02
    static let knownFlags: UInt8 = broadcastFlag | streamFlag

    /// The largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP) minus our header:
    /// the game's SO_MAX_MSG_SIZE.
    public static let maxPayload = 65507 - size

    public var isBroadcast: Bool
    /// A TCP connection's preamble rather than a datagram's header.
    public var isStream: Bool
    public var source: IPv4Address
    public var sourcePort: UInt16
    public var destination: IPv4Address
    public var destinationPort: UInt16

    public init(source: IPv4Address, sourcePort: UInt16, destination: IPv4Address,
                destinationPort: UInt16, isBroadcast: Bool, isStream: Bool = false) {
        self.isStream = isStream
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
        self.isBroadcast = isBroadcast
    }

    /// Writes exactly `size` bytes at `buffer`.
    public func encode(into buffer: UnsafeMutableRawPointer) {
        buffer.storeLE16(WireHeader.magic, 0)
        buffer.storeBytes(of: WireHeader.version, toByteOffset: 2, as: UInt8.self)
        let flags = (isBroadcast ? WireHeader.broadcastFlag : 0) | (isStream ? WireHeader.streamFlag : 0)
        buffer.storeBytes(of: flags, toByteOffset: 3, as: UInt8.self)
        buffer.storeLE32(source.value, 4)
        buffer.storeLE16(sourcePort, 8)
        buffer.storeLE16(destinationPort, 10)
        buffer.storeLE32(destination.value, 12)
    }

    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: WireHeader.size)
        out.withUnsafeMutableBytes { encode(into: $0.baseAddress!) }
        return out
    }

    /// Total validation: any byte string in, a header or a typed rejection out.
    /// Only the first `size` bytes are read; the payload is not the header's business.
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> Decoded {
        guard bytes.count >= size, let base = bytes.baseAddress else { return .rejected(.truncated) }
        guard base.loadLE16(0) == magic else { return .rejected(.badMagic) }
        let version = base.load(fromByteOffset: 2, as: UInt8.self)
        guard version == WireHeader.version else { return .rejected(.unsupportedVersion) }
        let flags = base.load(fromByteOffset: 3, as: UInt8.self)
        guard flags & ~knownFlags == 0 else { return .rejected(.unknownFlags) }
        let header = WireHeader(
            source: IPv4Address(base.loadLE32(4)), sourcePort: base.loadLE16(8),
            destination: IPv4Address(base.loadLE32(12)), destinationPort: base.loadLE16(10),
            isBroadcast: flags & broadcastFlag != 0, isStream: flags & streamFlag != 0)
        // A datagram always comes from a bound port of one host, to a real port.
        guard header.source != .any, header.source != .limitedBroadcast else { return .rejected(.invalidSource) }
        guard header.sourcePort != 0 else { return .rejected(.invalidSource) }
        guard header.destinationPort != 0, header.destination != .any else { return .rejected(.invalidDestination) }
        guard !(header.isStream && (header.isBroadcast || header.destination == .limitedBroadcast)) else {
            return .rejected(.invalidDestination)
        }
        return .header(header)
    }

    public static func decode(_ bytes: [UInt8]) -> Decoded {
        bytes.withUnsafeBytes { decode($0) }
    }

    public enum Decoded: Equatable, Sendable {
        case header(WireHeader)
        case rejected(Rejection)
    }

    public enum Rejection: Equatable, Sendable {
        case truncated, badMagic, unsupportedVersion, unknownFlags, invalidSource, invalidDestination

        /// How the registry counts it.
        public var dropReason: DropReason {
            self == .unsupportedVersion ? .unsupportedVersion : .malformed
        }
    }
}

/// Why a datagram was not delivered to the game. Each has a counter in the registry slot.
public enum DropReason: Int, CaseIterable, Sendable {
    /// Too short, wrong magic, unknown flags or impossible addresses.
    case malformed = 0
    case unsupportedVersion = 1
    /// The real source port does not belong to the virtual source the header claims.
    case spoofedSource = 2
    /// The claimed source is outside the virtual LAN's instances.
    case unknownSource = 3
    /// Addressed to another host or port than the socket that got it.
    case misdirected = 4
    /// Sender side: no socket of the destination is bound to that port (a real LAN drops it too).
    case noListener = 5

    public var name: StaticString {
        switch self {
        case .malformed: return "malformed"
        case .unsupportedVersion: return "unsupported-version"
        case .spoofedSource: return "spoofed-source"
        case .unknownSource: return "unknown-source"
        case .misdirected: return "misdirected"
        case .noListener: return "no-listener"
        }
    }
}
