import XCTest
import Foundation
import HostKit

/// `virtuallan launch` forwards Ctrl-C to every copy and reports each copy's exit. Wine is
/// replaced by a stand-in script on PATH that records the interrupt.
final class LaunchInterruptTests: XCTestCase {
    func test_ctrlCReachesEveryCopyAndTheirExitsAreReported() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("virtuallan-launch-\(UUID().uuidString)")
        let bin = folder.appendingPathComponent("bin"), out = folder.appendingPathComponent("home/wine/out")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["inject.exe", "virtuallan.dll"] { XCTAssertTrue(FileManager.default.createFile(atPath: out.appendingPathComponent(name).path, contents: Data())) }
        // The stand-in "wine": says it started, then waits; an interrupt is written down.
        let wine = bin.appendingPathComponent("wine")
        try """
            #!/bin/sh
            trap 'echo interrupted > "$MARKS/$VIRTUALLAN_INSTANCE"; kill $SLEEPER; exit 130' INT
            echo started > "$MARKS/started-$VIRTUALLAN_INSTANCE"
            sleep 30 & SLEEPER=$!
            wait
            """.write(to: wine, atomically: true, encoding: .utf8)
        chmod(wine.path, 0o755)
        let launcher = Process()
        launcher.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("virtuallan")
        launcher.arguments = ["launch", "--instances", "2", "--host", "1", "--registry", folder.appendingPathComponent("registry").path,
                              "--prefix", folder.path, "--", "game.exe"]
        launcher.environment = ["PATH": "\(bin.path):/usr/bin:/bin", "VIRTUALLAN_HOME": folder.appendingPathComponent("home").path,
                                "MARKS": folder.path, "HOME": folder.path]
        let output = Pipe()
        launcher.standardOutput = output
        try launcher.run()
        // Both copies running (bounded wait on their own "started" files), then Ctrl-C.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !(0..<2).allSatisfy({ FileManager.default.fileExists(atPath: folder.appendingPathComponent("started-\($0)").path) }) {
            usleep(20_000)
        }
        kill(launcher.processIdentifier, SIGINT)
        launcher.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertNotEqual(launcher.terminationStatus, 0)
        for copy in 0..<2 {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("\(copy)").path), "copy \(copy) got the interrupt")
            XCTAssertTrue(text.contains("copy \(copy): exit 130"), text)
        }
    }
}
