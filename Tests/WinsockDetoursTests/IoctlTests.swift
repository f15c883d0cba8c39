import XCTest
import CWineBridge
import Glibc
import VirtualIPCore
@testable import WinsockDetours

/// WSAIoctl and ioctlsocket as Wine's own tests (sock.c: test_fionbio,
/// test_fionread_siocatmark, test_unsupported_ioctls) pin them: bad pointers are WSAEFAULT,
/// never a fault in the game's process; an overlapped request answered at once returns 0 and
/// still completes (0 bytes) through its event and the socket's port; one no provider knows
/// is pending and completes with STATUS_NOT_SUPPORTED.
final class IoctlTests: LANTestCase {
    override class var instances: Int { 1 }

    private func ioctl(_ s: UInt, _ code: UInt32, input: UnsafeMutableRawPointer?, _ inputLength: UInt32,
                       output: UnsafeMutableRawPointer?, _ outputLength: UInt32, returned: UnsafeMutablePointer<UInt32>?,
                       overlapped: UnsafeMutablePointer<VL_OVERLAPPED>? = nil) -> Int32 {
        Int32(truncatingIfNeeded: call("WSAIoctl", .socket(s), .uint(code), .ptr(input), .uint(inputLength), .ptr(output),
                                       .uint(outputLength), .ptr(returned), .ptr(overlapped), .null))
    }

    /// A page the process may not touch, and one it may only read.
    private func pages() -> (none: UnsafeMutableRawPointer, readOnly: UnsafeMutableRawPointer) {
        let none = mmap(nil, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        let readOnly = mmap(nil, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        return (none, readOnly)
    }

    func test_badPointersAreWSAEFAULTNotAFault() {
        lan.as(0) { ws in
            let s = ws.gameSocket(port: 23756)
            let (none, readOnly) = pages()
            defer { munmap(none, 4096); munmap(readOnly, 4096) }
            let small = UnsafeMutableRawPointer(bitPattern: 1)
            for (code, argument, what) in [(Ioctl.FIONBIO, small, "FIONBIO at address 1"), (Int32(Ioctl.FIONREAD), small, "FIONREAD at address 1"),
                                           (Ioctl.FIONBIO, none, "FIONBIO from a page without access"),
                                           (Int32(Ioctl.FIONREAD), readOnly, "FIONREAD into a read-only page")] {
                XCTAssertEqual(Int32(truncatingIfNeeded: call("ioctlsocket", .socket(s), .int(code), .ptr(argument))), Winsock.socketError, what)
                XCTAssertEqual(ws.lastError, WSA.EFAULT, what)
            }
            var one: UInt32 = 1, returned: UInt32 = 0xDEAD_BEEF
            XCTAssertEqual(ioctl(s, UInt32(bitPattern: Ioctl.FIONBIO), input: &one, 4, output: nil, 0, returned: nil), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EFAULT, "no place for the size")
            XCTAssertEqual(ioctl(s, UInt32(bitPattern: Ioctl.FIONBIO), input: &one, 3, output: nil, 0, returned: &returned), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EFAULT, "an input too short")
            XCTAssertEqual(ioctl(s, UInt32(Ioctl.FIONREAD), input: nil, 0, output: readOnly, 4, returned: &returned), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EFAULT)
            XCTAssertEqual(returned, 0xDEAD_BEEF, "a refused request leaves the size alone")
            XCTAssertEqual(ioctl(s, UInt32(bitPattern: Ioctl.FIONBIO), input: &one, 5, output: none, 4, returned: &returned), 0,
                           "FIONBIO never touches the output")
            XCTAssertEqual(returned, 0)
            XCTAssertEqual(ioctl(s, Ioctl.SIO_GET_INTERFACE_LIST, input: nil, 0, output: readOnly, 4096, returned: &returned), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EFAULT, "the interface list into a read-only page")
        }
    }

    func test_anOverlappedRequestAnsweredAtOnceStillCompletes() throws {
        try lan.as(0) { ws in
            let s = ws.gameSocket(port: 23756)
            let port = try XCTUnwrap(UnsafeMutableRawPointer(bitPattern: UInt(call("CreateIoCompletionPort", .socket(s), .null, .socket(123), .uint(0)))))
            let overlapped = UnsafeMutablePointer<VL_OVERLAPPED>.allocate(capacity: 1)
            defer { overlapped.deallocate() }
            overlapped.initialize(to: VL_OVERLAPPED())
            overlapped.pointee.Internal = 0xDEAD_BEEF
            overlapped.pointee.InternalHigh = 0xDEAD_BEEF
            let event = ws.createEvent()
            overlapped.pointee.hEvent = event
            var value: UInt32 = 0xDEAD_BEEF, returned: UInt32 = 0xDEAD_BEEF
            XCTAssertEqual(ioctl(s, UInt32(Ioctl.FIONREAD), input: nil, 0, output: &value, 4, returned: &returned, overlapped: overlapped), 0)
            XCTAssertEqual(value, 0)
            XCTAssertEqual(returned, 4)
            XCTAssertEqual(overlapped.pointee.Internal, 0)
            XCTAssertEqual(overlapped.pointee.InternalHigh, 0, "Windows reports 0 bytes through the OVERLAPPED")
            XCTAssertEqual(ws.wait([event], timeoutMs: 0), 0, "its event is set")
            var key: UInt = 0, status: UInt32 = 1, bytes: UInt32 = 1
            var packet: UnsafeMutablePointer<VL_OVERLAPPED>?
            XCTAssertEqual(vl_linux_port_take(port, 0, &key, &packet, &status, &bytes), 1, "a packet on the socket's port")
            XCTAssertEqual(key, 123)
            XCTAssertEqual(packet, overlapped)
            XCTAssertEqual(status, 0)
            XCTAssertEqual(bytes, 0)

            overlapped.pointee.hEvent = nil
            returned = 0xDEAD_BEEF
            XCTAssertEqual(ioctl(s, 0xDEAD_BEEF, input: nil, 0, output: nil, 0, returned: &returned, overlapped: overlapped), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING, "a request no provider knows is pending...")
            XCTAssertEqual(returned, 0xDEAD_BEEF)
            XCTAssertEqual(vl_linux_port_take(port, 0, &key, &packet, &status, &bytes), 1, "...and completes")
            XCTAssertEqual(status, WinsockError.operationNotSupported.ntStatus)
            XCTAssertEqual(status, 0xC000_00BB, "STATUS_NOT_SUPPORTED")
            XCTAssertEqual(overlapped.pointee.Internal, 0xC000_00BB)
            XCTAssertEqual(ioctl(s, UInt32(Ioctl.FIONREAD), input: nil, 0, output: &value, 4, returned: nil, overlapped: overlapped), Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EFAULT, "overlapped or not, the size has a place")
            XCTAssertEqual(vl_linux_port_take(port, 0, &key, &packet, &status, &bytes), 0, "a refused request completes nowhere")
        }
    }
}

/// SIO_ADDRESS_LIST_CHANGE (sock.c's test_sioAddressListChange): the virtual PC's addresses
/// never change, so an overlapped wait stays pending until the close aborts it; without an
/// OVERLAPPED a non-blocking socket answers WSAEWOULDBLOCK.
final class ChangeWaitTests: LANTestCase {
    override class var instances: Int { 1 }
    let addressListChange: UInt32 = 0x2800_0017

    func test_aWaitForAnAddressChangeEndsOnlyWithTheClose() {
        lan.as(0) { ws in
            let s = ws.gameSocket(port: 23756)
            var returned: UInt32 = 0
            var overlapped = VL_OVERLAPPED()
            let event = ws.createEvent()
            overlapped.hEvent = VL_WSAEVENT(event)
            let r = Int32(truncatingIfNeeded: call("WSAIoctl", .socket(s), .uint(addressListChange), .null, .uint(0), .null, .uint(0),
                                                   .ptr(&returned), .ptr(&overlapped), .null))
            XCTAssertEqual(r, Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.IO_PENDING)
            XCTAssertEqual(ws.wait([event], timeoutMs: 0), UInt32(VL_WSA_WAIT_TIMEOUT), "nothing changes")
            XCTAssertEqual(ws.close(s), 0)
            XCTAssertEqual(ws.wait([event], timeoutMs: 0), 0, "the close ended it")
            XCTAssertEqual(UInt32(truncatingIfNeeded: overlapped.Internal), VL_STATUS_CANCELLED)
        }
    }

    func test_withoutAnOverlappedANonBlockingSocketWouldBlock() {
        lan.as(0) { ws in
            let s = ws.gameSocket(port: 23756)
            XCTAssertEqual(ws.nonBlocking(s), 0)
            var returned: UInt32 = 0
            let r = Int32(truncatingIfNeeded: call("WSAIoctl", .socket(s), .uint(addressListChange), .null, .uint(0), .null, .uint(0),
                                                   .ptr(&returned), .null, .null))
            XCTAssertEqual(r, Winsock.socketError)
            XCTAssertEqual(ws.lastError, WSA.EWOULDBLOCK)
        }
    }
}
