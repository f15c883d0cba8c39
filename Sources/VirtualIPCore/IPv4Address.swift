/// An IPv4 address as the game sees it, kept in host byte order.
/// Winsock hands addresses over in network byte order (`sin_addr`); convert at the edge
/// with `init(networkOrder:)` / `networkOrder`.
public struct IPv4Address: Equatable, Hashable, Sendable {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }
    public init(networkOrder: UInt32) { value = UInt32(bigEndian: networkOrder) }
    public var networkOrder: UInt32 { value.bigEndian }

    public static let any = IPv4Address(0)
    public static let loopback = IPv4Address(127, 0, 0, 1)
    public static let limitedBroadcast = IPv4Address(0xFFFF_FFFF)

    /// 127.0.0.0/8: on Windows every address in it is local.
    public var isLoopback: Bool { value >> 24 == 127 }
    /// 224.0.0.0/4.
    public var isMulticast: Bool { value >> 28 == 0xE }

    /// Parses dotted-quad text ("192.168.80.1") given as UTF-8 bytes. Exactly four decimal
    /// parts 0...255, no signs, no spaces, at most three digits each.
    public init?<Bytes: Collection>(parsing text: Bytes) where Bytes.Element == UInt8 {
        var result: UInt32 = 0
        var part: UInt32 = 0
        var digits = 0
        var parts = 0
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                result = result << 8 | part
                parts += 1
                part = 0
                digits = 0
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                digits += 1
                part = part * 10 + UInt32(byte - UInt8(ascii: "0"))
                guard digits <= 3, part <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        value = result << 8 | part
    }

    /// Dotted-quad text as UTF-8 bytes (no Foundation, Embedded-safe).
    public var dottedBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(15)
        for shift in [24, 16, 8, 0] as [UInt32] {
            appendDecimal(UInt32(UInt8(truncatingIfNeeded: value >> shift)), to: &out)
            if shift != 0 { out.append(UInt8(ascii: ".")) }
        }
        return out
    }

    public var dotted: String { String(decoding: dottedBytes, as: UTF8.self) }
}

/// Appends the decimal digits of `number` as ASCII.
public func appendDecimal(_ number: UInt32, to out: inout [UInt8]) {
    if number >= 10 { appendDecimal(number / 10, to: &out) }
    out.append(UInt8(ascii: "0") + UInt8(number % 10))
}
