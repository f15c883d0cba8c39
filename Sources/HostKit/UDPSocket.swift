import Foundation

/// A non-blocking UDP socket of the bridge (the link to other hosts, or a proxy on
/// 127.0.0.1 standing in for one socket of a remote instance).
public final class UDPSocket {
    public let fd: Int32
    public let port: UInt16

    /// Binds to `address` (port 0: any free port). Throws with the OS's reason.
    public init(bindTo address: sockaddr_in, receiveBuffer: Int32? = nil) throws {
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
            throw Failure("cannot bind UDP \(HostAddress(address)): \(String(cString: strerror(status)))")
        }
        self.fd = fd
        port = UInt16(bigEndian: bound.sin_port)
    }

    /// True when the kernel took the whole datagram (false: buffer full or unreachable).
    public func send(_ bytes: UnsafeRawBufferPointer, to address: sockaddr_in) -> Bool {
        var to = address
        return withUnsafePointer(to: &to) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == bytes.count
    }

    /// One datagram, or nil when none is waiting.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, from: sockaddr_in)? {
        var from = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = withUnsafeMutablePointer(to: &from) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT), $0, &length) }
        }
        return n >= 0 ? (n, from) : nil
    }

    deinit { Glibc.close(fd) }
}
