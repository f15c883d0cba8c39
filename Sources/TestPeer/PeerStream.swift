import CWineBridge
import Foundation
import HostKit
import VirtualIPCore
import WinsockDetours

/// The TCP roles of `peer` (the stream benchmark): `sink` listens on the port and takes
/// `count` connections one after another, reading each to its end; `stream` connects to
/// instance K's port and sends `count` MiB, then closes. The sink says "sank N bytes in S s,
/// R MB/s" (first byte to end) for each. Through the Winsock entry points a hooked game
/// uses, or over plain TCP (`--raw`). Bounded: the sink gives up after the timeout
/// without a connection.
enum StreamPeer {
    static let chunk = 65536

    /// The virtual path: a TCP socket of this instance.
    static func run(host: VirtualHost, role: Peer.Role, count: Int, peer: Int, port: UInt16, timeoutMs: Int32) {
        var data = VL_WSADATA()
        guard hookWSAStartup(0x0202, &data) == 0 else { fail("WSAStartup failed") }
        let s = hookSocket(2, 1, 6)
        say("ready \(host.instance) \(host.address.dotted)")
        var buffer = [UInt8](repeating: 0x5A, count: chunk)
        if role == .sink {
            var any = sockaddr(.any, port)
            guard hookBind(s, &any, 16) == 0, hookListen(s, 1) == 0 else { fail("sink: cannot listen on TCP \(port): \(hookWSAGetLastError())") }
            for _ in 0..<count {
                var set = VL_FD_SET()
                set.fd_count = 1
                vl_fd_set_put(&set, 0, VL_SOCKET(s))
                var timeout = VL_TIMEVAL(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
                guard hookSelect(0, &set, nil, nil, &timeout) == 1 else { fail("sink: no connection within \(timeoutMs) ms") }
                let c = hookAccept(s, nil, nil)
                guard c != ~UInt(0) else { fail("sink: accept failed: \(hookWSAGetLastError())") }
                sink { buffer.withUnsafeMutableBytes { Int(hookRecv(c, $0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(chunk), 0)) } }
                _ = hookClosesocket(c)
            }
        } else {
            var to = sockaddr(host.registry.network.address(ofInstance: peer), port)
            guard hookConnect(s, &to, 16) == 0 else { fail("stream: connect failed: \(hookWSAGetLastError())") }
            stream(count) { buffer.withUnsafeMutableBytes { Int(hookSend(s, $0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(chunk), 0)) } }
        }
        _ = hookClosesocket(s)
        _ = hookWSACleanup()
        host.shutdown()
    }

    /// The baseline: plain TCP on `address` (the sink listens there, the stream connects).
    static func runRaw(role: Peer.Role, count: Int, address: HostAddress, timeoutMs: Int32) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var target = address.sockaddr
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        var buffer = [UInt8](repeating: 0x5A, count: chunk)
        if role == .sink {
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
            let bound = withUnsafePointer(to: &target) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            guard bound == 0, listen(fd, 1) == 0 else { fail("sink: cannot listen on \(address): \(String(cString: strerror(errno)))") }
            say("ready raw \(address)")
            for _ in 0..<count {
                var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&entry, 1, timeoutMs) == 1 else { fail("sink: no connection within \(timeoutMs) ms") }
                let c = accept(fd, nil, nil)
                guard c >= 0 else { fail("sink: accept failed: \(String(cString: strerror(errno)))") }
                sink { buffer.withUnsafeMutableBytes { recv(c, $0.baseAddress, chunk, 0) } }
                close(c)
            }
        } else {
            let connected = withUnsafePointer(to: &target) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } }
            guard connected == 0 else { fail("stream: connect to \(address) failed: \(String(cString: strerror(errno)))") }
            say("ready raw \(address)")
            stream(count) { buffer.withUnsafeBytes { send(fd, $0.baseAddress, chunk, Int32(MSG_NOSIGNAL)) } }
        }
        close(fd)
    }

    /// Reads with `receive` until the end; says the count and the rate.
    private static func sink(_ receive: () -> Int) {
        var total = 0
        var first = 0.0
        while true {
            let n = receive()
            guard n > 0 else {
                if n < 0 { fail("sink: receive failed after \(total) bytes") }
                break
            }
            if total == 0 { first = MonotonicClock.seconds }
            total += n
        }
        let seconds = max(MonotonicClock.seconds - first, 1e-9)
        say(String(format: "sank %d bytes in %.3f s, %.1f MB/s", total, seconds, Double(total) / seconds / 1e6))
    }

    /// Sends at least `mebibytes` MiB in chunks with `send` (a blocking send takes whole
    /// chunks); says how many bytes went.
    private static func stream(_ mebibytes: Int, _ send: () -> Int) {
        var sent = 0
        while sent < mebibytes << 20 {
            let n = send()
            guard n > 0 else { fail("stream: send failed after \(sent) bytes") }
            sent += n
        }
        say("streamed \(sent) bytes")
    }
}
