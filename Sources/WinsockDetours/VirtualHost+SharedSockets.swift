import CWineBridge
import VirtualIPCore

/// A virtual socket copied into another process of the same PC (a member of the instance),
/// as on Windows one socket is shared by the processes that hold its handles. The copy
/// carries the socket's virtual state (`SharedSocketRecord`): inside WSADuplicateSocket's
/// answer, or, for a bare handle DuplicateHandle made, in the registry until the other
/// process first uses the handle. Both processes hold the socket's registry entry.
extension VirtualHost {
    /// Before a copy for another process: a stream's backing socket binds (the copy carries
    /// the port).
    func prepareForSibling(_ socket: VirtualSocket) -> WinsockError? {
        guard let stream = socket as? StreamSocket else { return nil }
        return lock.locked { stream.isBound ? stream.bindBackingLocked(on: self) : nil }
    }

    /// Member `sibling` holds the socket from now on, as on Windows, whether or not it ever
    /// uses its copy (its bit goes when it leaves). Lock held.
    func shareLocked(_ socket: VirtualSocket, with sibling: Int) {
        if socket.ownsEntry { _ = registry.shareSocket(slot: instance, realPort: socket.realPort, transport: socket.transport, with: sibling) }
        socket.sharedWithProcesses = true
    }

    /// WSASocket(FROM_PROTOCOL_INFO) with another process's copy: the OS's copy of its
    /// backing socket becomes a virtual socket of this process, as the record describes it.
    func openSiblingsCopy(_ info: UnsafeMutableRawPointer, wide: Bool) -> Result<UInt, WinsockError> {
        let record = UnsafeRawPointer(info + SharedSocketRecord.offset)
        guard SharedSocketRecord.instance(at: record) == claim else { return .failure(.invalidArgument) }
        let opened = platform.socket(fromInfo: info, wide: wide)
        guard case let .success(copy) = opened else { return opened }
        guard let socket = SharedSocketRecord.makeSocket(at: record, handle: copy, platform: platform) else {
            platform.close(copy)
            return .failure(.invalidArgument)
        }
        lock.locked { sockets[copy] = socket }
        return .success(copy)
    }

    /// DuplicateHandle of a virtual socket into process `pid`: one of this PC, else refused
    /// (ERROR_NOT_SUPPORTED, before any copy is made).
    func duplicateHandle(_ socket: VirtualSocket, _ handle: UInt, from source: UnsafeMutableRawPointer?,
                         intoSibling targetProcess: UnsafeMutableRawPointer?, pid: UInt32,
                         target: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, access: UInt32, inherit: Bool, options: UInt32) -> WinsockError? {
        // The copy's state waits in the registry, which has room for a few at once.
        let sibling = registry.member(claim, pid: pid)
        guard let sibling, registry.hasRoomToHand(slot: instance) else {
            log(.warning, "DuplicateHandle of a virtual socket into process \(pid) refused (ERROR_NOT_SUPPORTED): \(sibling == nil ? "it is no process of this virtual PC" : "too many copies wait to be used")")
            return WinsockError(50)
        }
        if let error = prepareForSibling(socket) { return error }
        let copy: UInt
        switch platform.duplicateHandle(socket.handle, from: source, into: targetProcess, access: access, inherit: inherit,
                                        options: options & ~closeSource) {
        case let .failure(error): return error
        case let .success(made): copy = made
        }
        let handed = lock.locked { handLocked(socket, as: copy, to: sibling) }
        // Another process of the PC took the last free record meanwhile: the copy is bare.
        if !handed { log(.error, "a virtual socket copied into process \(pid) is the bare backing socket there") }
        target?.pointee = UnsafeMutableRawPointer(bitPattern: copy)
        if options & closeSource != 0 { _ = closeSocket(handle) }
        return nil
    }

    /// A process this one starts with bInheritHandles, listed as member `child`, gets every
    /// inheritable handle of a virtual socket under the same value, as on Windows: each is
    /// handed over like a DuplicateHandle copy, before the process runs.
    func handInheritedSockets(to child: Int) {
        let allHanded = lock.locked { () -> Bool in
            var all = true
            for (handle, socket) in sockets where !socket.closed && !closedByGame.contains(handle) && platform.isInheritable(handle) {
                all = handLocked(socket, as: handle, to: child) && all
            }
            return all
        }
        if !allHanded { log(.warning, "some inherited socket handles are bare backing sockets in the started process: too many copies wait to be used") }
    }

    /// Leaves the socket's state in the registry for member `sibling`, where the socket is
    /// `handle`, and shares the socket with it. False when the registry has no room. Lock held.
    private func handLocked(_ socket: VirtualSocket, as handle: UInt, to sibling: Int) -> Bool {
        var state: SharedSocketRecord.Bytes = (0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &state) { SharedSocketRecord.write(socket, instance: claim, to: $0.baseAddress!) }
        guard withUnsafeBytes(of: &state, { registry.handOver(slot: instance, to: sibling, handle: UInt32(truncatingIfNeeded: handle), state: $0.baseAddress!) })
        else { return false }
        shareLocked(socket, with: sibling)
        return true
    }

    /// A handle another process of this PC duplicated into this one, met for the first time:
    /// the virtual socket the registry kept for it. Not in Winsock's socket list (as a copy
    /// DuplicateHandle made within a process). Lock held.
    func adoptHandedLocked(_ handle: UInt) -> VirtualSocket? {
        guard registry.hasHanded(slot: instance, for: member) else { return nil }
        var state: SharedSocketRecord.Bytes = (0, 0, 0, 0, 0, 0)
        let taken = withUnsafeMutableBytes(of: &state) {
            registry.takeHanded(slot: instance, for: member, handle: UInt32(truncatingIfNeeded: handle), into: $0.baseAddress!)
        }
        let made = withUnsafeBytes(of: &state) { record in
            SharedSocketRecord.instance(at: record.baseAddress!) == claim ? SharedSocketRecord.makeSocket(at: record.baseAddress!, handle: handle, platform: platform) : nil
        }
        guard taken, let socket = made else { return nil }
        // A copy closed without Winsock (CloseHandle before its first use) leaves its record,
        // and the OS may give its number to anything since: the record is gone now, and
        // the handle is not taken for the socket unless it is that socket.
        guard isBacking(handle, realPort: socket.realPort) else {
            log(.info, "handle \(handle): a socket copied into this process was closed unused; the handle is something else now")
            return nil
        }
        sockets[handle] = socket
        handleCopies.insert(handle)
        return socket
    }

    /// Whether `handle` is a backing socket on `realPort` (the OS's local name; 0: one not
    /// bound, a stream that never was).
    private func isBacking(_ handle: UInt, realPort: UInt16) -> Bool {
        var name: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // room for an IPv6 name
        var length = Int32(MemoryLayout.size(ofValue: name))
        let error = withUnsafeMutableBytes(of: &name) { platform.localName(handle, $0.baseAddress!, length: &length) }
        guard realPort != 0 else { return error == .invalidArgument }
        // The port sits at bytes 2-3 in network order, in an IPv4 and an IPv6 name alike.
        return error == nil && length >= 4 && withUnsafeBytes(of: &name) { UInt16($0[2]) << 8 | UInt16($0[3]) } == realPort
    }
}
