import ArgumentParser
import CWineBridge
import Foundation
import HostKit
import VirtualIPCore
import WinsockDetours

/// A test instance in its own process, speaking through the same Winsock entry points a
/// hooked game uses. `echo` answers every datagram on the port to its sender; `ping` sends
/// `count` numbered datagrams to instance K and checks every answer; `serve` and `discover`
/// play lobby host and client (the bridge tests: `count` = hosts to find); `sink` and
/// `stream` measure TCP streams (`count` = connections to take, MiB to send; StreamPeer). All give up after the timeout
/// (bounded) and say so.
struct Peer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A test instance that echoes or pings (used by the multi-process tests).", shouldDisplay: false)

    enum Role: String, ExpressibleByArgument { case echo, ping, serve, discover, sink, stream }
    @Argument var role: Role
    @Option var count = 10
    @Option(name: .customLong("peer-instance")) var peerInstance = 0
    @Option var port: UInt16 = 23756
    @Option(name: .customLong("timeout-ms")) var timeoutMs: Int32 = 10_000
    @Flag(help: "After echoing, stay a live instance until stdin closes.") var hold = false
    @Option(help: "echo/ping over plain UDP instead (no instance): the address:port to listen on (echo) or ping (ping).")
    var raw: String?

    func run() throws {
        let streaming = role == .sink || role == .stream
        if let raw {
            guard let address = HostAddress(parsing: raw), role != .serve, role != .discover else {
                throw ValidationError("--raw takes address:port, with echo, ping, sink or stream")
            }
            if streaming { return StreamPeer.runRaw(role: role, count: count, address: address, timeoutMs: timeoutMs) }
            return try runRawPeer(role: role, address: address, count: count, timeoutMs: timeoutMs)
        }
        guard let host = VirtualHost.current else { throw ExitCode(1) }
        if streaming { return StreamPeer.run(host: host, role: role, count: count, peer: peerInstance, port: port, timeoutMs: timeoutMs) }
        runPeer(host: host, role: role, count: count, peer: peerInstance, port: port, timeoutMs: timeoutMs, hold: hold)
    }
}

/// Claims an instance, says which, and holds it until stdin closes.
struct Claim: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Claim an instance slot and hold it (tests).", shouldDisplay: false)

    @Flag(name: .customLong("wait-for-go"), help: "Claim only after a line on stdin, so many processes claim at one instant.")
    var waitForGo = false

    func run() throws {
        if waitForGo {
            say("waiting")
            _ = readLine()
        }
        guard let host = VirtualHost.current else { throw ExitCode(1) }
        say("claimed \(host.instance) \(host.address.dotted)")
        while getchar() != EOF {}
        host.shutdown()
    }
}

func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("virtuallan: \(message)\n".utf8))
    exit(code)
}

/// One UDP socket of a test instance, through the hooked Winsock entry points.
struct TestSocket {
    let handle: UInt
    let timeoutMs: Int32
    var buffer = [UInt8](repeating: 0, count: 2048)

    init(port: UInt16, broadcast: Bool = false, timeoutMs: Int32) {
        var data = VL_WSADATA()
        guard hookWSAStartup(0x0202, &data) == 0 else { fail("WSAStartup failed") }
        handle = hookSocket(2, 2, 17)
        self.timeoutMs = timeoutMs
        if broadcast {
            var on: Int32 = 1
            _ = withUnsafeBytes(of: &on) { hookSetsockopt(handle, 0xFFFF, 0x20, $0.baseAddress!.assumingMemoryBound(to: CChar.self), 4) }
        }
        var any = sockaddr(.any, port)
        guard hookBind(handle, &any, 16) == 0 else { fail("bind to port \(port) failed: \(hookWSAGetLastError())") }
    }

    /// The next datagram, or nil after `timeoutMs` without one.
    mutating func receive() -> (payload: [UInt8], from: VL_SOCKADDR_IN)? {
        var set = VL_FD_SET()
        set.fd_count = 1
        vl_fd_set_put(&set, 0, VL_SOCKET(handle))
        var timeout = VL_TIMEVAL(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
        guard hookSelect(0, &set, nil, nil, &timeout) == 1 else { return nil }
        var from = VL_SOCKADDR_IN()
        var fromLength: Int32 = 16
        let handle = handle
        let n = buffer.withUnsafeMutableBytes { hookRecvfrom(handle, $0.baseAddress!.assumingMemoryBound(to: CChar.self), 2048, 0, &from, &fromLength) }
        guard n >= 0 else { fail("recvfrom failed: \(hookWSAGetLastError())") }
        return (Array(buffer.prefix(Int(n))), from)
    }

    func send(_ payload: [UInt8], to address: VL_SOCKADDR_IN) {
        var payload = payload
        var to = address
        let sent = payload.withUnsafeMutableBytes { hookSendto(handle, $0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32($0.count), 0, &to, 16) }
        guard sent == Int32(payload.count) else { fail("sendto failed: \(hookWSAGetLastError())") }
    }

    func close() {
        _ = hookClosesocket(handle)
        _ = hookWSACleanup()
    }
}

func runPeer(host: VirtualHost, role: Peer.Role, count: Int, peer: Int, port: UInt16, timeoutMs: Int32, hold: Bool) {
    var socket = TestSocket(port: port, broadcast: role == .discover || role == .serve, timeoutMs: timeoutMs)
    say("ready \(host.instance) \(host.address.dotted)")
    switch role {
    case .echo:
        for _ in 0..<count {
            guard let (payload, from) = socket.receive() else { fail("echo: timed out waiting for a datagram") }
            socket.send(payload, to: from)
        }
        say("echoed \(count)")
        if hold {
            // Stay a live instance (for a status look) until stdin closes.
            while getchar() != EOF {}
        }
    case .ping:
        let peerAddress = host.registry.network.address(ofInstance: peer)
        var rtt = RoundTrips()
        for i in 0..<count {
            let payload = Array("ping \(i) from \(host.instance)".utf8)
            rtt.start()
            socket.send(payload, to: sockaddr(peerAddress, port))
            guard let (answer, from) = socket.receive() else { fail("ping: no answer to datagram \(i)") }
            guard answer == payload else { fail("ping: answer \(i) differs") }
            guard from.sin_addr == peerAddress.networkOrder, from.sin_port == port.bigEndian else {
                fail("ping: answer came from \(IPv4Address(networkOrder: from.sin_addr).dotted), not \(peerAddress.dotted)")
            }
            rtt.stop()
        }
        say("pinged \(count), \(rtt.summary)")
    case .serve:
        serve(&socket)
    case .discover:
        discover(&socket, host: host, expected: count, port: port)
    case .sink, .stream:
        fail("\(role.rawValue) is a TCP role (StreamPeer)")
    }
    socket.close()
    host.shutdown()
}

/// Round-trip times of one ping run.
struct RoundTrips {
    var samples: [Double] = []
    var started = 0.0
    mutating func start() { started = MonotonicClock.seconds }
    mutating func stop() { samples.append((MonotonicClock.seconds - started) * 1e6) }
    /// "rtt p50 X p99 Y (µs)", the first tenth left out as warm-up.
    var summary: String {
        let sorted = samples.dropFirst(samples.count / 10).sorted()
        guard !sorted.isEmpty else { return "rtt none" }
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        return String(format: "rtt p50 %.1f p99 %.1f (µs)", at(0.5), at(0.99))
    }
}

/// Plain UDP echo and ping (the baseline of the cross-host benchmark), with the same output.
func runRawPeer(role: Peer.Role, address: HostAddress, count: Int, timeoutMs: Int32) throws {
    let socket = try UDPSocket(bindTo: role == .echo ? address.sockaddr : HostAddress(address: 0, port: 0).sockaddr)
    var buffer = [UInt8](repeating: 0, count: 2048)
    func receive() -> (count: Int, from: sockaddr_in)? {
        var entry = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, timeoutMs) == 1 else { return nil }
        return buffer.withUnsafeMutableBytes { socket.receive(into: $0) }
    }
    say("ready raw \(HostAddress(address: 0, port: socket.port))")
    var rtt = RoundTrips()
    for i in 0..<count {
        if role == .echo {
            guard let (n, from) = receive() else { fail("echo: timed out waiting for a datagram") }
            _ = buffer.withUnsafeBytes { socket.send(UnsafeRawBufferPointer(rebasing: $0[..<n]), to: from) }
        } else {
            let payload = Array("ping \(i)".utf8)
            rtt.start()
            guard payload.withUnsafeBytes({ socket.send($0, to: address.sockaddr) }) else { fail("ping: send failed") }
            guard let (n, _) = receive(), Array(buffer.prefix(n)) == payload else { fail("ping: no answer to datagram \(i)") }
            rtt.stop()
        }
    }
    say(role == .echo ? "echoed \(count)" : "pinged \(count), \(rtt.summary)")
}

func sourceText(_ from: VL_SOCKADDR_IN) -> String {
    "\(IPv4Address(networkOrder: from.sin_addr).dotted):\(UInt16(bigEndian: from.sin_port))"
}

/// A lobby host: says every datagram it gets ("got <source> <payload>") and answers it with
/// the same payload, until "quit" or `timeoutMs` of silence.
func serve(_ socket: inout TestSocket) {
    while let (payload, from) = socket.receive() {
        let text = String(decoding: payload, as: UTF8.self)
        say("got \(sourceText(from)) \(text)")
        if text == "quit" { return }
        socket.send(payload, to: from)
    }
    say("serve: \(socket.timeoutMs) ms without a datagram, leaving")
}

/// A client looking for lobbies: one broadcast, then the answers of `expected` hosts, then a
/// unicast round trip with each. Any datagram that is not the awaited one is a duplicate
/// (a host's datagrams arrive in order, so a doubled answer shows up before its ping's).
func discover(_ socket: inout TestSocket, host: VirtualHost, expected: Int, port: UInt16) {
    let hello = Array("discover from \(host.instance)".utf8)
    socket.send(hello, to: sockaddr(.limitedBroadcast, port))
    var found: [String: VL_SOCKADDR_IN] = [:]
    var ownCopies = 0
    while found.count < expected {
        guard let (payload, from) = socket.receive() else {
            fail("discover: found \(found.count) of \(expected) hosts: \(found.keys.sorted().joined(separator: " "))")
        }
        guard payload == hello else { fail("discover: unexpected datagram from \(sourceText(from))") }
        if IPv4Address(networkOrder: from.sin_addr) == host.address {
            ownCopies += 1
        } else if found.updateValue(from, forKey: sourceText(from)) != nil {
            fail("discover: duplicate answer from \(sourceText(from))")
        }
    }
    say("found \(found.keys.sorted().joined(separator: " "))")
    for (i, name) in found.keys.sorted().enumerated() {
        let ping = Array("ping \(i) from \(host.instance)".utf8)
        socket.send(ping, to: found[name]!)
        while true {
            guard let (answer, from) = socket.receive() else { fail("discover: no answer from \(name) to a unicast ping") }
            if answer == hello, IPv4Address(networkOrder: from.sin_addr) == host.address, ownCopies == 0 {
                ownCopies = 1 // our own broadcast's copy, late
                continue
            }
            guard answer == ping, sourceText(from) == name else {
                fail("discover: duplicate or stray datagram from \(sourceText(from)) while waiting for \(name)")
            }
            break
        }
    }
    say("pinged \(found.count), own broadcast copies \(ownCopies), duplicates 0")
}

func sockaddr(_ address: IPv4Address, _ port: UInt16) -> VL_SOCKADDR_IN {
    VL_SOCKADDR_IN(sin_family: 2, sin_port: port.bigEndian, sin_addr: address.networkOrder, sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
}
