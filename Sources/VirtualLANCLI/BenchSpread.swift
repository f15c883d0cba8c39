import Foundation

/// One ratio of the benchmark as BENCHMARKS.md prints it: the median of the ratios of
/// interleaved runs (raw, then virtual, again and again: a 2-core machine's scheduling
/// noise hits both paths alike), with their spread beside it, so two reports can be
/// compared: "0.83x (0.78-0.88, 5 runs)".
struct Spread {
    let values: [Double]

    var median: Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    func text(_ format: String = "%.2fx") -> String {
        guard let low = values.min(), let high = values.max() else { return "" }
        if values.count == 1 { return String(format: format, median) + " (1 run)" }
        return String(format: format, median) + " (" + String(format: format, low).replacingOccurrences(of: "x", with: "")
            + "-" + String(format: format, high).replacingOccurrences(of: "x", with: "") + ", \(values.count) runs)"
    }
}

/// Medians of several runs' values, taken value by value (run i's `values[k]`).
func medians(_ runs: [[Double]]) -> [Double] {
    guard let first = runs.first else { return [] }
    return first.indices.map { k in Spread(values: runs.map { $0[k] }).median }
}
