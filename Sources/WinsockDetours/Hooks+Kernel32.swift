import CWineBridge
import VirtualIPCore

// kernel32's functions that take any handle, for the handles that are virtual sockets
// (the DLL hands every other handle to kernel32 unchanged). They answer as kernel32 does:
// BOOL results, Win32 errors in the last error.

/// kernel32's word for memory it cannot use: ERROR_NOACCESS.
private let noAccess = WinsockError(998)

/// A BOOL result: 1, or 0 with the last error set.
private func succeeded(_ host: VirtualHost, _ error: WinsockError?) -> Int32 {
    status(host, error) == 0 ? 1 : 0
}

/// ReadFile/WriteFile on a socket report what its receive and send report, in the file
/// calls' own words where they have them (measured under Wine: a truncated datagram is
/// ERROR_MORE_DATA, a write on an unconnected socket ERROR_INVALID_PARAMETER).
private func fileResult(_ host: VirtualHost, _ error: WinsockError?) -> Int32 {
    switch error {
    case nil: return 1
    case .messageSize?: return succeeded(host, WinsockError(234))  // ERROR_MORE_DATA
    case .notConnected?, .destinationRequired?: return succeeded(host, WinsockError(Int32(VL_ERROR_INVALID_PARAMETER)))
    case let other?: return succeeded(host, other)
    }
}

/// CancelIoEx / CancelIo on a virtual socket: its pending receives are ours to end.
@_cdecl("vl_hook_CancelIoEx")
public func hookCancelIoEx(_ s: UInt, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?) -> Int32 {
    withHost(orFail: 0) { succeeded($0, $0.cancel(s, overlapped: overlapped, thread: nil)) }
}

@_cdecl("vl_hook_CancelIo")
public func hookCancelIo(_ s: UInt) -> Int32 {
    withHost(orFail: 0) { host in succeeded(host, host.cancel(s, overlapped: nil, thread: host.platform.currentThread)) }
}

/// CloseHandle on a virtual socket closes it as closesocket does (the layer's state goes
/// with the backing socket).
@_cdecl("vl_hook_CloseHandle")
public func hookCloseHandle(_ s: UInt) -> Int32 {
    withHost(orFail: 0) { host in
        succeeded(host, closeKeepingLastError(host, s).map { _ in WinsockError(Int32(VL_WSA_INVALID_HANDLE)) })
    }
}

/// DuplicateHandle of a virtual socket within this process: one more handle of the same
/// socket. Into another process refused (ERROR_NOT_SUPPORTED, a warning): its layer would
/// not know the socket.
@_cdecl("vl_hook_DuplicateHandle")
public func hookDuplicateHandle(_ sourceProcess: UnsafeMutableRawPointer?, _ s: UInt, _ targetProcess: UnsafeMutableRawPointer?,
                                _ target: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ access: UInt32, _ inherit: Int32,
                                _ options: UInt32) -> Int32 {
    withHost(orFail: 0) { host in
        succeeded(host, host.duplicateHandle(s, from: sourceProcess, into: targetProcess, target: target, access: access,
                                             inherit: inherit != 0, options: options))
    }
}

/// GetOverlappedResult(Ex) for a virtual socket's operation (or one of a socket closed
/// while virtual): as WSAGetOverlappedResult, in kernel32's words (ERROR_MORE_DATA).
@_cdecl("vl_hook_GetOverlappedResult")
public func hookGetOverlappedResult(_ s: UInt, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ transferred: UnsafeMutablePointer<UInt32>?,
                                    _ wait: Int32) -> Int32 {
    hookGetOverlappedResultEx(s, overlapped, transferred, wait != 0 ? VL_WSA_INFINITE : 0, 0)
}

@_cdecl("vl_hook_GetOverlappedResultEx")
public func hookGetOverlappedResultEx(_ s: UInt, _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, _ transferred: UnsafeMutablePointer<UInt32>?,
                                      _ milliseconds: UInt32, _ alertable: Int32) -> Int32 {
    withHost(orFail: 0) { host in
        var flags: UInt32 = 0
        let error = host.overlappedResult(s, overlapped, transferred: transferred, waitMs: milliseconds, alertable: alertable != 0,
                                          flags: &flags)
        // An operation that ended with a failure: kernel32's own word for its status
        // (a refused ConnectEx is ERROR_CONNECTION_REFUSED here, WSAECONNREFUSED to Winsock).
        if error != nil, let overlapped, host.platform.canRead(overlapped, MemoryLayout<VL_OVERLAPPED>.size) {
            let status = UInt32(truncatingIfNeeded: overlapped.pointee.Internal)
            if status != VL_STATUS_PENDING, status >= 0x8000_0000, status & 0xFFFF_0000 != NTStatus.privateRange,
               let dos = host.platform.dosError(ofStatus: status) {
                return succeeded(host, dos)
            }
        }
        return fileResult(host, error)
    }
}

/// CreateIoCompletionPort with a virtual socket: the port, or NULL with the OS's error.
@_cdecl("vl_hook_CreateIoCompletionPort")
public func hookCreateIoCompletionPort(_ s: UInt, _ port: UnsafeMutableRawPointer?, _ key: UInt, _ threads: UInt32) -> UnsafeMutableRawPointer? {
    withHost(orFail: nil) { host in
        switch host.associate(s, port: port, key: key, threads: threads) {
        case let .success(joined): return joined
        case let .failure(error):
            host.platform.lastError = error
            return nil
        }
    }
}

/// SetFileCompletionNotificationModes; the modes are a UCHAR, passed in a 32-bit slot.
@_cdecl("vl_hook_SetFileCompletionNotificationModes")
public func hookSetFileCompletionNotificationModes(_ s: UInt, _ modes: UInt32) -> Int32 {
    withHost(orFail: 0) { succeeded($0, $0.setCompletionModes(s, modes: modes & 0xFF)) }
}

/// ReadFile on a virtual socket is a receive into one buffer (WSARecv): blocking as the
/// socket is, or overlapped when `overlapped` is given.
@_cdecl("vl_hook_ReadFile")
public func hookReadFile(_ s: UInt, _ buffer: UnsafeMutableRawPointer?, _ length: UInt32, _ read: UnsafeMutablePointer<UInt32>?,
                         _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?) -> Int32 {
    withHost(orFail: 0) { host in
        guard host.platform.usable(read, writable: true), host.platform.usable(overlapped, writable: true) else {
            return succeeded(host, noAccess)
        }
        var one = VL_WSABUF(len: length, buf: buffer?.assumingMemoryBound(to: CChar.self))
        if let overlapped {
            var flags: UInt32 = 0
            return fileResult(host, host.receiveOverlapped(s, buffers: &one, count: 1, received: read, flags: &flags,
                                                           from: nil, fromLength: nil, overlapped: overlapped, routine: nil))
        }
        guard let read else { return succeeded(host, WinsockError(Int32(VL_ERROR_INVALID_PARAMETER))) }
        read.pointee = 0
        switch host.receiveArrival(s, buffers: &one, count: 1, flags: 0, from: nil, fromLength: nil) {
        case let .failure(error): return fileResult(host, error)
        case let .success(arrival):
            read.pointee = UInt32(arrival.copied)
            return fileResult(host, arrival.truncated ? .messageSize : nil)
        }
    }
}

/// WriteFile on a virtual socket is a send of one buffer to the connected peer (WSASend).
@_cdecl("vl_hook_WriteFile")
public func hookWriteFile(_ s: UInt, _ buffer: UnsafeRawPointer?, _ length: UInt32, _ written: UnsafeMutablePointer<UInt32>?,
                          _ overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?) -> Int32 {
    withHost(orFail: 0) { host in
        guard host.platform.usable(written, writable: true), host.platform.usable(overlapped, writable: true) else {
            return succeeded(host, noAccess)
        }
        var one = VL_WSABUF(len: length, buf: UnsafeMutablePointer(mutating: buffer?.assumingMemoryBound(to: CChar.self)))
        guard written != nil || overlapped != nil else { return succeeded(host, WinsockError(Int32(VL_ERROR_INVALID_PARAMETER))) }
        return fileResult(host, host.sendOverlapped(s, buffers: &one, count: 1, sent: written, to: nil, overlapped: overlapped, routine: nil))
    }
}

/// WaitForSingleObject(Ex) on a virtual socket: Windows signals a file's handle when an
/// overlapped operation without an event of its own ends, and resets it when one starts.
/// The layer completes the game's operations itself, so once such an operation has
/// started its handle event stands for the socket's handle; before, the backing socket's
/// own handle answers (signalled from the start, as Wine's).
@_cdecl("vl_hook_WaitForSingleObjectEx")
public func hookWaitForSingleObjectEx(_ s: UInt, _ milliseconds: UInt32, _ alertable: Int32) -> UInt32 {
    withHost(orFail: UInt32.max) { host in  // WAIT_FAILED
        guard let signal = host.handleSignal(s) else {
            _ = status(host, WinsockError(6))  // ERROR_INVALID_HANDLE
            return UInt32.max                  // WAIT_FAILED
        }
        return host.platform.waitEvent(signal, timeoutMs: milliseconds, alertable: alertable != 0)
    }
}

@_cdecl("vl_hook_WaitForSingleObject")
public func hookWaitForSingleObject(_ s: UInt, _ milliseconds: UInt32) -> UInt32 {
    hookWaitForSingleObjectEx(s, milliseconds, 0)
}
