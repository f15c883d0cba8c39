import CWineBridge
import VirtualIPCore

// Sending and receiving: the datagram and stream calls, plain, WSA and message forms.

/// One WSABUF over a plain buffer, for the single-buffer calls. A negative length is a
/// send's WSAEINVAL and a receive's WSAEFAULT (its buffer, that long, cannot be there), as
/// Wine and sock.c's test_events pin them.
@inline(__always)
private func withSingleBuffer<T>(_ buffer: UnsafeRawPointer?, _ length: Int32, receiving: Bool = false,
                                 _ body: (Result<UnsafePointer<VL_WSABUF>, WinsockError>) -> T) -> T {
    guard length >= 0 else { return body(.failure(receiving ? .fault : .invalidArgument)) }
    guard buffer != nil || length == 0 else { return body(.failure(.fault)) }
    var wsabuf = VL_WSABUF(len: UInt32(length), buf: UnsafeMutablePointer(mutating: buffer?.assumingMemoryBound(to: CChar.self)))
    return withUnsafePointer(to: &wsabuf) { body(.success($0)) }
}

/// The destination a send names (nil: none); one that cannot be read is WSAEFAULT.
private func destination(_ host: VirtualHost, _ to: UnsafePointer<VL_SOCKADDR_IN>?, _ length: Int32) -> Result<SocketAddress?, WinsockError> {
    guard let to else { return .success(nil) }
    guard length < Int32(MemoryLayout<VL_SOCKADDR_IN>.size) || host.platform.usable(to) else { return .failure(.fault) }
    return SocketAddress.read(to, length: length).map { $0 }
}

/// The flags a datagram send refuses; a stream's are the OS's to judge.
private func sendFlagsError(_ host: VirtualHost, _ s: UInt, _ flags: Int32) -> WinsockError? {
    // MSG_DONTROUTE (4) is meaningless here and ignored, as Windows may; MSG_OOB is TCP's.
    flags & ~Int32(4) == 0 || host.isStream(s) ? nil : .operationNotSupported
}

/// A send with nowhere to go (the socket is not connected, no address named) gets the OS's
/// answer for its backing socket, which has no peer either: what the game would hear
/// without the layer (Windows: WSAENOTCONN for send, WSAEDESTADDRREQ for sendto; Wine 8:
/// WSAEINVAL for both). `asSendTo`: the call has an address parameter.
private func unaddressed(_ host: VirtualHost, _ s: UInt, _ error: WinsockError?, flags: Int32, asSendTo: Bool) -> WinsockError? {
    error == .destinationRequired ? host.platform.unaddressedSendError(s, flags: flags, asSendTo: asSendTo) : error
}

private func unaddressed(_ host: VirtualHost, _ s: UInt, _ sent: Result<Int, WinsockError>, flags: Int32, asSendTo: Bool) -> Result<Int, WinsockError> {
    guard case .failure(.destinationRequired) = sent else { return sent }
    return .failure(host.platform.unaddressedSendError(s, flags: flags, asSendTo: asSendTo))
}

@_cdecl("vl_hook_sendto")
public func hookSendto(_ s: UInt, _ buffer: UnsafePointer<CChar>?, _ length: Int32, _ flags: Int32,
                       _ to: UnsafePointer<VL_SOCKADDR_IN>?, _ toLength: Int32) -> Int32 {
    withHost(orFail: socketError) { host in
        if let error = sendFlagsError(host, s, flags) { return status(host, error) }
        let target: SocketAddress?
        switch destination(host, to, toLength) {
        case let .failure(error): return status(host, error)
        case let .success(address): target = address
        }
        return withSingleBuffer(buffer, length) { wsabuf in
            switch wsabuf {
            case let .failure(error): return status(host, error)
            case let .success(b):
                return count(host, unaddressed(host, s, host.send(s, buffers: b, count: 1, to: target, flags: flags), flags: flags, asSendTo: true))
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
                return count(host, unaddressed(host, s, host.send(s, buffers: b, count: 1, to: nil, flags: flags), flags: flags, asSendTo: false))
            }
        }
    }
}

@_cdecl("vl_hook_recvfrom")
public func hookRecvfrom(_ s: UInt, _ buffer: UnsafeMutablePointer<CChar>?, _ length: Int32, _ flags: Int32,
                         _ from: UnsafeMutablePointer<VL_SOCKADDR_IN>?, _ fromLength: UnsafeMutablePointer<Int32>?) -> Int32 {
    withHost(orFail: socketError) { host in
        guard host.platform.usable(fromLength, writable: true) else { return status(host, .fault) }
        return withSingleBuffer(buffer, length, receiving: true) { wsabuf in
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
        // As ws2_32: nowhere to say how much was sent, and no OVERLAPPED to say it: WSAEFAULT.
        if sent == nil && overlapped == nil && host.isVirtual(s) { return status(host, .fault) }
        if let error = sendFlagsError(host, s, Int32(bitPattern: flags)) { return status(host, error) }
        guard host.platform.usable(buffers, count: count) else { return status(host, .fault) }
        let target: SocketAddress?
        switch destination(host, to, toLength) {
        case let .failure(error): return status(host, error)
        case let .success(address): target = address
        }
        let error = host.sendOverlapped(s, buffers: buffers, count: count, sent: sent, to: target,
                                        flags: Int32(bitPattern: flags), overlapped: overlapped, routine: routine)
        return cleared(host, unaddressed(host, s, error, flags: Int32(bitPattern: flags), asSendTo: true))
    }
}

@_cdecl("vl_hook_WSARecvFrom")
public func hookWSARecvFrom(_ s: UInt, _ buffers: UnsafeMutablePointer<VL_WSABUF>?, _ count: UInt32,
                            _ received: UnsafeMutablePointer<UInt32>?, _ flags: UnsafeMutablePointer<UInt32>?,
                            _ from: UnsafeMutablePointer<VL_SOCKADDR_IN>?, _ fromLength: UnsafeMutablePointer<Int32>?,
                            _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ routine: UnsafeMutableRawPointer?) -> Int32 {
    withHost(orFail: socketError) { host in
        let p = host.platform
        guard p.usable(buffers, count: count), p.usable(received, writable: true), p.usable(flags, writable: true),
              p.usable(fromLength, writable: true), p.usable(overlapped, writable: true) else { return status(host, .fault) }
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

/// WSASend: WSASendTo to the connected peer (unconnected: the OS's answer, as send).
@_cdecl("vl_hook_WSASend")
public func hookWSASend(_ s: UInt, _ buffers: UnsafeMutablePointer<VL_WSABUF>?, _ count: UInt32, _ sent: UnsafeMutablePointer<UInt32>?,
                        _ flags: UInt32, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ routine: UnsafeMutableRawPointer?) -> Int32 {
    withHost(orFail: socketError) { host in
        if sent == nil && overlapped == nil && host.isVirtual(s) { return status(host, .fault) }  // as WSASendTo
        if let error = sendFlagsError(host, s, Int32(bitPattern: flags)) { return status(host, error) }
        guard host.platform.usable(buffers, count: count) else { return status(host, .fault) }
        let error = host.sendOverlapped(s, buffers: buffers, count: count, sent: sent, to: nil, flags: Int32(bitPattern: flags),
                                        overlapped: overlapped, routine: routine)
        return cleared(host, unaddressed(host, s, error, flags: Int32(bitPattern: flags), asSendTo: false))
    }
}

/// WSARecvEx (mswsock): recv that hands back the first part of a datagram too long for the
/// buffer with MSG_PARTIAL in *flags (the rest is gone, as for any datagram), not WSAEMSGSIZE.
@_cdecl("vl_hook_WSARecvEx")
public func hookWSARecvEx(_ s: UInt, _ buffer: UnsafeMutablePointer<CChar>?, _ length: Int32, _ flags: UnsafeMutablePointer<Int32>?) -> Int32 {
    withHost(orFail: socketError) { host in
        guard let flags, length >= 0, host.platform.usable(flags, writable: true) else { return status(host, .fault) }
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
        guard host.isVirtual(s) else { return status(host, .notSocket) }  // the socket first, as ws2_32 asks
        guard let message, host.platform.canRead(message, MemoryLayout<VL_WSAMSG>.size) else { return status(host, .fault) }
        return hookWSASendTo(s, message.pointee.lpBuffers, message.pointee.dwBufferCount, sent, flags, message.pointee.name,
                             message.pointee.namelen, overlapped, routine)
    }
}
