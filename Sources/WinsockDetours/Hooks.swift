import CWineBridge
import VirtualIPCore

// The Winsock entry points, with the C ABI the hook table (CWineBridge/include/hook_table.h)
// declares for them. Each one only translates between the ABI (return codes, last error)
// and VirtualHost; the semantics live there.

let socketError: Int32 = -1
private let invalidSocket = UInt(bitPattern: -1)

/// This process's instance; when it cannot be set up the call fails with WSASYSNOTREADY
/// (the reason was reported once, on stderr and in the log).
@inline(__always)
func withHost<T>(orFail failure: T, _ body: (VirtualHost) -> T) -> T {
    guard let host = VirtualHost.current else {
        Platform.default.lastError = .systemNotReady
        return failure
    }
    return body(host)
}

/// SOCKET_ERROR with the last error set, or 0 (the last error left as it was).
@inline(__always)
func status(_ host: VirtualHost, _ error: WinsockError?) -> Int32 {
    guard let error else { return 0 }
    host.platform.lastError = error
    return socketError
}

/// As `status`, but a success clears the last error: what ws2_32 does for the calls that
/// use it (bind, getsockname, getpeername, setsockopt, getsockopt, ioctlsocket; measured by
/// the conformance checks error.last-error-after-*; connect and closesocket leave it).
@inline(__always)
func cleared(_ host: VirtualHost, _ error: WinsockError?) -> Int32 {
    if error == nil { host.platform.lastError = WinsockError(rawValue: 0) }
    return status(host, error)
}

/// A byte count, or SOCKET_ERROR with the last error set; a success clears the last error
/// (sendto, recvfrom, WSASendTo: measured as above).
@inline(__always)
func count(_ host: VirtualHost, _ result: Result<Int, WinsockError>) -> Int32 {
    switch result {
    case let .success(n):
        host.platform.lastError = WinsockError(rawValue: 0)
        return Int32(truncatingIfNeeded: n)
    case let .failure(error): return status(host, error)
    }
}

@_cdecl("vl_hook_WSAStartup")
public func hookWSAStartup(_ version: UInt16, _ data: UnsafeMutablePointer<VL_WSADATA>?) -> Int32 {
    // WSAStartup returns its error instead of setting the last error.
    guard let host = VirtualHost.current else { return WinsockError.systemNotReady.rawValue }
    return host.startup(version: version, data: data)?.rawValue ?? 0
}

@_cdecl("vl_hook_WSACleanup")
public func hookWSACleanup() -> Int32 {
    withHost(orFail: socketError) { status($0, $0.cleanup()) }
}

@_cdecl("vl_hook_WSAGetLastError")
public func hookWSAGetLastError() -> Int32 { Platform.default.lastError.rawValue }

@_cdecl("vl_hook_WSASetLastError")
public func hookWSASetLastError(_ error: Int32) { Platform.default.lastError = WinsockError(rawValue: error) }

/// The transport a socket() of these arguments is, when it is virtual: IPv4 UDP or TCP,
/// with the zeros Winsock fills from its catalog (TCP/IP first, then UDP/IP, both taking
/// protocol 0): type 0 takes the protocol's type (and TCP for protocol 0), family 0 with a
/// UDP or TCP protocol is IPv4. nil: not ours (the DLL hands it to the OS).
func virtualTransport(_ af: Int32, _ type: Int32, _ proto: Int32) -> Transport? {
    let udp = Int32(VL_IPPROTO_UDP), tcp = Int32(VL_IPPROTO_TCP)
    let family = af == 0 && (proto == udp || proto == tcp) ? Int32(VL_AF_INET) : af
    guard family == Int32(VL_AF_INET) else { return nil }
    switch type {
    case Int32(VL_SOCK_DGRAM): return proto == 0 || proto == udp ? .udp : nil
    case Int32(VL_SOCK_STREAM): return proto == 0 || proto == tcp ? .tcp : nil
    case 0: return proto == udp ? .udp : proto == tcp || proto == 0 ? .tcp : nil
    default: return nil
    }
}

/// WSASocket with a WSAPROTOCOL_INFO: its family, type and protocol stand in for arguments
/// that are 0 or FROM_PROTOCOL_INFO (-1), and the family is not filled from the protocol
/// (Winsock answers WSAEAFNOSUPPORT then).
func virtualTransport(_ af: Int32, _ type: Int32, _ proto: Int32, info: UnsafeRawPointer?, platform: Platform) -> Transport? {
    guard let info else { return virtualTransport(af, type, proto) }
    guard platform.canRead(info, PendingDuplicate.keyLength) else { return nil }
    // A copy WSADuplicateSocket made of a socket that is not one of ours (Wine marks its
    // copies in dwServiceFlags4, Windows carries them in dwProviderReserved): the OS's.
    if info.loadUnaligned(fromByteOffset: Int(VL_INFO_SERVICE_FLAGS4), as: UInt32.self) == 0xFF00_FF00
        || info.loadUnaligned(fromByteOffset: Int(VL_INFO_PROVIDER_RESERVED), as: UInt32.self) != 0 { return nil }
    func field(_ given: Int32, _ offset: Int32) -> Int32 {
        given == 0 || given == -1 ? info.loadUnaligned(fromByteOffset: Int(offset), as: Int32.self) : given
    }
    let family = field(af, Int32(VL_INFO_FAMILY))
    guard family == Int32(VL_AF_INET) else { return nil }
    return virtualTransport(family, field(type, Int32(VL_INFO_TYPE)), field(proto, Int32(VL_INFO_PROTOCOL)))
}

/// 1 when socket(af, type, protocol), or WSASocket with `info`, makes a virtual socket (or
/// one more handle of one: `info` is WSADuplicateSocket's answer for a virtual socket of
/// this process). The DLL's CREATE lines ask.
@_cdecl("vl_wants_virtual_socket")
public func wantsVirtualSocket(_ af: Int32, _ type: Int32, _ proto: Int32, _ info: UnsafeRawPointer?) -> Int32 {
    if let info, let host = VirtualHost.processHost, host.isDuplicate(info) { return 1 }
    return virtualTransport(af, type, proto, info: info, platform: VirtualHost.processHost?.platform ?? .default) == nil ? 0 : 1
}

private func openSocket(_ af: Int32, _ type: Int32, _ proto: Int32, info: UnsafeRawPointer? = nil, flags: UInt32 = UInt32(VL_WSA_FLAG_OVERLAPPED)) -> UInt {
    withHost(orFail: invalidSocket) { host in
        guard host.startupCount > 0 else { _ = status(host, .notInitialised); return invalidSocket }
        guard let transport = virtualTransport(af, type, proto, info: info, platform: host.platform) else {
            // Not IPv4 UDP or TCP: the DLL hands such sockets to the original ws2_32. The
            // Linux test backend has none to hand them to.
            let known = af == Int32(VL_AF_INET) || af == 0
            _ = status(host, !known ? .addressFamilyNotSupported
                             : type == Int32(VL_SOCK_DGRAM) || type == Int32(VL_SOCK_STREAM) ? .protocolNotSupported : .socketTypeNotSupported)
            return invalidSocket
        }
        switch host.openSocket(transport, overlappedIO: flags & UInt32(VL_WSA_FLAG_OVERLAPPED) != 0,
                               inheritable: flags & UInt32(VL_WSA_FLAG_NO_HANDLE_INHERIT) == 0) {
        case let .success(handle): return handle
        case let .failure(error): _ = status(host, error); return invalidSocket
        }
    }
}

@_cdecl("vl_hook_socket")
public func hookSocket(_ af: Int32, _ type: Int32, _ proto: Int32) -> UInt { openSocket(af, type, proto) }

/// WSASocketA/W: a new virtual socket (without WSA_FLAG_OVERLAPPED, one whose I/O is
/// synchronous), or with WSADuplicateSocket's answer for a virtual socket of this process,
/// one more handle of that socket.
private func openSocket(_ af: Int32, _ type: Int32, _ proto: Int32, info: UnsafeMutableRawPointer?, flags: UInt32, wide: Bool) -> UInt {
    if let info, let host = VirtualHost.current, host.isDuplicate(info) {
        switch host.openDuplicate(info, wide: wide) {
        case let .success(handle): return handle
        case let .failure(error): _ = status(host, error); return invalidSocket
        }
    }
    return openSocket(af, type, proto, info: info.map { UnsafeRawPointer($0) }, flags: flags)
}

@_cdecl("vl_hook_WSASocketA")
public func hookWSASocketA(_ af: Int32, _ type: Int32, _ proto: Int32, _ info: UnsafeMutableRawPointer?, _ group: UInt32, _ flags: UInt32) -> UInt {
    openSocket(af, type, proto, info: info, flags: flags, wide: false)
}

@_cdecl("vl_hook_WSASocketW")
public func hookWSASocketW(_ af: Int32, _ type: Int32, _ proto: Int32, _ info: UnsafeMutableRawPointer?, _ group: UInt32, _ flags: UInt32) -> UInt {
    openSocket(af, type, proto, info: info, flags: flags, wide: true)
}


/// closesocket; a copy DuplicateHandle made is no socket to Winsock (WSAENOTSOCK, as Wine's
/// and Windows' ws2_32 answer): CloseHandle closes it.
@_cdecl("vl_hook_closesocket")
public func hookClosesocket(_ s: UInt) -> Int32 {
    withHost(orFail: socketError) { host in
        guard host.isWinsockHandle(s) else { return status(host, .notSocket) }
        return status(host, closeKeepingLastError(host, s))
    }
}

/// closesocket's (and CloseHandle's) close: the backing socket's own close clears the last
/// error; Winsock's closesocket leaves it as it was on success (conformance check
/// error.last-error-after-closesocket).
func closeKeepingLastError(_ host: VirtualHost, _ s: UInt) -> WinsockError? {
    let before = host.platform.lastError
    let error = host.closeSocket(s)
    if error == nil { host.platform.lastError = before }
    return error
}

@_cdecl("vl_hook_bind")
public func hookBind(_ s: UInt, _ name: UnsafePointer<VL_SOCKADDR_IN>?, _ length: Int32) -> Int32 {
    withHost(orFail: socketError) { cleared($0, $0.bind(s, name, length)) }
}

@_cdecl("vl_hook_shutdown")
public func hookShutdown(_ s: UInt, _ how: Int32) -> Int32 {
    withHost(orFail: socketError) { cleared($0, $0.shutdown(s, how: how)) }
}

@_cdecl("vl_hook_listen")
public func hookListen(_ s: UInt, _ backlog: Int32) -> Int32 {
    withHost(orFail: socketError) { status($0, $0.listen(s, backlog: backlog)) }
}

@_cdecl("vl_hook_accept")
public func hookAccept(_ s: UInt, _ address: UnsafeMutablePointer<VL_SOCKADDR_IN>?, _ length: UnsafeMutablePointer<Int32>?) -> UInt {
    withHost(orFail: invalidSocket) { host in
        switch host.accept(s, address: address, length: length) {
        case let .success(handle): return handle
        case let .failure(error): _ = status(host, error); return invalidSocket
        }
    }
}

@_cdecl("vl_hook_WSAAccept")
public func hookWSAAccept(_ s: UInt, _ address: UnsafeMutablePointer<VL_SOCKADDR_IN>?, _ length: UnsafeMutablePointer<Int32>?,
                          _ condition: UnsafeMutableRawPointer?, _ data: UInt) -> UInt {
    withHost(orFail: invalidSocket) { host in
        switch host.wsaAccept(s, address: address, length: length, condition: condition, data: data) {
        case let .success(handle): return handle
        case let .failure(error): _ = status(host, error); return invalidSocket
        }
    }
}

@_cdecl("vl_hook_connect")
public func hookConnect(_ s: UInt, _ name: UnsafePointer<VL_SOCKADDR_IN>?, _ length: Int32) -> Int32 {
    withHost(orFail: socketError) { status($0, $0.connect(s, name, length)) }
}

/// connect with connect data and QoS: UDP has neither (Windows ignores them on datagram
/// sockets), so it is connect.
@_cdecl("vl_hook_WSAConnect")
public func hookWSAConnect(_ s: UInt, _ name: UnsafePointer<VL_SOCKADDR_IN>?, _ length: Int32, _ callerData: UnsafeMutablePointer<VL_WSABUF>?,
                           _ calleeData: UnsafeMutablePointer<VL_WSABUF>?, _ sqos: UnsafeMutableRawPointer?, _ gqos: UnsafeMutableRawPointer?) -> Int32 {
    let result = hookConnect(s, name, length)
    // No connect data came back; a buffer that cannot take the answer is left alone (Wine
    // ignores it on a datagram socket).
    if result == 0, let calleeData, Platform.default.usable(calleeData, writable: true) { calleeData.pointee.len = 0 }
    return result
}

// MARK: Questions the DLL's C side asks before handing a call to the original ws2_32.

/// 1 when `s` is one of this process's virtual sockets. Never creates the instance.
@_cdecl("vl_is_virtual_socket")
public func isVirtualSocket(_ s: UInt) -> Int32 {
    VirtualHost.processHost?.isVirtual(s) == true ? 1 : 0
}

/// 1 when `s` was a virtual socket that has been closed (recently): its aborted
/// operations are still ours to report.
@_cdecl("vl_was_virtual_socket")
public func wasVirtualSocket(_ s: UInt) -> Int32 {
    VirtualHost.processHost?.wasVirtual(s) == true ? 1 : 0
}

/// The DLL is unloaded: close the sockets and give the registry slot back. When the whole
/// process is ending (`exiting`), its threads are gone and its sockets die with it: only
/// the slot is given back.
@_cdecl("vl_process_detach")
public func processDetach(_ exiting: Int32) {
    guard let host = VirtualHost.processHost else { return }
    if exiting != 0 {
        host.registry.leave(host.claim, member: host.member)
    } else {
        host.shutdown()
    }
}
