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
