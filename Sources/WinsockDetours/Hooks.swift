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

private func openSocket(_ af: Int32, _ type: Int32, _ proto: Int32) -> UInt {
    withHost(orFail: invalidSocket) { host in
        guard host.startupCount > 0 else { _ = status(host, .notInitialised); return invalidSocket }
        guard af == Int32(VL_AF_INET) else { _ = status(host, .addressFamilyNotSupported); return invalidSocket }
        let transport: Transport
        switch type {
        case Int32(VL_SOCK_DGRAM): transport = .udp
        case Int32(VL_SOCK_STREAM): transport = .tcp
        default:
            // Raw and other types are not virtualised: the DLL hands them to the original
            // ws2_32. The Linux test backend has no original Winsock to hand them to.
            _ = status(host, .socketTypeNotSupported)
            return invalidSocket
        }
        guard proto == 0 || proto == Int32(transport.rawValue) else { _ = status(host, .protocolNotSupported); return invalidSocket }
        switch host.openSocket(transport) {
        case let .success(handle): return handle
        case let .failure(error): _ = status(host, error); return invalidSocket
        }
    }
}

@_cdecl("vl_hook_socket")
public func hookSocket(_ af: Int32, _ type: Int32, _ proto: Int32) -> UInt { openSocket(af, type, proto) }

@_cdecl("vl_hook_WSASocketA")
public func hookWSASocketA(_ af: Int32, _ type: Int32, _ proto: Int32, _ info: UnsafeMutableRawPointer?, _ group: UInt32, _ flags: UInt32) -> UInt {
    openSocket(af, type, proto)
}

@_cdecl("vl_hook_WSASocketW")
public func hookWSASocketW(_ af: Int32, _ type: Int32, _ proto: Int32, _ info: UnsafeMutableRawPointer?, _ group: UInt32, _ flags: UInt32) -> UInt {
    openSocket(af, type, proto)
}

@_cdecl("vl_hook_closesocket")
public func hookClosesocket(_ s: UInt) -> Int32 {
    withHost(orFail: socketError) { status($0, closeKeepingLastError($0, s)) }
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
    if result == 0, let calleeData { calleeData.pointee.len = 0 }  // no connect data came back
    return result
}

/// One WSABUF over a plain buffer, for the single-buffer calls.
@inline(__always)
private func withSingleBuffer<T>(_ buffer: UnsafeRawPointer?, _ length: Int32, _ body: (Result<UnsafePointer<VL_WSABUF>, WinsockError>) -> T) -> T {
    guard length >= 0 else { return body(.failure(.invalidArgument)) }
    guard buffer != nil || length == 0 else { return body(.failure(.fault)) }
    var wsabuf = VL_WSABUF(len: UInt32(length), buf: UnsafeMutablePointer(mutating: buffer?.assumingMemoryBound(to: CChar.self)))
    return withUnsafePointer(to: &wsabuf) { body(.success($0)) }
}

/// The flags a datagram send refuses; a stream's are the OS's to judge.
private func sendFlagsError(_ host: VirtualHost, _ s: UInt, _ flags: Int32) -> WinsockError? {
    // MSG_DONTROUTE (4) is meaningless here and ignored, as Windows may; MSG_OOB is TCP's.
    flags & ~Int32(4) == 0 || host.isStream(s) ? nil : .operationNotSupported
}

@_cdecl("vl_hook_sendto")
public func hookSendto(_ s: UInt, _ buffer: UnsafePointer<CChar>?, _ length: Int32, _ flags: Int32,
                       _ to: UnsafePointer<VL_SOCKADDR_IN>?, _ toLength: Int32) -> Int32 {
    withHost(orFail: socketError) { host in
        if let error = sendFlagsError(host, s, flags) { return status(host, error) }
        var destination: SocketAddress?
        if to != nil {
            switch SocketAddress.read(to, length: toLength) {
            case let .failure(error): return status(host, error)
            case let .success(address): destination = address
            }
        }
        return withSingleBuffer(buffer, length) { wsabuf in
            switch wsabuf {
            case let .failure(error): return status(host, error)
            case let .success(b): return count(host, host.send(s, buffers: b, count: 1, to: destination, flags: flags))
            }
        }
    }
}

@_cdecl("vl_hook_send")
public func hookSend(_ s: UInt, _ buffer: UnsafePointer<CChar>?, _ length: Int32, _ flags: Int32) -> Int32 {
    withHost(orFail: socketError) { host in
        if let error = sendFlagsError(host, s, flags) { return status(host, error) }
        return withSingleBuffer(buffer, length) { wsabuf in
            switch wsabuf {
            case let .failure(error): return status(host, error)
            case let .success(b):
                // send() has no address to fall back on: unconnected is WSAENOTCONN here,
                // where sendto without one says WSAEDESTADDRREQ.
                let sent = host.send(s, buffers: b, count: 1, to: nil, flags: flags)
                if case .failure(.destinationRequired) = sent { return status(host, .notConnected) }
                return count(host, sent)
            }
        }
    }
}

@_cdecl("vl_hook_recvfrom")
public func hookRecvfrom(_ s: UInt, _ buffer: UnsafeMutablePointer<CChar>?, _ length: Int32, _ flags: Int32,
                         _ from: UnsafeMutablePointer<VL_SOCKADDR_IN>?, _ fromLength: UnsafeMutablePointer<Int32>?) -> Int32 {
    withHost(orFail: socketError) { host in
        withSingleBuffer(buffer, length) { wsabuf in
            switch wsabuf {
            case let .failure(error): return status(host, error)
            case let .success(b): return count(host, host.receive(s, buffers: b, count: 1, flags: flags, from: from, fromLength: fromLength))
            }
        }
    }
}

@_cdecl("vl_hook_recv")
public func hookRecv(_ s: UInt, _ buffer: UnsafeMutablePointer<CChar>?, _ length: Int32, _ flags: Int32) -> Int32 {
    hookRecvfrom(s, buffer, length, flags, nil, nil)
}

@_cdecl("vl_hook_WSASendTo")
public func hookWSASendTo(_ s: UInt, _ buffers: UnsafeMutablePointer<VL_WSABUF>?, _ count: UInt32, _ sent: UnsafeMutablePointer<UInt32>?,
                          _ flags: UInt32, _ to: UnsafePointer<VL_SOCKADDR_IN>?, _ toLength: Int32,
                          _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ routine: UnsafeMutableRawPointer?) -> Int32 {
    withHost(orFail: socketError) { host in
        if let error = sendFlagsError(host, s, Int32(bitPattern: flags)) { return status(host, error) }
        var destination: SocketAddress?
        if to != nil {
            switch SocketAddress.read(to, length: toLength) {
            case let .failure(error): return status(host, error)
            case let .success(address): destination = address
            }
        }
        return status(host, host.sendOverlapped(s, buffers: buffers, count: count, sent: sent, to: destination,
                                                flags: Int32(bitPattern: flags), overlapped: overlapped, routine: routine))
    }
}

@_cdecl("vl_hook_WSARecvFrom")
public func hookWSARecvFrom(_ s: UInt, _ buffers: UnsafeMutablePointer<VL_WSABUF>?, _ count: UInt32,
                            _ received: UnsafeMutablePointer<UInt32>?, _ flags: UnsafeMutablePointer<UInt32>?,
                            _ from: UnsafeMutablePointer<VL_SOCKADDR_IN>?, _ fromLength: UnsafeMutablePointer<Int32>?,
                            _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ routine: UnsafeMutableRawPointer?) -> Int32 {
    withHost(orFail: socketError) { host in
        if let overlapped {
            return status(host, host.receiveOverlapped(s, buffers: buffers, count: count, received: received, flags: flags,
                                                       from: from, fromLength: fromLength, overlapped: overlapped, routine: routine))
        }
        guard let flags, let received else { return status(host, .fault) }
        switch host.receive(s, buffers: buffers, count: count, flags: Int32(bitPattern: flags.pointee), from: from, fromLength: fromLength) {
        case let .success(n):
            received.pointee = UInt32(n)
            flags.pointee = 0
            return 0
        case let .failure(error):
            return status(host, error)
        }
    }
}

/// WSAEventSelect: the OS signals the game's event for the backing socket (see VirtualHost.eventSelect).
@_cdecl("vl_hook_WSAEventSelect")
public func hookWSAEventSelect(_ s: UInt, _ event: UnsafeMutableRawPointer?, _ events: Int32) -> Int32 {
    withHost(orFail: socketError) { status($0, $0.eventSelect(s, event: event, events: events)) }
}

/// ConnectEx (WSAIoctl's pointer on a virtual TCP socket): a BOOL, the last error on FALSE.
@_cdecl("vl_hook_ConnectEx")
public func hookConnectEx(_ s: UInt, _ name: UnsafePointer<VL_SOCKADDR_IN>?, _ length: Int32, _ data: UnsafeRawPointer?,
                          _ dataLength: UInt32, _ sent: UnsafeMutablePointer<UInt32>?, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?) -> Int32 {
    withHost(orFail: 0) { host in
        status(host, host.connectEx(s, to: name, length: length, data: data, dataLength: dataLength, sent: sent, overlapped: overlapped)) == 0 ? 1 : 0
    }
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

@_cdecl("vl_hook_WSARecvMsg")
public func hookWSARecvMsg(_ s: UInt, _ message: UnsafeMutablePointer<VL_WSAMSG>?, _ received: UnsafeMutablePointer<UInt32>?,
                           _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ routine: UnsafeMutableRawPointer?) -> Int32 {
    withHost(orFail: socketError) { status($0, $0.receiveMessage(s, message, received: received, overlapped: overlapped, routine: routine)) }
}

/// WSASendMsg (an export, and WSAIoctl's pointer): WSASendTo with the message's name and
/// buffers. Its control data would choose the source (IP_PKTINFO): a virtual socket has one
/// address to send from, so it is not read.
@_cdecl("vl_hook_WSASendMsg")
public func hookWSASendMsg(_ s: UInt, _ message: UnsafeMutablePointer<VL_WSAMSG>?, _ flags: UInt32, _ sent: UnsafeMutablePointer<UInt32>?,
                           _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ routine: UnsafeMutableRawPointer?) -> Int32 {
    withHost(orFail: socketError) { host in
        guard let message else { return status(host, .fault) }
        return hookWSASendTo(s, message.pointee.lpBuffers, message.pointee.dwBufferCount, sent, flags, message.pointee.name,
                             message.pointee.namelen, overlapped, routine)
    }
}

/// WSADuplicateSocketA/W on a virtual socket: refused with WSAEINVAL and a warning. Another
/// process would get the backing socket, not the virtual one (it has its own identity).
@_cdecl("vl_hook_WSADuplicateSocketA")
public func hookWSADuplicateSocketA(_ s: UInt, _ process: UInt32, _ info: UnsafeMutableRawPointer?) -> Int32 {
    withHost(orFail: socketError) { host in
        host.log(.warning, "WSADuplicateSocket of virtual socket \(s) refused (WSAEINVAL): another process would get the real socket under it")
        return status(host, .invalidArgument)
    }
}

@_cdecl("vl_hook_WSADuplicateSocketW")
public func hookWSADuplicateSocketW(_ s: UInt, _ process: UInt32, _ info: UnsafeMutableRawPointer?) -> Int32 {
    hookWSADuplicateSocketA(s, process, info)
}

@_cdecl("vl_hook_WSAAsyncSelect")
public func hookWSAAsyncSelect(_ s: UInt, _ window: UnsafeMutableRawPointer?, _ message: UInt32, _ events: Int32) -> Int32 {
    withHost(orFail: socketError) { status($0, $0.asyncSelect(s, window: window, message: message, events: events)) }
}

/// WSASend: WSASendTo to the connected peer (unconnected: WSAENOTCONN, as send).
@_cdecl("vl_hook_WSASend")
public func hookWSASend(_ s: UInt, _ buffers: UnsafeMutablePointer<VL_WSABUF>?, _ count: UInt32, _ sent: UnsafeMutablePointer<UInt32>?,
                        _ flags: UInt32, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ routine: UnsafeMutableRawPointer?) -> Int32 {
    withHost(orFail: socketError) { host in
        if let error = sendFlagsError(host, s, Int32(bitPattern: flags)) { return status(host, error) }
        let error = host.sendOverlapped(s, buffers: buffers, count: count, sent: sent, to: nil, flags: Int32(bitPattern: flags),
                                        overlapped: overlapped, routine: routine)
        return status(host, error == .destinationRequired ? .notConnected : error)
    }
}

/// WSARecvEx (mswsock): recv that hands back the first part of a datagram too long for the
/// buffer with MSG_PARTIAL in *flags (the rest is gone, as for any datagram), not WSAEMSGSIZE.
@_cdecl("vl_hook_WSARecvEx")
public func hookWSARecvEx(_ s: UInt, _ buffer: UnsafeMutablePointer<CChar>?, _ length: Int32, _ flags: UnsafeMutablePointer<Int32>?) -> Int32 {
    withHost(orFail: socketError) { host in
        guard let flags, length >= 0 else { return status(host, .fault) }
        var one = VL_WSABUF(len: UInt32(length), buf: buffer)
        // MSG_PARTIAL is an answer; a caller that passes its last answer back in is not refused.
        let asked = flags.pointee & ~Int32(VL_MSG_PARTIAL)
        let result = host.receiveArrival(s, buffers: &one, count: 1, flags: asked, from: nil, fromLength: nil)
        if case let .success(arrival) = result { flags.pointee = arrival.truncated ? Int32(VL_MSG_PARTIAL) : 0 }
        return count(host, result.map { $0.copied })
    }
}

/// WSARecv: WSARecvFrom without the sender's address.
@_cdecl("vl_hook_WSARecv")
public func hookWSARecv(_ s: UInt, _ buffers: UnsafeMutablePointer<VL_WSABUF>?, _ count: UInt32, _ received: UnsafeMutablePointer<UInt32>?,
                        _ flags: UnsafeMutablePointer<UInt32>?, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?,
                        _ routine: UnsafeMutableRawPointer?) -> Int32 {
    hookWSARecvFrom(s, buffers, count, received, flags, nil, nil, overlapped, routine)
}

@_cdecl("vl_hook_WSAGetOverlappedResult")
public func hookWSAGetOverlappedResult(_ s: UInt, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ transferred: UnsafeMutablePointer<UInt32>?,
                                       _ wait: Int32, _ flags: UnsafeMutablePointer<UInt32>?) -> Int32 {
    withHost(orFail: 0) { host in
        // Winsock's asks the socket first (WSAENOTSOCK once it is closed, as Wine and
        // Windows' ws2_32 answer); kernel32's reads the OVERLAPPED of a closed one too.
        guard host.isVirtual(s) else {
            _ = status(host, .notSocket)
            return 0
        }
        return status(host, host.overlappedResult(s, overlapped, transferred: transferred, waitMs: wait != 0 ? VL_WSA_INFINITE : 0,
                                                  flags: flags)) == 0 ? 1 : 0
    }
}

@_cdecl("vl_hook_WSACreateEvent")
public func hookWSACreateEvent() -> UnsafeMutableRawPointer? {
    let platform = Platform.default
    guard let event = platform.createEvent() else {
        platform.lastError = WinsockError(VL_WSA_NOT_ENOUGH_MEMORY)
        return nil
    }
    return event
}

/// BOOL result of an event call: FALSE + WSA_INVALID_HANDLE for a handle that is no event.
private func eventResult(_ ok: Int32) -> Int32 {
    if ok == 0 { Platform.default.lastError = .invalidHandle }
    return ok
}

@_cdecl("vl_hook_WSACloseEvent")
public func hookWSACloseEvent(_ event: UnsafeMutableRawPointer?) -> Int32 { eventResult(Platform.default.closeEvent(event)) }

@_cdecl("vl_hook_WSASetEvent")
public func hookWSASetEvent(_ event: UnsafeMutableRawPointer?) -> Int32 { eventResult(Platform.default.setEvent(event)) }

@_cdecl("vl_hook_WSAResetEvent")
public func hookWSAResetEvent(_ event: UnsafeMutableRawPointer?) -> Int32 { eventResult(Platform.default.resetEvent(event)) }

@_cdecl("vl_hook_WSAWaitForMultipleEvents")
public func hookWSAWaitForMultipleEvents(_ count: UInt32, _ events: UnsafePointer<UnsafeMutableRawPointer?>?, _ waitAll: Int32,
                                         _ timeout: UInt32, _ alertable: Int32) -> UInt32 {
    Platform.default.waitEvents(events, count: count, waitAll: waitAll != 0, timeoutMs: timeout, alertable: alertable != 0)
}

@_cdecl("vl_hook_select")
public func hookSelect(_ nfds: Int32, _ read: UnsafeMutablePointer<VL_FD_SET>?, _ write: UnsafeMutablePointer<VL_FD_SET>?,
                       _ except: UnsafeMutablePointer<VL_FD_SET>?, _ timeout: UnsafePointer<VL_TIMEVAL>?) -> Int32 {
    withHost(orFail: socketError) { count($0, $0.select(read: read, write: write, except: except, timeout: timeout)) }
}

@_cdecl("vl_hook_WSAPoll")
public func hookWSAPoll(_ fds: UnsafeMutablePointer<VL_WSAPOLLFD>?, _ entries: UInt32, _ timeout: Int32) -> Int32 {
    withHost(orFail: socketError) { count($0, $0.poll(fds, count: entries, timeoutMs: timeout)) }
}

@_cdecl("vl_hook_ioctlsocket")
public func hookIoctlsocket(_ s: UInt, _ command: Int32, _ argument: UnsafeMutablePointer<UInt32>?) -> Int32 {
    withHost(orFail: socketError) { cleared($0, $0.ioctlsocket(s, command: command, argument: argument)) }
}

@_cdecl("vl_hook_WSAIoctl")
public func hookWSAIoctl(_ s: UInt, _ code: UInt32, _ input: UnsafeMutableRawPointer?, _ inputLength: UInt32,
                         _ output: UnsafeMutableRawPointer?, _ outputLength: UInt32, _ returned: UnsafeMutablePointer<UInt32>?,
                         _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ routine: UnsafeMutableRawPointer?) -> Int32 {
    withHost(orFail: socketError) {
        status($0, $0.wsaIoctl(s, code: code, input: UnsafeRawPointer(input), inputLength: inputLength, output: output,
                               outputLength: outputLength, returned: returned, overlapped: overlapped != nil || routine != nil))
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
    withHost(orFail: socketError) { cleared($0, $0.setsockopt(s, level: level, name: name, value: UnsafeRawPointer(value), length: length)) }
}

@_cdecl("vl_hook_getsockopt")
public func hookGetsockopt(_ s: UInt, _ level: Int32, _ name: Int32, _ value: UnsafeMutablePointer<CChar>?, _ length: UnsafeMutablePointer<Int32>?) -> Int32 {
    withHost(orFail: socketError) { cleared($0, $0.getsockopt(s, level: level, name: name, value: UnsafeMutableRawPointer(value), length: length)) }
}

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
    guard let error = host.getaddrinfo(node, service, hints, result) else { return 0 }
    host.platform.lastError = error
    return error.rawValue
}

@_cdecl("vl_hook_freeaddrinfo")
public func hookFreeaddrinfo(_ info: UnsafeMutablePointer<VL_ADDRINFO>?) {
    // Only lists we made are ours to free (the DLL hands the others to the original).
    if vl_owns_addrinfo(info) != 0 { vl_free_addrinfo(info) }
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
        host.registry.release(host.claim)
    } else {
        host.shutdown()
    }
}
