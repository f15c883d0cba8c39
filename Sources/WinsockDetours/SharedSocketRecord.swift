import CWineBridge
import VirtualIPCore

/// A virtual socket as a copy for another process of the same PC carries it: what the OS's
/// copy of the backing socket does not (the virtual name, the peer, the options the layer
/// keeps). WSADuplicateSocket's answer carries it in szProtocol's bytes after the provider's
/// name (which no program reads past its NUL), at one offset in the A and the W form; a
/// handle DuplicateHandle made leaves it in the registry. The process that opens it checks
/// the instance and a check word. Written from the socket and read into a new one
/// directly: 48 bytes, little endian.
///     0 magic "VLSK"   4 instance index (u16)   6 kind (1 datagram, 2 stream, 3 listener)
///     7 bind scope   8 instance generation   12 real port   14 virtual port
///     16 peer address   20 peer port   22 flags (bit 0 non-blocking, 1 SO_BROADCAST,
///     2 SO_REUSEADDR, 3 SO_EXCLUSIVEADDRUSE, 4 owns its registry entry, 5 receives shut,
///     6 IP_MULTICAST_LOOP, 7 has a peer)   24 SO_SNDBUF   28 SO_RCVBUF   32 SO_RCVTIMEO
///     36 SO_SNDTIMEO   40 IP_MULTICAST_IF   44 check word (FNV-1a of bytes 0..<44)
enum SharedSocketRecord {
    static let size = RegistryLayout.handedStateSize
    /// Where it sits in a WSAPROTOCOL_INFOA/W: the last bytes of the A form's szProtocol.
    static let offset = Int(VL_INFO_FIXED_LENGTH) + 256 - size
    /// Room for one record's bytes.
    typealias Bytes = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    private static let magic: UInt32 = 0x4B53_4C56  // "VLSK"

    /// Writes `socket`'s record into `info` (WSADuplicateSocket's answer, A or `wide`).
    /// False when the provider's name leaves no room after it. Lock held.
    static func write(_ socket: VirtualSocket, instance: SlotClaim, into info: UnsafeMutableRawPointer, wide: Bool) -> Bool {
        let name = UnsafeRawPointer(info + Int(VL_INFO_FIXED_LENGTH))
        let room = offset - Int(VL_INFO_FIXED_LENGTH)
        var at = 0
        while at < room && (wide ? name.loadLE16(at) : UInt16(name.load(fromByteOffset: at, as: UInt8.self))) != 0 { at += wide ? 2 : 1 }
        guard at < room else { return false }
        write(socket, instance: instance, to: info + offset)
        return true
    }

    /// Writes `socket`'s record at `r`. Lock held.
    static func write(_ socket: VirtualSocket, instance: SlotClaim, to r: UnsafeMutableRawPointer) {
        var flags: UInt16 = socket.nonBlocking ? 1 : 0
        if socket.reuseAddress { flags |= 1 << 2 }
        if socket.exclusiveAddress { flags |= 1 << 3 }
        if socket.ownsEntry { flags |= 1 << 4 }
        if socket.peer != nil { flags |= 1 << 7 }
        var kind: UInt8 = 1
        var multicastInterface: UInt32 = 0
        switch socket.kind {
        case let .datagram(datagram):
            if datagram.broadcast { flags |= 1 << 1 }
            if datagram.multicastLoop { flags |= 1 << 6 }
            multicastInterface = datagram.multicastInterface
        case let .stream(stream):
            kind = stream.listening ? 3 : 2
            if stream.receiveShut { flags |= 1 << 5 }
        }
        r.storeLE32(magic, 0)
        r.storeLE16(UInt16(truncatingIfNeeded: instance.index), 4)
        r.storeBytes(of: kind, toByteOffset: 6, as: UInt8.self)
        r.storeBytes(of: socket.scope.rawValue, toByteOffset: 7, as: UInt8.self)
        r.storeLE32(instance.generation, 8)
        r.storeLE16(socket.realPort, 12)
        r.storeLE16(socket.virtualPort, 14)
        r.storeLE32(socket.peer?.address.value ?? 0, 16)
        r.storeLE16(socket.peer?.port ?? 0, 20)
        r.storeLE16(flags, 22)
        r.storeLE32(UInt32(bitPattern: socket.sendBuffer), 24)
        r.storeLE32(UInt32(bitPattern: socket.receiveBuffer), 28)
        r.storeLE32(socket.receiveTimeout, 32)
        r.storeLE32(socket.sendTimeout, 36)
        r.storeLE32(multicastInterface, 40)
        r.storeLE32(checkWord(UnsafeRawPointer(r)), 44)
    }

    /// The instance of the intact record at `r` (nil: none there).
    static func instance(at r: UnsafeRawPointer) -> SlotClaim? {
        guard r.loadLE32(0) == magic, r.loadLE32(44) == checkWord(r) else { return nil }
        return SlotClaim(index: Int(r.loadLE16(4)), generation: r.loadLE32(8))
    }

    /// The socket the intact record at `r` describes, on `handle` (the OS's copy of the
    /// backing socket); nil for a record of no known kind or scope.
    static func makeSocket(at r: UnsafeRawPointer, handle: UInt, platform: Platform) -> VirtualSocket? {
        let kind = r.load(fromByteOffset: 6, as: UInt8.self)
        guard kind >= 1 && kind <= 3, let scope = BindScope(rawValue: r.load(fromByteOffset: 7, as: UInt8.self)) else { return nil }
        let flags = r.loadLE16(22)
        func flag(_ bit: UInt16) -> Bool { flags & 1 << bit != 0 }
        let socket: VirtualSocket
        if kind == 1 {
            let datagram = DatagramSocket(handle: handle, realPort: r.loadLE16(12), platform: platform)
            (datagram.broadcast, datagram.multicastLoop, datagram.multicastInterface) = (flag(1), flag(6), r.loadLE32(40))
            socket = datagram
        } else {
            let stream = StreamSocket(handle: handle, realPort: r.loadLE16(12))
            stream.listening = kind == 3
            stream.receiveShut = flag(5)
            socket = stream
        }
        (socket.scope, socket.virtualPort, socket.nonBlocking) = (scope, r.loadLE16(14), flag(0))
        if flag(7) { socket.peer = (IPv4Address(r.loadLE32(16)), r.loadLE16(20)) }
        (socket.reuseAddress, socket.exclusiveAddress, socket.ownsEntry) = (flag(2), flag(3), flag(4))
        socket.sendBuffer = Int32(bitPattern: r.loadLE32(24))
        socket.receiveBuffer = Int32(bitPattern: r.loadLE32(28))
        (socket.receiveTimeout, socket.sendTimeout) = (r.loadLE32(32), r.loadLE32(36))
        socket.sharedWithProcesses = true
        return socket
    }

    /// FNV-1a over the first 44 bytes: a record the program's own bytes happen to resemble
    /// is not taken for one.
    private static func checkWord(_ r: UnsafeRawPointer) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for i in 0..<44 { hash = (hash ^ UInt32(r.load(fromByteOffset: i, as: UInt8.self))) &* 0x0100_0193 }
        return hash
    }
}
