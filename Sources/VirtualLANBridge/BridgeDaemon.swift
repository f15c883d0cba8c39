import Foundation
import HostKit
import WinsockDetours

/// The bridge as a daemon: its one loop, the lock that keeps it alone on a registry, and the
/// signals that stop it.
extension BridgeEngine {
    /// Waits on the links, every proxy and stand-in and every relayed stream; wakes at least
    /// every `tickMs` for announcements.
    public func run(until stopRequested: () -> Bool) {
        let tickMs: Int32 = 250
        var buffer = [UInt8](repeating: 0, count: 65536)
        var nextTick = platform.nowMs
        while !stopRequested() {
            var fds = pollSet
            let wait = max(0, Int32(bitPattern: nextTick &- platform.nowMs))
            let readyCount = poll(&fds, nfds_t(fds.count), min(wait, tickMs))
            if readyCount > 0 {
                buffer.withUnsafeMutableBytes { b in
                    for entry in fds where entry.revents != 0 { self.ready(entry.fd, b) }
                }
            }
            if Int32(bitPattern: platform.nowMs &- nextTick) >= 0 {
                tick()
                nextTick = platform.nowMs &+ UInt32(tickMs)
            }
        }
    }
}

/// One bridge per registry: a second one would claim the same remote slots.
public struct BridgeLock {
    let fd: Int32

    public init(registryPath: String) throws {
        let path = registryPath + ".bridge.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Failure("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            throw Failure("another bridge is running for registry \(registryPath): stop it first (one bridge per host)")
        }
    }
}

/// SIGINT/SIGTERM end the loop; the bridge then says goodbye to its peers.
public enum BridgeSignals {
    nonisolated(unsafe) static var stopFlag: sig_atomic_t = 0
    public static var stopRequested: Bool { stopFlag != 0 }

    public static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in BridgeSignals.stopFlag = 1 }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0 // no SA_RESTART: poll returns at once
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
    }
}
