import Foundation
import HostKit
import VirtualLANBridge
import VirtualIPCore
import WinsockDetours

/// The load run (issue: reliability): N instances in a ring, each sending to the next as
/// fast as it can for S seconds while receiving from the previous one. Every datagram sent
/// must be received or dropped by a socket buffer (the kernel counts those per socket in
/// /proc/net/udp); the virtual layer itself must lose none.
struct LoadRun {
    var instances: Int
    var seconds: Double

    struct Outcome {
        var sent = 0, received = 0, kernelDrops = 0, registryDrops = 0
        var virtualLoss: Int { sent - received - kernelDrops }
        var report: String {
            "load: \(sent) sent, \(received) received, \(kernelDrops) dropped by socket buffers (kernel), "
                + "\(registryDrops) dropped by the receive check, \(virtualLoss) lost by the virtual layer"
        }
    }

    func run() -> Outcome {
        let lan = BenchLAN(instances: instances)
        defer { lan.shutdown() }
        let sockets = lan.hosts.map { try! $0.openUDP(port: 24000).get() }
        let deadline = MonotonicClock.seconds + seconds
        let outcome = Locked(Outcome())
        let senders = DispatchGroup(), receivers = DispatchGroup()
        for (index, host) in lan.hosts.enumerated() {
            let next = lan.hosts[(index + 1) % instances].address
            senders.enter()
            Thread.detachNewThread {
                var payload = [UInt8](repeating: UInt8(index), count: 256)
                var count = 0
                while MonotonicClock.seconds < deadline {
                    for _ in 0..<64 where (try? payload.withUnsafeBytes { host.send(sockets[index], $0, to: next, port: 24000) }.get()) != nil {
                        count += 1
                    }
                }
                payload[0] = 0
                outcome.withLock { $0.sent += count }
                senders.leave()
            }
            receivers.enter()
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 2048)
                var count = 0
                while case .success = buffer.withUnsafeMutableBytes({ host.receive(sockets[index], into: $0) }) { count += 1 }
                outcome.withLock { $0.received += count }
                receivers.leave()
            }
        }
        senders.wait()
        // Let the receivers drain what is queued: wait until the counters stand still.
        var last = -1
        while true {
            let now = (0..<instances).reduce(0) { $0 + Int(lan.registry.counters(ofSlot: $1).rxDatagrams) }
            if now == last { break }
            last = now
            Thread.sleep(forTimeInterval: 0.2)
        }
        let kernel = kernelDrops(ports: lan.hosts.indices.map { lan.hosts[$0].realPort(of: sockets[$0]) })
        let registry = (0..<instances).reduce(0) { $0 + Int(lan.registry.counters(ofSlot: $1).drops.reduce(0, +)) }
        for (index, host) in lan.hosts.enumerated() { host.close(sockets[index]) }
        receivers.wait()
        return outcome.withLock {
            $0.kernelDrops = kernel
            $0.registryDrops = registry
            return $0
        }
    }

    /// The kernel's per-socket drop counters (/proc/net/udp, last column) of these ports on 127.0.0.1.
    func kernelDrops(ports: [UInt16?]) -> Int {
        guard let table = try? String(contentsOfFile: "/proc/net/udp", encoding: .utf8) else { return 0 }
        let wanted = Set(ports.compactMap { $0.map { String(format: "0100007F:%04X", $0) } })
        return table.split(separator: "\n").dropFirst().reduce(0) { total, row in
            let columns = row.split(separator: " ")
            guard columns.count > 12, wanted.contains(String(columns[1])) else { return total }
            return total + (Int(columns.last!) ?? 0)
        }
    }
}
