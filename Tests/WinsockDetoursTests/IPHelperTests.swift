import XCTest
import CWineBridge
import VirtualIPCore
@testable import WinsockDetours

/// IP Helper's answers for the virtual PC, through the hook table (the conformance program
/// checks the same under Wine: iphlp.*).
final class IPHelperTests: LANTestCase {
    override class var instances: Int { 2 }
    override class var startedInstances: Int { 0 }

    private func bestInterface(_ address: IPv4Address) -> (UInt32, UInt32) {
        var index: UInt32 = 12345
        let e = UInt32(truncatingIfNeeded: call("GetBestInterface", .uint(address.networkOrder), .ptr(&index)))
        return (e, index)
    }

    func test_bestInterfaceIsLoopbackOrTheVirtualAdapterAndNothingBeyond() {
        lan.as(1) { _ in
            XCTAssertEqual(bestInterface(lan.address(0)).1, 3, "instance 1's adapter is interface 3 (loopback is 1)")
            XCTAssertEqual(bestInterface(.limitedBroadcast).1, 3)
            XCTAssertEqual(bestInterface(.loopback).1, 1)
            XCTAssertEqual(bestInterface(IPv4Address(10, 213, 77, 5)).0, 1232, "no route beyond the LAN")
            var to = VL_SOCKADDR_IN()
            to.sin_family = UInt16(VL_AF_INET)
            to.sin_addr = lan.address(0).networkOrder
            var index: UInt32 = 0
            XCTAssertEqual(call("GetBestInterfaceEx", .ptr(&to), .ptr(&index)), 0)
            XCTAssertEqual(index, 3)
            XCTAssertEqual(call("GetBestInterface", .uint(lan.address(0).networkOrder), .ptr(nil as UnsafeRawPointer?)), 87)
        }
    }

    func test_ipAddrTableListsLoopbackThenTheVirtualAddress() {
        lan.as(0) { _ in
            var size: UInt32 = 0
            XCTAssertEqual(call("GetIpAddrTable", .ptr(nil as UnsafeRawPointer?), .ptr(&size), .int(1)), 122, "sizing")
            XCTAssertEqual(size, 4 + 2 * 24)
            let table = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(size), alignment: 8)
            defer { table.deallocate() }
            XCTAssertEqual(call("GetIpAddrTable", .ptr(table.baseAddress), .ptr(&size), .int(1)), 0)
            XCTAssertEqual(table.load(as: UInt32.self), 2)
            XCTAssertEqual(IPv4Address(networkOrder: table.load(fromByteOffset: 4, as: UInt32.self)), .loopback)
            XCTAssertEqual(IPv4Address(networkOrder: table.load(fromByteOffset: 28, as: UInt32.self)), lan.address(0))
            XCTAssertEqual(table.load(fromByteOffset: 32, as: UInt32.self), 2, "the adapter's index")
            XCTAssertEqual(IPv4Address(networkOrder: table.load(fromByteOffset: 36, as: UInt32.self)), lan.registry.network.mask)
        }
    }

    func test_adaptersAddressesSizesThenFillsTheVirtualAdapterFirst() {
        lan.as(0) { _ in
            var size: UInt32 = 0
            let none = nil as UnsafeRawPointer?
            XCTAssertEqual(call("GetAdaptersAddresses", .uint(2), .uint(0), .ptr(none), .ptr(none), .ptr(&size)), 111, "sizing")
            XCTAssertGreaterThan(size, 0)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(size), alignment: 8)
            defer { buffer.deallocate() }
            XCTAssertEqual(call("GetAdaptersAddresses", .uint(0), .uint(0), .ptr(none), .ptr(buffer.baseAddress), .ptr(&size)), 0)
            XCTAssertEqual(buffer.load(fromByteOffset: 4, as: UInt32.self), 2, "the first adapter is the virtual one (IfIndex)")
            let next = buffer.load(fromByteOffset: 8, as: UnsafeRawPointer?.self)
            XCTAssertEqual(next?.load(fromByteOffset: 4, as: UInt32.self), 1, "then loopback")
            XCTAssertEqual(call("GetAdaptersAddresses", .uint(23), .uint(0), .ptr(none), .ptr(buffer.baseAddress), .ptr(&size)), 87,
                           "IPv6 is never ours (the DLL hands it to iphlpapi)")
        }
    }
}

/// The interface family names the same two interfaces as GetAdaptersAddresses: index, LUID
/// and GUID convert into each other, GetIfEntry2 finds each by LUID or index, GetIfTable2
/// and GetNumberOfInterfaces count two; an interface the PC lacks is ERROR_FILE_NOT_FOUND.
final class InterfaceFamilyTests: LANTestCase {
    override class var instances: Int { 2 }

    func test_indexLuidAndGuidNameOneInterfaceEach() {
        lan.as(1) { _ in
            let host = lan.hosts[1]
            for index in [UInt32(1), host.adapterIndex] {
                var luid: UInt64 = 0, back: UInt32 = 0
                XCTAssertEqual(call("ConvertInterfaceIndexToLuid", .uint(index), .ptr(&luid)), 0)
                XCTAssertEqual(call("ConvertInterfaceLuidToIndex", .ptr(&luid), .ptr(&back)), 0)
                XCTAssertEqual(back, index)
                var guid = [UInt8](repeating: 0, count: 16), again: UInt64 = 0
                XCTAssertEqual(guid.withUnsafeMutableBytes { call("ConvertInterfaceLuidToGuid", .ptr(&luid), .ptr($0.baseAddress)) }, 0)
                XCTAssertEqual(guid.withUnsafeBytes { call("ConvertInterfaceGuidToLuid", .ptr($0.baseAddress), .ptr(&again)) }, 0)
                XCTAssertEqual(again, luid)
                // GetIfEntry2 by LUID, then by index alone: the same row.
                var row = [UInt8](repeating: 0, count: Int(vl_if_row2_size()))
                row.withUnsafeMutableBytes { $0.storeBytes(of: luid, as: UInt64.self) }
                XCTAssertEqual(row.withUnsafeMutableBytes { call("GetIfEntry2", .ptr($0.baseAddress)) }, 0)
                XCTAssertEqual(row.withUnsafeBytes { $0.load(fromByteOffset: 8, as: UInt32.self) }, index)
                let first = row
                row = [UInt8](repeating: 0, count: row.count)
                row.withUnsafeMutableBytes { $0.storeBytes(of: index, toByteOffset: 8, as: UInt32.self) }
                XCTAssertEqual(row.withUnsafeMutableBytes { call("GetIfEntry2", .ptr($0.baseAddress)) }, 0)
                XCTAssertEqual(row, first)
            }
            var luid: UInt64 = 0
            XCTAssertEqual(call("ConvertInterfaceIndexToLuid", .uint(lan.hosts[0].adapterIndex), .ptr(&luid)), 2,
                           "another instance's adapter is not this PC's")
            XCTAssertEqual(call("ConvertInterfaceIndexToLuid", .uint(1), .null), 87)
        }
    }

    /// Aliases are the adapters' FriendlyNames and lead back to their LUIDs; the names
    /// if_indextoname gives are iphlpapi's names of the LUIDs (type, then NetLuidIndex,
    /// which is the index) and lead back to the index.
    func test_aliasesAndNamesLeadBackToTheirInterface() {
        lan.as(1) { _ in
            let host = lan.hosts[1]
            for (index, alias, name) in [(UInt32(1), "Loopback Pseudo-Interface 1", "loopback_1"),
                                         (host.adapterIndex, "VirtualLAN", "ethernet_\(host.adapterIndex)")] {
                var luid: UInt64 = 0, back: UInt64 = 0
                XCTAssertEqual(call("ConvertInterfaceIndexToLuid", .uint(index), .ptr(&luid)), 0)
                XCTAssertEqual(luid >> 24 & 0xFF_FFFF, UInt64(index), "NetLuidIndex is the index")
                var text = [UInt16](repeating: 0xFFFF, count: 64)
                XCTAssertEqual(text.withUnsafeMutableBufferPointer { call("ConvertInterfaceLuidToAlias", .ptr(&luid), .ptr($0.baseAddress), .socket(64)) }, 0)
                XCTAssertEqual(String(decoding: text.prefix { $0 != 0 }, as: UTF16.self), alias)
                var wide = Array(alias.utf16) + [0]
                XCTAssertEqual(call("ConvertInterfaceAliasToLuid", .ptr(&wide), .ptr(&back)), 0)
                XCTAssertEqual(back, luid)
                XCTAssertEqual(text.withUnsafeMutableBufferPointer { call("ConvertInterfaceLuidToAlias", .ptr(&luid), .ptr($0.baseAddress), .socket(3)) },
                               8, "too short: ERROR_NOT_ENOUGH_MEMORY")
                var bytes = [CChar](repeating: 0, count: 256)
                XCTAssertNotEqual(bytes.withUnsafeMutableBufferPointer { call("if_indextoname", .uint(index), .ptr($0.baseAddress)) }, 0)
                XCTAssertEqual(String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), name)
                XCTAssertEqual(UInt32(call("if_nametoindex", .ptr(&bytes))), index)
            }
            var unknown = Array("Ethernet 7".utf16) + [0], luid: UInt64 = 1
            XCTAssertEqual(call("ConvertInterfaceAliasToLuid", .ptr(&unknown), .ptr(&luid)), 87, "no such alias")
            XCTAssertEqual(luid, 0)
            var other = Array("ethernet_\(lan.hosts[0].adapterIndex)".utf8CString)
            XCTAssertEqual(call("if_nametoindex", .ptr(&other)), 0, "another instance's adapter is not this PC's")
        }
    }

    /// GetBestRoute: loopback's route for 127.0.0.1, the subnet's for the LAN, none beyond;
    /// GetInterfaceInfo names the adapter as GetAdapterIndex takes it back.
    func test_bestRouteInterfaceInfoAndAdapterIndexDescribeTheSamePC() {
        lan.as(1) { _ in
            let host = lan.hosts[1]
            var row = [UInt8](repeating: 0, count: 56)
            let lanAddress = lan.address(0).networkOrder
            for (destination, index) in [(IPv4Address.loopback.networkOrder, UInt32(1)), (lanAddress, host.adapterIndex)] {
                XCTAssertEqual(row.withUnsafeMutableBytes { call("GetBestRoute", .uint(destination), .uint(0), .ptr($0.baseAddress)) }, 0)
                XCTAssertEqual(row.withUnsafeBytes { $0.load(fromByteOffset: 16, as: UInt32.self) }, index)
            }
            XCTAssertEqual(row.withUnsafeMutableBytes { call("GetBestRoute", .uint(IPv4Address(10, 1, 2, 3).networkOrder), .uint(0), .ptr($0.baseAddress)) },
                           1232, "beyond the LAN: no route")
            var size: UInt32 = 0
            XCTAssertEqual(call("GetInterfaceInfo", .null, .ptr(&size)), 122)
            var info = [UInt8](repeating: 0, count: Int(size))
            XCTAssertEqual(info.withUnsafeMutableBytes { call("GetInterfaceInfo", .ptr($0.baseAddress), .ptr(&size)) }, 0)
            XCTAssertEqual(info.withUnsafeBytes { $0.load(as: UInt32.self) }, 1, "the adapter; loopback is not listed")
            XCTAssertEqual(info.withUnsafeBytes { $0.load(fromByteOffset: 4, as: UInt32.self) }, host.adapterIndex)
            let name = info.withUnsafeBytes { raw in (0..<128).map { raw.load(fromByteOffset: 8 + 2 * $0, as: UInt16.self) } }
            XCTAssertTrue(String(decoding: name.prefix { $0 != 0 }, as: UTF16.self).hasPrefix("\\DEVICE\\TCPIP_{564C414E-"))
            var index: UInt32 = 0, lower = name.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
            XCTAssertEqual(name.withUnsafeBufferPointer { call("GetAdapterIndex", .ptr($0.baseAddress), .ptr(&index)) }, 0)
            XCTAssertEqual(index, host.adapterIndex)
            XCTAssertEqual(call("GetAdapterIndex", .ptr(&lower), .ptr(&index)), 0, "either case")
            var other = Array("\\DEVICE\\TCPIP_{00000000-0000-0000-0000-000000000000}".utf16) + [0]
            XCTAssertEqual(call("GetAdapterIndex", .ptr(&other), .ptr(&index)), 87)
        }
    }

    func test_theUnicastTableHasTheTwoAddresses() {
        lan.as(1) { _ in
            var table: UnsafeMutableRawPointer?
            XCTAssertEqual(call("GetUnicastIpAddressTable", .uint(2), .ptr(&table)), 0)
            guard let table else { return XCTFail("no table") }
            defer { free(table) }
            XCTAssertEqual(table.load(as: UInt32.self), 2)
            let rowSize = 80, first = 8  // MIB_UNICASTIPADDRESS_ROW, after NumEntries and its padding
            let rows = (0..<2).map { i -> (UInt32, UInt32) in
                let row = table + first + i * rowSize
                return (row.load(fromByteOffset: 40, as: UInt32.self), row.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            }
            XCTAssertEqual(rows.map(\.0), [1, lan.hosts[1].adapterIndex])
            XCTAssertEqual(rows.map { IPv4Address(networkOrder: $0.1) }, [.loopback, lan.address(1)])
        }
    }

    func test_theTableAndTheCountListTheSameTwo() {
        lan.as(0) { _ in
            var table: UnsafeMutableRawPointer?
            XCTAssertEqual(call("GetIfTable2", .ptr(&table)), 0)
            XCTAssertEqual(table?.load(as: UInt32.self), 2)
            var count: UInt32 = 0
            XCTAssertEqual(call("GetNumberOfInterfaces", .ptr(&count)), 0)
            XCTAssertEqual(count, 2)
            free(table)
        }
    }

    /// GetIfTable and GetIfEntry: the same two interfaces; the routes name only them;
    /// GetNetworkParams names the PC as gethostname does.
    func test_theOlderTablesDescribeTheSamePC() {
        lan.as(1) { ws in
            let host = lan.hosts[1]
            var size: UInt32 = 0
            XCTAssertEqual(call("GetIfTable", .null, .ptr(&size), .int(1)), 122)
            var table = [UInt8](repeating: 0, count: Int(size))
            XCTAssertEqual(table.withUnsafeMutableBytes { call("GetIfTable", .ptr($0.baseAddress), .ptr(&size), .int(1)) }, 0)
            let indexes = table.withUnsafeBytes { p in (0..<2).map { p.load(fromByteOffset: 4 + $0 * 860 + 512, as: UInt32.self) } }
            XCTAssertEqual(indexes, [1, host.adapterIndex])
            var row = [UInt8](repeating: 0, count: 860)
            row.withUnsafeMutableBytes { $0.storeBytes(of: host.adapterIndex, toByteOffset: 512, as: UInt32.self) }
            XCTAssertEqual(row.withUnsafeMutableBytes { call("GetIfEntry", .ptr($0.baseAddress)) }, 0)
            XCTAssertEqual(Array(row[(512 + 20)..<(512 + 26)]), host.mac.array, "the adapter's MAC")
            size = 0
            XCTAssertEqual(call("GetIpForwardTable", .null, .ptr(&size), .int(1)), 122)
            var routes = [UInt8](repeating: 0, count: Int(size))
            XCTAssertEqual(routes.withUnsafeMutableBytes { call("GetIpForwardTable", .ptr($0.baseAddress), .ptr(&size), .int(1)) }, 0)
            let interfaces = routes.withUnsafeBytes { p in (0..<Int(p.load(as: UInt32.self))).map { p.load(fromByteOffset: 4 + $0 * 56 + 16, as: UInt32.self) } }
            XCTAssertEqual(Set(interfaces), [1, host.adapterIndex])
            // GetIpForwardTable2: the same destinations on the same interfaces (rows of 104
            // bytes after an 8-byte count; the destination at 16, the index at 8).
            var second: UnsafeMutableRawPointer?
            XCTAssertEqual(call("GetIpForwardTable2", .uint(2), .ptr(&second)), 0)
            if let second {
                let count = Int(second.load(as: UInt32.self))
                let rows = (0..<count).map { i in (second.load(fromByteOffset: 8 + i * 104 + 16, as: UInt32.self),
                                                   second.load(fromByteOffset: 8 + i * 104 + 8, as: UInt32.self)) }
                let old = routes.withUnsafeBytes { p in (0..<Int(p.load(as: UInt32.self))).map { (p.load(fromByteOffset: 4 + $0 * 56, as: UInt32.self),
                                                                                                  p.load(fromByteOffset: 4 + $0 * 56 + 16, as: UInt32.self)) } }
                XCTAssertEqual(rows.map { "\($0.0)/\($0.1)" }, old.map { "\($0.0)/\($0.1)" })
                free(second)
            }
            size = 0
            XCTAssertEqual(call("GetNetworkParams", .null, .ptr(&size)), 111)
            var params = [UInt8](repeating: 0, count: Int(size))
            XCTAssertEqual(params.withUnsafeMutableBytes { call("GetNetworkParams", .ptr($0.baseAddress), .ptr(&size)) }, 0)
            let name = String(decoding: params.prefix { $0 != 0 }, as: UTF8.self)
            XCTAssertEqual(name, "VLAN-2")
            _ = ws
        }
    }
}
