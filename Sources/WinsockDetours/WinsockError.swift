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
    public static let isConnected = WinsockError(VL_WSAEISCONN)
    public static let connectionReset = WinsockError(VL_WSAECONNRESET)
    public static let connectionRefused = WinsockError(VL_WSAECONNREFUSED)
    public static let timedOut = WinsockError(VL_WSAETIMEDOUT)
    public static let systemNotReady = WinsockError(VL_WSASYSNOTREADY)
    public static let versionNotSupported = WinsockError(VL_WSAVERNOTSUPPORTED)
    public static let notInitialised = WinsockError(VL_WSANOTINITIALISED)
    public static let hostNotFound = WinsockError(VL_WSAHOST_NOT_FOUND)
    public static let invalidHandle = WinsockError(VL_WSA_INVALID_HANDLE)
    public static let invalidParameter = WinsockError(VL_WSA_INVALID_PARAMETER)
    public static let operationAborted = WinsockError(VL_WSA_OPERATION_ABORTED)
    public static let ioIncomplete = WinsockError(VL_WSA_IO_INCOMPLETE)
    public static let ioPending = WinsockError(VL_WSA_IO_PENDING)

    /// The NTSTATUS a finished OVERLAPPED carries for this outcome (Internal), and back.
    /// Windows' own values where one exists; our other errors ride in a private range.
    static let statusConnectionRefused: UInt32 = 0xC000_0236, statusConnectionReset: UInt32 = 0xC000_020D
    static let statusIOTimeout: UInt32 = 0xC000_00B5

    var ntStatus: UInt32 {
        switch self {
        case .messageSize: return VL_STATUS_BUFFER_OVERFLOW
        case .operationAborted: return VL_STATUS_CANCELLED
        case .connectionRefused: return WinsockError.statusConnectionRefused
        case .connectionReset: return WinsockError.statusConnectionReset
        case .timedOut: return WinsockError.statusIOTimeout
        default: return 0xE0560000 | UInt32(UInt16(truncatingIfNeeded: rawValue))
        }
    }

    init?(ntStatus: UInt32) {
        switch ntStatus {
        case VL_STATUS_SUCCESS: return nil
        case VL_STATUS_BUFFER_OVERFLOW: self = .messageSize
        case VL_STATUS_CANCELLED: self = .operationAborted
        case WinsockError.statusConnectionRefused: self = .connectionRefused
        case WinsockError.statusConnectionReset: self = .connectionReset
        case WinsockError.statusIOTimeout: self = .timedOut
        default: self.init(Int32(ntStatus & 0xFFFF))
        }
    }
}
