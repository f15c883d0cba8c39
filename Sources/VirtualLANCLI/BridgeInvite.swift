import ArgumentParser
import Foundation
import HostKit
import VirtualLANBridge

/// `virtuallan bridge invite`: the line another host pastes into `bridge --invite` instead
/// of copying the key file: the key and this host's bridge. Makes the key file first when
/// there is none.
struct BridgeInvite: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invite",
        abstract: "Print a secret line that lets another host join this LAN (the key and this bridge's address).",
        discussion: """
        Whoever has the line can join the LAN and read its traffic: send it privately. To revoke it, make a
        new key (remove the key file, run invite again) and restart every bridge with the new key.
        """)

    @Option(name: .customLong("key-file"), help: "The LAN's key file; made (32 random bytes, mode 600) if it does not exist.")
    var keyFile: String
    @Option(help: "This host's bridge as the other host reaches it (its --listen, or the public address:port); repeat for several.")
    var peer: [String] = []

    func run() throws {
        let peers = try peer.map { text -> HostAddress in
            guard let address = HostAddress(parsing: text) else { throw Failure("--peer \(text): expected address:port, e.g. 10.0.0.1:47800") }
            return address
        }
        guard !peers.isEmpty else {
            throw Failure("say where the other host reaches this bridge: --peer address:port (the address of its --listen)")
        }
        if !FileManager.default.fileExists(atPath: keyFile) {
            var key = [UInt8](repeating: 0, count: 32)
            var generator = SystemRandomNumberGenerator()
            for i in key.indices { key[i] = generator.next() }
            guard FileManager.default.createFile(atPath: keyFile, contents: Data(key), attributes: [.posixPermissions: 0o600]) else {
                throw Failure("cannot create the key file \(keyFile): pick a path you may write")
            }
            warn("bridge invite: made a new key in \(keyFile): start this host's bridge with --key-file \(keyFile)")
        }
        let key = try BridgeRun.readKey(keyFile)
        warn("bridge invite: this line is a secret: whoever has it can join the LAN and read its traffic; send it privately. "
            + "To revoke it: a new key file, a new invite, and every bridge restarted.")
        say(Invite(key: key, peers: peers).line)
    }
}
