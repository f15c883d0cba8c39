import Foundation
import HostKit

/// One line that lets another host join a virtual LAN: the shared key and the bridges to
/// reach first, pasted instead of copying a key file (`virtuallan bridge invite`).
///
///     virtuallan-invite-1:<key, base64url without padding>@<address:port>[,<address:port>...]
///
/// It is a secret: whoever has it can join the LAN and read its traffic. Revoking one means
/// a new key (and a new line) for every host.
public struct Invite: Equatable {
    public static let prefix = "virtuallan-invite-1:"
    public var key: [UInt8]
    public var peers: [HostAddress]

    public init(key: [UInt8], peers: [HostAddress]) {
        self.key = key
        self.peers = peers
    }

    public var line: String {
        let encoded = Data(key).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return Invite.prefix + encoded + "@" + peers.map(\.description).joined(separator: ",")
    }

    /// Reads a line `line` made (surrounding white space is ignored); the failure says what
    /// is wrong with it.
    public init(parsing text: String) throws {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix(Invite.prefix) else {
            throw Failure("not an invite: it starts with \(Invite.prefix) (make one with `virtuallan bridge invite` on a host of the LAN)")
        }
        let parts = text.dropFirst(Invite.prefix.count).split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw Failure("the invite is cut or changed (expected key@address:port): copy the whole line") }
        var base64 = parts[0].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let key = Data(base64Encoded: base64), key.count >= 16 else {
            throw Failure("the invite's key is cut or changed: copy the whole line")
        }
        var peers: [HostAddress] = []
        for text in parts[1].split(separator: ",") {
            guard let peer = HostAddress(parsing: String(text)) else {
                throw Failure("the invite's bridge address \(text) is not address:port: copy the whole line")
            }
            peers.append(peer)
        }
        guard !peers.isEmpty else { throw Failure("the invite names no bridge to reach: make it with --peer") }
        self.init(key: Array(key), peers: peers)
    }
}
