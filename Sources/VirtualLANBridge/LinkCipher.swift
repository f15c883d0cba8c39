import Crypto
import Foundation

/// Encrypts and authenticates what bridges exchange: ChaCha20-Poly1305 (apple/swift-crypto),
/// under keys derived from the LAN's shared key with HKDF-SHA-256 (`LinkKeys`). A sealed
/// message is the ciphertext, as long as the plaintext, then a 16-byte tag over it and the
/// clear bytes it travels with (`authenticating`). A nonce is never used twice under one
/// key: frames take theirs from their unique header, each relayed stream has a key of its own.
enum LinkCipher {
    static let tagSize = 16

    /// `prefix`, then the sealed plaintext: built in one array, the ciphertext copied once
    /// out of swift-crypto's box (a relayed stream seals every chunk).
    static func seal(_ plaintext: ArraySlice<UInt8>, key: SymmetricKey, nonce: [UInt8], authenticating clear: [UInt8],
                     after prefix: [UInt8] = []) -> [UInt8] {
        // The nonce is always 12 bytes here, so neither call can fail.
        let box = try! ChaChaPoly.seal(plaintext, using: key, nonce: ChaChaPoly.Nonce(data: nonce), authenticating: clear)
        var out: [UInt8] = []
        out.reserveCapacity(prefix.count + plaintext.count + tagSize)
        out += prefix
        out += box.ciphertext
        out += box.tag
        return out
    }

    /// The plaintext; nil when the tag does not match (another key, or bytes changed).
    static func open(_ sealed: ArraySlice<UInt8>, key: SymmetricKey, nonce: [UInt8], authenticating clear: [UInt8]) -> [UInt8]? {
        var plaintext: [UInt8] = []
        return open(sealed, key: key, nonce: nonce, authenticating: clear, appendingTo: &plaintext) ? plaintext : nil
    }

    /// Appends the plaintext to `out` (one copy out of swift-crypto's box); false, `out`
    /// untouched, when the tag does not match.
    static func open(_ sealed: ArraySlice<UInt8>, key: SymmetricKey, nonce: [UInt8], authenticating clear: [UInt8],
                     appendingTo out: inout [UInt8]) -> Bool {
        guard sealed.count >= tagSize,
              let box = try? ChaChaPoly.SealedBox(nonce: ChaChaPoly.Nonce(data: nonce),
                                                  ciphertext: sealed.dropLast(tagSize), tag: sealed.suffix(tagSize)),
              let plaintext = try? ChaChaPoly.open(box, using: key, authenticating: clear)
        else { return false }
        out += plaintext
        return true
    }
}

/// The keys of one virtual LAN's links, from its shared key (the key file or invite): one for
/// the frames between bridges, and one per relayed stream, named by the frame that opened it.
public struct LinkKeys: Sendable {
    let frames: SymmetricKey
    private let shared: SymmetricKey

    public init(sharedKey: [UInt8]) {
        shared = SymmetricKey(data: sharedKey)
        frames = LinkKeys.derive(shared, info: Array("virtuallan bridge frames 2".utf8))
    }

    /// A relayed stream's key: the opening frame's sender (first instance), session and
    /// sequence name the stream uniquely.
    func stream(opener: UInt16, session: UInt64, sequence: UInt64) -> SymmetricKey {
        var info = Array("virtuallan bridge stream 2".utf8)
        appendLE16(opener, to: &info)
        appendLE64(session, to: &info)
        appendLE64(sequence, to: &info)
        return LinkKeys.derive(shared, info: info)
    }

    static func derive(_ key: SymmetricKey, info: [UInt8]) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: info, outputByteCount: 32)
    }
}

func appendLE64(_ value: UInt64, to out: inout [UInt8]) {
    for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
}
