import Foundation

/// The bridge's non-blocking TCP sockets: listeners (the stream link port, the stand-ins for
/// remote instances' listeners) and the two halves of every relayed connection.
public enum TCPSocket {
    /// A listening socket bound to `address` (port 0: any free port); (fd, bound port).
    public static func listen(on address: sockaddr_in) throws -> (fd: Int32, port: UInt16) {
        let fd = try open()
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4) // a restarted bridge takes its link port again at once
        guard let port = bind(fd, to: address), Glibc.listen(fd, SOMAXCONN) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw Failure("cannot listen on TCP \(HostAddress(address)): \(reason)")
        }
        return (fd, port)
    }

    /// A new socket bound to 127.0.0.1 (its port is the one the registry names) that
    /// connects to `target` without waiting; nil when the OS refuses at once.
    public static func connect(to target: sockaddr_in, bindLoopback: Bool) -> (fd: Int32, port: UInt16)? {
        guard let fd = try? open() else { return nil }
        var port: UInt16 = 0
        if bindLoopback {
            guard let bound = bind(fd, to: HostAddress.loopback(0).sockaddr) else {
                Glibc.close(fd)
                return nil
            }
            port = bound
        }
        var to = target
        let status = withUnsafePointer(to: &to) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 || errno == EINPROGRESS else {
            Glibc.close(fd)
            return nil
        }
        return (fd, port)
    }

    /// The next waiting connection of a listener: (fd, the peer's address), or nil.
    public static func accept(_ listener: Int32) -> (fd: Int32, from: HostAddress)? {
        var from = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = withUnsafeMutablePointer(to: &from) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(listener, $0, &length) }
        }
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return (fd, HostAddress(from))
    }

    /// The error a non-blocking connect ended with (0: connected).
    public static func connectError(_ fd: Int32) -> Int32 {
        var error: Int32 = 0
        var length = socklen_t(4)
        return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 ? error : errno
    }

    /// Closes with a reset (SO_LINGER 0): the other end's next call says ECONNRESET.
    public static func reset(_ fd: Int32) {
        closesAbortively(fd, true)
        Glibc.close(fd)
    }

    /// SO_LINGER 0 on or off: on, any close of the socket is a reset, the kernel's own when
    /// the process dies too.
    public static func closesAbortively(_ fd: Int32, _ on: Bool) {
        var linger = Glibc.linger(l_onoff: on ? 1 : 0, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    private static func open() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure("cannot open a TCP socket: \(String(cString: strerror(errno)))") }
        return fd
    }

    private static func bind(_ fd: Int32, to address: sockaddr_in) -> UInt16? {
        var bound = address
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return ok ? UInt16(bigEndian: bound.sin_port) : nil
    }
}
