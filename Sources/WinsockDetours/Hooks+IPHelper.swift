import CWineBridge
import VirtualIPCore

// iphlpapi's questions about the machine's interfaces, answered for the virtual PC: its
// adapter on the virtual LAN and loopback. They return their Win32 error; when this
// process could not become an instance: ERROR_NOT_SUPPORTED (50).

private let notSupported: UInt32 = 50

@_cdecl("vl_hook_GetAdaptersInfo")
public func hookGetAdaptersInfo(_ info: UnsafeMutablePointer<VL_IP_ADAPTER_INFO>?, _ size: UnsafeMutablePointer<UInt32>?) -> UInt32 {
    // A size that cannot be written is ERROR_INVALID_PARAMETER, as for none (Microsoft's doc).
    guard Platform.default.usable(size, writable: true) else { return VL_ERROR_INVALID_PARAMETER }
    return VirtualHost.current?.adaptersInfo(info, size) ?? notSupported
}

@_cdecl("vl_hook_GetAdaptersAddresses")
public func hookGetAdaptersAddresses(_ family: UInt32, _ flags: UInt32, _ reserved: UnsafeMutableRawPointer?,
                                     _ addresses: UnsafeMutableRawPointer?, _ size: UnsafeMutablePointer<UInt32>?) -> UInt32 {
    VirtualHost.current?.adapterAddresses(family: family, flags: flags, addresses, size) ?? notSupported
}

@_cdecl("vl_hook_GetIpAddrTable")
public func hookGetIpAddrTable(_ table: UnsafeMutableRawPointer?, _ size: UnsafeMutablePointer<UInt32>?, _ order: Int32) -> UInt32 {
    VirtualHost.current?.ipAddressTable(table, size) ?? notSupported
}

@_cdecl("vl_hook_GetBestInterface")
public func hookGetBestInterface(_ destination: UInt32, _ index: UnsafeMutablePointer<UInt32>?) -> UInt32 {
    VirtualHost.current?.bestInterface(to: IPv4Address(networkOrder: destination), index) ?? notSupported
}

/// GetBestInterfaceEx for an IPv4 destination (the DLL hands IPv6 to iphlpapi).
@_cdecl("vl_hook_GetBestInterfaceEx")
public func hookGetBestInterfaceEx(_ to: UnsafePointer<VL_SOCKADDR_IN>?, _ index: UnsafeMutablePointer<UInt32>?) -> UInt32 {
    guard let host = VirtualHost.current else { return notSupported }
    guard host.platform.usable(to), host.platform.usable(index, writable: true),
          case let .success(destination) = SocketAddress.read(to, length: 16) else { return VL_ERROR_INVALID_PARAMETER }
    return host.bestInterface(to: destination.address, index)
}

// The interface family: the same two interfaces, by index, LUID and GUID.

@_cdecl("vl_hook_GetNumberOfInterfaces")
public func hookGetNumberOfInterfaces(_ count: UnsafeMutablePointer<UInt32>?) -> UInt32 {
    withInterfaces(writes: (count.map { UnsafeMutableRawPointer($0) }, 4)) { _ in
        count!.pointee = vl_interface_count()
        return 0
    }
}

@_cdecl("vl_hook_ConvertInterfaceIndexToLuid")
public func hookConvertInterfaceIndexToLuid(_ index: UInt32, _ luid: UnsafeMutableRawPointer?) -> UInt32 {
    withInterfaces(writes: (luid, 8)) { $0.interfaces { vl_interface_index_to_luid(index, $0, $1, luid) } }
}

@_cdecl("vl_hook_ConvertInterfaceLuidToIndex")
public func hookConvertInterfaceLuidToIndex(_ luid: UnsafeRawPointer?, _ index: UnsafeMutablePointer<UInt32>?) -> UInt32 {
    withInterfaces(reads: (luid, 8), writes: (index.map { UnsafeMutableRawPointer($0) }, 4)) {
        $0.interfaces { vl_interface_luid_to_index(luid, $0, $1, index) }
    }
}

@_cdecl("vl_hook_ConvertInterfaceLuidToGuid")
public func hookConvertInterfaceLuidToGuid(_ luid: UnsafeRawPointer?, _ guid: UnsafeMutableRawPointer?) -> UInt32 {
    withInterfaces(reads: (luid, 8), writes: (guid, 16)) { $0.interfaces { vl_interface_luid_to_guid(luid, $0, $1, guid) } }
}

@_cdecl("vl_hook_ConvertInterfaceGuidToLuid")
public func hookConvertInterfaceGuidToLuid(_ guid: UnsafeRawPointer?, _ luid: UnsafeMutableRawPointer?) -> UInt32 {
    withInterfaces(reads: (guid, 16), writes: (luid, 8)) { $0.interfaces { vl_interface_guid_to_luid(guid, $0, $1, luid) } }
}

/// The aliases are GetAdaptersAddresses' FriendlyName; if_indextoname's names are what
/// iphlpapi's own ConvertInterfaceLuidToName makes of the virtual LUIDs.
@_cdecl("vl_hook_ConvertInterfaceLuidToAlias")
public func hookConvertInterfaceLuidToAlias(_ luid: UnsafeRawPointer?, _ alias: UnsafeMutablePointer<UInt16>?, _ length: UInt) -> UInt32 {
    // Only what an alias can take is probed (a longer buffer is not read past its end).
    let characters = Int(min(length, 257))
    return withInterfaces(reads: (luid, 8), writes: (alias.map { UnsafeMutableRawPointer($0) }, characters * 2)) {
        $0.interfaces { vl_interface_luid_to_alias(luid, $0, $1, alias, characters) }
    }
}

@_cdecl("vl_hook_ConvertInterfaceAliasToLuid")
public func hookConvertInterfaceAliasToLuid(_ alias: UnsafePointer<UInt16>?, _ luid: UnsafeMutableRawPointer?) -> UInt32 {
    guard let host = VirtualHost.current else { return notSupported }
    guard let alias, host.platform.usableString(alias) else { return VL_ERROR_INVALID_PARAMETER }
    return withInterfaces(writes: (luid, 8)) { $0.interfaces { vl_interface_alias_to_luid(alias, $0, $1, luid) } }
}

@_cdecl("vl_hook_if_indextoname")
public func hookIfIndexToName(_ index: UInt32, _ name: UnsafeMutablePointer<CChar>?) -> UnsafeMutablePointer<CChar>? {
    guard let host = VirtualHost.current, let name, host.platform.canWrite(name, 32) else { return nil }
    var answer: UnsafeMutablePointer<CChar>?
    _ = host.interfaces { answer = vl_interface_index_to_name(index, $0, $1, name); return 0 }
    return answer
}

@_cdecl("vl_hook_if_nametoindex")
public func hookIfNameToIndex(_ name: UnsafePointer<CChar>?) -> UInt32 {
    guard let host = VirtualHost.current, let name, host.platform.usableString(name) else { return 0 }
    return host.interfaces { vl_interface_name_to_index(name, $0, $1) }
}

@_cdecl("vl_hook_GetIfEntry2")
public func hookGetIfEntry2(_ row: UnsafeMutableRawPointer?) -> UInt32 {
    withInterfaces(reads: (row.map { UnsafeRawPointer($0) }, Int(vl_if_row2_size())), writes: (row, Int(vl_if_row2_size()))) {
        $0.interfaces { vl_fill_if_row2(row, $0, $1) }
    }
}

@_cdecl("vl_hook_GetIfTable2")
public func hookGetIfTable2(_ table: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> UInt32 {
    withInterfaces(writes: (table.map { UnsafeMutableRawPointer($0) }, MemoryLayout<UnsafeRawPointer>.size)) {
        $0.interfaces { vl_fill_if_table2(table, $0, $1) }
    }
}

/// GetUnicastIpAddressTable for AF_INET or AF_UNSPEC (the DLL hands AF_INET6 to iphlpapi):
/// loopback's address and the adapter's.
@_cdecl("vl_hook_GetUnicastIpAddressTable")
public func hookGetUnicastIpAddressTable(_ family: UInt32, _ table: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> UInt32 {
    withInterfaces(writes: (table.map { UnsafeMutableRawPointer($0) }, MemoryLayout<UnsafeRawPointer>.size)) { host in
        host.interfaces { vl_fill_unicast_table(table, $0, $1, host.address.networkOrder, UInt8(host.registry.network.prefixLength)) }
    }
}

/// GetIfTable / GetIpForwardTable / GetNetworkParams: a size that cannot be written is
/// ERROR_INVALID_PARAMETER; a table too small is the size needed.
@_cdecl("vl_hook_GetIfTable")
public func hookGetIfTable(_ table: UnsafeMutableRawPointer?, _ size: UnsafeMutablePointer<UInt32>?, _ order: Int32) -> UInt32 {
    sized(table, size) { host, table, size in host.interfaces { vl_fill_if_table(table, size, $0, $1) } }
}

@_cdecl("vl_hook_GetIfEntry")
public func hookGetIfEntry(_ row: UnsafeMutableRawPointer?) -> UInt32 {
    withInterfaces(reads: (row.map { UnsafeRawPointer($0) }, Int(vl_if_row_size())), writes: (row, Int(vl_if_row_size()))) {
        $0.interfaces { vl_fill_if_row(row, $0, $1) }
    }
}

@_cdecl("vl_hook_GetIpForwardTable")
public func hookGetIpForwardTable(_ table: UnsafeMutableRawPointer?, _ size: UnsafeMutablePointer<UInt32>?, _ order: Int32) -> UInt32 {
    sized(table, size) { host, table, size in
        vl_fill_ip_forward_table(table, size, host.adapterIndex, host.address.networkOrder, UInt8(host.registry.network.prefixLength))
    }
}

/// GetBestRoute: the route GetIpForwardTable lists that a datagram to `destination` takes.
@_cdecl("vl_hook_GetBestRoute")
public func hookGetBestRoute(_ destination: UInt32, _ source: UInt32, _ row: UnsafeMutableRawPointer?) -> UInt32 {
    withInterfaces(writes: (row, Int(vl_forward_row_size()))) { host in
        vl_fill_best_route(row, destination, host.adapterIndex, host.address.networkOrder, UInt8(host.registry.network.prefixLength))
    }
}

/// GetInterfaceInfo and GetAdapterIndex: the adapter by its name, "\DEVICE\TCPIP_" and the
/// AdapterName GetAdaptersAddresses gives.
@_cdecl("vl_hook_GetInterfaceInfo")
public func hookGetInterfaceInfo(_ table: UnsafeMutableRawPointer?, _ size: UnsafeMutablePointer<UInt32>?) -> UInt32 {
    sized(table, size) { host, table, size in host.interfaces { vl_fill_interface_info(table, size, $0, $1) } }
}

@_cdecl("vl_hook_GetAdapterIndex")
public func hookGetAdapterIndex(_ name: UnsafePointer<UInt16>?, _ index: UnsafeMutablePointer<UInt32>?) -> UInt32 {
    guard let host = VirtualHost.current else { return notSupported }
    guard let name, host.platform.usableString(name) else { return VL_ERROR_INVALID_PARAMETER }
    return withInterfaces(writes: (index.map { UnsafeMutableRawPointer($0) }, 4)) { $0.interfaces { vl_adapter_index(name, index, $0, $1) } }
}

/// GetIpForwardTable2 for AF_INET or AF_UNSPEC (the DLL hands AF_INET6 to iphlpapi): the
/// same routes as GetIpForwardTable's.
@_cdecl("vl_hook_GetIpForwardTable2")
public func hookGetIpForwardTable2(_ family: UInt32, _ table: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> UInt32 {
    withInterfaces(writes: (table.map { UnsafeMutableRawPointer($0) }, MemoryLayout<UnsafeRawPointer>.size)) { host in
        vl_fill_ip_forward_table2(table, host.adapterIndex, host.address.networkOrder, UInt8(host.registry.network.prefixLength))
    }
}

@_cdecl("vl_hook_GetNetworkParams")
public func hookGetNetworkParams(_ info: UnsafeMutableRawPointer?, _ size: UnsafeMutablePointer<UInt32>?) -> UInt32 {
    sized(info, size) { host, info, size in
        (host.hostname + [0]).withUnsafeBufferPointer { name in
            name.withMemoryRebound(to: CChar.self) { vl_fill_network_params(info, size, $0.baseAddress) }
        }
    }
}

/// A table into the caller's buffer of *size bytes: the size must be writable, and the
/// buffer, when given, as large as it says.
private func sized(_ buffer: UnsafeMutableRawPointer?, _ size: UnsafeMutablePointer<UInt32>?,
                   _ body: (VirtualHost, UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt32>) -> UInt32) -> UInt32 {
    guard let host = VirtualHost.current else { return notSupported }
    guard let size, host.platform.usable(UnsafePointer(size), writable: true) else { return VL_ERROR_INVALID_PARAMETER }
    if let buffer, !host.platform.canWrite(buffer, Int(size.pointee)) { return VL_ERROR_INVALID_PARAMETER }
    return body(host, buffer, size)
}

/// The calls above: each pointer must be there and usable (else ERROR_INVALID_PARAMETER,
/// as iphlpapi answers a missing one). An interface the PC lacks is also the last error,
/// as Wine's iphlpapi leaves it (the pointer sweep compares it).
private func withInterfaces(reads: (UnsafeRawPointer?, Int)? = nil, writes: (UnsafeMutableRawPointer?, Int),
                            _ body: (VirtualHost) -> UInt32) -> UInt32 {
    guard let host = VirtualHost.current else { return notSupported }
    if let reads, !host.platform.canRead(reads.0, reads.1) { return VL_ERROR_INVALID_PARAMETER }
    guard host.platform.canWrite(writes.0, writes.1) else { return VL_ERROR_INVALID_PARAMETER }
    let code = body(host)
    if code == 2 { host.platform.lastError = WinsockError(2) }  // ERROR_FILE_NOT_FOUND
    return code
}
