import Foundation
import HostKit

/// A relayed TCP connection as a relay carries it: the link of the connecting copy's host
/// (`a`) joined to the link its listener's host called back on (`b`), the bytes passed on
/// as they come. The chunks are sealed end to end by the two hosts' bridges (the stream's
/// own key); the relay reads none of them. The opening frame `a` sent goes to `b` first, so
/// the listener's bridge checks it as if `a` had connected to it. An end passes on as an
/// end (shutdown), a reset or an error as a reset of the other side; backpressure as in
/// RelayedStream: a side is read only when what was read from it before has been written on.
final class SplicedStream {
    enum Outcome: Equatable { case waiting, finished, failed(String) }

    let a: Int32, b: Int32
    private var toA = Pending(), toB = Pending()
    private var aEnded = false, bEnded = false
    /// Our writing half towards the side is shut (the other side's end passed on).
    private var aShut = false, bShut = false
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)
    private(set) var bytesAB = 0, bytesBA = 0

    init(a: Int32, b: Int32, first: [UInt8]) {
        self.a = a
        self.b = b
        toB.bytes = first
        TCPSocket.closesAbortively(a, true)
        TCPSocket.closesAbortively(b, true)
    }

    var fds: [Int32] { [a, b] }

    func isDone(_ fd: Int32) -> Bool { fd == a ? aEnded && aShut : bEnded && bShut }

    func events(of fd: Int32) -> Int16 {
        let (ended, reading, writing) = fd == a ? (aEnded, toB, toA) : (bEnded, toA, toB)
        var events: Int32 = 0
        if reading.isEmpty && !ended { events |= POLLIN }
        if !writing.isEmpty { events |= POLLOUT }
        return Int16(events)
    }

    func pump() -> Outcome {
        var progress = true
        while progress {
            progress = false
            if let failure = move(from: a, to: b, &toB, &aEnded, &bShut, &bytesAB, &progress)
                ?? move(from: b, to: a, &toA, &bEnded, &aShut, &bytesBA, &progress) {
                return .failed(failure)
            }
        }
        return aShut && bShut ? .finished : .waiting
    }

    private func move(from source: Int32, to target: Int32, _ pending: inout Pending, _ ended: inout Bool, _ shut: inout Bool,
                      _ total: inout Int, _ progress: inout Bool) -> String? {
        func name(_ fd: Int32) -> String { fd == a ? "the connecting host's link" : "the listener host's link" }
        if pending.isEmpty && !ended {
            let n = recv(source, &scratch, scratch.count, Int32(MSG_DONTWAIT))
            if n > 0 {
                pending.bytes = Array(scratch[..<n])
                total += n
                progress = true
            } else if n == 0 {
                ended = true
                progress = true
            } else if errno != EAGAIN && errno != EINTR {
                return "\(name(source)) failed (\(String(cString: strerror(errno))))"
            }
        }
        if !pending.isEmpty {
            let n = pending.bytes[pending.offset...].withUnsafeBytes { send(target, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            if n < 0 && errno != EAGAIN && errno != EINTR { return "\(name(target)) failed (\(String(cString: strerror(errno))))" }
            if n > 0 {
                pending.offset += n
                if pending.offset == pending.bytes.count { pending = Pending() }
                progress = true
            }
        }
        if pending.isEmpty && ended && !shut {
            shutdown(target, Int32(SHUT_WR))
            shut = true
        }
        return nil
    }

    private struct Pending {
        var bytes: [UInt8] = []
        var offset = 0
        var isEmpty: Bool { offset == bytes.count }
    }
}
