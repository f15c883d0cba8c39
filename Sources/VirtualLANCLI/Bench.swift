import ArgumentParser
import CWineBridge
import Foundation
import HostKit
import VirtualLANBridge
import VirtualIPCore
import WinsockDetours

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the virtual path against raw loopback UDP, side by side, in one run.",
        discussion: "Run as: swift run -c release virtuallan bench --output docs/BENCHMARKS.md (in a network namespace: scripts/bench).")

    @Flag(help: "Few datagrams: a smoke run that keeps the benchmark working (CI).") var quick = false
    @Option(help: "Write the Markdown report here.") var output: String?
    @Option(name: .customLong("wine-rows"), help: "A file of Markdown rows measured under Wine (wine/bench) to include.")
    var wineRows: String?
    @Option(name: .customLong("bridge-rows"), help: "A file of Markdown rows measured across two hosts (scripts/bridge_bench.py) to include.")
    var bridgeRows: String?
    @Option(help: .hidden) var hotpath: Int?
    @Option(name: .customLong("hotpath-instances"), help: .hidden) var hotpathInstances = 2
    @Option(help: .hidden) var idle: Double?
    /// Only the contention rows, with this many sends a run (`Report.measureContention`).
    @Option(help: .hidden) var contention: Int?
    @Option(help: "Instead: the load run, 8 instances in a ring for this many seconds; exits 1 if the virtual layer lost a datagram.")
    var load: Double?

    func run() throws {
        if let hotpath { return runHotPath(hotpath, instances: hotpathInstances) }
        if let idle { return runIdle(seconds: idle) }
        if let contention {
            var report = Report(rounds: 5)
            report.measureContention(count: contention)
            return print(report.rows.joined(separator: "\n"))
        }
        if let load {
            let outcome = LoadRun(instances: 8, seconds: load).run()
            print(outcome.report)
            if outcome.virtualLoss != 0 || outcome.registryDrops != 0 { throw ExitCode(1) }
            return
        }
        let scale = quick ? 0.02 : 1.0
        var report = Report(rounds: quick ? 2 : 5)
        report.measureThroughput(count: Int(100_000 * scale))
        report.measureRoundTrip(count: Int(20_000 * scale))
        report.measureContention(count: Int(200_000 * scale))
        report.measureFanOut(repetitions: quick ? 20 : 200)
        report.measureLookup(iterations: Int(1_000_000 * scale))
        report.measureInstructions()
        report.measureIdle(seconds: quick ? 1 : 5)
        if let wineRows, let rows = try? String(contentsOfFile: wineRows, encoding: .utf8) { report.wine = rows }
        if let bridgeRows, let rows = try? String(contentsOfFile: bridgeRows, encoding: .utf8) { report.bridge = rows }
        // The notes of the file being replaced: none when there is no file yet; one that cannot
        // be read stops the run (writing over it would lose them).
        let previous = try output.flatMap { path -> String? in
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw Failure("cannot read \(path) as UTF-8 text: its hand-written notes would be lost; fix it or move it away, and run again (nothing was written)")
            }
            return text
        }
        let notes = try BenchNotes(previous: previous)
        let text = report.markdown(keeping: notes)
        print(text)
        if let output { try text.write(toFile: output, atomically: true, encoding: .utf8) }
    }
}

/// Numbers of one run, and their Markdown. Every ratio is a `Spread` over `rounds`
/// interleaved runs; the values beside it are those runs' medians.
struct Report {
    let rounds: Int
    var rows: [String] = []
    var wine: String?
    var bridge: String?

    mutating func add(_ what: String, raw: String, virtual: String, ratio: String, target: String) {
        rows.append("| \(what) | \(raw) | \(virtual) | \(ratio) | \(target) |")
    }

    // MARK: throughput

    mutating func measureThroughput(count: Int) {
        for size in [64, 512, 1400] {
            var raws: [Rate] = [], virtuals: [Rate] = []
            for round in 0..<rounds {
                raws.append(throughput(RawEndpoint(), RawEndpoint(), size: size, count: count))
                let lan = BenchLAN(instances: 2)
                let port = UInt16(5000 + round)
                virtuals.append(throughput(VirtualEndpoint(host: lan.hosts[0], port: port), VirtualEndpoint(host: lan.hosts[1], port: port),
                                           size: size, count: count))
                lan.shutdown()
            }
            let ratio = Spread(values: zip(virtuals, raws).map { $0.pps / $1.pps })
            add("throughput \(size) B (datagrams/s, MB/s, loss; medians of \(rounds) runs)", raw: Rate.median(raws).text,
                virtual: Rate.median(virtuals).text, ratio: ratio.text(), target: size == 64 ? "≥ 0.8x" : (size == 1400 ? "≥ 0.9x" : ""))
        }
    }

    struct Rate {
        var pps: Double
        var bytesPerSecond: Double
        var loss: Double
        var text: String { String(format: "%.0f/s, %.1f MB/s, %.1f%% lost", pps, bytesPerSecond / 1e6, loss * 100) }

        static func median(_ rates: [Rate]) -> Rate {
            let m = medians(rates.map { [$0.pps, $0.bytesPerSecond, $0.loss] })
            return Rate(pps: m[0], bytesPerSecond: m[1], loss: m[2])
        }
    }

    /// One sender thread blasts `count` datagrams; the receiver times from the first 10%
    /// (warm-up excluded) to the last one it gets.
    func throughput(_ sender: BenchEndpoint, _ receiver: BenchEndpoint, size: Int, count: Int) -> Rate {
        let warmup = count / 10
        // The receiver counts in locals and publishes once, before it signals `done`.
        let result = Locked((received: 0, start: 0.0, end: 0.0))
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
            defer { buffer.deallocate() }
            var received = 0
            var start = 0.0, end = 0.0
            while received < count, receiver.receive(buffer) != nil {
                received += 1
                if received == warmup { start = MonotonicClock.seconds }
                end = MonotonicClock.seconds
            }
            result.withLock { $0 = (received, start, end) }
            done.signal()
        }
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        payload.initializeMemory(as: UInt8.self, repeating: 7)
        for _ in 0..<count { _ = sender.send(UnsafeRawBufferPointer(payload), to: receiver) }
        payload.deallocate()
        if done.wait(timeout: .now() + 0.5) == .timedOut { // the rest was dropped: stop the receiver
            receiver.close()
            done.wait()
        }
        let (received, start, end) = result.withLock { $0 }
        let counted = Double(max(received - warmup, 1))
        let seconds = max(end - start, 1e-9)
        return Rate(pps: counted / seconds, bytesPerSecond: counted * Double(size) / seconds, loss: 1 - Double(received) / Double(count))
    }

    // MARK: round trip

    /// Alternating rounds of raw and virtual; each percentile's ratio per round.
    mutating func measureRoundTrip(count: Int) {
        var raws: [[Double]] = [], virtuals: [[Double]] = []
        for round in 0..<rounds {
            raws.append(roundTrip(RawEndpoint(), RawEndpoint(), count: count / rounds))
            let lan = BenchLAN(instances: 2)
            let port = UInt16(6000 + round)
            virtuals.append(roundTrip(VirtualEndpoint(host: lan.hosts[0], port: port), VirtualEndpoint(host: lan.hosts[1], port: port),
                                      count: count / rounds))
            lan.shutdown()
        }
        let raw = medians(raws), virtual = medians(virtuals)
        for (name, index, target) in [("p50", 0, "≤ 1.15x"), ("p99", 1, "≤ 1.15x"), ("max", 2, "")] {
            let ratio = Spread(values: zip(virtuals, raws).map { $0[index] / $1[index] })
            add("round trip \(name), 64 B (µs, medians of \(rounds) runs)", raw: String(format: "%.1f", raw[index]),
                virtual: String(format: "%.1f", virtual[index]), ratio: ratio.text(), target: target)
        }
    }

    /// Ping-pong; exact percentiles from all samples (sorted), warm-up excluded.
    func roundTrip(_ a: BenchEndpoint, _ b: BenchEndpoint, count: Int) -> [Double] {
        let warmup = max(count / 20, 10)
        Thread.detachNewThread {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
            defer { buffer.deallocate() }
            while let n = b.receive(buffer) { _ = b.send(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), to: a) }
        }
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
        payload.initializeMemory(as: UInt8.self, repeating: 1)
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for i in 0..<(count + warmup) {
            let t0 = MonotonicClock.seconds
            _ = a.send(UnsafeRawBufferPointer(payload), to: b)
            guard a.receive(buffer) != nil else { break }
            if i >= warmup { samples.append((MonotonicClock.seconds - t0) * 1e6) }
        }
        b.close()
        payload.deallocate()
        buffer.deallocate()
        samples.sort()
        guard !samples.isEmpty else { return [0, 0, 0] }
        func percentile(_ p: Double) -> Double { samples[min(samples.count - 1, Int((p * Double(samples.count)).rounded(.up)) - 1)] }
        return [percentile(0.50), percentile(0.99), samples.last!]
    }

    // MARK: broadcast fan-out

    /// Rounds of [unicast, broadcast to 8, 32, 64]; each broadcast's ratio to its round's unicast.
    mutating func measureFanOut(repetitions: Int) {
        let lan = BenchLAN(instances: 64)
        let sender = VirtualEndpoint(host: lan.hosts[0], port: 7000)
        let counts = [8, 32, 64]
        var runs: [[Double]] = []
        for round in 0..<rounds {
            let base = UInt16(7100 + round * 100)
            var run = [fanOut(lan, sender: sender, receivers: 1, port: base, broadcast: false, repetitions: repetitions)]
            for k in counts {
                run.append(fanOut(lan, sender: sender, receivers: k, port: base + UInt16(k), broadcast: true, repetitions: repetitions))
            }
            runs.append(run)
        }
        lan.shutdown()
        let micros = medians(runs)
        add("1 unicast, send to delivered (µs, median of \(rounds) runs)", raw: "", virtual: String(format: "%.1f", micros[0]), ratio: "1x", target: "")
        for (i, k) in counts.enumerated() {
            let ratio = Spread(values: runs.map { $0[i + 1] / $0[0] })
            add("broadcast to \(k) instances, send to all delivered (µs)", raw: "", virtual: String(format: "%.1f", micros[i + 1]),
                ratio: ratio.text("%.1fx") + " of unicast", target: k == 64 ? "≤ 64x" : "")
        }
    }

    /// One sender, `receivers` instances with a socket on `port`: mean time from the send
    /// until every receiver has the datagram (received in turn on this thread).
    func fanOut(_ lan: BenchLAN, sender: VirtualEndpoint, receivers: Int, port: UInt16, broadcast: Bool, repetitions: Int) -> Double {
        let sockets = (1...receivers).map { VirtualEndpoint(host: lan.hosts[$0 % 64], port: port) }
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: 36, alignment: 8)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
        payload.initializeMemory(as: UInt8.self, repeating: 0x22)
        var total = 0.0
        for _ in 0..<repetitions {
            let t0 = MonotonicClock.seconds
            let target = broadcast ? IPv4Address.limitedBroadcast : sockets[0].host.address
            _ = sender.host.send(sender.handle, UnsafeRawBufferPointer(payload), to: target, port: port)
            for socket in sockets { _ = socket.receive(buffer) }
            total += MonotonicClock.seconds - t0
        }
        for socket in sockets { socket.close() }
        payload.deallocate()
        buffer.deallocate()
        return total / Double(repetitions) * 1e6
    }

    // MARK: registry lookup

    mutating func measureLookup(iterations: Int) {
        var runs: [[Double]] = []
        for _ in 0..<rounds {
            runs.append([lookupNanoseconds(instances: 2, iterations: iterations), lookupNanoseconds(instances: 64, iterations: iterations)])
        }
        let ns = medians(runs)
        add("route + receiver lookup + receive check (ns), 2 vs 64 instances", raw: String(format: "%.0f (2)", ns[0]),
            virtual: String(format: "%.0f (64)", ns[1]), ratio: Spread(values: runs.map { $0[1] / $0[0] }).text(), target: "flat")
    }

    func lookupNanoseconds(instances: Int, iterations: Int) -> Double {
        let path = HotPath(instances: instances)
        let t0 = MonotonicClock.seconds
        let checksum = path.run(iterations)
        let seconds = MonotonicClock.seconds - t0
        precondition(checksum == iterations, "every datagram must be routed and accepted")
        return seconds / Double(iterations) * 1e9
    }

    // MARK: instructions (callgrind)

    mutating func measureInstructions() {
        guard let valgrind = try? executable("valgrind"), let strip = try? executable("strip") else {
            add("hot path instructions per datagram (callgrind)", raw: "", virtual: "not measured: valgrind or strip missing", ratio: "", target: "")
            return
        }
        // valgrind cannot read the toolchain's DWARF 5: measure a copy without debug info.
        let stripped = FileManager.default.temporaryDirectory.appendingPathComponent("virtuallan-stripped-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: stripped) }
        let stripping = try? Process.run(URL(fileURLWithPath: strip), arguments: ["--strip-debug", "-o", stripped, CommandLine.arguments[0]])
        stripping?.waitUntilExit()
        func instructions(_ n: Int, instances: Int = 2) -> Double? {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("callgrind-\(getpid())-\(n)").path
            defer { try? FileManager.default.removeItem(atPath: out) }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: valgrind)
            process.arguments = ["--tool=callgrind", "--callgrind-out-file=\(out)", stripped, "bench", "--hotpath", "\(n)",
                                 "--hotpath-instances", "\(instances)"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return nil }
            process.waitUntilExit()
            guard let text = try? String(contentsOfFile: out, encoding: .utf8),
                  let line = text.split(separator: "\n").first(where: { $0.hasPrefix("summary:") || $0.hasPrefix("totals:") }) else { return nil }
            return Double(line.split(separator: " ").dropFirst().first ?? "")
        }
        // The difference of two runs cancels start-up: what one more datagram costs.
        if let small = instructions(10_000), let large = instructions(20_000),
           let small64 = instructions(10_000, instances: 64), let large64 = instructions(20_000, instances: 64) {
            let two = (large - small) / 10_000, sixtyFour = (large64 - small64) / 10_000
            add("hot path instructions per datagram (send framing + route + lookup + receive check; callgrind), 2 vs 64 instances",
                raw: String(format: "%.0f (2)", two), virtual: String(format: "%.0f (64)", sixtyFour),
                ratio: String(format: "%.2fx (exact: instructions, not time)", sixtyFour / two), target: "flat")
        }
    }

    // MARK: idle

    mutating func measureIdle(seconds: Double) {
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["bench", "--idle", "\(seconds)"]
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let cpu = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .nan
        add(String(format: "idle instance, 2 pending overlapped receives, %.0f s: CPU", seconds), raw: "",
            virtual: String(format: "%.3f ms (%.4f%%)", cpu * 1000, cpu / seconds * 100), ratio: "", target: "< 0.1%")
    }

    /// The report: the generated text and tables, each table followed by its hand-written
    /// notes (a section this run did not measure keeps its notes under its heading).
    func markdown(keeping notes: BenchNotes) -> String {
        let machine = "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB, \(ProcessInfo.processInfo.operatingSystemVersionString)"
        var text = """
            # Benchmarks

            Regenerate: `scripts/bench` (runs `virtuallan bench` from a release build, `wine/bench.py`
            and `scripts/bridge_bench.py`, each in private network namespaces, and writes this file).
            Machine: \(machine). Raw = plain UDP sockets on 127.0.0.1 in the same run; virtual = the
            Winsock layer (16-byte header, registry lookup, receive check) over the Linux backend.
            Every ratio is the median of the ratios of interleaved runs (raw, virtual, raw, ...),
            with their lowest and highest in brackets; the values beside it are the runs' medians.
            The notes under each table are written by hand and kept as they are when the file is
            regenerated: their figures are those of the runs they name.

            | measure | raw loopback UDP | virtual | virtual / raw | target |
            | --- | --- | --- | --- | --- |

            """
        text += rows.joined(separator: "\n") + "\n" + notes.block("local")
        let sections = [("wine", "Under Wine (the hook DLL vs the same program without it)", wine),
                        ("bridge", "Across two hosts (network namespaces on a virtual switch: veth pairs into a Linux bridge; one VirtualLAN bridge each)", bridge)]
        for (key, heading, table) in sections where table != nil || notes.sections[key] != nil {
            text += "\n## \(heading)\n\n" + (table ?? "Not measured in this run (`scripts/bench` measures it).\n") + notes.block(key)
        }
        return text
    }
}


/// The per-datagram work without the syscalls: header encode, route, receiver lookup,
/// receive check. Used for the lookup timing and, alone in a process, for callgrind.
struct HotPath {
    let lan: BenchLAN
    let router: Router

    init(instances: Int) {
        lan = BenchLAN(instances: 0)
        for index in 0..<instances {
            let claim = try! lan.registry.claim(owner: UInt32(index + 1), kind: .linux, pinned: index, nowMs: 0, isOwnerAlive: { _, _ in nil })
            _ = lan.registry.addSocket(slot: claim.index, virtualPort: 23756, realPort: UInt16(30000 + index), scope: .any)
        }
        router = Router(registry: lan.registry)
    }

    /// Returns how many datagrams were routed and accepted (all of them).
    func run(_ iterations: Int) -> Int {
        var accepted = 0
        var frame = [UInt8](repeating: 0, count: 16)
        let destination = lan.registry.network.address(ofInstance: 1)
        frame.withUnsafeMutableBytes { raw in
            for _ in 0..<iterations {
                guard case let .success(route) = router.route(to: destination, payloadLength: 100, broadcastPermitted: false) else { continue }
                WireHeader(source: router.sourceAddress(for: route, sender: 0), sourcePort: 23756, destination: destination,
                           destinationPort: 23756, isBroadcast: false).encode(into: raw.baseAddress!)
                var target: UInt16 = 0
                router.forEachReceiver(of: route, virtualPort: 23756, sender: 0) { target = $0 }
                let verdict = router.check(frame: UnsafeRawBufferPointer(raw), realSourcePort: 30000,
                                           receiver: Router.Receiver(instance: 1, virtualPort: 23756, scope: .any))
                if case .deliver = verdict, target == 30001 { accepted += 1 }
            }
        }
        return accepted
    }
}

func runHotPath(_ iterations: Int, instances: Int) {
    let path = HotPath(instances: instances)
    print(path.run(iterations))
}

/// An instance with two pending overlapped receives, waiting; prints its CPU seconds.
func runIdle(seconds idleSeconds: Double) {
    let lan = BenchLAN(instances: 1)
    let host = lan.hosts[0]
    VirtualHost.install(host)
    let sockets = [try! host.openUDP(port: 23756).get(), try! host.openUDP(port: 23757).get()]
    let event = hookWSACreateEvent()
    var overlapped = [VL_OVERLAPPED](repeating: VL_OVERLAPPED(), count: 2)
    var buffers = [[UInt8]](repeating: [UInt8](repeating: 0, count: 2048), count: 2)
    var received = [UInt32](repeating: 0, count: 2), flags = [UInt32](repeating: 0, count: 2)
    var wsabufs = [VL_WSABUF](repeating: VL_WSABUF(), count: 2)
    for i in 0..<2 {
        overlapped[i].hEvent = event
        buffers[i].withUnsafeMutableBytes { wsabufs[i] = VL_WSABUF(len: 2048, buf: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        _ = hookWSARecvFrom(sockets[i], &wsabufs[i], 1, &received[i], &flags[i], nil, nil, &overlapped[i], nil)
    }
    var before = rusage()
    getrusage(RUSAGE_SELF.rawValue, &before)
    var events: [UnsafeMutableRawPointer?] = [event]
    _ = hookWSAWaitForMultipleEvents(1, &events, 0, UInt32(idleSeconds * 1000), 0)
    var after = rusage()
    getrusage(RUSAGE_SELF.rawValue, &after)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    let cpu = seconds(after.ru_utime) - seconds(before.ru_utime) + seconds(after.ru_stime) - seconds(before.ru_stime)
    print(String(format: "%.6f", cpu))
    lan.shutdown()
}
