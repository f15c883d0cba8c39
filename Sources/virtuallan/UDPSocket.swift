import Foundation

/// A non-blocking UDP socket of the bridge (the link to other hosts, or a proxy on
/// 127.0.0.1 standing in for one socket of a remote instance).
final class UDPSocket {
    let fd: Int32
    let port: UInt16

    /// Binds to `address` (port 0: any free port). Throws with the OS's reason.
    init(bindTo address: sockaddr_in, receiveBuffer: Int32? = nil) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure("cannot open a UDP socket: \(String(cString: strerror(errno)))") }
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, 4) }
        var bound = address
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let status = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                guard bind(fd, p, length) == 0 else { return errno }
                return getsockname(fd, p, &length) == 0 ? 0 : errno
            }
        }
        guard status == 0 else {
            Glibc.close(fd)
            throw Failure("cannot bind UDP \(SocketAddress(address)): \(String(cString: strerror(status)))")
        }
        self.fd = fd
        port = UInt16(bigEndian: bound.sin_port)
    }

    /// True when the kernel took the whole datagram (false: buffer full or unreachable).
    func send(_ bytes: UnsafeRawBufferPointer, to address: sockaddr_in) -> Bool {
        var to = address
        return withUnsafePointer(to: &to) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == bytes.count
    }

    /// One datagram, or nil when none is waiting.
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, from: sockaddr_in)? {
        var from = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = withUnsafeMutablePointer(to: &from) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT), $0, &length) }
        }
        return n >= 0 ? (n, from) : nil
    }

    deinit { Glibc.close(fd) }
}

/// An IPv4 address and port, as the user writes it ("10.0.0.2:47800").
struct SocketAddress: Equatable, Hashable, CustomStringConvertible {
    var address: UInt32 // host order
    var port: UInt16

    init(_ a: sockaddr_in) {
        address = UInt32(bigEndian: a.sin_addr.s_addr)
        port = UInt16(bigEndian: a.sin_port)
    }

    init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }

    init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]) else { return nil }
        var a = in_addr()
        guard inet_pton(AF_INET, String(parts[0]), &a) == 1 else { return nil }
        self.init(address: UInt32(bigEndian: a.s_addr), port: port)
    }

    static func loopback(_ port: UInt16) -> SocketAddress { SocketAddress(address: 0x7F00_0001, port: port) }

    var sockaddr: sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = address.bigEndian
        return a
    }

    var description: String {
        "\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF):\(port)"
    }
}

/// A value shared between threads, every access under its lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
