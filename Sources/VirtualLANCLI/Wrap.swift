import ArgumentParser
import Foundation
import HostKit
import VirtualLANBridge

/// A Steam launch option: `virtuallan wrap --instances 4 -- %command%`. Steam hands us the
/// command it would run (for a Windows game: Proton's script with a verb and the game's
/// .exe, often behind its runtime's entry point); every copy runs that same command with
/// the injector and the DLL put in front of the game's .exe.
struct Wrap: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start N copies from a game's own launch command (Steam: virtuallan wrap --instances 4 -- %command%).",
        discussion: """
        The command's first argument ending in .exe is the game: copies run the command with the injector \\
        and the hook DLL in front of it (a Unix path to it becomes its Z: path). With one prefix for all \\
        copies (the default), copies after the first use Proton's verb `run` instead of \\
        `waitforexitandrun`, which would wait for the first copy to end. --prefix-per-instance gives \\
        copy k the compat data folder (or Wine prefix) <prefix>-k, copied from Steam's.
        """)

    @OptionGroup var copies: CopyOptions
    @Argument(parsing: .postTerminator, help: "The game's command (Steam: %command%), after --.") var command: [String] = []

    func validate() throws {
        try copies.validate()
        guard !command.isEmpty else { throw ValidationError("name the game's command after --; as a Steam launch option: virtuallan wrap --instances 4 -- %command%") }
    }

    func run() throws {
        let wrapped = try WrappedCommand(command)
        let plan = try copies.plan(runner: wrapped.runner, prefix: nil, program: []) { index, injector, role in
            wrapped.command(copy: index, injector: injector, role: role, sharedPrefix: !copies.prefixPerInstance)
        }
        try copies.run(plan)
    }
}

/// A launch command taken apart where the injector goes in.
struct WrappedCommand {
    let words: [String]
    let game: Int            // index of the game's .exe
    let runner: Runner

    init(_ words: [String]) throws {
        guard let game = words.firstIndex(where: { $0.lowercased().hasSuffix(".exe") }) else {
            throw Failure("wrap: no Windows program (.exe) in the command \(words.joined(separator: " ")): wrap starts Windows games (Steam: virtuallan wrap --instances 4 -- %command%)")
        }
        guard game > 0 else {
            throw Failure("wrap: the command starts with the game itself (\(words[0])): put the Wine command in front of it, e.g. -- wine \(words[0])")
        }
        self.words = words
        self.game = game
        // Proton's script decides the prefix variable (STEAM_COMPAT_DATA_PATH); else Wine's.
        if let proton = words[..<game].last(where: { ($0 as NSString).lastPathComponent == "proton" }) {
            runner = .proton(proton)
        } else {
            runner = .wine(words[game - 1])
        }
    }

    func command(copy: Int, injector: [String], role: [String], sharedPrefix: Bool) -> [String] {
        var before = Array(words[..<game])
        if copy > 0 && sharedPrefix {
            // `waitforexitandrun` first waits for the prefix's wineserver to end: the first copy's.
            before = before.map { $0 == "waitforexitandrun" ? "run" : $0 == "--verb=waitforexitandrun" ? "--verb=run" : $0 }
        }
        let exe = words[game].hasPrefix("/") ? Paths.windows(URL(fileURLWithPath: words[game])) : words[game]
        return before + injector + [exe] + words[(game + 1)...] + role
    }
}
