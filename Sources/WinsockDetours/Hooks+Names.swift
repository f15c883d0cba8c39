import CWineBridge
import VirtualIPCore

// Host names and addresses: this instance's own name answers as its virtual PC's.

@_cdecl("vl_hook_gethostname")
public func hookGethostname(_ name: UnsafeMutablePointer<CChar>?, _ length: Int32) -> Int32 {
    withHost(orFail: socketError) { status($0, $0.gethostname(name, length)) }
}

@_cdecl("vl_hook_gethostbyname")
public func hookGethostbyname(_ name: UnsafePointer<CChar>?) -> UnsafeMutablePointer<VL_HOSTENT>? {
    withHost(orFail: nil) { host in
        switch host.gethostbyname(name) {
        case let .success(entry): return entry
        case let .failure(error): _ = status(host, error); return nil
        }
    }
}

@_cdecl("vl_hook_gethostbyaddr")
public func hookGethostbyaddr(_ address: UnsafePointer<CChar>?, _ length: Int32, _ type: Int32) -> UnsafeMutablePointer<VL_HOSTENT>? {
    withHost(orFail: nil) { host in
        switch host.gethostbyaddr(address, length, type) {
        case let .success(entry): return entry
        case let .failure(error): _ = status(host, error); return nil
        }
    }
}

@_cdecl("vl_hook_getaddrinfo")
public func hookGetaddrinfo(_ node: UnsafePointer<CChar>?, _ service: UnsafePointer<CChar>?, _ hints: UnsafePointer<VL_ADDRINFO>?,
                            _ result: UnsafeMutablePointer<UnsafeMutablePointer<VL_ADDRINFO>?>?) -> Int32 {
    // getaddrinfo returns its error (and sets it as the last error too).
    guard let host = VirtualHost.current else { return WinsockError.systemNotReady.rawValue }
    let p = host.platform
    guard p.usableString(node), p.usableString(service), p.usable(hints), p.usable(result, writable: true) else {
        host.platform.lastError = .fault
        return WinsockError.fault.rawValue
    }
    guard let error = host.getaddrinfo(node, service, hints, result) else { return 0 }
    host.platform.lastError = error
    return error.rawValue
}

@_cdecl("vl_hook_freeaddrinfo")
public func hookFreeaddrinfo(_ info: UnsafeMutablePointer<VL_ADDRINFO>?) {
    // Only lists we made are ours to free (the DLL hands the others to the original).
    if vl_owns_addrinfo(info) != 0 { vl_free_addrinfo(info) }
}
