// libFuzzer target: the invite line a user pastes (`bridge --invite`). Any text parses to an
// invite or to a failure that says what is wrong, never a crash; an invite that parses
// writes a line that parses to the same invite. Compiled with Sources/VirtualLANBridge/
// Invite.swift over HostKit (scripts/fuzz).
import HostKit

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInvite(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // The prefix too, so that the fuzzer reaches past the first check at once.
    for candidate in [text, Invite.prefix + text] {
        guard let invite = try? Invite(parsing: candidate) else { continue }
        precondition(invite.key.count >= 16 && !invite.peers.isEmpty, "an invite has a key and a bridge")
        precondition((try? Invite(parsing: invite.line)) == invite, "invite round trip")
    }
    return 0
}
