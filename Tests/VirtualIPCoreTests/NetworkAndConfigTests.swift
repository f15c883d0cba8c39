import XCTest
@testable import VirtualIPCore

final class NetworkAndConfigTests: XCTestCase {
    func test_defaultNetworkGivesInstanceNTheHostAddressNPlusOne() {
        let net = VirtualNetwork.defaultNetwork
        XCTAssertEqual(net.address(ofInstance: 0), IPv4Address(192, 168, 80, 1))
        XCTAssertEqual(net.address(ofInstance: 3), IPv4Address(192, 168, 80, 4))
        XCTAssertEqual(net.instance(of: IPv4Address(192, 168, 80, 4)), 3)
        XCTAssertNil(net.instance(of: IPv4Address(192, 168, 80, 0)), "network address is no host")
        XCTAssertNil(net.instance(of: IPv4Address(192, 168, 80, 255)), "broadcast is no host")
        XCTAssertNil(net.instance(of: IPv4Address(192, 168, 81, 1)))
        XCTAssertEqual(net.broadcast, IPv4Address(192, 168, 80, 255))
        XCTAssertEqual(net.mask, IPv4Address(255, 255, 255, 0))
        XCTAssertTrue(net.isBroadcast(.limitedBroadcast))
        XCTAssertTrue(net.isBroadcast(IPv4Address(192, 168, 80, 255)))
        XCTAssertEqual(net.capacity, 254)
    }

    func test_parsingAddressesAndSubnets() {
        XCTAssertEqual(IPv4Address(parsing: Array("10.1.2.3".utf8)), IPv4Address(10, 1, 2, 3))
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "a.b.c.d", "1.2.3.4 ", "0001.2.3.4"] {
            XCTAssertNil(IPv4Address(parsing: Array(bad.utf8)), bad)
        }
        XCTAssertEqual(VirtualNetwork(parsing: Array("10.7.0.0/16".utf8))?.address(ofInstance: 0), IPv4Address(10, 7, 0, 1))
        for bad in ["10.7.0.1/16", "10.7.0.0", "10.7.0.0/31", "127.0.0.0/8", "10.7.0.0/", "10.7.0.0/x"] {
            XCTAssertNil(VirtualNetwork(parsing: Array(bad.utf8)), bad)
        }
        XCTAssertEqual(IPv4Address(192, 168, 80, 12).dotted, "192.168.80.12")
    }

    func test_everyInstanceHasADistinctLocallyAdministeredMAC() {
        let macs = (0..<64).map { MACAddress(instance: $0).array }
        XCTAssertEqual(Set(macs.map { $0.description }).count, 64)
        XCTAssertTrue(macs.allSatisfy { $0[0] & 0x02 != 0 && $0[0] & 0x01 == 0 }, "locally administered unicast")
    }

    func test_configDefaultsNeedNoEnvironment() throws {
        let config = try InstanceConfig.fromEnvironment { _ in nil }
        XCTAssertEqual(config, InstanceConfig())
        XCTAssertEqual(String(decoding: config.hostname(instance: 2), as: UTF8.self), "VLAN-3")
    }

    func test_configReadsEveryKey() throws {
        let env: [InstanceConfig.Key: String] = [
            .registry: "/tmp/r", .instance: "4", .subnet: "10.9.0.0/24", .hostnamePrefix: "PC",
            .log: "/tmp/l", .logLevel: "DEBUG",
        ]
        let config = try InstanceConfig.fromEnvironment { env[$0].map { Array($0.utf8) } }
        XCTAssertEqual(config.registryPath, Array("/tmp/r".utf8))
        XCTAssertEqual(config.pinnedInstance, 4)
        XCTAssertEqual(config.network.address(ofInstance: 4), IPv4Address(10, 9, 0, 5))
        XCTAssertEqual(config.hostnamePrefix, Array("PC".utf8))
        XCTAssertEqual(config.logLevel, .debug)
    }

    func test_badConfigValueNamesTheKeyAndTheFix() {
        let cases: [(InstanceConfig.Key, String)] = [
            (.instance, "-1"), (.instance, "999"), (.subnet, "192.168.80.1/24"), (.hostnamePrefix, "bad name"),
            (.logLevel, "loud"),
        ]
        for (key, value) in cases {
            XCTAssertThrowsError(try InstanceConfig.fromEnvironment { $0 == key ? Array(value.utf8) : nil }) { error in
                let message = (error as! ConfigError).message
                XCTAssertTrue(message.contains("\(key.name)"), message)
                XCTAssertTrue(message.contains(value), message)
                XCTAssertTrue(message.contains("expected"), message)
            }
        }
    }
}
