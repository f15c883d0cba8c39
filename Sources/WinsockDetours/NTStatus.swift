import CWineBridge

/// Windows' mapping between the NTSTATUS of a finished socket operation (what the I/O
/// manager writes into OVERLAPPED.Internal) and the error Winsock reports for it
/// (WSAGetOverlappedResult, completion routines). The facts come from Wine's ws2_32 tests
/// (sock.c, test_WSAGetOverlappedResult's map_status), which pass on Windows: every
/// status of the ranges they sweep maps as listed, any other failure to WSAEINVAL.
enum NTStatus {
    struct Entry {
        let status: UInt32
        let error: Int32
        init(status: UInt32, error: Int) {
            self.status = status
            self.error = Int32(error)
        }
    }

    /// Outcomes of the layer's own that no NTSTATUS names: 0xE056 and the error's low 16 bits
    /// (a customer-defined failure code, never written by the OS).
    static let privateRange: UInt32 = 0xE056_0000

    /// Status -> error, in Windows' order (the first status of an error is its default).
    static let table: [Entry] = [
        Entry(status: 0x8000_0005, error: VL_WSAEMSGSIZE),           // STATUS_BUFFER_OVERFLOW
        Entry(status: 0xC000_0002, error: VL_WSAEOPNOTSUPP),         // STATUS_NOT_IMPLEMENTED
        Entry(status: 0xC000_0005, error: VL_WSAEFAULT),             // STATUS_ACCESS_VIOLATION
        Entry(status: 0xC000_0007, error: VL_WSAENOBUFS),            // STATUS_PAGEFILE_QUOTA
        Entry(status: 0xC000_0008, error: VL_WSAENOTSOCK),           // STATUS_INVALID_HANDLE
        Entry(status: 0xC000_000E, error: VL_WSAENETDOWN),           // STATUS_NO_SUCH_DEVICE
        Entry(status: 0xC000_000F, error: VL_WSAENETDOWN),           // STATUS_NO_SUCH_FILE
        Entry(status: 0xC000_0017, error: VL_WSAENOBUFS),            // STATUS_NO_MEMORY
        Entry(status: 0xC000_0018, error: VL_WSAENOBUFS),            // STATUS_CONFLICTING_ADDRESSES
        Entry(status: 0xC000_0022, error: VL_WSAEACCES),             // STATUS_ACCESS_DENIED
        Entry(status: 0xC000_0023, error: VL_WSAEFAULT),             // STATUS_BUFFER_TOO_SMALL
        Entry(status: 0xC000_0024, error: VL_WSAENOTSOCK),           // STATUS_OBJECT_TYPE_MISMATCH
        Entry(status: 0xC000_0034, error: VL_WSAENETDOWN),           // STATUS_OBJECT_NAME_NOT_FOUND
        Entry(status: 0xC000_003A, error: VL_WSAENETDOWN),           // STATUS_OBJECT_PATH_NOT_FOUND
        Entry(status: 0xC000_0043, error: VL_WSAEADDRINUSE),         // STATUS_SHARING_VIOLATION
        Entry(status: 0xC000_0044, error: VL_WSAENOBUFS),            // STATUS_QUOTA_EXCEEDED
        Entry(status: 0xC000_0097, error: VL_WSAENOBUFS),            // STATUS_TOO_MANY_PAGING_FILES
        Entry(status: 0xC000_009A, error: VL_WSAENOBUFS),            // STATUS_INSUFFICIENT_RESOURCES
        Entry(status: 0xC000_00A1, error: VL_WSAENOBUFS),            // STATUS_WORKING_SET_QUOTA
        Entry(status: 0xC000_00A3, error: VL_WSAEWOULDBLOCK),        // STATUS_DEVICE_NOT_READY
        Entry(status: 0xC000_00B0, error: VL_WSAESHUTDOWN),          // STATUS_PIPE_DISCONNECTED
        Entry(status: 0xC000_00B5, error: VL_WSAETIMEDOUT),          // STATUS_IO_TIMEOUT
        Entry(status: 0xC000_00BB, error: VL_WSAEOPNOTSUPP),         // STATUS_NOT_SUPPORTED
        Entry(status: 0xC000_00BC, error: VL_WSAECONNREFUSED),       // STATUS_REMOTE_NOT_LISTENING
        Entry(status: 0xC000_00BE, error: VL_WSAENETUNREACH),        // STATUS_BAD_NETWORK_PATH
        Entry(status: 0xC000_00BF, error: VL_WSAENETDOWN),           // STATUS_NETWORK_BUSY
        Entry(status: 0xC000_00C3, error: VL_WSAENETDOWN),           // STATUS_INVALID_NETWORK_RESPONSE
        Entry(status: 0xC000_00C4, error: VL_WSAENETDOWN),           // STATUS_UNEXPECTED_NETWORK_ERROR
        Entry(status: 0xC000_00D0, error: VL_WSAEWOULDBLOCK),        // STATUS_REQUEST_NOT_ACCEPTED
        Entry(status: 0xC000_0120, error: VL_WSA_OPERATION_ABORTED), // STATUS_CANCELLED
        Entry(status: 0xC000_012D, error: VL_WSAENOBUFS),            // STATUS_COMMITMENT_LIMIT
        Entry(status: 0xC000_013B, error: VL_WSAECONNABORTED),       // STATUS_LOCAL_DISCONNECT
        Entry(status: 0xC000_013C, error: VL_WSAECONNRESET),         // STATUS_REMOTE_DISCONNECT
        Entry(status: 0xC000_013D, error: VL_WSAENOBUFS),            // STATUS_REMOTE_RESOURCES
        Entry(status: 0xC000_013E, error: VL_WSAECONNRESET),         // STATUS_LINK_FAILED
        Entry(status: 0xC000_013F, error: VL_WSAETIMEDOUT),          // STATUS_LINK_TIMEOUT
        Entry(status: 0xC000_0140, error: VL_WSAENOTCONN),           // STATUS_INVALID_CONNECTION
        Entry(status: 0xC000_0141, error: VL_WSAEADDRNOTAVAIL),      // STATUS_INVALID_ADDRESS
        Entry(status: 0xC000_0206, error: VL_WSAEMSGSIZE),           // STATUS_INVALID_BUFFER_SIZE
        Entry(status: 0xC000_0207, error: VL_WSAEADDRNOTAVAIL),      // STATUS_INVALID_ADDRESS_COMPONENT
        Entry(status: 0xC000_0209, error: VL_WSAENOBUFS),            // STATUS_TOO_MANY_ADDRESSES
        Entry(status: 0xC000_020A, error: VL_WSAEADDRINUSE),         // STATUS_ADDRESS_ALREADY_EXISTS
        Entry(status: 0xC000_020C, error: VL_WSAECONNRESET),         // STATUS_CONNECTION_DISCONNECTED
        Entry(status: 0xC000_020D, error: VL_WSAECONNRESET),         // STATUS_CONNECTION_RESET
        Entry(status: 0xC000_020F, error: VL_WSAECONNABORTED),       // STATUS_TRANSACTION_ABORTED
        Entry(status: 0xC000_0236, error: VL_WSAECONNREFUSED),       // STATUS_CONNECTION_REFUSED
        Entry(status: 0xC000_0237, error: VL_WSAEDISCON),            // STATUS_GRACEFUL_DISCONNECT
        Entry(status: 0xC000_023B, error: VL_WSAEISCONN),            // STATUS_CONNECTION_ACTIVE
        Entry(status: 0xC000_023C, error: VL_WSAENETUNREACH),        // STATUS_NETWORK_UNREACHABLE
        Entry(status: 0xC000_023D, error: VL_WSAEHOSTUNREACH),       // STATUS_HOST_UNREACHABLE
        Entry(status: 0xC000_023E, error: VL_WSAENETUNREACH),        // STATUS_PROTOCOL_UNREACHABLE
        Entry(status: 0xC000_023F, error: VL_WSAECONNRESET),         // STATUS_PORT_UNREACHABLE
        Entry(status: 0xC000_0240, error: VL_WSAEINTR),              // STATUS_REQUEST_ABORTED
        Entry(status: 0xC000_0241, error: VL_WSAECONNABORTED),       // STATUS_CONNECTION_ABORTED
        Entry(status: 0xC000_02C5, error: VL_WSAEFAULT),             // STATUS_DATATYPE_MISALIGNMENT_ERROR
        Entry(status: 0xC000_0350, error: VL_WSAEHOSTDOWN),          // STATUS_HOST_DOWN
        Entry(status: 0x8007_03E4, error: VL_WSA_IO_INCOMPLETE),     // HRESULT of ERROR_IO_INCOMPLETE
        Entry(status: 0xC001_03E4, error: VL_WSA_IO_INCOMPLETE),
        Entry(status: 0xC007_03E4, error: VL_WSA_IO_INCOMPLETE),
    ]

    /// The status the OS itself writes for the errors the layer ends operations with, where
    /// the table names several (a reset stream is STATUS_CONNECTION_RESET, a refused
    /// connect STATUS_CONNECTION_REFUSED).
    static let preferred: [Int: UInt32] = [
        VL_WSAECONNRESET: 0xC000_020D,    // STATUS_CONNECTION_RESET
        VL_WSAECONNREFUSED: 0xC000_0236,  // STATUS_CONNECTION_REFUSED
        VL_WSAENOBUFS: 0xC000_009A,       // STATUS_INSUFFICIENT_RESOURCES
        VL_WSAEWOULDBLOCK: 0xC000_00A3,   // STATUS_DEVICE_NOT_READY
        VL_WSAEOPNOTSUPP: 0xC000_00BB,    // STATUS_NOT_SUPPORTED
        VL_WSAENETDOWN: 0xC000_00C4,      // STATUS_UNEXPECTED_NETWORK_ERROR
        VL_WSAECONNABORTED: 0xC000_0241,  // STATUS_CONNECTION_ABORTED
        VL_WSAENETUNREACH: 0xC000_023C,   // STATUS_NETWORK_UNREACHABLE
        VL_WSAEINVAL: 0xC000_000D,        // STATUS_INVALID_PARAMETER (not in the table: WSAEINVAL back)
        122: 0xC000_0023,                 // ERROR_INSUFFICIENT_BUFFER: STATUS_BUFFER_TOO_SMALL
    ]
}
