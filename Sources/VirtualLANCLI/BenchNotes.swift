import HostKit

/// The hand-written notes of docs/BENCHMARKS.md. The generator writes the tables; what a
/// run's numbers mean (where the time goes, what was tried, figures of the runs before) is
/// written by hand under each table, between `<!-- notes: <section> -->` and
/// `<!-- end notes -->`, and a regenerated file keeps it as it was.
struct BenchNotes {
    static let end = "<!-- end notes -->"
    static func start(_ section: String) -> String { "<!-- notes: \(section) -->" }

    /// Each section's notes, markers excluded.
    private(set) var sections: [String: String] = [:]

    /// Reads the notes of the file being replaced (nil: there is none yet). Notes left open
    /// are refused: the new file would lose them.
    init(previous text: String?) throws {
        guard let text else { return }
        var section: String?
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let open = section {
                if line == Self.end {
                    sections[open] = lines.joined(separator: "\n")
                    section = nil
                } else {
                    lines.append(line)
                }
            } else if line.hasPrefix("<!-- notes: ") && line.hasSuffix(" -->") {
                section = String(line.dropFirst("<!-- notes: ".count).dropLast(" -->".count))
                lines = []
            }
        }
        if let section {
            throw Failure("the notes of \"\(section)\" in the benchmark report have no \(Self.end) line: close them, and run again (nothing was written)")
        }
    }

    /// The notes under a section's table, with their markers: the file's own, or an empty
    /// place for them.
    func block(_ section: String) -> String {
        let body = sections[section].map { $0.isEmpty ? "" : $0 + "\n" } ?? ""
        return "\n\(Self.start(section))\n\(body)\(Self.end)\n"
    }
}
