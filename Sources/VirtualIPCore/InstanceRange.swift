/// The instances one host hands out: `first ..< first + count`. Hosts of one virtual LAN
/// use disjoint ranges, so addresses never collide across hosts.
public struct InstanceRange: Equatable, Sendable {
    /// No instance has this index (the bridge uses it for "every instance of a host").
    public static let beyondLast: UInt16 = 0xFFFF
    public let first: UInt16
    public let count: UInt16

    public init?(first: UInt16, count: UInt16) {
        guard count >= 1, first != InstanceRange.beyondLast, UInt32(first) + UInt32(count) <= UInt32(InstanceRange.beyondLast) else { return nil }
        self.first = first
        self.count = count
    }

    /// Parses "first-last" (instance indices, inclusive), e.g. "0-31".
    public init?(parsing text: [UInt8]) {
        guard let dash = text.firstIndex(of: UInt8(ascii: "-")),
              let first = parseDecimal(text[..<dash]), let last = parseDecimal(text[(dash + 1)...]),
              last >= first, last < Int(InstanceRange.beyondLast)
        else { return nil }
        self.init(first: UInt16(first), count: UInt16(last - first + 1))
    }

    public var last: Int { Int(first) + Int(count) - 1 }
    public func contains(_ index: Int) -> Bool { index >= Int(first) && index <= last }
    public func overlaps(_ other: InstanceRange) -> Bool { Int(first) <= other.last && Int(other.first) <= last }
}
