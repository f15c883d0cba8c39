import CWineBridge
import VirtualIPCore

/// Where an IPv6 socket binds, as far as IPv4 ports go.
enum DualStackPlace: Equatable {
    /// [::]: every address, IPv4 ones too when the socket is dual-stack.
    case any
    /// ::ffff:a.b.c.d: that IPv4 address.
    case mapped(IPv4Address)
    /// ::1 or another IPv6 address: no IPv4 one.
    case other
}

/// An OS IPv6 socket of this process, as the OS has it now.
struct DualStackSocket {
    var port: UInt16
    var place: DualStackPlace
    var transport: Transport
    var reuse: Bool
    var exclusive: Bool
}

/// IPv6 sockets are the OS's (only IPv4 is virtual). On Windows, though, a dual-stack one
/// (IPV6_V6ONLY off) also takes IPv4 ports, and a copy's are on its own PC: they share the
/// copy's virtual IPv4 ports, both ways, by the rules Windows follows (sock.c's
/// test_reuseaddr and test_ipv6only pin them):
/// - [::] bound first: only one with SO_EXCLUSIVEADDRUSE keeps IPv4 binds off its port
///   (WSAEACCES, whatever IPv4 address); a plain one shares it.
/// - [::] bound after an IPv4 socket: an exclusive one is refused (WSAEADDRINUSE), and an
///   exclusive IPv4 0.0.0.0 refuses it (WSAEACCES); a plain one shares the port.
/// - An IPv4-mapped address counts as that IPv4 address, with the socket's SO_REUSEADDR and
///   SO_EXCLUSIVEADDRUSE, by the IPv4 rule (`bindConflict`); ::1 and the other IPv6
///   addresses take no IPv4 port.
/// The DLL asks before it hands an IPv6 bind to the OS and says when one succeeded
/// (hook_table.h's BIND kind); the handles of dual-stack ones are kept, and their address
/// and options are read from the OS whenever an IPv4 bind is decided, so a handle closed
/// (or reused) since is judged by what it is now. The Linux test backend never asks.
extension VirtualHost {
    /// Before the OS binds `handle` (not virtual) to `name`: Windows' refusal when, as an
    /// IPv6 dual-stack socket, it would take an IPv4 port a socket of this copy holds.
    func refuseDualStackBind(_ handle: UInt, _ name: UnsafeRawPointer?, _ length: Int32) -> WinsockError? {
        // ::1 and the other IPv6 addresses take no IPv4 port.
        guard let (port, place) = VirtualHost.ipv6Binding(name, length: length), port != 0, place != .other,
              let me = dualStackSocket(handle, port: port, place: place)
        else { return nil }
        return lock.locked {
            var holders: [(scope: BindScope, reuse: Bool, exclusive: Bool)] = sockets.values
                .filter { $0.isBound && !$0.closed && $0.virtualPort == port && $0.transport == me.transport }
                .map { ($0.scope, $0.reuseAddress, $0.exclusiveAddress) }
            holders += registry.socketsOfOtherMembers(slot: instance, virtualPort: port, transport: me.transport, member: member)
                .map { ($0.scope, $0.reuse, $0.exclusive) }
            for holder in holders {
                switch place {
                case .any:
                    if holder.exclusive && holder.scope == .any { return .accessDenied }
                    if me.exclusive { return .addressInUse }
                case let .mapped(address):
                    guard let scope = ownScope(of: address) else { continue }
                    if let error = bindConflict(reuse: me.reuse, exclusive: me.exclusive, scope: scope, otherScope: holder.scope,
                                                otherReuse: holder.reuse, otherExclusive: holder.exclusive) { return error }
                case .other:
                    break
                }
            }
            return nil
        }
    }

    /// The OS bound `handle` (not virtual): kept when it is a dual-stack IPv6 socket.
    func dualStackBound(_ handle: UInt) {
        guard platform.intOption(handle, level: Int32(VL_IPPROTO_IPV6), name: Int32(VL_IPV6_V6ONLY)) == 0 else { return }
        lock.locked { if !dualStackHandles.contains(handle) { dualStackHandles.append(handle) } }
    }

    /// An IPv4 bind of `socket` to `port`: the conflict with this process's dual-stack IPv6
    /// sockets on that port, if any; those the OS no longer has are forgotten. Lock held.
    func dualStackConflictLocked(_ socket: VirtualSocket, port: UInt16, scope: BindScope) -> WinsockError? {
        guard !dualStackHandles.isEmpty else { return nil }
        var conflict: WinsockError?
        dualStackHandles = dualStackHandles.filter { handle in
            guard let other = dualStackSocket(handle) else { return false }
            guard conflict == nil, other.port == port, other.transport == socket.transport else { return true }
            switch other.place {
            case .any:
                if other.exclusive { conflict = .accessDenied }
            case let .mapped(address):
                if let otherScope = ownScope(of: address) {
                    conflict = bindConflict(socket, scope: scope, otherScope: otherScope, otherReuse: other.reuse, otherExclusive: other.exclusive)
                }
            case .other:
                break
            }
            return true
        }
        return conflict
    }

    /// An OS socket as the OS has it now: a bound dual-stack IPv6 one (`port` and `place`
    /// when the caller knows them, before the bind), else nil.
    private func dualStackSocket(_ handle: UInt, port knownPort: UInt16? = nil, place knownPlace: DualStackPlace? = nil) -> DualStackSocket? {
        guard platform.intOption(handle, level: Int32(VL_IPPROTO_IPV6), name: Int32(VL_IPV6_V6ONLY)) == 0,
              let type = platform.intOption(handle, level: Int32(VL_SOL_SOCKET), name: Int32(VL_SO_TYPE))
        else { return nil }
        var port = knownPort, place = knownPlace
        if port == nil {
            var name = [UInt8](repeating: 0, count: 28)
            var length = Int32(name.count)
            guard name.withUnsafeMutableBytes({ platform.localName(handle, $0.baseAddress!, length: &length) }) == nil,
                  let bound = name.withUnsafeBytes({ VirtualHost.ipv6Binding($0.baseAddress, length: length) }), bound.port != 0
            else { return nil }
            (port, place) = (bound.port, bound.place)
        }
        func flag(_ name: Int32) -> Bool { (platform.intOption(handle, level: Int32(VL_SOL_SOCKET), name: name) ?? 0) != 0 }
        return DualStackSocket(port: port!, place: place!, transport: type == Int32(VL_SOCK_STREAM) ? .tcp : .udp,
                               reuse: flag(Int32(VL_SO_REUSEADDR)), exclusive: flag(Int32(VL_SO_EXCLUSIVEADDRUSE)))
    }

    /// The port and place of a Winsock sockaddr_in6 (family 23, port, flow info, 16-byte
    /// address, scope); nil for anything else.
    static func ipv6Binding(_ pointer: UnsafeRawPointer?, length: Int32) -> (port: UInt16, place: DualStackPlace)? {
        guard let pointer, length >= 24, pointer.loadUnaligned(as: UInt16.self) == UInt16(VL_AF_INET6) else { return nil }
        let port = UInt16(bigEndian: pointer.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        if (0..<16).allSatisfy({ pointer.load(fromByteOffset: 8 + $0, as: UInt8.self) == 0 }) { return (port, .any) }
        if let mapped = SocketAddress.ipv4Destination(pointer, length: length) { return (port, .mapped(mapped.address)) }
        return (port, .other)
    }
}

@_cdecl("vl_dual_stack_bind_refused")
public func dualStackBindRefused(_ s: UInt, _ name: UnsafeRawPointer?, _ length: Int32) -> Int32 {
    guard let host = VirtualHost.current, host.platform.canRead(name, Int(max(0, min(length, 28)))) else { return 0 }
    return host.refuseDualStackBind(s, name, length)?.rawValue ?? 0
}

@_cdecl("vl_dual_stack_bound")
public func dualStackBound(_ s: UInt) {
    VirtualHost.current?.dualStackBound(s)
}
