import CWineBridge
import VirtualIPCore

/// What the game learns about "this PC": host name, its address, its one network adapter.
extension VirtualHost {
    func gethostname(_ name: UnsafeMutablePointer<CChar>?, _ length: Int32) -> WinsockError? {
        guard startupCount > 0 else { return .notInitialised }
        let own = hostname
        guard let name, Int(length) > own.count else { return .fault }
        for (i, byte) in own.enumerated() { name[i] = CChar(bitPattern: byte) }
        name[own.count] = 0
        return nil
    }

    /// The address a host name stands for on the virtual LAN: our own name, another
    /// instance's "<prefix>-<n>", "localhost", or a dotted address. nil: not ours to answer.
    func resolve(_ name: [UInt8]) -> IPv4Address? {
        if let literal = IPv4Address(parsing: name) { return literal }
        let lower = name.map(asciiLowercase)
        if lower.elementsEqual("localhost".utf8) { return .loopback }
        let prefix = config.hostnamePrefix.map(asciiLowercase)
        guard lower.count > prefix.count + 1, lower.starts(with: prefix), lower[prefix.count] == UInt8(ascii: "-") else { return nil }
        var number = 0
        for byte in lower[(prefix.count + 1)...] {
            guard byte >= 0x30, byte <= 0x39, number < 100_000 else { return nil }
            number = number * 10 + Int(byte - 0x30)
        }
        guard number >= 1, number <= registry.slotCount else { return nil }
        return registry.network.address(ofInstance: number - 1)
    }

    func gethostbyname(_ name: UnsafePointer<CChar>?) -> Result<UnsafeMutablePointer<VL_HOSTENT>, WinsockError> {
        guard startupCount > 0 else { return .failure(.notInitialised) }
        // NULL asks for the local host, as on Windows.
        let requested = name.map { bytes(of: $0) } ?? hostname
        guard let address = requested.isEmpty ? self.address : resolve(requested) else { return .failure(.hostNotFound) }
        let official = requested.isEmpty ? hostname : requested
        return .success(withCString(official) { vl_fill_hostent($0, address.networkOrder) })
    }

    /// gethostbyaddr: an instance's address has its host name, as a LAN's name service
    /// would say. Other addresses are WSAHOST_NOT_FOUND here (the DLL asks the system).
    func gethostbyaddr(_ raw: UnsafePointer<CChar>?, _ length: Int32, _ type: Int32) -> Result<UnsafeMutablePointer<VL_HOSTENT>, WinsockError> {
        guard startupCount > 0 else { return .failure(.notInitialised) }
        guard let raw else { return .failure(.fault) }
        guard type == Int32(VL_AF_INET) else { return .failure(.addressFamilyNotSupported) }
        guard length >= 4 else { return .failure(.fault) }
        let address = IPv4Address(networkOrder: UnsafeRawPointer(raw).loadUnaligned(as: UInt32.self))
        guard let index = registry.network.instance(of: address), index < registry.slotCount else { return .failure(.hostNotFound) }
        return .success(withCString(config.hostname(instance: index)) { vl_fill_hostent($0, address.networkOrder) })
    }

    /// getaddrinfo for the names gethostbyname answers (own, other instances, localhost,
    /// literals; no node: 0.0.0.0 with AI_PASSIVE, else loopback) and numeric services.
    /// Returns 0 or the error, which is also the last error (as Windows does).
    func getaddrinfo(_ node: UnsafePointer<CChar>?, _ service: UnsafePointer<CChar>?, _ hints: UnsafePointer<VL_ADDRINFO>?,
                     _ result: UnsafeMutablePointer<UnsafeMutablePointer<VL_ADDRINFO>?>?) -> WinsockError? {
        guard startupCount > 0 else { return .notInitialised }
        guard let result else { return .invalidArgument }
        result.pointee = nil
        guard node != nil || service != nil else { return .hostNotFound }
        let flags = hints?.pointee.ai_flags ?? 0
        switch hints?.pointee.ai_family ?? Int32(VL_AF_UNSPEC) {
        case Int32(VL_AF_UNSPEC), Int32(VL_AF_INET): break
        case Int32(VL_AF_INET6): return .hostNotFound // no IPv6 on the virtual LAN: ask the system
        default: return .addressFamilyNotSupported
        }
        var port: UInt32 = 0
        if let service {
            // An empty service is port 0, as "0" (Wine's protocol.c pins it on Windows).
            let digits = bytes(of: service)
            guard digits.count <= 5, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return WinsockError(VL_WSATYPE_NOT_FOUND) }
            for digit in digits { port = port * 10 + UInt32(digit - 0x30) }
            guard port <= 65535 else { return WinsockError(VL_WSATYPE_NOT_FOUND) }
        }
        let name = node.map { bytes(of: $0) }
        let found: IPv4Address?
        if let name { found = name.isEmpty ? address : resolve(name) } else { found = flags & Int32(VL_AI_PASSIVE) != 0 ? .any : .loopback }
        guard let found else { return .hostNotFound }
        let canonical: [UInt8]? = flags & Int32(VL_AI_CANONNAME) != 0 ? (name ?? hostname) : nil
        let made = withCString(canonical ?? []) { text in
            vl_make_addrinfo(found.networkOrder, UInt16(port), hints?.pointee.ai_socktype ?? 0, hints?.pointee.ai_protocol ?? 0,
                             canonical == nil ? nil : text)
        }
        guard let made else { return WinsockError(VL_WSA_NOT_ENOUGH_MEMORY) }
        result.pointee = made
        return nil
    }

    /// The virtual adapter's interface index: loopback is 1 (as on Windows), the adapter
    /// follows, one index per instance so two instances never show the same.
    var adapterIndex: UInt32 { UInt32(instance) + 2 }

    /// Runs `body` with what the interface family's answers are made of: the adapter's
    /// index and MAC (loopback is index 1).
    func interfaces(_ body: (UInt32, UnsafePointer<UInt8>) -> UInt32) -> UInt32 {
        let mac = self.mac.array
        return mac.withUnsafeBufferPointer { body(adapterIndex, $0.baseAddress!) }
    }

    /// GetAdaptersAddresses for IPv4 (AF_INET, AF_UNSPEC: the virtual PC has no IPv6 on its
    /// LAN): the virtual adapter and loopback. Of the flags only GAA_FLAG_SKIP_UNICAST
    /// changes the answer (the lists of DNS servers, gateways and prefixes are empty anyway).
    func adapterAddresses(family: UInt32, flags: UInt32, _ buffer: UnsafeMutableRawPointer?, _ size: UnsafeMutablePointer<UInt32>?) -> UInt32 {
        guard family == UInt32(VL_AF_UNSPEC) || family == UInt32(VL_AF_INET) else { return VL_ERROR_INVALID_PARAMETER }
        var mac = self.mac.array
        return vl_fill_adapter_addresses(buffer, size, flags, adapterIndex, &mac, address.networkOrder, UInt8(registry.network.prefixLength))
    }

    /// GetIpAddrTable: loopback and the virtual adapter (already in ascending order).
    func ipAddressTable(_ table: UnsafeMutableRawPointer?, _ size: UnsafeMutablePointer<UInt32>?) -> UInt32 {
        vl_fill_ip_addr_table(table, size, adapterIndex, address.networkOrder, registry.network.mask.networkOrder)
    }

    /// GetBestInterface(Ex): loopback for 127/8, the virtual adapter for the virtual LAN and
    /// its broadcasts; beyond it no route (ERROR_HOST_UNREACHABLE, what Wine answers for a
    /// destination it cannot route), as SIO_ROUTING_INTERFACE_QUERY says.
    func bestInterface(to destination: IPv4Address, _ index: UnsafeMutablePointer<UInt32>?) -> UInt32 {
        guard let index else { return VL_ERROR_INVALID_PARAMETER }
        guard let leaving = interface(toward: destination) else { return 1232 }
        index.pointee = leaving == .loopback ? 1 : adapterIndex
        return VL_ERROR_SUCCESS
    }

    /// GetAdaptersInfo: one Ethernet adapter with the instance's address, mask and MAC.
    func adaptersInfo(_ info: UnsafeMutablePointer<VL_IP_ADAPTER_INFO>?, _ size: UnsafeMutablePointer<UInt32>?) -> UInt32 {
        guard let size else { return VL_ERROR_INVALID_PARAMETER }
        let needed = UInt32(MemoryLayout<VL_IP_ADAPTER_INFO>.size)
        guard let info, size.pointee >= needed else {
            size.pointee = needed
            return VL_ERROR_BUFFER_OVERFLOW
        }
        var mac = self.mac.array
        let network = registry.network
        withCString(address.dottedBytes) { address in
            withCString(network.mask.dottedBytes) { mask in
                // A LAN without a router: no gateway.
                withCString(IPv4Address.any.dottedBytes) { gateway in
                    vl_fill_adapter_info(info, adapterIndex, &mac, address, mask, gateway)
                }
            }
        }
        return VL_ERROR_SUCCESS
    }
}

func asciiLowercase(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }
