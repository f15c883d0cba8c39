import ArgumentParser
import Foundation
import HostKit
import VirtualLANBridge

/// The installed layout: <prefix>/bin/virtuallan and <prefix>/share/virtuallan/ with the
/// Windows files; the tool finds them beside its own bin/ (Paths.files), so no checkout is
/// needed once installed. A manifest lists what was put there, for uninstall.
struct InstallLayout {
    let prefix: URL
    var bin: URL { prefix.appendingPathComponent("bin") }
    var tool: URL { bin.appendingPathComponent("virtuallan") }
    var share: URL { prefix.appendingPathComponent("share/virtuallan") }
    var manifest: URL { share.appendingPathComponent("installed-files") }

    init(prefix: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.prefix = URL(fileURLWithPath: prefix ?? "\(environment["HOME"] ?? "/root")/.local")
    }

    /// The Windows files an install carries: the two every copy needs, the demo's game when built.
    static let windowsFiles = Paths.windowsFiles + ["fo2sim.exe"]
}

struct Install: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install the tool, the hook DLL and the injector: <prefix>/bin/virtuallan, <prefix>/share/virtuallan/.",
        discussion: "Copies this executable and the Windows files it uses now (see virtuallan doctor). virtuallan uninstall removes them.")

    @Option(help: "Where to install (default: ~/.local).") var prefix: String?

    func run() throws {
        let layout = InstallLayout(prefix: prefix)
        let files = Paths.files()
        guard Paths.holdsWindowsFiles(files) else {
            throw Failure("nothing to install: no virtuallan.dll and inject.exe found (looked in \(files.path)); in a checkout run wine/build-dll first")
        }
        let manager = FileManager.default
        for folder in [layout.bin, layout.share] { try manager.createDirectory(at: folder, withIntermediateDirectories: true) }
        var installed: [URL] = []
        // Write beside, then rename: replacing a running tool (or reinstalling from the
        // installed one itself) never leaves a half-written file.
        func put(_ source: URL, _ target: URL, mode: Int) throws {
            guard source.resolvingSymlinksInPath().path != target.resolvingSymlinksInPath().path else { installed.append(target); return }
            let partial = target.appendingPathExtension("partial")
            try? manager.removeItem(at: partial)
            try manager.copyItem(at: source, to: partial)
            try manager.setAttributes([.posixPermissions: mode], ofItemAtPath: partial.path)
            guard rename(partial.path, target.path) == 0 else { throw Failure("cannot install \(target.path): \(String(cString: strerror(errno)))") }
            installed.append(target)
        }
        do {
            try put(URL(fileURLWithPath: Paths.ownExecutable()), layout.tool, mode: 0o755)
            for name in InstallLayout.windowsFiles where manager.fileExists(atPath: files.appendingPathComponent(name).path) {
                try put(files.appendingPathComponent(name), layout.share.appendingPathComponent(name), mode: 0o644)
            }
            try (installed.map(\.path).joined(separator: "\n") + "\n").write(to: layout.manifest, atomically: true, encoding: .utf8)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure("cannot install into \(layout.prefix.path): \(error.localizedDescription) (choose a writable --prefix)")
        }
        for file in installed { print("installed \(file.path)") }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        if !path.contains(layout.bin.path) { print("note: \(layout.bin.path) is not on PATH: add it, or run \(layout.tool.path)") }
    }
}

struct Uninstall: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove what virtuallan install put into a prefix.")

    @Option(help: "The prefix given to install (default: ~/.local).") var prefix: String?

    func run() throws {
        let layout = InstallLayout(prefix: prefix)
        guard let manifest = try? String(contentsOf: layout.manifest, encoding: .utf8) else {
            throw Failure("nothing installed in \(layout.prefix.path) (no \(layout.manifest.path)): name the --prefix given to install")
        }
        // Only what the manifest names, and only inside the layout: a damaged manifest
        // cannot make uninstall delete anything else.
        let allowed = [layout.tool.path] + InstallLayout.windowsFiles.map { layout.share.appendingPathComponent($0).path }
        for line in manifest.split(separator: "\n").map(String.init) where allowed.contains(line) {
            if (try? FileManager.default.removeItem(atPath: line)) != nil { print("removed \(line)") }
        }
        try? FileManager.default.removeItem(at: layout.manifest)
        rmdir(layout.share.path) // only when empty: files of the user's stay, and so does the folder
    }
}
