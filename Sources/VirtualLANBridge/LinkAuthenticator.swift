import Crypto

/// Authenticates the frames and stream chunks bridges exchange: HMAC-SHA-256 under the LAN's
/// shared key, from apple/swift-crypto. A tag is the code's first `BridgeFrame.tagSize`
/// bytes; checking one compares in constant time.
public struct LinkAuthenticator: Sendable {
    private let key: SymmetricKey

    public init(key: [UInt8]) { self.key = SymmetricKey(data: key) }

    /// The full 32-byte HMAC-SHA-256 of `message`.
    public func code(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }

    public func code(_ message: [UInt8]) -> [UInt8] { message.withUnsafeBytes { code($0) } }

    /// Whether `tag` is the first `tag.count` bytes of `message`'s code (at least 16 of them).
    public func isValid(tag: UnsafeRawBufferPointer, for message: UnsafeRawBufferPointer) -> Bool {
        guard tag.count >= 16 else { return false }
        return code(message).withUnsafeBytes { expected in
            constantTimeEqual(UnsafeRawBufferPointer(rebasing: expected.prefix(tag.count)), tag)
        }
    }
}

/// Compares in time independent of where the bytes differ (no early exit), so a forger
/// cannot learn a tag byte by byte from response timing.
func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<a.count { difference |= a[i] ^ b[i] }
    return difference == 0
}
