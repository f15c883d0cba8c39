// libFuzzer target: what a bridge parses from the network. Random bytes never carry a valid
// tag, so the input is also sealed with the key here (its first 36 bytes as the header, the
// rest as the body): that reaches the header parser behind the tag check. Checks round
// trips, and that the replay window accepts no (session, sequence) twice. Compiled in one
// module with the bridge's protocol sources (Sources/VirtualLANBridge/BridgeFrame.swift,
// LinkCipher.swift) over VirtualIPCore and swift-crypto (scripts/fuzz).
import VirtualIPCore

let keys = LinkKeys(sharedKey: Array("fuzzing key".utf8))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBridge(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // As received: only a frame sealed with the key may open.
    if case let .success(frame) = BridgeFrame.open(bytes, with: keys) {
        precondition(frame.sealed(with: keys) == bytes, "an opened frame reseals to its bytes")
    }
    // As if sealed by a peer with the key: the header parse is total and round-trips.
    if bytes.count >= BridgeFrame.headerSize {
        let header = Array(bytes.prefix(BridgeFrame.headerSize))
        let sealed = header + LinkCipher.seal(bytes.dropFirst(BridgeFrame.headerSize), key: keys.frames,
                                              nonce: BridgeFrame.nonce(header), authenticating: header)
        if case let .success(frame) = BridgeFrame.open(sealed, with: keys) {
            precondition(frame.sealed(with: keys) == sealed, "sealed round trip")
        }
    }
    if let announcement = Announcement(body: bytes) {
        precondition(announcement.body == bytes, "announcement round trip")
    }
    if let probe = Probe(body: bytes) {
        precondition(probe.body == bytes, "probe round trip")
    }
    if let meeting = Meeting(body: bytes) {
        precondition(meeting.body == bytes, "meeting round trip")
    }
    if let token = StreamToken(body: bytes) {
        precondition(token.body == bytes, "stream token round trip")
    }
    if let (target, frame) = ForwardedDatagram.parse(bytes) {
        precondition(frame.withUnsafeBytes { ForwardedDatagram.body(target: target, frame: $0) } == bytes, "datagram body round trip")
    }
    // Pairs of bytes as (session, sequence): nothing is accepted twice.
    var window = ReplayWindow()
    var accepted: [UInt32] = []
    var i = 0
    while i + 1 < size {
        let session = UInt64(bytes[i] >> 6), sequence = UInt64(bytes[i + 1]) | UInt64(bytes[i] & 0x3F) << 8
        if window.check(session: session, sequence: sequence) == .accept {
            let key = UInt32(session) << 16 | UInt32(sequence)
            precondition(!accepted.contains(key), "accepted twice")
            accepted.append(key)
        }
        i += 2
    }
    return 0
}
