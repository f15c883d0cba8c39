import CWineBridge
import VirtualIPCore

/// The WSAIoctl requests that describe this PC's interfaces, answered for the virtual PC:
/// its one adapter on the virtual LAN (the instance's address, the LAN's mask and
/// broadcast) and loopback. (GetAdaptersInfo shows the same adapter.)
extension VirtualHost {
    /// SIO_GET_BROADCAST_ADDRESS: Windows answers 255.255.255.255 for IPv4.
    func broadcastAddress(output: UnsafeMutableRawPointer?, length: UInt32, returned: UnsafeMutablePointer<UInt32>) -> WinsockError? {
        put(SocketAddress(address: .limitedBroadcast, port: 0), output, length, returned)
    }

    /// The virtual PC's two interfaces.
    enum Interface { case loopback, adapter }

    /// Which interface a datagram to `destination` leaves from: loopback for 127/8, the
    /// adapter for the virtual LAN and the broadcasts; nil beyond it (a LAN without a
    /// gateway). SIO_ROUTING_INTERFACE_QUERY and GetBestInterface(Ex) both answer this.
    func interface(toward destination: IPv4Address) -> Interface? {
        if destination.isLoopback { return .loopback }
        return registry.network.contains(destination) || destination == .limitedBroadcast ? .adapter : nil
    }

    /// SIO_ROUTING_INTERFACE_QUERY: the local address a datagram to the target leaves from:
    /// loopback for 127/8, the virtual address for the LAN and the broadcasts; anything
    /// else has no route on a LAN without a gateway (WSAENETUNREACH, as Windows says).
    func routingInterface(input: UnsafeRawPointer?, inputLength: UInt32, output: UnsafeMutableRawPointer?, length: UInt32,
                          returned: UnsafeMutablePointer<UInt32>) -> WinsockError? {
        guard let input else { return .fault }
        switch SocketAddress.read(input.assumingMemoryBound(to: VL_SOCKADDR_IN.self), length: Int32(bitPattern: inputLength)) {
        case let .failure(error): return error
        case let .success(target):
            // The unspecified address: the interface of the default route, as Wine answers it
            // (Windows: WSAEINVAL); the virtual PC's is its adapter.
            let leaving = target.address == .any ? .adapter : interface(toward: target.address)
            guard let leaving else { return .networkUnreachable }
            return put(SocketAddress(address: leaving == .loopback ? .loopback : address, port: 0), output, length, returned)
        }
    }

    /// SIO_GET_INTERFACE_LIST: INTERFACE_INFO entries (flags, then address, broadcast and
    /// mask as 24-byte sockaddr_gen): the virtual adapter, then loopback, whose broadcast
    /// address is all zeros (no IFF_BROADCAST), as the OS fills it.
    func interfaceList(output: UnsafeMutableRawPointer?, length: UInt32, returned: UnsafeMutablePointer<UInt32>) -> WinsockError? {
        let entrySize = 4 + 3 * 24
        let network = registry.network
        let entries: [(UInt32, IPv4Address, IPv4Address?, IPv4Address)] = [
            (1 | 2 | 16, address, network.broadcast, network.mask),  // IFF_UP | IFF_BROADCAST | IFF_MULTICAST
            (1 | 4 | 16, .loopback, nil, IPv4Address(255, 0, 0, 0)),  // IFF_UP | IFF_LOOPBACK | IFF_MULTICAST
        ]
        returned.pointee = 0  // a refusal reports no size (ws2_32)
        guard let output, Int(length) >= entrySize * entries.count else { return .fault }
        returned.pointee = UInt32(entrySize * entries.count)
        output.initializeMemory(as: UInt8.self, repeating: 0, count: entrySize * entries.count)
        for (i, entry) in entries.enumerated() {
            let base = output + i * entrySize
            base.storeBytes(of: entry.0, as: UInt32.self)
            for (j, value) in [entry.1, entry.2, entry.3].enumerated() {
                guard let value else { continue }
                var room: Int32 = 24
                _ = SocketAddress(address: value, port: 0).write(to: (base + 4 + 24 * j).assumingMemoryBound(to: VL_SOCKADDR_IN.self), length: &room)
            }
        }
        return nil
    }

    /// SIO_ADDRESS_LIST_QUERY: SOCKET_ADDRESS_LIST with the virtual address (the sockaddr
    /// after the list, in the same buffer). Too small: WSAEFAULT with the size needed; a
    /// buffer without room for the count: WSAEINVAL and 0, as ws2_32 answers.
    func addressList(output: UnsafeMutableRawPointer?, length: UInt32, returned: UnsafeMutablePointer<UInt32>) -> WinsockError? {
        let pointer = MemoryLayout<UnsafeRawPointer>.size
        let list = pointer + 2 * pointer        // iAddressCount (padded to a pointer) + one SOCKET_ADDRESS
        let needed = list + 16
        if length != 0 && Int(length) < pointer {
            returned.pointee = 0
            return .invalidArgument
        }
        returned.pointee = UInt32(needed)
        guard let output, Int(length) >= needed else { return .fault }
        output.initializeMemory(as: UInt8.self, repeating: 0, count: needed)
        output.storeBytes(of: Int32(1), as: Int32.self)
        let sockaddr = output + list
        (output + pointer).storeBytes(of: sockaddr, as: UnsafeMutableRawPointer.self)
        (output + 2 * pointer).storeBytes(of: Int32(16), as: Int32.self)
        var room: Int32 = 16
        _ = SocketAddress(address: address, port: 0).write(to: sockaddr.assumingMemoryBound(to: VL_SOCKADDR_IN.self), length: &room)
        return nil
    }

    /// One sockaddr_in into the game's buffer (SocketAddress.write), `returned` its size.
    private func put(_ value: SocketAddress, _ output: UnsafeMutableRawPointer?, _ length: UInt32,
                     _ returned: UnsafeMutablePointer<UInt32>) -> WinsockError? {
        var room = Int32(clamping: length)
        if let error = value.write(to: output?.assumingMemoryBound(to: VL_SOCKADDR_IN.self), length: &room) { return error }
        returned.pointee = UInt32(room)
        return nil
    }
}
