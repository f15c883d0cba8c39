import Synchronization

/// The slot's socket table: "virtual port -> real port" per transport, read on every
/// datagram's path (the receiver lookup and the source check), so every scan stops at the
/// entries in use.
extension Registry {

    @inline(__always) private func socketEntry(_ index: Int, _ entry: Int) -> UnsafeMutableRawPointer {
        slot(index) + RegistryLayout.sSockets + entry * 8
    }

    @inline(__always) func socketsInUse(_ index: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        slot(index).atomicWord(RegistryLayout.sSocketsInUse)
    }

    /// How many entries a lookup reads: every entry past them is free.
    @inline(__always) func entriesInUse(_ index: Int) -> Int {
        min(Int(socketsInUse(index).pointee.load(ordering: .acquiring)), RegistryLayout.socketsPerSlot)
    }

    /// Word 1 of an entry: scope, protocol (Transport's raw value), whether the socket is
    /// closed, (TCP) whether it listens (shown by `status`; routing does not need it: a
    /// connection to a socket that does not listen is refused by the OS), and the socket's
    /// SO_REUSEADDR and SO_EXCLUSIVEADDRUSE when it was bound (another process of the
    /// instance decides its binds by them).
    static let closedFlag: UInt32 = 1 << 16
    static let listeningFlag: UInt32 = 1 << 17
    static let reuseFlag: UInt32 = 1 << 18
    static let exclusiveFlag: UInt32 = 1 << 19
    /// (TCP) the socket connects to its own copy over loopback: its connection comes from
    /// 127.0.0.1, not from the copy's LAN address (what a WSAAccept condition is shown
    /// before the connection's preamble can be read).
    static let loopbackPeerFlag: UInt32 = 1 << 20

    /// The entry's holders: bit m while member process m holds the socket (one socket may
    /// be shared among the instance's processes, as WSADuplicateSocket shares it).
    @inline(__always) private func holders(_ index: Int, _ entry: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        slot(index).atomicWord(RegistryLayout.sHolders + entry * 4)
    }
    @inline(__always) static func protocolBits(_ transport: Transport) -> UInt32 { UInt32(transport.rawValue) << 8 }
    @inline(__always) static func transport(of info: UInt32) -> Transport { Transport(rawValue: UInt8(truncatingIfNeeded: info >> 8)) ?? .udp }

    func clearSocketEntry(_ index: Int, _ entry: Int) {
        socketEntry(index, entry).atomicWord(0).pointee.store(0, ordering: .releasing)
    }

    func markSocketEntryClosed(_ index: Int, _ entry: Int) {
        socketEntry(index, entry).atomicWord(4).pointee.bitwiseOr(Registry.closedFlag, ordering: .releasing)
    }

    private func isClosed(_ e: UnsafeMutableRawPointer) -> Bool {
        e.atomicWord(4).pointee.load(ordering: .acquiring) & Registry.closedFlag != 0
    }

    /// Publishes "virtual port -> real port" of one transport for the slot. Takes a free
    /// entry among those in use, else a new one while fewer than `socketsBeforeReuse` are in
    /// use, else the entry of a closed socket, else a new one; false when every entry holds
    /// an open socket.
    public func addSocket(slot index: Int, virtualPort: UInt16, realPort: UInt16, scope: BindScope, transport: Transport = .udp,
                          member: Int = 0, reuse: Bool = false, exclusive: Bool = false) -> Bool {
        precondition(virtualPort != 0 && realPort != 0 && member >= 0 && member < RegistryLayout.membersPerSlot)
        let info = UInt32(scope.rawValue) | Registry.protocolBits(transport)
            | (reuse ? Registry.reuseFlag : 0) | (exclusive ? Registry.exclusiveFlag : 0)
        let packed = UInt32(virtualPort) << 16 | UInt32(realPort)
        clearClosedEntries(index, realPort: realPort, transport: transport)
        let inUse = entriesInUse(index)
        var choices: [(range: Range<Int>, reuseClosed: Bool)] = [(0..<inUse, false)]
        if inUse < RegistryLayout.socketsBeforeReuse { choices.append((inUse..<RegistryLayout.socketsBeforeReuse, false)) }
        choices.append((0..<inUse, true))
        choices.append((max(inUse, RegistryLayout.socketsBeforeReuse)..<RegistryLayout.socketsPerSlot, false))
        for (range, reuseClosed) in choices {
            for entry in range {
                let e = socketEntry(index, entry)
                let word = e.atomicWord(0).pointee.load(ordering: .acquiring)
                guard word == 0 || (reuseClosed && isClosed(e)) else { continue }
                // The count first: a reader that finds the entry has read a count that covers it.
                _ = socketsInUse(index).pointee.max(UInt32(entry + 1), ordering: .acquiringAndReleasing)
                // Word 0 cleared, then word 1, then word 0 published: a reader that sees the
                // new word 0 sees the scope and open state that belong to it.
                if word != 0 { clearSocketEntry(index, entry) }
                e.atomicWord(4).pointee.store(info, ordering: .releasing)
                holders(index, entry).pointee.store(1 << UInt32(member), ordering: .releasing)
                if e.atomicWord(0).pointee.compareExchange(expected: 0, desired: packed, ordering: .acquiringAndReleasing).exchanged {
                    return true
                }
            }
        }
        return false
    }

    /// A closed entry with the real port a socket is about to take would make the source
    /// check ambiguous: it goes.
    private func clearClosedEntries(_ index: Int, realPort: UInt16, transport: Transport) {
        for entry in 0..<entriesInUse(index) {
            let e = socketEntry(index, entry)
            let word = e.atomicWord(0).pointee.load(ordering: .acquiring)
            if word != 0, UInt16(truncatingIfNeeded: word) == realPort, isClosed(e),
               Registry.transport(of: e.atomicWord(4).pointee.load(ordering: .acquiring)) == transport {
                clearSocketEntry(index, entry)
            }
        }
    }

    /// The open `transport` socket of `realPort` is backed by `newRealPort` from now on (a
    /// TCP socket whose backing socket binds after its virtual bind). Its entry keeps its
    /// place, so the virtual port is held throughout.
    public func moveSocket(slot index: Int, realPort: UInt16, to newRealPort: UInt16, transport: Transport) {
        precondition(newRealPort != 0)
        clearClosedEntries(index, realPort: newRealPort, transport: transport)
        forEachEntry(index, realPort: realPort, transport: transport) { e, info, _ in
            guard info & Registry.closedFlag == 0 else { return }
            let word = e.atomicWord(0).pointee.load(ordering: .acquiring)
            let moved = word & 0xFFFF_0000 | UInt32(newRealPort)
            _ = e.atomicWord(0).pointee.compareExchange(expected: word, desired: moved, ordering: .acquiringAndReleasing)
        }
    }

    /// Calls `body(entry, word 1, entry number)` for every entry (open or closed) of the
    /// slot's `transport` socket of `realPort`.
    private func forEachEntry(_ index: Int, realPort: UInt16, transport: Transport, _ body: (UnsafeMutableRawPointer, UInt32, Int) -> Void) {
        for entry in 0..<entriesInUse(index) {
            let e = socketEntry(index, entry)
            let value = e.atomicWord(0).pointee.load(ordering: .acquiring)
            let info = e.atomicWord(4).pointee.load(ordering: .acquiring)
            if value != 0, UInt16(truncatingIfNeeded: value) == realPort, Registry.transport(of: info) == transport { body(e, info, entry) }
        }
    }

    /// Member `member` lets go of the socket. When it was the last holder, the socket is
    /// closed: no more datagrams are routed to it, but its entry keeps vouching for datagrams
    /// it sent before (until the entry is reused). Returns true when other members still
    /// hold it, so it stays open. (A process that shares no socket is always the last
    /// holder; the bridge's entries are member 0's.)
    @discardableResult
    public func removeSocket(slot index: Int, realPort: UInt16, transport: Transport = .udp, member: Int = 0) -> Bool {
        var stillHeld = false
        forEachEntry(index, realPort: realPort, transport: transport) { e, info, entry in
            guard info & Registry.closedFlag == 0 else { return }
            if !letGo(index, entry, member: member) { stillHeld = true }
        }
        return stillHeld
    }

    /// Clears `member`'s bit of the entry's holders; when none is left, marks the entry
    /// closed and returns true.
    private func letGo(_ index: Int, _ entry: Int, member: Int) -> Bool {
        let bit = UInt32(1) << UInt32(member)
        let before = holders(index, entry).pointee.bitwiseAnd(~bit, ordering: .acquiringAndReleasing).oldValue
        guard before & ~bit == 0 else { return false }
        markSocketEntryClosed(index, entry)
        return true
    }

    /// Member `member` holds the open socket of `realPort` too (WSADuplicateSocket made it a
    /// copy). False when no open entry has that real port.
    public func shareSocket(slot index: Int, realPort: UInt16, transport: Transport, with member: Int) -> Bool {
        precondition(member >= 0 && member < RegistryLayout.membersPerSlot)
        var shared = false
        forEachEntry(index, realPort: realPort, transport: transport) { _, info, entry in
            guard info & Registry.closedFlag == 0 else { return }
            holders(index, entry).pointee.bitwiseOr(1 << UInt32(member), ordering: .acquiringAndReleasing)
            shared = true
        }
        return shared
    }

    /// The members that hold the open socket of `realPort` (bit m: member m); 0 when none.
    public func holders(slot index: Int, realPort: UInt16, transport: Transport) -> UInt32 {
        var found: UInt32 = 0
        forEachEntry(index, realPort: realPort, transport: transport) { _, info, entry in
            if info & Registry.closedFlag == 0 { found |= holders(index, entry).pointee.load(ordering: .acquiring) }
        }
        return found
    }

    /// The TCP socket of `realPort` listens now.
    public func markListening(slot index: Int, realPort: UInt16) {
        forEachEntry(index, realPort: realPort, transport: .tcp) { e, info, _ in
            if info & Registry.closedFlag == 0 { e.atomicWord(4).pointee.bitwiseOr(Registry.listeningFlag, ordering: .releasing) }
        }
    }

    /// The TCP socket of `realPort` connects over loopback (to its own copy).
    public func markLoopbackPeer(slot index: Int, realPort: UInt16) {
        forEachEntry(index, realPort: realPort, transport: .tcp) { e, info, _ in
            if info & Registry.closedFlag == 0 { e.atomicWord(4).pointee.bitwiseOr(Registry.loopbackPeerFlag, ordering: .releasing) }
        }
    }

    /// Who connects from real TCP port `realPort`, in any slot: its copy, its virtual port,
    /// and whether it connects over loopback; nil when no open socket of the registry has
    /// that port. Read by a WSAAccept condition, before the connection is the game's.
    public func streamCaller(realPort: UInt16) -> (slot: Int, virtualPort: UInt16, overLoopback: Bool)? {
        for index in 0..<slotCount {
            var found: (slot: Int, virtualPort: UInt16, overLoopback: Bool)?
            forEachEntry(index, realPort: realPort, transport: .tcp) { e, info, _ in
                guard info & Registry.closedFlag == 0 else { return }
                let packed = e.atomicWord(0).pointee.load(ordering: .acquiring)
                found = (index, UInt16(packed >> 16), info & Registry.loopbackPeerFlag != 0)
            }
            if let found { return found }
        }
        return nil
    }

    /// Whether the open TCP socket of `realPort` in the slot listens.
    public func isListening(slot index: Int, realPort: UInt16) -> Bool {
        var listening = false
        forEachEntry(index, realPort: realPort, transport: .tcp) { _, info, _ in
            if info & Registry.closedFlag == 0 && info & Registry.listeningFlag != 0 { listening = true }
        }
        return listening
    }

    /// Calls `body(virtualPort, realPort, scope)` for every open socket of the slot of one
    /// transport (and closed ones too when `includeClosed`).
    @inline(__always)
    public func forEachSocket(slot index: Int, transport: Transport = .udp, includeClosed: Bool = false,
                              _ body: (UInt16, UInt16, BindScope) -> Void) {
        for entry in 0..<entriesInUse(index) {
            let e = socketEntry(index, entry)
            let packed = e.atomicWord(0).pointee.load(ordering: .acquiring)
            guard packed != 0 else { continue }
            let info = e.atomicWord(4).pointee.load(ordering: .acquiring)
            // The protocol byte compared as it is stored: this loop is on every datagram's path.
            guard includeClosed || info & Registry.closedFlag == 0, info & 0xFF00 == Registry.protocolBits(transport) else { continue }
            let scope = BindScope(rawValue: UInt8(truncatingIfNeeded: info)) ?? .any
            body(UInt16(packed >> 16), UInt16(truncatingIfNeeded: packed), scope)
        }
    }

    /// The open sockets on `virtualPort` that other member processes of the instance hold
    /// (a bind decides against them as against its own process's sockets; one this process
    /// shares with another is among them, and decides as it does among its own).
    public func socketsOfOtherMembers(slot index: Int, virtualPort: UInt16, transport: Transport, member: Int) -> [BoundSocket] {
        var found: [BoundSocket] = []
        for entry in 0..<entriesInUse(index) {
            let e = socketEntry(index, entry)
            let packed = e.atomicWord(0).pointee.load(ordering: .acquiring)
            guard packed != 0, UInt16(packed >> 16) == virtualPort else { continue }
            let info = e.atomicWord(4).pointee.load(ordering: .acquiring)
            guard info & Registry.closedFlag == 0, Registry.transport(of: info) == transport,
                  holders(index, entry).pointee.load(ordering: .acquiring) & ~(UInt32(1) << UInt32(member)) != 0 else { continue }
            found.append(BoundSocket(scope: BindScope(rawValue: UInt8(truncatingIfNeeded: info)) ?? .any,
                                     reuse: info & Registry.reuseFlag != 0, exclusive: info & Registry.exclusiveFlag != 0))
        }
        return found
    }

    /// Member `member` lets go of every socket it holds (the process left); those it was the
    /// last holder of close, and `body` gets each one's real port and transport.
    func closeSockets(slot index: Int, member: Int, _ body: (UInt16, Transport) -> Void) {
        for entry in 0..<entriesInUse(index) {
            let e = socketEntry(index, entry)
            let packed = e.atomicWord(0).pointee.load(ordering: .acquiring)
            let info = e.atomicWord(4).pointee.load(ordering: .acquiring)
            guard packed != 0, info & Registry.closedFlag == 0,
                  holders(index, entry).pointee.load(ordering: .acquiring) & UInt32(1) << UInt32(member) != 0,
                  letGo(index, entry, member: member) else { continue }
            body(UInt16(truncatingIfNeeded: packed), Registry.transport(of: info))
        }
    }

    /// Whether the slot has an open socket on `virtualPort` (any scope).
    public func hasSocket(slot index: Int, virtualPort: UInt16, transport: Transport = .udp) -> Bool {
        var found = false
        forEachSocket(slot: index, transport: transport) { port, _, _ in if port == virtualPort { found = true } }
        return found
    }

    /// The virtual port that real port `realPort` stands (or stood) for in the slot: the
    /// receive-side source check, which also accepts sockets closed after sending.
    /// Every received datagram asks this: one pass that reads an entry's second word only
    /// when its real port matches (addSocket keeps a real port to one entry per transport).
    public func virtualPort(slot index: Int, realPort: UInt16, transport: Transport = .udp) -> UInt16? {
        let bits = Registry.protocolBits(transport)
        for entry in 0..<entriesInUse(index) {
            let e = socketEntry(index, entry)
            let packed = e.atomicWord(0).pointee.load(ordering: .acquiring)
            guard packed != 0, UInt16(truncatingIfNeeded: packed) == realPort,
                  e.atomicWord(4).pointee.load(ordering: .acquiring) & 0xFF00 == bits else { continue }
            return UInt16(packed >> 16)
        }
        return nil
    }
}

/// A socket another process of the instance has bound, as a bind sees it.
public struct BoundSocket: Equatable, Sendable {
    public let scope: BindScope
    public let reuse: Bool
    public let exclusive: Bool
}
