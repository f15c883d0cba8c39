import Foundation

/// The tools' one clock for durations and rates (CLOCK_MONOTONIC: never jumps with the wall
/// clock). The registry's heartbeats use the platform's clock instead (`Platform.nowMs`),
/// the one every instance writes.
public enum MonotonicClock {
    public static var seconds: Double {
        let t = now
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    public static var milliseconds: UInt64 {
        let t = now
        return UInt64(t.tv_sec) * 1000 + UInt64(t.tv_nsec) / 1_000_000
    }

    public static var microseconds: UInt64 {
        let t = now
        return UInt64(t.tv_sec) * 1_000_000 + UInt64(t.tv_nsec) / 1000
    }

    private static var now: timespec {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t
    }
}
