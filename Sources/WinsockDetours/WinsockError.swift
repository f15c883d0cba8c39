import CWineBridge

/// A Winsock error code, named (`.wouldBlock`) instead of magic numbers; raw values are
/// the WSA codes Windows uses, so they go to the game unchanged.
public struct WinsockError: Error, RawRepresentable, Equatable, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    init(_ code: Int32) { rawValue = code }
    init(_ code: Int) { rawValue = Int32(code) }

    public static let interrupted = WinsockError(VL_WSAEINTR)
    public static let accessDenied = WinsockError(VL_WSAEACCES)
    public static let fault = WinsockError(VL_WSAEFAULT)
    public static let invalidArgument = WinsockError(VL_WSAEINVAL)
    public static let tooManySockets = WinsockError(VL_WSAEMFILE)
    public static let wouldBlock = WinsockError(VL_WSAEWOULDBLOCK)
    public static let notSocket = WinsockError(VL_WSAENOTSOCK)
    public static let destinationRequired = WinsockError(VL_WSAEDESTADDRREQ)
    public static let messageSize = WinsockError(VL_WSAEMSGSIZE)
    public static let noProtocolOption = WinsockError(VL_WSAENOPROTOOPT)
    public static let protocolNotSupported = WinsockError(VL_WSAEPROTONOSUPPORT)
    public static let socketTypeNotSupported = WinsockError(VL_WSAESOCKTNOSUPPORT)
    public static let operationNotSupported = WinsockError(VL_WSAEOPNOTSUPP)
    public static let addressFamilyNotSupported = WinsockError(VL_WSAEAFNOSUPPORT)
    public static let addressInUse = WinsockError(VL_WSAEADDRINUSE)
    public static let addressNotAvailable = WinsockError(VL_WSAEADDRNOTAVAIL)
    public static let networkUnreachable = WinsockError(VL_WSAENETUNREACH)
    public static let noBuffers = WinsockError(VL_WSAENOBUFS)
    public static let notConnected = WinsockError(VL_WSAENOTCONN)
    public static let shutDown = WinsockError(VL_WSAESHUTDOWN)
    public static let isConnected = WinsockError(VL_WSAEISCONN)
    public static let connectionReset = WinsockError(VL_WSAECONNRESET)
    public static let connectionRefused = WinsockError(VL_WSAECONNREFUSED)
    public static let timedOut = WinsockError(VL_WSAETIMEDOUT)
    public static let systemNotReady = WinsockError(VL_WSASYSNOTREADY)
    public static let versionNotSupported = WinsockError(VL_WSAVERNOTSUPPORTED)
    public static let notInitialised = WinsockError(VL_WSANOTINITIALISED)
    public static let hostNotFound = WinsockError(VL_WSAHOST_NOT_FOUND)
    /// WSATRY_AGAIN: also WSAAccept's answer when its condition function deferred (CF_DEFER).
    public static let tryAgain = WinsockError(VL_WSATRY_AGAIN)
    public static let invalidHandle = WinsockError(VL_WSA_INVALID_HANDLE)
    public static let invalidParameter = WinsockError(VL_WSA_INVALID_PARAMETER)
    /// ERROR_INSUFFICIENT_BUFFER: an overlapped request's output too small (its completion).
    public static let insufficientBuffer = WinsockError(122)
    public static let operationAborted = WinsockError(VL_WSA_OPERATION_ABORTED)
    public static let ioIncomplete = WinsockError(VL_WSA_IO_INCOMPLETE)
    public static let ioPending = WinsockError(VL_WSA_IO_PENDING)

    /// The NTSTATUS a finished OVERLAPPED carries for this outcome (Internal), as the OS
    /// would write it (`NTStatus.preferred`, else the first status Windows maps to this
    /// error); an error no status maps to rides in a private range, read back by `init`.
    var ntStatus: UInt32 {
        if let status = NTStatus.preferred[Int(rawValue)] { return status }
        if let entry = NTStatus.table.first(where: { $0.error == rawValue }) { return entry.status }
        return NTStatus.privateRange | UInt32(UInt16(truncatingIfNeeded: rawValue))
    }

    /// What a finished OVERLAPPED's status means to the game, as WSAGetOverlappedResult says
    /// it: nil for a success (any NT_SUCCESS status), else Windows' mapping; a failure it
    /// does not list is WSAEINVAL.
    init?(ntStatus: UInt32) {
        if ntStatus < 0x8000_0000 { return nil }
        if ntStatus & 0xFFFF_0000 == NTStatus.privateRange { self.init(Int32(ntStatus & 0xFFFF)); return }
        if let entry = NTStatus.table.first(where: { $0.status == ntStatus }) { self.init(entry.error); return }
        self = .invalidArgument
    }
}
