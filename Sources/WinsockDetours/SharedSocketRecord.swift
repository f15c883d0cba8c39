import CWineBridge
import VirtualIPCore

/// A virtual socket as WSADuplicateSocket hands it to another process of the same PC: what
/// the OS's copy of the backing socket does not carry (the virtual name, the peer, the
/// options the layer keeps). It travels inside the WSAPROTOCOL_INFO the program passes on,
/// in szProtocol's bytes after the provider's name (which no program reads past its NUL),
/// at one offset in the A and the W form. The process that opens it checks the instance
/// and a check word.
struct SharedSocketRecord {
    enum Kind: UInt8 { case datagram = 1, stream = 2, listener = 3 }

    var instance: SlotClaim
    var kind: Kind
    var scope: BindScope
    var realPort: UInt16
    var virtualPort: UInt16
    var peer: (address: IPv4Address, port: UInt16)?
    var nonBlocking = false
    var broadcast = false
    var reuseAddress = false
    var exclusiveAddress = false
    var ownsEntry = false
    var receiveShut = false
    var multicastLoop = true
    var multicastInterface: UInt32 = 0
    var sendBuffer: Int32 = 0
    var receiveBuffer: Int32 = 0
    var receiveTimeout: UInt32 = 0
    var sendTimeout: UInt32 = 0

    /// Where it sits: the last 48 bytes of WSAPROTOCOL_INFOA's szProtocol (inside the W
    /// form's too, whose name is as short).
    static let offset = Int(VL_INFO_FIXED_LENGTH) + 256 - size
    static let size = 48
    private static let magic: UInt32 = 0x4B53_4C56  // "VLSK"

    /// What the socket is now, for `instance`. Lock held.
    init(_ socket: VirtualSocket, instance: SlotClaim) {
        self.instance = instance
        switch socket.kind {
        case let .datagram(datagram):
            kind = .datagram
            broadcast = datagram.broadcast
            multicastLoop = datagram.multicastLoop
            multicastInterface = datagram.multicastInterface
        case let .stream(stream):
            kind = stream.listening ? .listener : .stream
            receiveShut = stream.receiveShut
        }
        scope = socket.scope
        realPort = socket.realPort
        virtualPort = socket.virtualPort
        peer = socket.peer
        nonBlocking = socket.nonBlocking
        reuseAddress = socket.reuseAddress
        exclusiveAddress = socket.exclusiveAddress
        ownsEntry = socket.ownsEntry
        sendBuffer = socket.sendBuffer
        receiveBuffer = socket.receiveBuffer
        receiveTimeout = socket.receiveTimeout
        sendTimeout = socket.sendTimeout
    }

    private var flags: UInt16 {
        var bits: UInt16 = 0
        for (on, bit) in [(nonBlocking, 0), (broadcast, 1), (reuseAddress, 2), (exclusiveAddress, 3), (ownsEntry, 4),
                          (receiveShut, 5), (multicastLoop, 6), (peer != nil, 7)] where on { bits |= 1 << bit }
        return bits
    }

    /// Writes the record into `info` (WSADuplicateSocket's answer, A or `wide`). False when
    /// the provider's name leaves no room after it.
    func write(into info: UnsafeMutableRawPointer, wide: Bool) -> Bool {
        let name = UnsafeRawPointer(info + Int(VL_INFO_FIXED_LENGTH))
        let unit = wide ? 2 : 1
        let room = (SharedSocketRecord.offset - Int(VL_INFO_FIXED_LENGTH)) / unit
        let ends = (0..<room).contains { i in wide ? name.loadLE16(2 * i) == 0 : name.load(fromByteOffset: i, as: UInt8.self) == 0 }
        guard ends else { return false }
        let r = info + SharedSocketRecord.offset
        for i in 0..<SharedSocketRecord.size { r.storeBytes(of: 0, toByteOffset: i, as: UInt8.self) }
        r.storeLE32(SharedSocketRecord.magic, 0)
        r.storeLE16(UInt16(truncatingIfNeeded: instance.index), 4)
        r.storeBytes(of: kind.rawValue, toByteOffset: 6, as: UInt8.self)
        r.storeBytes(of: scope.rawValue, toByteOffset: 7, as: UInt8.self)
        r.storeLE32(instance.generation, 8)
        r.storeLE16(realPort, 12)
        r.storeLE16(virtualPort, 14)
        r.storeLE32(peer?.address.value ?? 0, 16)
        r.storeLE16(peer?.port ?? 0, 20)
        r.storeLE16(flags, 22)
        r.storeLE32(UInt32(bitPattern: sendBuffer), 24)
        r.storeLE32(UInt32(bitPattern: receiveBuffer), 28)
        r.storeLE32(receiveTimeout, 32)
        r.storeLE32(sendTimeout, 36)
        r.storeLE32(multicastInterface, 40)
        r.storeLE32(SharedSocketRecord.checkWord(UnsafeRawPointer(r)), 44)
        return true
    }

    /// The record in `info`, if it holds one intact (readable is the caller's check).
    init?(reading info: UnsafeRawPointer) {
        let r = info + SharedSocketRecord.offset
        guard r.loadLE32(0) == SharedSocketRecord.magic, r.loadLE32(44) == SharedSocketRecord.checkWord(r),
              let kind = Kind(rawValue: r.load(fromByteOffset: 6, as: UInt8.self)),
              let scope = BindScope(rawValue: r.load(fromByteOffset: 7, as: UInt8.self)) else { return nil }
        instance = SlotClaim(index: Int(r.loadLE16(4)), generation: r.loadLE32(8))
        self.kind = kind
        self.scope = scope
        realPort = r.loadLE16(12)
        virtualPort = r.loadLE16(14)
        let flags = r.loadLE16(22)
        func flag(_ bit: UInt16) -> Bool { flags & 1 << bit != 0 }
        peer = flag(7) ? (IPv4Address(r.loadLE32(16)), r.loadLE16(20)) : nil
        (nonBlocking, broadcast, reuseAddress, exclusiveAddress) = (flag(0), flag(1), flag(2), flag(3))
        (ownsEntry, receiveShut, multicastLoop) = (flag(4), flag(5), flag(6))
        sendBuffer = Int32(bitPattern: r.loadLE32(24))
        receiveBuffer = Int32(bitPattern: r.loadLE32(28))
        receiveTimeout = r.loadLE32(32)
        sendTimeout = r.loadLE32(36)
        multicastInterface = r.loadLE32(40)
    }

    /// FNV-1a over the first 44 bytes: a record the program's own bytes happen to resemble
    /// is not taken for one.
    private static func checkWord(_ r: UnsafeRawPointer) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for i in 0..<44 { hash = (hash ^ UInt32(r.load(fromByteOffset: i, as: UInt8.self))) &* 0x0100_0193 }
        return hash
    }

    /// The socket it describes, on `handle` (the OS's copy of the backing socket).
    func makeSocket(handle: UInt) -> VirtualSocket {
        let socket: VirtualSocket
        switch kind {
        case .datagram:
            let datagram = DatagramSocket(handle: handle, realPort: realPort)
            (datagram.broadcast, datagram.multicastLoop, datagram.multicastInterface) = (broadcast, multicastLoop, multicastInterface)
            socket = datagram
        case .stream, .listener:
            let stream = StreamSocket(handle: handle, realPort: realPort)
            if kind == .listener { stream.listenerState = ListenerState() }
            stream.receiveShut = receiveShut
            socket = stream
        }
        (socket.scope, socket.virtualPort, socket.peer, socket.nonBlocking) = (scope, virtualPort, peer, nonBlocking)
        (socket.reuseAddress, socket.exclusiveAddress, socket.ownsEntry) = (reuseAddress, exclusiveAddress, ownsEntry)
        (socket.sendBuffer, socket.receiveBuffer, socket.receiveTimeout, socket.sendTimeout) = (sendBuffer, receiveBuffer, receiveTimeout, sendTimeout)
        socket.sharedWithProcesses = true
        return socket
    }
}
