import Foundation

/// An IPv4 address and port on the host's own network (the bridge's link, the tools' raw
/// sockets), as the user writes it ("10.0.0.2:47800").
public struct HostAddress: Equatable, Hashable, CustomStringConvertible {
    public var address: UInt32 // host order
    public var port: UInt16

    public init(_ a: sockaddr_in) {
        address = UInt32(bigEndian: a.sin_addr.s_addr)
        port = UInt16(bigEndian: a.sin_port)
    }

    public init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }

    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]) else { return nil }
        var a = in_addr()
        guard inet_pton(AF_INET, String(parts[0]), &a) == 1 else { return nil }
        self.init(address: UInt32(bigEndian: a.s_addr), port: port)
    }

    public static func loopback(_ port: UInt16) -> HostAddress { HostAddress(address: 0x7F00_0001, port: port) }

    public var sockaddr: sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = address.bigEndian
        return a
    }

    public var description: String {
        "\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF):\(port)"
    }
}
