import Foundation
import HostKit
import WinsockDetours

/// A game's threads share one instance. One thread sends as fast as it can while another
/// polls a second socket with non-blocking receives (its queue empty, as a game's network
/// loop finds it most of the time). The send rate is measured with that poller in the same
/// instance, and in the other one, where it shares nothing with the sender; raw UDP with
/// a raw poller is the reference. What the same instance loses against the other is what
/// the two threads wait for each other inside the layer.
extension Report {
    mutating func measureContention(count: Int) {
        var raws: [Double] = [], apart: [Double] = [], together: [Double] = []
        for _ in 0..<rounds {
            let rawSink = RawEndpoint(), rawSender = RawEndpoint(), rawPoller = RawEndpoint()
            raws.append(sendRate(count) { rawSender.send($0, to: rawSink) } poll: { rawPoller.poll() })
            let lan = BenchLAN(instances: 2)
            let sink = VirtualEndpoint(host: lan.hosts[1], port: 7700), sender = VirtualEndpoint(host: lan.hosts[0], port: 7701)
            for (index, host) in lan.hosts.enumerated() {
                let poller = VirtualEndpoint(host: host, port: 7702)
                _ = host.setNonBlocking(poller.handle, true)
                let rate = sendRate(count) { sender.send($0, to: sink) } poll: { poller.poll() }
                if index == 0 { together.append(rate) } else { apart.append(rate) }
            }
            lan.shutdown()
        }
        let what = "sends/s of one thread while another polls an empty socket non-blocking (medians of \(rounds) runs), poller"
        add("\(what) in the other instance", raw: String(format: "%.0f", medians([raws])[0]), virtual: String(format: "%.0f", medians([apart])[0]),
            ratio: Spread(values: zip(apart, raws).map { $0 / $1 }).text(), target: "")
        add("\(what) in the sender's instance", raw: String(format: "%.0f", medians([raws])[0]), virtual: String(format: "%.0f", medians([together])[0]),
            ratio: Spread(values: zip(together, raws).map { $0 / $1 }).text() + ", "
                + Spread(values: zip(together, apart).map { $0 / $1 }).text() + " of the other instance's", target: "")
    }

    /// `count` sends, timed, while another thread runs `poll` (until the sends are done).
    func sendRate(_ count: Int, send: (UnsafeRawBufferPointer) -> Bool, poll: @escaping @Sendable () -> Bool) -> Double {
        let finished = DispatchSemaphore(value: 0)
        let stopped = Locked(false)
        Thread.detachNewThread {
            while !stopped.withLock({ $0 }), poll() {}
            finished.signal()
        }
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { payload.deallocate() }
        payload.initializeMemory(as: UInt8.self, repeating: 3)
        let t0 = MonotonicClock.seconds
        for _ in 0..<count { _ = send(UnsafeRawBufferPointer(payload)) }
        let seconds = max(MonotonicClock.seconds - t0, 1e-9)
        stopped.withLock { $0 = true }
        finished.wait()
        return Double(count) / seconds
    }
}

extension RawEndpoint {
    /// One non-blocking receive; true while nothing is there.
    func poll() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
    }
}

extension VirtualEndpoint {
    /// One non-blocking receive; true while nothing is there.
    func poll() -> Bool {
        var byte: UInt8 = 0
        return withUnsafeMutableBytes(of: &byte) { buffer in
            if case .failure(.wouldBlock) = host.receive(handle, into: buffer) { return true }
            return false
        }
    }
}
