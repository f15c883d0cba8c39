import XCTest
import CHookTableFFI
import CWineBridge

final class HookTableTests: XCTestCase {
    func entries() -> [(name: String, signature: String, module: String)] {
        (0..<vl_hook_table_count()).map {
            (String(cString: vl_hook_table_name($0)), String(cString: vl_hook_table_signature($0)), String(cString: vl_hook_table_module($0)))
        }
    }

    func test_tableCoversTheWinsockSurface() {
        let names = Set(entries().map(\.name))
        let surface: Set<String> = [
            "WSAStartup", "WSACleanup", "WSAGetLastError", "WSASetLastError", "socket", "WSASocketA", "WSASocketW",
            "closesocket", "bind", "listen", "shutdown", "accept", "WaitForSingleObject", "WaitForSingleObjectEx", "WSAAccept", "connect", "WSAConnect", "sendto", "recvfrom", "send", "recv", "WSASendTo", "WSARecvFrom",
            "WSASend", "WSASendMsg", "WSARecv", "WSARecvEx", "WSAEventSelect", "WSAAsyncSelect", "CancelIoEx", "CancelIo",
            "CreateIoCompletionPort", "SetFileCompletionNotificationModes", "ReadFile", "WriteFile", "CloseHandle", "DuplicateHandle", "GetOverlappedResult", "GetOverlappedResultEx",
            "WSADuplicateSocketA", "WSADuplicateSocketW",
            "WSAGetOverlappedResult", "WSACreateEvent", "WSACloseEvent", "WSASetEvent", "WSAResetEvent",
            "WSAWaitForMultipleEvents", "select", "WSAPoll", "ioctlsocket", "WSAIoctl", "getsockname", "getpeername", "setsockopt",
            "getsockopt", "gethostname", "gethostbyname", "gethostbyaddr", "getaddrinfo", "freeaddrinfo", "GetAdaptersInfo",
            "GetAdaptersAddresses", "GetIpAddrTable", "GetBestInterface", "GetBestInterfaceEx", "CreateProcessInternalW",
            "GetNumberOfInterfaces", "ConvertInterfaceIndexToLuid", "ConvertInterfaceLuidToIndex", "ConvertInterfaceLuidToGuid",
            "ConvertInterfaceGuidToLuid", "ConvertInterfaceLuidToAlias", "ConvertInterfaceAliasToLuid", "if_indextoname", "if_nametoindex", "GetIfEntry2", "GetIfTable2", "GetIfTable", "GetIfEntry", "GetIpForwardTable", "GetIpForwardTable2", "GetBestRoute", "GetInterfaceInfo", "GetAdapterIndex", "GetNetworkParams", "GetUnicastIpAddressTable",
        ]
        XCTAssertEqual(names, surface)
        XCTAssertEqual(entries().first { $0.name == "GetAdaptersInfo" }?.module, "IPHLPAPI")
        XCTAssertEqual(entries().first { $0.name == "sendto" }?.module, "WS2_32")
        XCTAssertEqual(entries().first { $0.name == "ReadFile" }?.module, "KERNEL32")
    }

    func test_everySignatureIsWellFormed() {
        for entry in entries() {
            let parts = entry.signature.split(separator: ":", omittingEmptySubsequences: false)
            XCTAssertEqual(parts.count, 2, entry.name)
            XCTAssertEqual(parts[0].count, 1, entry.name)
            XCTAssertTrue(parts[1].allSatisfy { "iuhpas".contains($0) }, "\(entry.name): \(entry.signature)")
        }
    }

    func test_dispatchRefusesUnknownNamesAndWrongArity() {
        var result: UInt64 = 0
        XCTAssertEqual(vl_ffi_call("nosuchfunction", nil, 0, &result), -1)
        let args: [UInt64] = [0]
        XCTAssertEqual(vl_ffi_call("sendto", args, 1, &result), -2, "sendto takes six arguments")
    }

    func test_lastErrorRoundTripsThroughTheTable() {
        call("WSASetLastError", .int(WSA.EWOULDBLOCK))
        XCTAssertEqual(Int32(truncatingIfNeeded: call("WSAGetLastError")), WSA.EWOULDBLOCK)
    }
}
