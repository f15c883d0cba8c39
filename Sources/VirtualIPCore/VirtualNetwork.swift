/// The virtual LAN every instance lives on: one IPv4 subnet, instance `n` at host `.n+1`.
public struct VirtualNetwork: Equatable, Sendable {
    public let network: IPv4Address
    public let prefixLength: Int

    public static let defaultNetwork = VirtualNetwork(validNetwork: IPv4Address(192, 168, 80, 0), prefixLength: 24)

    /// Validates that `address` is the network address of a subnet with room for at least
    /// two instances (prefix 8...30) and that it is not loopback.
    public init?(network address: IPv4Address, prefixLength: Int) {
        guard prefixLength >= 8, prefixLength <= 30, !address.isLoopback,
              address != .any, address.value & ~VirtualNetwork.mask(prefixLength) == 0
        else { return nil }
        self.init(validNetwork: address, prefixLength: prefixLength)
    }

    private init(validNetwork: IPv4Address, prefixLength: Int) {
        self.network = validNetwork
        self.prefixLength = prefixLength
    }

    /// Parses "a.b.c.d/len" (UTF-8 bytes).
    public init?(parsing text: [UInt8]) {
        guard let slash = text.firstIndex(of: UInt8(ascii: "/")),
              let address = IPv4Address(parsing: text[..<slash]) else { return nil }
        let lengthBytes = text[(slash + 1)...]
        guard !lengthBytes.isEmpty, lengthBytes.count <= 2 else { return nil }
        var length = 0
        for byte in lengthBytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            length = length * 10 + Int(byte - UInt8(ascii: "0"))
        }
        self.init(network: address, prefixLength: length)
    }

    static func mask(_ prefixLength: Int) -> UInt32 {
        prefixLength == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefixLength)
    }

    public var mask: IPv4Address { IPv4Address(VirtualNetwork.mask(prefixLength)) }
    public var broadcast: IPv4Address { IPv4Address(network.value | ~VirtualNetwork.mask(prefixLength)) }
    /// Usable host addresses: everything but the network and broadcast addresses.
    public var capacity: Int { Int(~VirtualNetwork.mask(prefixLength)) - 1 }

    public func contains(_ address: IPv4Address) -> Bool {
        address.value & VirtualNetwork.mask(prefixLength) == network.value
    }

    /// 255.255.255.255 or this subnet's directed broadcast.
    public func isBroadcast(_ address: IPv4Address) -> Bool {
        address == .limitedBroadcast || address == broadcast
    }

    /// An address that, sent to from a real socket, would put a packet on a real network
    /// where the game meant the virtual LAN: the subnet, the limited broadcast, multicast.
    /// Nothing a hooked process aims there may reach a real interface.
    public func isVirtualLANDestination(_ address: IPv4Address) -> Bool {
        contains(address) || address == .limitedBroadcast || address.isMulticast
    }

    public func address(ofInstance index: Int) -> IPv4Address {
        IPv4Address(network.value &+ UInt32(index + 1))
    }

    /// The instance index owning `address`, or nil when it is no host address of this subnet.
    public func instance(of address: IPv4Address) -> Int? {
        guard contains(address), !isBroadcast(address), address != network else { return nil }
        return Int(address.value - network.value) - 1
    }
}

/// A 6-byte Ethernet address. Each instance gets a distinct, locally administered one:
/// FlatOut 2 ignores messages carrying its own MAC, so copies must not share it.
public struct MACAddress: Equatable, Sendable {
    public var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    /// 02:56:4C:xx:xx:xx — bit 1 of the first byte marks it locally administered; "VL".
    public init(instance index: Int) {
        let n = UInt32(truncatingIfNeeded: index + 1)
        bytes = (0x02, 0x56, 0x4C, UInt8(truncatingIfNeeded: n >> 16),
                 UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n))
    }

    public static func == (a: MACAddress, b: MACAddress) -> Bool {
        a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1 && a.bytes.2 == b.bytes.2
            && a.bytes.3 == b.bytes.3 && a.bytes.4 == b.bytes.4 && a.bytes.5 == b.bytes.5
    }

    public var array: [UInt8] { [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5] }
}
