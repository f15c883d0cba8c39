import XCTest
import CHookTableFFI
import CWineBridge
import HostKit
import VirtualIPCore
@testable import WinsockDetours

/// A test case on "N instances on one registry": before each test a `TestLAN` of
/// `instances` copies, the first `startedInstances` of them with Winsock started
/// (WSAStartup, as a game's first call); after it, all of them shut down.
class LANTestCase: XCTestCase {
    class var instances: Int { 2 }
    class var startedInstances: Int { instances }
    class var config: InstanceConfig { InstanceConfig() }
    var lan: TestLAN!

    override func setUpWithError() throws {
        lan = try TestLAN(instances: Self.instances, config: Self.config)
        for i in 0..<Self.startedInstances { lan.as(i) { $0.startup() } }
    }

    override func tearDown() { lan?.shutdown() }
}

/// A test case on 2 started instances whose platform is the Linux one with entries the
/// test changes (`wrap`): to hold a call inside the platform until the test lets it go.
class WrappedPlatformTestCase: XCTestCase {
    nonisolated(unsafe) static let original: vl_platform = vl_default_platform().pointee
    var lan: TestLAN!
    let table = UnsafeMutablePointer<vl_platform>.allocate(capacity: 1)

    /// Changes entries of `table`, a copy of the Linux platform's.
    func wrap(_ table: inout vl_platform) {}

    override func setUpWithError() throws {
        table.initialize(to: Self.original)
        wrap(&table.pointee)
        lan = try TestLAN(instances: 2, platform: Platform(table))
        for host in lan.hosts { host.start() }
    }

    override func tearDown() {
        lan.shutdown()
        table.deallocate()
    }
}

/// A virtual LAN inside the test process: one in-memory registry, `count` instances. Calls
/// go through the real entry points (libffi, hook table signatures) on behalf of whichever
/// instance `as(_:)` selects.
final class TestLAN: @unchecked Sendable { // used from the tests' threads; its hosts are thread-safe
    let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: RegistryLayout.defaultSlotCount))
    let registry: Registry
    var hosts: [VirtualHost] = []

    init(instances: Int, config: InstanceConfig = InstanceConfig(), platform: Platform = .default) throws {
        registry = try Registry.attach(memory.region, network: config.network)
        for index in 0..<instances {
            var pinned = config
            pinned.pinnedInstance = index
            let host = try VirtualHost(platform: platform, config: pinned, registry: registry)
            hosts.append(host)
        }
        VirtualHost.install(hosts.first)
    }

    func shutdown() {
        for host in hosts { host.shutdown() }
        hosts = []
        VirtualHost.install(nil)
        OverlappedReceive.alive = []
    }

    /// Runs `body` as instance `index`: the entry points act for that instance meanwhile.
    func `as`<T>(_ index: Int, _ body: (Winsock) throws -> T) rethrows -> T {
        let previous = VirtualHost.processHost
        VirtualHost.install(hosts[index])
        defer { VirtualHost.install(previous) }
        return try body(Winsock(host: hosts[index]))
    }

    func address(_ index: Int) -> IPv4Address { registry.network.address(ofInstance: index) }
}

/// One value for an ffi call: an 8-byte slot; the hook's signature says how wide it is.
struct Arg {
    let bits: UInt64
    static func int(_ v: Int32) -> Arg { Arg(bits: UInt64(UInt32(bitPattern: v))) }
    static func uint(_ v: UInt32) -> Arg { Arg(bits: UInt64(v)) }
    static func socket(_ v: UInt) -> Arg { Arg(bits: UInt64(v)) }
    static func ptr(_ p: UnsafeRawPointer?) -> Arg { Arg(bits: UInt64(UInt(bitPattern: p))) }
    static func ptr<T>(_ p: UnsafeMutablePointer<T>?) -> Arg { ptr(UnsafeRawPointer(p)) }
    static func ptr<T>(_ p: UnsafePointer<T>?) -> Arg { ptr(UnsafeRawPointer(p)) }
    static let null = Arg(bits: 0)
}

/// Calls entry point `name` through libffi with the hook table's declared signature.
@discardableResult
func call(_ name: String, _ args: Arg...) -> UInt64 {
    var result: UInt64 = 0
    let slots = args.map(\.bits)
    let status = vl_ffi_call(name, slots, UInt32(slots.count), &result)
    precondition(status == 0, "vl_ffi_call(\(name)) failed with \(status): not in the table or wrong argument count")
    return result
}

/// The Winsock API as a game calls it, typed for tests. Results are the raw return values.
struct Winsock {
    let host: VirtualHost
    static let socketError: Int32 = -1
    static let invalidSocket = UInt(bitPattern: -1)

    var lastError: Int32 { Int32(truncatingIfNeeded: call("WSAGetLastError")) }

    @discardableResult func startup(_ version: UInt16 = 0x0202) -> Int32 {
        var data = VL_WSADATA()
        return Int32(truncatingIfNeeded: call("WSAStartup", .uint(UInt32(version)), .ptr(&data)))
    }
    @discardableResult func cleanup() -> Int32 { Int32(truncatingIfNeeded: call("WSACleanup")) }

    func udpSocket() -> UInt {
        UInt(call("socket", .int(2), .int(2), .int(17)))
    }

    func sockaddr(_ address: IPv4Address, _ port: UInt16) -> VL_SOCKADDR_IN {
        VL_SOCKADDR_IN(sin_family: 2, sin_port: port.bigEndian, sin_addr: address.networkOrder, sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
    }

    func bind(_ s: UInt, _ address: IPv4Address, _ port: UInt16) -> Int32 {
        var a = sockaddr(address, port)
        return Int32(truncatingIfNeeded: call("bind", .socket(s), .ptr(&a), .int(16)))
    }

    func setOption(_ s: UInt, _ name: Int32, _ value: Int32) -> Int32 {
        var v = value
        return Int32(truncatingIfNeeded: call("setsockopt", .socket(s), .int(Opt.SOL_SOCKET), .int(name), .ptr(&v), .int(4)))
    }

    func getOption(_ s: UInt, _ name: Int32) -> Int32? {
        var v: Int32 = 0, length: Int32 = 4
        let r = Int32(truncatingIfNeeded: call("getsockopt", .socket(s), .int(Opt.SOL_SOCKET), .int(name), .ptr(&v), .ptr(&length)))
        return r == 0 ? v : nil
    }

    func sendto(_ s: UInt, _ payload: [UInt8], _ address: IPv4Address, _ port: UInt16) -> Int32 {
        var a = sockaddr(address, port)
        return payload.withUnsafeBytes { p in
            Int32(truncatingIfNeeded: call("sendto", .socket(s), .ptr(p.baseAddress ?? UnsafeRawPointer(bitPattern: 1)), .int(Int32(payload.count)), .int(0), .ptr(&a), .int(16)))
        }
    }

    /// recvfrom into a buffer of `capacity` bytes: (result, payload, from).
    func recvfrom(_ s: UInt, capacity: Int = 2048) -> (result: Int32, payload: [UInt8], from: SocketAddress?) {
        var buffer = [UInt8](repeating: 0, count: max(capacity, 1))
        var from = VL_SOCKADDR_IN()
        var fromLength: Int32 = 16
        let r = buffer.withUnsafeMutableBytes { p in
            Int32(truncatingIfNeeded: call("recvfrom", .socket(s), .ptr(p.baseAddress), .int(Int32(capacity)), .int(0), .ptr(&from), .ptr(&fromLength)))
        }
        let copied = r >= 0 ? Int(r) : (lastError == WSA.EMSGSIZE ? capacity : 0)
        let source = r >= 0 || lastError == WSA.EMSGSIZE ? SocketAddress.read(&from, length: fromLength).success : nil
        return (r, Array(buffer.prefix(copied)), source)
    }

    func nonBlocking(_ s: UInt) -> Int32 {
        var on: UInt32 = 1
        return Int32(truncatingIfNeeded: call("ioctlsocket", .socket(s), .int(Ioctl.FIONBIO), .ptr(&on)))
    }

    func bytesReadable(_ s: UInt) -> UInt32? {
        var n: UInt32 = 0
        let r = Int32(truncatingIfNeeded: call("ioctlsocket", .socket(s), .int(Ioctl.FIONREAD), .ptr(&n)))
        return r == 0 ? n : nil
    }

    func sockname(_ s: UInt) -> SocketAddress? {
        var a = VL_SOCKADDR_IN()
        var length: Int32 = 16
        let r = Int32(truncatingIfNeeded: call("getsockname", .socket(s), .ptr(&a), .ptr(&length)))
        return r == 0 ? SocketAddress.read(&a, length: length).success : nil
    }

    func close(_ s: UInt) -> Int32 { Int32(truncatingIfNeeded: call("closesocket", .socket(s))) }

    func createEvent() -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(call("WSACreateEvent")))! }

    func wait(_ events: [UnsafeMutableRawPointer?], all: Bool = false, timeoutMs: UInt32 = 10_000, alertable: Bool = false) -> UInt32 {
        UInt32(truncatingIfNeeded: events.withUnsafeBufferPointer { e in
            call("WSAWaitForMultipleEvents", .uint(UInt32(events.count)), .ptr(e.baseAddress), .int(all ? 1 : 0), .uint(timeoutMs), .int(alertable ? 1 : 0))
        })
    }

    /// A bound UDP socket with SO_BROADCAST, as the game opens them.
    func gameSocket(port: UInt16, address: IPv4Address = .any) -> UInt {
        let s = udpSocket()
        precondition(s != Winsock.invalidSocket, "socket() failed: \(lastError)")
        precondition(setOption(s, Opt.SO_BROADCAST, 1) == 0)
        precondition(bind(s, address, port) == 0, "bind failed: \(lastError)")
        return s
    }
}

/// Calls `body` with `text` as a C string, or NULL.
func withOptionalCString<T>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> T) -> T {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}

extension Result {
    var success: Success? { if case let .success(v) = self { return v } else { return nil } }
}

/// Overlapped receive state that must outlive the call (Windows requires it).
final class OverlappedReceive {
    var overlapped = UnsafeMutablePointer<VL_OVERLAPPED>.allocate(capacity: 1)
    var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
    var from = UnsafeMutablePointer<VL_SOCKADDR_IN>.allocate(capacity: 1)
    var fromLength = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    var received: UInt32 = 0
    var flags: UInt32 = 0

    /// Operations stay alive until the LAN is shut down (closesocket completes them), as
    /// Windows requires the OVERLAPPED and buffers to outlive the operation.
    nonisolated(unsafe) static var alive: [OverlappedReceive] = []

    init(event: UnsafeMutableRawPointer?) {
        OverlappedReceive.alive.append(self)
        overlapped.initialize(to: VL_OVERLAPPED())
        overlapped.pointee.hEvent = event
        from.initialize(to: VL_SOCKADDR_IN())
        fromLength.initialize(to: 16)
    }

    deinit {
        overlapped.deallocate()
        buffer.deallocate()
        from.deallocate()
        fromLength.deallocate()
    }

    /// Posts WSARecvFrom; returns its result and the last error.
    func post(_ s: UInt, routine: UnsafeRawPointer? = nil, capacity: Int = 2048) -> (Int32, Int32) {
        var wsabuf = VL_WSABUF(len: UInt32(capacity), buf: buffer.baseAddress!.assumingMemoryBound(to: CChar.self))
        let r = Int32(truncatingIfNeeded: call("WSARecvFrom", .socket(s), .ptr(&wsabuf), .uint(1), .ptr(&received), .ptr(&flags),
                                               .ptr(from), .ptr(fromLength), .ptr(overlapped), .ptr(routine)))
        return (r, Int32(truncatingIfNeeded: call("WSAGetLastError")))
    }

    /// WSAGetOverlappedResult without waiting: (ok, bytes, last error).
    func result(_ s: UInt, wait: Bool = false) -> (ok: Bool, bytes: UInt32, error: Int32) {
        var bytes: UInt32 = 0, flags: UInt32 = 0
        let ok = call("WSAGetOverlappedResult", .socket(s), .ptr(overlapped), .ptr(&bytes), .int(wait ? 1 : 0), .ptr(&flags)) != 0
        return (ok, bytes, ok ? 0 : Int32(truncatingIfNeeded: call("WSAGetLastError")))
    }

    func payload(_ count: UInt32) -> [UInt8] { Array(buffer.prefix(Int(count))) }
    var source: SocketAddress? { SocketAddress.read(from, length: fromLength.pointee).success }
}

/// WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) for the extension GUID `id` (its 16 bytes):
/// the pointer, or nil when refused (the last error says why).
func extensionFunction(_ s: UInt, _ id: [UInt8]) -> UnsafeMutableRawPointer? {
    var id = id
    var pointer: UnsafeMutableRawPointer?
    var returned: UInt32 = 0
    let r = id.withUnsafeMutableBytes { idBytes in
        withUnsafeMutablePointer(to: &pointer) { out in
            withUnsafeMutablePointer(to: &returned) {
                Int32(truncatingIfNeeded: call("WSAIoctl", .socket(s), .uint(Ioctl.SIO_GET_EXTENSION_FUNCTION_POINTER), .ptr(UnsafeRawPointer(idBytes.baseAddress)), .uint(16),
                                               .ptr(out), .uint(UInt32(MemoryLayout<UnsafeRawPointer>.size)), .ptr($0), .null, .null))
            }
        }
    }
    return r == 0 ? pointer : nil
}

extension TestLAN {
    /// A TCP socket of `instance` listening on `port` of all its addresses.
    func tcpListener(_ instance: Int, port: UInt16) -> UInt {
        self.as(instance) { ws in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.bind(s, .any, port), 0, "bind: \(ws.lastError)")
            XCTAssertEqual(ws.listen(s), 0, "listen: \(ws.lastError)")
            return s
        }
    }

    /// A virtual TCP connection: `client` in `from`, connected to `listener` of `to` (on
    /// `port`), and the socket `to` accepted for it.
    func connection(from: Int, to: Int, listener: UInt, port: UInt16) -> (client: UInt, accepted: UInt) {
        let client = self.as(from) { ws -> UInt in
            let s = ws.tcpSocket()
            XCTAssertEqual(ws.connect(s, address(to), port), 0, "connect: \(ws.lastError)")
            return s
        }
        return (client, self.as(to) { $0.accept(listener).0 })
    }
}
