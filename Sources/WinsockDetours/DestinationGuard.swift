import CWineBridge
import VirtualIPCore

/// The guard on sockets we do not virtualise (TCP, IPv6, raw): a connect or send from one of
/// them to the virtual LAN would leave the machine, so it is refused with WSAENETUNREACH
/// and one warning line, whatever module called. Until TCP is virtual this is the answer a
/// TCP connect to another instance gets.
extension SocketAddress {
    /// The IPv4 destination of a caller's sockaddr: AF_INET, or an IPv4-mapped AF_INET6
    /// (::ffff:a.b.c.d, which a dual-stack socket sends as IPv4). nil for anything else.
    static func ipv4Destination(_ pointer: UnsafeRawPointer?, length: Int32) -> SocketAddress? {
        guard let pointer, length >= 2 else { return nil }
        let family = pointer.loadUnaligned(as: UInt16.self)
        let port = UInt16(bigEndian: pointer.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        if family == UInt16(VL_AF_INET), length >= 8 {
            return SocketAddress(address: IPv4Address(networkOrder: pointer.loadUnaligned(fromByteOffset: 4, as: UInt32.self)), port: port)
        }
        guard family == UInt16(VL_AF_INET6), length >= 24 else { return nil }
        for offset in 8..<18 where pointer.load(fromByteOffset: offset, as: UInt8.self) != 0 { return nil }
        guard pointer.load(fromByteOffset: 18, as: UInt8.self) == 0xFF, pointer.load(fromByteOffset: 19, as: UInt8.self) == 0xFF
        else { return nil }
        return SocketAddress(address: IPv4Address(networkOrder: pointer.loadUnaligned(fromByteOffset: 20, as: UInt32.self)), port: port)
    }
}

extension VirtualHost {
    /// WSAENETUNREACH (and a warning naming `function`) when `destination` is on the virtual
    /// LAN; nil when the real network may have it.
    func refuseRealSend(_ function: UnsafePointer<CChar>, socket: UInt, to destination: SocketAddress?) -> WinsockError? {
        guard let destination, config.network.isVirtualLANDestination(destination.address) else { return nil }
        log(.warning, "\(String(cString: function)) on socket \(socket) (not a virtual socket) to \(destination.address.dotted):\(destination.port) refused with WSAENETUNREACH: it would leave this machine; only IPv4 UDP and TCP sockets are virtual (an IPv6 or raw socket is the OS's)")
        return .networkUnreachable
    }
}

/// Asked by the DLL before it hands a connect or send of a non-virtual socket to the
/// original ws2_32: 1 = refused (the last error is set), 0 = may go.
@_cdecl("vl_refuse_real_send")
public func refuseRealSend(_ function: UnsafePointer<CChar>, _ socket: UInt, _ to: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let destination = SocketAddress.ipv4Destination(to, length: length) else { return 0 }
    guard let host = VirtualHost.current else {
        // No instance: nothing is virtual here, and the LAN's addresses still must not leave.
        guard VirtualNetwork.defaultNetwork.isVirtualLANDestination(destination.address) else { return 0 }
        Platform.default.lastError = .networkUnreachable
        return 1
    }
    guard let error = host.refuseRealSend(function, socket: socket, to: destination) else { return 0 }
    host.platform.lastError = error
    return 1
}
