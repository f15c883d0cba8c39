import CWineBridge
import VirtualIPCore

/// WSADuplicateSocket's answer for this process: the WSAPROTOCOL_INFO the OS filled (its
/// first `keyLength` bytes, the same in the A and W forms, hold the duplicated OS handle,
/// so they name this one copy) and the socket it copies.
struct PendingDuplicate {
    static let keyLength = Int(VL_INFO_FIXED_LENGTH)
    let key: [UInt8]
    let socket: VirtualSocket
}

/// What closing one of the game's handles did.
enum HandleClosing {
    case notSocket
    /// One of several handles of the socket went; the socket lives on (the OS handle to
    /// close, when it was a copy the layer does not work through).
    case copyClosed(UInt?)
    /// It was the socket's last handle: the socket closes.
    case last
}

/// DUPLICATE_CLOSE_SOURCE: DuplicateHandle closes the handle it copied.
let closeSource: UInt32 = 1

/// More handles of one virtual socket, as Windows makes them: through WSADuplicateSocket and
/// WSASocket(FROM_PROTOCOL_INFO), or through DuplicateHandle. Every
/// handle is the same socket (a bind through one is the other's), each handle is an OS
/// handle of the backing socket, and the socket closes with its last handle. A copy for
/// another process of the same PC carries the socket's virtual state with it
/// (`SharedSocketRecord`, VirtualHost+SharedSockets); both processes then hold the socket's
/// registry entry. (Into a process of another PC, or one the layer does not follow, copies
/// are refused: it would get the backing socket, not the virtual one.)
extension VirtualHost {
    /// WSADuplicateSocketA/W of a virtual socket.
    func duplicateSocket(_ handle: UInt, process: UInt32, info: UnsafeMutableRawPointer?, wide: Bool) -> WinsockError? {
        let socket: VirtualSocket
        switch lock.locked({ self.socket(handle) }) {
        case let .failure(error): return error
        case let .success(found): socket = found
        }
        let sibling = process == processID ? nil : registry.member(claim, pid: process)
        if sibling != nil, let error = prepareForSibling(socket) { return error }
        // The OS checks the process and the pointer (WSAEINVAL, WSAEFAULT) first.
        if let error = platform.duplicateSocket(socket.handle, process: process, info: info, wide: wide) { return error }
        guard let info else { return .fault }
        if process == processID {
            let key = Array(UnsafeRawBufferPointer(start: info, count: PendingDuplicate.keyLength))
            lock.locked {
                if duplicates.count == 64 { duplicates.removeFirst() }  // never turned into sockets
                duplicates.append(PendingDuplicate(key: key, socket: socket))
            }
            return nil
        }
        guard let sibling else {
            log(.warning, "WSADuplicateSocket of a virtual socket into process \(process) refused (WSAEINVAL): it is no process of this virtual PC")
            return .invalidArgument
        }
        let written = lock.locked { () -> Bool in
            guard !socket.closed, SharedSocketRecord.write(socket, instance: claim, into: info, wide: wide) else { return false }
            shareLocked(socket, with: sibling)
            return true
        }
        guard written else { return .invalidArgument }
        return nil
    }

    /// Whether `info` is WSADuplicateSocket's answer for a virtual socket: of this process,
    /// or of another process of this PC.
    func isDuplicate(_ info: UnsafeRawPointer) -> Bool {
        guard platform.canRead(info, PendingDuplicate.keyLength) else { return false }
        if lock.locked({ duplicateIndex(info) != nil }) { return true }
        return platform.canRead(info, SharedSocketRecord.offset + SharedSocketRecord.size)
            && SharedSocketRecord.instance(at: info + SharedSocketRecord.offset) == claim
    }

    private func duplicateIndex(_ info: UnsafeRawPointer) -> Int? {
        duplicates.firstIndex { $0.key.withUnsafeBytes { $0.elementsEqual(UnsafeRawBufferPointer(start: info, count: PendingDuplicate.keyLength)) } }
    }

    /// WSASocket(FROM_PROTOCOL_INFO) with such an answer: the OS's copy of the backing
    /// socket becomes another handle of the virtual socket.
    func openDuplicate(_ info: UnsafeMutableRawPointer, wide: Bool) -> Result<UInt, WinsockError> {
        guard let pending: PendingDuplicate = lock.locked({ duplicateIndex(info).map { duplicates.remove(at: $0) } }) else {
            return openSiblingsCopy(info, wide: wide)
        }
        let opened = platform.socket(fromInfo: info, wide: wide)
        guard case let .success(copy) = opened else { return opened }
        return adopt(copy, of: pending.socket)
    }

    /// DuplicateHandle of a virtual socket: within this process, or into another process of
    /// this PC.
    func duplicateHandle(_ handle: UInt, from source: UnsafeMutableRawPointer?, into targetProcess: UnsafeMutableRawPointer?,
                         target: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, access: UInt32, inherit: Bool, options: UInt32) -> WinsockError? {
        let socket: VirtualSocket
        switch lock.locked({ self.socket(handle) }) {
        case let .failure(error): return error
        case let .success(found): socket = found
        }
        // No place for the copy: Windows makes it and keeps its value to itself.
        guard platform.usable(UnsafePointer(target), writable: true) else { return WinsockError(998) }  // ERROR_NOACCESS
        // (No process at all: the OS answers, below.)
        let pid = platform.processID(of: targetProcess)
        if pid != processID && pid != 0 {
            return duplicateHandle(socket, handle, from: source, intoSibling: targetProcess, pid: pid, target: target,
                                   access: access, inherit: inherit, options: options)
        }
        let copy: UInt
        switch platform.duplicateHandle(socket.handle, from: source, into: targetProcess, access: access, inherit: inherit,
                                        options: options & ~closeSource) {
        case let .failure(error):
            log(.warning, "DuplicateHandle of virtual socket \(handle) refused (error \(error.rawValue))")
            return error
        case let .success(made): copy = made
        }
        guard let target else {
            platform.close(copy)
            if options & closeSource != 0 { _ = closeSocket(handle) }
            return nil
        }
        if case let .failure(error) = adopt(copy, of: socket) { return error }
        lock.locked { _ = handleCopies.insert(copy) }
        target.pointee = UnsafeMutableRawPointer(bitPattern: copy)
        if options & closeSource != 0 { _ = closeSocket(handle) }
        return nil
    }

    /// Whether Winsock's socket list has `handle` (a copy DuplicateHandle made is not in it).
    func isWinsockHandle(_ handle: UInt) -> Bool { lock.locked { handleCopies.isEmpty || !handleCopies.contains(handle) } }

    /// `copy`, an OS handle of the socket's backing socket, is one more of its handles.
    private func adopt(_ copy: UInt, of socket: VirtualSocket) -> Result<UInt, WinsockError> {
        let alive = lock.locked { () -> Bool in
            guard !socket.closed else { return false }
            socket.handles.append(copy)
            sockets[copy] = socket
            return true
        }
        guard alive else {
            platform.close(copy)
            return .failure(.notSocket)
        }
        return .success(copy)
    }

    /// closesocket's first step: a handle of a socket that has others goes alone. (WSACleanup
    /// closes sockets after the count went to 0: not found is the close's own answer.)
    func closeOneHandle(_ handle: UInt) -> HandleClosing {
        lock.locked {
            guard let socket = sockets[handle], !socket.closed else { return .last }
            if closedByGame.contains(handle) { return .notSocket }
            guard socket.handles.count > 1 else { return .last }
            socket.handles.removeAll { $0 == handle }
            handleCopies.remove(handle)
            if !recentlyClosed.contains(handle) {
                if recentlyClosed.count == 64 { recentlyClosed.removeFirst() }
                recentlyClosed.append(handle)
            }
            // The handle the layer works through stays open until the last one closes.
            if handle == socket.handle {
                closedByGame.insert(handle)
                return .copyClosed(nil)
            }
            sockets.removeValue(forKey: handle)
            return .copyClosed(handle)
        }
    }
}
