import CWineBridge
import VirtualIPCore

extension VirtualHost {
    static let ephemeralPorts: ClosedRange<UInt16> = 49152...65535

    /// bind() following "each instance is its own PC": 0.0.0.0, 127.x.x.x and the own
    /// virtual address are local; port 0 picks a free ephemeral port of this instance.
    func bind(_ handle: UInt, _ name: UnsafePointer<VL_SOCKADDR_IN>?, _ length: Int32) -> WinsockError? {
        // The socket is checked first, as Windows does (WSAENOTSOCK before anything else).
        withSocket(handle) { socket in
            let requested: SocketAddress
            switch SocketAddress.read(name, length: length) {
            case let .failure(error): return error
            case let .success(address): requested = address
            }
            guard let scope = ownScope(of: requested.address) else { return .addressNotAvailable }
            guard !socket.isBound else { return .invalidArgument }
            return bindLocked(socket, port: requested.port, scope: scope)
        }
    }

    /// The scope an IPv4 address has on this copy's PC (0.0.0.0, 127.x.x.x, its own
    /// virtual address); nil for one that is not its own.
    func ownScope(of address: IPv4Address) -> BindScope? {
        if address == .any { return .any }
        if address.isLoopback { return .loopback }
        return address == self.address ? .lan : nil
    }

    /// Binds an unbound socket to 0.0.0.0:ephemeral (first send or connect). Lock held.
    func bindImplicitlyLocked(_ socket: VirtualSocket) -> WinsockError? {
        socket.isBound ? nil : bindLocked(socket, port: 0, scope: .any)
    }

    /// Lock held. Port conflicts are decided among this instance's sockets, the way Windows
    /// decides them on one PC: this process's own, and those its other processes hold (in
    /// the registry). Two processes binding one port at the same moment both publish, then
    /// both look again: a conflict seen then is given up by both (WSAEADDRINUSE), never kept.
    func bindLocked(_ socket: VirtualSocket, port: UInt16, scope: BindScope) -> WinsockError? {
        var port = port
        if port == 0 {
            guard let free = freeEphemeralPortLocked(socket.transport) else { return .noBuffers }
            port = free
        } else {
            for other in sockets.values where other !== socket && other.virtualPort == port && other.transport == socket.transport {
                if let error = bindConflict(socket, scope: scope, otherScope: other.scope, otherReuse: other.reuseAddress,
                                            otherExclusive: other.exclusiveAddress) { return error }
            }
            if let error = conflictWithOtherProcesses(socket, port: port, scope: scope) { return error }
            if let error = dualStackConflictLocked(socket, port: port, scope: scope) { return error }
        }
        if let error = socket.prepareBackingForBind(platform: platform) { return error }
        guard registry.addSocket(slot: instance, virtualPort: port, realPort: socket.realPort, scope: scope, transport: socket.transport,
                                 member: member, reuse: socket.reuseAddress, exclusive: socket.exclusiveAddress) else {
            log(.warning, "socket table of instance \(instance) is full (\(RegistryLayout.socketsPerSlot) sockets)")
            return .noBuffers
        }
        if let error = conflictWithOtherProcesses(socket, port: port, scope: scope) {
            registry.removeSocket(slot: instance, realPort: socket.realPort, transport: socket.transport, member: member)
            return error
        }
        socket.virtualPort = port
        socket.scope = scope
        socket.ownsEntry = true
        log(.debug, "socket \(socket.handle) bound to virtual port \(port) (real \(socket.realPort))")
        return nil
    }

    private func freeEphemeralPortLocked(_ transport: Transport) -> UInt16? {
        let range = VirtualHost.ephemeralPorts
        let count = Int(range.upperBound - range.lowerBound) + 1
        for _ in 0..<count {
            let candidate = nextEphemeralPort
            nextEphemeralPort = candidate == range.upperBound ? range.lowerBound : candidate + 1
            if !range.contains(candidate) { continue }
            // The registry has every process's open sockets of the instance, this one's too.
            if !sockets.values.contains(where: { $0.virtualPort == candidate && $0.transport == transport }),
               !registry.hasSocket(slot: instance, virtualPort: candidate, transport: transport) { return candidate }
        }
        return nil
    }

    /// The address getsockname reports: what the socket was bound to, never the backing one.
    func localAddress(_ socket: VirtualSocket) -> SocketAddress {
        let address: IPv4Address
        switch socket.scope {
        // Connected, an ANY-bound socket has the address of the interface towards its peer
        // (Windows' getsockname after connect): loopback, or this instance's LAN address.
        case .any: address = socket.peer.map { $0.address.isLoopback ? .loopback : self.address } ?? .any
        case .loopback: address = .loopback
        case .lan: address = self.address
        }
        return SocketAddress(address: address, port: socket.virtualPort)
    }

    func getsockname(_ handle: UInt, _ name: UnsafeMutablePointer<VL_SOCKADDR_IN>?, _ length: UnsafeMutablePointer<Int32>?) -> WinsockError? {
        withSocket(handle) { socket in
            guard socket.isBound else { return .invalidArgument }
            return localAddress(socket).write(to: name, length: length)
        }
    }

    /// getsockopt(SO_BSP_STATE): a CSADDR_INFO with the local and remote names after it, as
    /// ws2_32 fills it (a name the socket does not have yet: no pointer, length 0); a buffer
    /// shorter than that is WSAEFAULT and its length is left alone. Lock held.
    func writeAddressState(_ socket: VirtualSocket, to value: UnsafeMutableRawPointer?, length: UnsafeMutablePointer<Int32>) -> WinsockError? {
        let pointerSize = MemoryLayout<UnsafeRawPointer>.size
        let addressSize = 2 * pointerSize  // SOCKET_ADDRESS: a pointer and an INT, padded to two pointers
        let header = 2 * addressSize + 8   // then iSocketType and iProtocol
        let nameSize = MemoryLayout<VL_SOCKADDR_IN>.size
        let needed = header + 2 * nameSize
        guard Int(length.pointee) >= needed, platform.canWrite(value, needed), let value else { return .fault }
        func put(_ name: SocketAddress?, slot: Int, at offset: Int) {
            var nameLength = Int32(nameSize)
            let target = value + offset
            if let name { _ = name.write(to: target.assumingMemoryBound(to: VL_SOCKADDR_IN.self), length: &nameLength) }
            value.storeBytes(of: name == nil ? 0 : UInt(bitPattern: target), toByteOffset: slot, as: UInt.self)
            value.storeBytes(of: name == nil ? 0 : nameLength, toByteOffset: slot + pointerSize, as: Int32.self)
        }
        put(socket.isBound ? localAddress(socket) : nil, slot: 0, at: header)
        put(socket.peer.map { SocketAddress(address: $0.address, port: $0.port) }, slot: addressSize, at: header + nameSize)
        value.storeBytes(of: socket.socketType, toByteOffset: 2 * addressSize, as: Int32.self)
        value.storeBytes(of: Int32(socket.transport == .tcp ? VL_IPPROTO_TCP : VL_IPPROTO_UDP), toByteOffset: 2 * addressSize + 4, as: Int32.self)
        return nil
    }

    func getpeername(_ handle: UInt, _ name: UnsafeMutablePointer<VL_SOCKADDR_IN>?, _ length: UnsafeMutablePointer<Int32>?) -> WinsockError? {
        withSocket(handle) { socket in
            // Whether there is a peer is the backing socket's answer where it knows (a stream,
            // or a datagram socket without a default destination): its error is the OS's own.
            if socket is StreamSocket || socket.peer == nil,
               let error = platform.peerNameError(socket.handle, name: UnsafeMutableRawPointer(name), length: length) {
                return error
            }
            guard let peer = socket.peer else { return .notConnected }
            return SocketAddress(address: peer.address, port: peer.port).write(to: name, length: length)
        }
    }

    /// connect() on UDP sets the default destination; AF_UNSPEC or 0.0.0.0:0 dissolves it.
    func connect(_ handle: UInt, _ name: UnsafePointer<VL_SOCKADDR_IN>?, _ length: Int32) -> WinsockError? {
        var target: SocketAddress?
        if let name, length >= 2, UnsafeRawPointer(name).loadUnaligned(as: UInt16.self) == UInt16(VL_AF_UNSPEC) {
            target = nil
        } else {
            switch SocketAddress.read(name, length: length) {
            case let .failure(error): return error
            case let .success(address): target = address.address == .any && address.port == 0 ? nil : address
            }
        }
        if isStream(handle) {
            guard let target else { return .addressNotAvailable }
            return connectStream(handle, to: target)
        }
        return withSocket(handle) { found in
            guard case let .datagram(socket) = found.kind else { return .operationNotSupported }
            guard let target else {
                socket.peer = nil
                return nil
            }
            // Windows: "the remote address is not a valid address (such as INADDR_ANY)". Port 0
            // is a destination a datagram socket may be connected to (sock.c's test_events
            // connects to 127.0.0.1:0); a send to it has nobody to reach.
            guard target.address != .any else { return .addressNotAvailable }
            if case let .failure(error) = router.route(to: target.address, payloadLength: 0, broadcastPermitted: socket.broadcast) {
                return winsockError(error)
            }
            if let error = bindImplicitlyLocked(socket) { return error }
            socket.peer = (target.address, target.port)
            return nil
        }
    }
}

func winsockError(_ error: Router.SendError) -> WinsockError {
    switch error {
    case .messageTooLarge: return .messageSize
    case .networkUnreachable: return .networkUnreachable
    case .broadcastNotPermitted: return .accessDenied
    }
}
