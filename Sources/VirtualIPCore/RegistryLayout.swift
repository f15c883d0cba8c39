/// Byte layout of the registry, version 5. Defined by offsets, never by a struct's layout,
/// because a 32-bit DLL and the 64-bit Linux CLI read the same file.
///
/// Header (64 bytes):
///     0 magic "VLRG"   4 layout version   8 header size   12 slot count   16 slot size
///     20 socket entries per slot   24 subnet network address   28 prefix length
///     32 stale-after milliseconds   36 this host's instance range (first | count << 16; 0 = the
///     whole subnet; set by the bridge)   40..63 reserved (zero)
/// Slot `i` at 64 + i * slotSize (21056 bytes):
///     0 state word (bits 0-1 state, bits 2-31 generation; atomic)   4 owner pid
///     8 owner kind   12 heartbeat (monotonic ms, wrapping u32)   16 instance index
///     20 virtual IPv4   24 MAC (6 bytes) + 2 pad   32 counters (16 x u32)
///     96 peer (kind remote: the first instance of the host it lives on)
///     100 socket entries in use: every entry at or past it is free (atomic; only grows
///         while the slot is claimed), so a lookup reads no more entries than the instance
///         ever had at once   104 members that have handed-socket records waiting (bit
///         m: member m; set after the record, cleared by a look that found none)
///     108..127 reserved
///     128 multicast memberships (32 x 12 bytes): word 0 = group IPv4 (0 = free),
///         word 1 = source IPv4 (0 = any source), word 2 = real UDP port | mode << 16 |
///         loop-off << 24 (mode 1 include, 2 exclude: a source blocked on an any-source join)
///     512 socket entries (1024 x 8 bytes): word 0 = virtualPort << 16 | realPort (0 = free),
///         word 1 = bind scope | protocol << 8 | closed << 16 | listening << 17 |
///         reuse << 18 | exclusive << 19
///     8704 members (16 x u32, atomic): the pids of the instance's processes, 0 = free;
///         member 0 claimed the slot, the others were added by a member that started them
///     8768 holders (1024 x u32, atomic), one per socket entry: bit m set while member m
///         holds the socket (WSADuplicateSocket shares one socket among processes); the
///         entry closes when the last holder lets go
///     12864 handed sockets (128 x 64 bytes): word 0 = member + 1 of the process a socket
///         handle was duplicated into (0 = free, all ones = being written), word 1 = the
///         handle's value there, then 48 bytes of the socket's state for that process
public enum RegistryLayout {
    public static let magic: UInt32 = 0x4752_4C56 // "VLRG" little endian
    public static let version: UInt32 = 5
    public static let headerSize = 64
    public static let slotSize = 21056
    /// A PC runs many sockets (Wine's own tests hold 200 at once).
    public static let socketsPerSlot = 1024
    /// Entries in use before a closed socket's entry is taken over rather than a new one:
    /// closed entries keep vouching for what their sockets sent, while lookups stay short.
    public static let socketsBeforeReuse = 64
    /// The most sockets of one instance a datagram is delivered to (all bound to its port,
    /// SO_REUSEADDR): what a sender keeps room for on its stack, per instance.
    public static let deliveriesPerSlot = 32
    /// Memberships of all of an instance's sockets together (Windows allows 20 per socket).
    public static let membershipsPerSlot = 32
    /// Socket handles duplicated into (or inherited by) another process of the instance and
    /// not yet met there.
    public static let handedPerSlot = 128
    /// The state a handed socket carries (WinsockDetours' SharedSocketRecord).
    public static let handedStateSize = 48
    /// Processes of one instance at once (a launcher, the game, a server it starts...).
    public static let membersPerSlot = 16
    public static let defaultSlotCount = 64
    public static let defaultStaleAfterMs: UInt32 = 5000
    /// How often a live instance refreshes its heartbeat; well inside `defaultStaleAfterMs`.
    public static let heartbeatIntervalMs: UInt32 = 1000

    public static func size(slotCount: Int) -> Int { headerSize + slotCount * slotSize }

    // Header fields.
    static let hMagic = 0, hVersion = 4, hHeaderSize = 8, hSlotCount = 12, hSlotSize = 16
    static let hSocketsPerSlot = 20, hNetwork = 24, hPrefix = 28, hStaleAfter = 32, hLocalRange = 36

    // Slot fields.
    static let sState = 0, sPid = 4, sKind = 8, sHeartbeat = 12, sIndex = 16, sAddress = 20
    static let sMAC = 24, sCounters = 32, sPeer = 96, sSocketsInUse = 100, sHandedMembers = 104, sMemberships = 128, sSockets = 512, sMembers = 8704, sHolders = 8768, sHanded = 12864
    static let counterCount = 16
}

/// Per-slot traffic counters (index into the slot's counter array).
public enum SlotCounter: Int, Sendable {
    case txDatagrams = 0, txBytesLow = 1, txBytesHigh = 2
    case rxDatagrams = 3, rxBytesLow = 4, rxBytesHigh = 5
    case tcpConnectionsOpen = 6, tcpConnectionsMade = 7
    /// Drops by reason: `dropBase + DropReason.rawValue`.
    static let dropBase = 8
}

/// Which transport a socket entry is for: UDP and TCP have port spaces of their own, real
/// and virtual, so an entry only ever answers for its own transport. The raw value is the
/// IP protocol number, as word 1 of an entry stores it.
public enum Transport: UInt8, Sendable {
    case tcp = 6
    case udp = 17
}

/// Which local addresses a socket listens on, the way Windows binds.
public enum BindScope: UInt8, Sendable {
    /// 0.0.0.0: loopback and the LAN address.
    case any = 1
    /// 127.x.x.x: only traffic of its own instance.
    case loopback = 2
    /// The instance's virtual IP: LAN unicast and broadcasts.
    case lan = 3

    public var acceptsLoopback: Bool { self != .lan }
    public var acceptsLAN: Bool { self != .loopback }
}

/// What kind of process owns a slot; pids are only comparable within one kind.
public enum OwnerKind: UInt32, Sendable {
    case linux = 1
    case windows = 2
    /// An instance on another host, stood in for by this host's bridge (pid = the bridge's).
    case remote = 3
}

public enum SlotState: UInt32, Sendable {
    case free = 0, claiming = 1, live = 2
}
