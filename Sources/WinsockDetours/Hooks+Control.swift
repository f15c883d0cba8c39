import CWineBridge
import VirtualIPCore

// Control: ioctls, names and options of sockets, the extension functions, duplication.

@_cdecl("vl_hook_ioctlsocket")
public func hookIoctlsocket(_ s: UInt, _ command: Int32, _ argument: UnsafeMutablePointer<UInt32>?) -> Int32 {
    // As Windows' own: WSAIoctl with the argument as both buffers.
    withHost(orFail: socketError) { host in
        var returned: UInt32 = 0
        return cleared(host, host.wsaIoctl(s, code: UInt32(bitPattern: command), input: UnsafeMutableRawPointer(argument), inputLength: 4,
                                           output: UnsafeMutableRawPointer(argument), outputLength: 4, returned: &returned,
                                           overlapped: nil, routine: nil))
    }
}

@_cdecl("vl_hook_WSAIoctl")
public func hookWSAIoctl(_ s: UInt, _ code: UInt32, _ input: UnsafeMutableRawPointer?, _ inputLength: UInt32,
                         _ output: UnsafeMutableRawPointer?, _ outputLength: UInt32, _ returned: UnsafeMutablePointer<UInt32>?,
                         _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ routine: UnsafeMutableRawPointer?) -> Int32 {
    withHost(orFail: socketError) {
        cleared($0, $0.wsaIoctl(s, code: code, input: input, inputLength: inputLength, output: output,
                               outputLength: outputLength, returned: returned, overlapped: overlapped, routine: routine))
    }
}

@_cdecl("vl_hook_getsockname")
public func hookGetsockname(_ s: UInt, _ name: UnsafeMutablePointer<VL_SOCKADDR_IN>?, _ length: UnsafeMutablePointer<Int32>?) -> Int32 {
    withHost(orFail: socketError) { cleared($0, $0.getsockname(s, name, length)) }
}

@_cdecl("vl_hook_getpeername")
public func hookGetpeername(_ s: UInt, _ name: UnsafeMutablePointer<VL_SOCKADDR_IN>?, _ length: UnsafeMutablePointer<Int32>?) -> Int32 {
    withHost(orFail: socketError) { cleared($0, $0.getpeername(s, name, length)) }
}

@_cdecl("vl_hook_setsockopt")
public func hookSetsockopt(_ s: UInt, _ level: Int32, _ name: Int32, _ value: UnsafePointer<CChar>?, _ length: Int32) -> Int32 {
    withHost(orFail: socketError) { host in
        let (error, handedOn) = host.setsockopt(s, level: level, name: name, value: UnsafeRawPointer(value), length: length)
        // An option the OS answered keeps the last error the OS left (Wine leaves it for some).
        return handedOn ? status(host, error) : cleared(host, error)
    }
}

@_cdecl("vl_hook_getsockopt")
public func hookGetsockopt(_ s: UInt, _ level: Int32, _ name: Int32, _ value: UnsafeMutablePointer<CChar>?, _ length: UnsafeMutablePointer<Int32>?) -> Int32 {
    withHost(orFail: socketError) { host in
        let (error, handedOn) = host.getsockopt(s, level: level, name: name, value: UnsafeMutableRawPointer(value), length: length)
        return handedOn ? status(host, error) : cleared(host, error)
    }
}

/// ConnectEx (WSAIoctl's pointer on a virtual TCP socket): a BOOL, the last error on FALSE.
@_cdecl("vl_hook_ConnectEx")
public func hookConnectEx(_ s: UInt, _ name: UnsafePointer<VL_SOCKADDR_IN>?, _ length: Int32, _ data: UnsafeRawPointer?,
                          _ dataLength: UInt32, _ sent: UnsafeMutablePointer<UInt32>?, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?) -> Int32 {
    withHost(orFail: 0) { host in
        status(host, host.connectEx(s, to: name, length: length, data: data, dataLength: dataLength, sent: sent, overlapped: overlapped)) == 0 ? 1 : 0
    }
}

/// Asked before ConnectEx on a virtual socket: 1 when the socket was handed to the OS to
/// connect outside the LAN (the DLL then binds it, as the system's ConnectEx requires, and
/// calls that).
@_cdecl("vl_connect_ex_leaves_lan")
public func connectExLeavesLAN(_ s: UInt, _ name: UnsafePointer<VL_SOCKADDR_IN>?, _ length: Int32) -> Int32 {
    // As much of the name as connectEx reads (an IPv6 one's 28 bytes at most).
    guard let host = VirtualHost.current, length > 0, host.platform.canRead(name, Int(min(length, 28))) else { return 0 }
    return host.connectExLeavesLAN(s, to: name, length: length) ? 1 : 0
}

/// AcceptEx (WSAIoctl's pointer on a virtual TCP socket): a BOOL, the last error on FALSE.
@_cdecl("vl_hook_AcceptEx")
public func hookAcceptEx(_ listener: UInt, _ acceptor: UInt, _ output: UnsafeMutableRawPointer?, _ receiveLength: UInt32,
                         _ localLength: UInt32, _ remoteLength: UInt32, _ received: UnsafeMutablePointer<UInt32>?,
                         _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?) -> Int32 {
    withHost(orFail: 0) { host in
        status(host, host.acceptEx(listener, into: acceptor, output: output, receiveLength: receiveLength, localLength: localLength,
                                   remoteLength: remoteLength, received: received, overlapped: overlapped)) == 0 ? 1 : 0
    }
}

/// GetAcceptExSockaddrs (WSAIoctl's pointer on a virtual TCP socket): reads the buffer only.
@_cdecl("vl_hook_GetAcceptExSockaddrs")
public func hookGetAcceptExSockaddrs(_ buffer: UnsafeMutableRawPointer?, _ receiveLength: UInt32, _ localLength: UInt32, _ remoteLength: UInt32,
                                     _ local: UnsafeMutablePointer<UnsafeMutablePointer<VL_SOCKADDR_IN>?>?, _ localSize: UnsafeMutablePointer<Int32>?,
                                     _ remote: UnsafeMutablePointer<UnsafeMutablePointer<VL_SOCKADDR_IN>?>?, _ remoteSize: UnsafeMutablePointer<Int32>?) {
    acceptExNames(buffer, receiveLength: receiveLength, localLength: localLength, local: local, localSize: localSize,
                  remote: remote, remoteSize: remoteSize)
}

/// WSADuplicateSocketA/W of a virtual socket: for this process, a copy WSASocket turns into
/// one more handle of the same socket; for another process refused (WSAEINVAL, a warning):
/// its layer would not know the socket.
@_cdecl("vl_hook_WSADuplicateSocketA")
public func hookWSADuplicateSocketA(_ s: UInt, _ process: UInt32, _ info: UnsafeMutableRawPointer?) -> Int32 {
    withHost(orFail: socketError) { status($0, $0.duplicateSocket(s, process: process, info: info, wide: false)) }
}

@_cdecl("vl_hook_WSADuplicateSocketW")
public func hookWSADuplicateSocketW(_ s: UInt, _ process: UInt32, _ info: UnsafeMutableRawPointer?) -> Int32 {
    withHost(orFail: socketError) { status($0, $0.duplicateSocket(s, process: process, info: info, wide: true)) }
}
