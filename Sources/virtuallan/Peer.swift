import ArgumentParser
import CWineBridge
import Foundation
import VirtualIPCore
import WinsockDetours

/// A test instance in its own process, speaking through the same Winsock entry points a
/// hooked game uses. `echo` answers every datagram on the port to its sender; `ping` sends
/// `count` numbered datagrams to instance K and checks every answer. Both give up after
/// the timeout (bounded) and say so.
struct Peer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A test instance that echoes or pings (used by the multi-process tests).", shouldDisplay: false)

    enum Role: String, ExpressibleByArgument { case echo, ping }
    @Argument var role: Role
    @Option var count = 10
    @Option(name: .customLong("peer-instance")) var peerInstance = 0
    @Option var port: UInt16 = 23756
    @Option(name: .customLong("timeout-ms")) var timeoutMs: Int32 = 10_000
    @Flag(help: "After echoing, stay a live instance until stdin closes.") var hold = false

    func run() throws {
        guard let host = VirtualHost.current else { throw ExitCode(1) }
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

func say(_ line: String) {
    print(line)
    fflush(stdout)
}

func fail(_ message: String, code: Int32 = 1) -> Never {
    fputs("virtuallan: \(message)\n", stderr)
    exit(code)
}

func runPeer(host: VirtualHost, role: Peer.Role, count: Int, peer: Int, port: UInt16, timeoutMs: Int32, hold: Bool) {
    var data = VL_WSADATA()
    guard hookWSAStartup(0x0202, &data) == 0 else { fail("WSAStartup failed") }
    let s = hookSocket(2, 2, 17)
    var any = sockaddr(.any, port)
    guard hookBind(s, &any, 16) == 0 else { fail("bind to port \(port) failed: \(hookWSAGetLastError())", code: 1) }
    say("ready \(host.instance) \(host.address.dotted)")

    var buffer = [UInt8](repeating: 0, count: 2048)
    func receive() -> (payload: [UInt8], from: VL_SOCKADDR_IN)? {
        var set = VL_FD_SET()
        set.fd_count = 1
        vl_fd_set_put(&set, 0, VL_SOCKET(s))
        var timeout = VL_TIMEVAL(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
        guard hookSelect(0, &set, nil, nil, &timeout) == 1 else { return nil }
        var from = VL_SOCKADDR_IN()
        var fromLength: Int32 = 16
        let n = buffer.withUnsafeMutableBytes { hookRecvfrom(s, $0.baseAddress!.assumingMemoryBound(to: CChar.self), 2048, 0, &from, &fromLength) }
        guard n >= 0 else { fail("recvfrom failed: \(hookWSAGetLastError())", code: 1) }
        return (Array(buffer.prefix(Int(n))), from)
    }

    if role == .echo {
        for _ in 0..<count {
            guard var (payload, from) = receive() else { fail("echo: timed out waiting for a datagram", code: 1) }
            let sent = payload.withUnsafeMutableBytes { hookSendto(s, $0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32($0.count), 0, &from, 16) }
            guard sent == Int32(payload.count) else { fail("echo: sendto failed: \(hookWSAGetLastError())", code: 1) }
        }
        say("echoed \(count)")
        if hold {
            // Stay a live instance (for a status look) until stdin closes.
            while getchar() != EOF {}
        }
    } else {
        let peerAddress = host.registry.network.address(ofInstance: peer)
        var to = sockaddr(peerAddress, port)
        for i in 0..<count {
            var payload = Array("ping \(i) from \(host.instance)".utf8)
            let sent = payload.withUnsafeMutableBytes { hookSendto(s, $0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32($0.count), 0, &to, 16) }
            guard sent == Int32(payload.count) else { fail("ping: sendto failed: \(hookWSAGetLastError())", code: 1) }
            guard let (answer, from) = receive() else { fail("ping: no answer to datagram \(i)", code: 1) }
            guard answer == payload else { fail("ping: answer \(i) differs", code: 1) }
            guard from.sin_addr == peerAddress.networkOrder, from.sin_port == port.bigEndian else {
                fail("ping: answer came from \(IPv4Address(networkOrder: from.sin_addr).dotted), not \(peerAddress.dotted)", code: 1)
            }
        }
        say("pinged \(count)")
    }
    _ = hookClosesocket(s)
    _ = hookWSACleanup()
    host.shutdown()
}

func sockaddr(_ address: IPv4Address, _ port: UInt16) -> VL_SOCKADDR_IN {
    VL_SOCKADDR_IN(sin_family: 2, sin_port: port.bigEndian, sin_addr: address.networkOrder, sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
}
