import CWineBridge
import VirtualIPCore

// Waiting: event selection, overlapped results, events, select and WSAPoll.

/// WSAEventSelect: the OS signals the game's event for the backing socket (see VirtualHost.eventSelect).
@_cdecl("vl_hook_WSAEventSelect")
public func hookWSAEventSelect(_ s: UInt, _ event: UnsafeMutableRawPointer?, _ events: Int32) -> Int32 {
    withHost(orFail: socketError) { status($0, $0.eventSelect(s, event: event, events: events)) }
}

@_cdecl("vl_hook_WSAAsyncSelect")
public func hookWSAAsyncSelect(_ s: UInt, _ window: UnsafeMutableRawPointer?, _ message: UInt32, _ events: Int32) -> Int32 {
    withHost(orFail: socketError) { status($0, $0.asyncSelect(s, window: window, message: message, events: events)) }
}

@_cdecl("vl_hook_WSAGetOverlappedResult")
public func hookWSAGetOverlappedResult(_ s: UInt, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ transferred: UnsafeMutablePointer<UInt32>?,
                                       _ wait: Int32, _ flags: UnsafeMutablePointer<UInt32>?) -> Int32 {
    withHost(orFail: 0) { host in
        // Winsock's asks the socket first (WSAENOTSOCK once it is closed, or for a copy
        // DuplicateHandle made, as Wine and Windows' ws2_32 answer); kernel32's reads the
        // OVERLAPPED of a closed one too.
        guard host.isVirtual(s), host.isWinsockHandle(s) else {
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
