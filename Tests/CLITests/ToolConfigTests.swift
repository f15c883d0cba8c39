import XCTest
@testable import VirtualLANCLI

final class ToolConfigTests: XCTestCase {
    func test_configFileKeysAreRead() throws {
        let config = try ToolConfig.parse("""
            # the LAN
            registry = /tmp/vl/registry
            subnet = 10.9.0.0/24   # a comment
            hostname_prefix = "PC"
            log_level = debug
            game_args.2 = -host -players=4
            """, source: "test.conf")
        XCTAssertEqual(config.registry, "/tmp/vl/registry")
        XCTAssertEqual(config.subnet, "10.9.0.0/24")
        XCTAssertEqual(config.hostnamePrefix, "PC")
        XCTAssertEqual(config.gameArgs[2], ["-host", "-players=4"])
    }

    func test_badConfigIsOneLineNamingTheKeyAndTheFix() {
        let cases: [(String, [String])] = [
            ("subnet = 10.9.0.1/24", ["test.conf", "subnet", "10.9.0.1/24", "expected"]),
            ("log_level = loud", ["log_level", "loud", "error, warning, info, debug"]),
            ("colour = blue", ["line 1", "unknown key 'colour'", "registry, subnet"]),
            ("just words", ["line 1", "key = value"]),
            ("game_args.x = -host", ["unknown key 'game_args.x'"]),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try ToolConfig.parse(text, source: "test.conf")) { error in
                let message = "\(error)"
                XCTAssertFalse(message.contains("\n"), "one line: \(message)")
                for part in expected { XCTAssertTrue(message.contains(part), "'\(part)' missing in: \(message)") }
            }
        }
    }
}
