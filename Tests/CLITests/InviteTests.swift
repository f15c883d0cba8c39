import Foundation
import HostKit
import XCTest
@testable import VirtualLANBridge
@testable import VirtualLANCLI

/// The invite line: what it carries, what a cut or changed line says, and the command that
/// makes it (a new key file, mode 600, when there is none).
final class InviteTests: XCTestCase {
    func test_anInviteCarriesTheKeyAndTheBridgesWhole() throws {
        let key = (0..<32).map { UInt8($0 * 7 + 3) }  // bytes that need base64's - and _
        let peers = [HostAddress(parsing: "10.0.0.1:47800")!, HostAddress(parsing: "203.0.113.9:5000")!]
        let line = Invite(key: key, peers: peers).line
        XCTAssertTrue(line.hasPrefix("virtuallan-invite-1:"))
        XCTAssertFalse(line.contains("=") || line.contains("+") || line.contains("/"), "one word to paste: \(line)")
        XCTAssertEqual(try Invite(parsing: "  " + line + "\n"), Invite(key: key, peers: peers))
    }

    func test_aCutOrChangedInviteSaysWhatIsWrong() {
        let line = Invite(key: [UInt8](repeating: 9, count: 32), peers: [HostAddress(parsing: "10.0.0.1:47800")!]).line
        let cases: [(String, String)] = [
            ("", "not an invite"),
            ("lan.key", "not an invite"),
            (String(line.prefix(30)), "cut or changed"),
            (line.replacingOccurrences(of: "@", with: ""), "cut or changed"),
            ("virtuallan-invite-1:AAAA@10.0.0.1:47800", "key is cut or changed"),
            (line.replacingOccurrences(of: ":47800", with: ""), "not address:port"),
            (String(line.prefix { $0 != "@" }) + "@", "names no bridge"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try Invite(parsing: text), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(text): \(error)")
            }
        }
    }

    func test_theInviteCommandMakesAPrivateKeyFileAndALineWithIt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vl-invite-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let keyFile = folder.appendingPathComponent("lan.key").path
        var command = try VirtualLAN.parseAsRoot(["bridge", "invite", "--key-file", keyFile, "--peer", "10.0.0.1:47800"])
        try command.run()
        let key = try XCTUnwrap(FileManager.default.contents(atPath: keyFile))
        XCTAssertEqual(key.count, 32)
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int)
        XCTAssertEqual(mode & 0o777, 0o600, "only its owner reads the key")
        // A second invite keeps the key: every line made on this host joins the same LAN.
        command = try VirtualLAN.parseAsRoot(["bridge", "invite", "--key-file", keyFile, "--peer", "10.0.0.1:47800"])
        try command.run()
        XCTAssertEqual(FileManager.default.contents(atPath: keyFile), key)
        command = try VirtualLAN.parseAsRoot(["bridge", "invite", "--key-file", keyFile])
        XCTAssertThrowsError(try command.run()) { error in
            XCTAssertTrue("\(error)".contains("--peer address:port"), "\(error)")
        }
    }
}
