import XCTest
import VirtualIPCore
@testable import VirtualLANBridge
import Crypto

/// The link between bridges: our use of swift-crypto's ChaCha20-Poly1305 and HKDF-SHA-256
/// against RFC 8439's and RFC 5869's vectors, the frame's and a stream chunk's sealing, total
/// parsing, the replay window, host ranges.
final class BridgeProtocolTests: XCTestCase {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    func bytes(_ hex: String) -> [UInt8] {
        stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! }
    }

    func test_chaChaPolyMatchesRFC8439() {
        // RFC 8439 2.8.2: the AEAD construction's test vector.
        let key = SymmetricKey(data: (0x80...0x9f).map { UInt8($0) })
        let nonce = bytes("070000004041424344454647"), clear = bytes("50515253c0c1c2c3c4c5c6c7")
        let plaintext = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
        let sealed = LinkCipher.seal(plaintext[...], key: key, nonce: nonce, authenticating: clear)
        XCTAssertEqual(hex(Array(sealed.prefix(16))), "d31a8d34648e60db7b86afbc53ef7ec2")
        XCTAssertEqual(hex(Array(sealed.suffix(16))), "1ae10b594f09e26a7e902ecbd0600691")
        XCTAssertEqual(LinkCipher.open(sealed[...], key: key, nonce: nonce, authenticating: clear), plaintext)
        XCTAssertNil(LinkCipher.open(sealed[...], key: key, nonce: nonce, authenticating: clear + [0]), "the clear bytes count")
        XCTAssertNil(LinkCipher.open(sealed.dropLast(), key: key, nonce: nonce, authenticating: clear))
        XCTAssertNil(LinkCipher.open([][...], key: key, nonce: nonce, authenticating: clear), "shorter than a tag")
    }

    func test_keysDeriveAsRFC5869Says() {
        // RFC 5869 A.3 (SHA-256, no salt, no info): the first 32 bytes of its OKM.
        let key = LinkKeys.derive(SymmetricKey(data: [UInt8](repeating: 0x0b, count: 22)), info: [])
        XCTAssertEqual(key.withUnsafeBytes { hex(Array($0)) }, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d")
    }

    let range = InstanceRange(first: 16, count: 16)!
    let keys = LinkKeys(sharedKey: Array("a shared key of the virtual LAN".utf8))

    func frame(sequence: UInt64 = 1, body: [UInt8] = [1, 2, 3]) -> BridgeFrame {
        BridgeFrame(kind: .datagram, sender: range, session: 1_700_000_000_000, sequence: sequence, sentAtMs: 1_700_000_000_500, body: body)
    }

    func test_aSealedFrameOpensToTheSameFrameAndItsBodyCannotBeRead() throws {
        let sealed = try XCTUnwrap(frame().sealed(with: keys))
        XCTAssertEqual(sealed.count, BridgeFrame.overhead + 3)
        XCTAssertEqual(try BridgeFrame.open(sealed, with: keys).get(), frame())
        let secret = Array("the lobby's password".utf8)
        let hidden = try XCTUnwrap(frame(body: secret).sealed(with: keys))
        XCTAssertNil(hidden.indices.first { hidden[$0...].starts(with: secret.prefix(4)) }, "the body is encrypted")
        XCTAssertNotEqual(Array(try XCTUnwrap(frame(sequence: 2, body: secret).sealed(with: keys)).dropFirst(BridgeFrame.headerSize)),
                          Array(hidden.dropFirst(BridgeFrame.headerSize)), "each frame has a nonce of its own")
    }

    func test_anyChangedByteOrAnotherKeyIsRejectedAsBadTag() throws {
        let sealed = try XCTUnwrap(frame().sealed(with: keys))
        for i in 0..<sealed.count {
            var changed = sealed
            changed[i] ^= 0x01
            XCTAssertEqual(BridgeFrame.open(changed, with: keys), .failure(.badTag), "byte \(i)")
        }
        XCTAssertEqual(BridgeFrame.open(sealed, with: LinkKeys(sharedKey: Array("another key".utf8))), .failure(.badTag))
        XCTAssertEqual(BridgeFrame.open(Array(sealed.prefix(BridgeFrame.overhead - 1)), with: keys), .failure(.malformed))
        XCTAssertEqual(BridgeFrame.open([], with: keys), .failure(.malformed))
    }

    func test_anAuthenticFrameWithImpossibleFieldsIsMalformed() throws {
        // Sealed with the right key but version 3: the key holder is a newer build.
        var header = Array(try XCTUnwrap(frame().sealed(with: keys)).prefix(BridgeFrame.headerSize))
        header[4] = 3
        let newer = header + LinkCipher.seal([1, 2, 3][...], key: keys.frames, nonce: BridgeFrame.nonce(header), authenticating: header)
        XCTAssertEqual(BridgeFrame.open(newer, with: keys), .failure(.malformed))
    }

    func test_aRelaySaysSoInItsFramesAndOtherFlagsAreMalformed() throws {
        var relays = frame()
        relays.senderRelays = true
        let sealed = try XCTUnwrap(relays.sealed(with: keys))
        XCTAssertEqual(try BridgeFrame.open(sealed, with: keys).get(), relays)
        XCTAssertFalse(try BridgeFrame.open(try XCTUnwrap(frame().sealed(with: keys)), with: keys).get().senderRelays)
        var header = Array(sealed.prefix(BridgeFrame.headerSize))
        header[10] = 2  // a flag this version does not know
        let unknown = header + LinkCipher.seal([1, 2, 3][...], key: keys.frames, nonce: BridgeFrame.nonce(header), authenticating: header)
        XCTAssertEqual(BridgeFrame.open(unknown, with: keys), .failure(.malformed))
    }

    func test_aProbeAStreamTokenAndAMeetingParseOnlyWhatTheyWrite() {
        let probe = Probe(target: 32, isAnswer: true, sentAtUs: 0x0102_0304_0506_0708)
        XCTAssertEqual(Probe(body: probe.body), probe)
        XCTAssertNil(Probe(body: probe.body.dropLast() + []), "too short")
        XCTAssertNil(Probe(body: probe.body + [0]), "too long")
        var other = probe.body
        other[2] = 2
        XCTAssertNil(Probe(body: other), "neither a ping nor an answer")
        let token = StreamToken(opener: 16, session: 1_700_000_000_000, sequence: 42)
        XCTAssertEqual(StreamToken(body: token.body), token)
        let meeting = Meeting(places: [.init(host: 32, address: 0x0A0E_0003, port: 23750), .init(host: 48, address: 0x0A0E_0004, port: 1)])
        XCTAssertEqual(Meeting(body: meeting.body), meeting)
        XCTAssertEqual(meeting.body.count, 1 + 2 * 8)
        XCTAssertEqual(Meeting(body: [0]), Meeting(places: []))
        XCTAssertNil(Meeting(body: []), "no count")
        XCTAssertNil(Meeting(body: Array(meeting.body.dropLast())), "too short")
        XCTAssertNil(Meeting(body: meeting.body + [0]), "too long")
        XCTAssertNil(Meeting(body: Meeting(places: [.init(host: 32, address: 1, port: 0)]).body), "port 0 is no place")
        XCTAssertEqual(Meeting(places: Array(repeating: .init(host: 1, address: 1, port: 1), count: 300)).places.count, Meeting.maxPlaces)
        XCTAssertNil(StreamToken(body: Array(token.body.dropLast())))
    }

    func test_aSessionSendsNoMoreFramesThanItsNoncesTellApart() {
        XCTAssertNotNil(frame(sequence: BridgeFrame.sequenceLimit - 1).sealed(with: keys))
        XCTAssertNil(frame(sequence: BridgeFrame.sequenceLimit).sealed(with: keys))
        // Nor does a bridge take one: its nonce would repeat an earlier frame's.
        var header = Array(try! XCTUnwrap(frame().sealed(with: keys)).prefix(BridgeFrame.headerSize))
        header[25] = 1  // sequence bit 40
        let beyond = header + LinkCipher.seal([1, 2, 3][...], key: keys.frames, nonce: BridgeFrame.nonce(header), authenticating: header)
        XCTAssertEqual(BridgeFrame.open(beyond, with: keys), .failure(.malformed))
    }

    func test_aStreamChunkOpensOnlyAsItsOwnNumberDirectionAndStream() {
        func seal(_ connecting: Bool, sequence: UInt64 = 7) -> StreamSeal {
            StreamSeal(keys: keys, opener: 0, session: 1_700_000_000_000, sequence: sequence, connectingSide: connecting)
        }
        let (a, b) = (seal(true), seal(false))
        let chunk = a.seal(index: 0, Array("game bytes".utf8)[...])
        XCTAssertEqual(b.open(index: 0, chunk[...]), Array("game bytes".utf8))
        XCTAssertNil(b.open(index: 1, chunk[...]), "another number")
        XCTAssertNil(a.open(index: 0, chunk[...]), "the other direction")
        XCTAssertNil(seal(false, sequence: 8).open(index: 0, chunk[...]), "another stream")
        XCTAssertNil(b.open(index: 0, chunk.dropLast()), "cut short")
        let end = b.seal(index: 0, [][...])
        XCTAssertEqual(end.count, StreamSeal.tagSize)
        XCTAssertEqual(a.open(index: 0, end[...]), [], "the end chunk is sealed too")
    }

    func test_aBodyTooLargeForOneDatagramIsNotSealed() {
        XCTAssertNil(frame(body: [UInt8](repeating: 0, count: BridgeFrame.maxSize - BridgeFrame.overhead + 1)).sealed(with: keys))
        XCTAssertNotNil(frame(body: [UInt8](repeating: 0, count: BridgeFrame.maxSize - BridgeFrame.overhead)).sealed(with: keys))
    }

    func test_theReplayWindowAcceptsEachSequenceOnceAndOnlyTheNewestSession() {
        var window = ReplayWindow()
        XCTAssertEqual(window.check(session: 10, sequence: 1), .accept)
        XCTAssertEqual(window.check(session: 10, sequence: 1), .replayed)
        XCTAssertEqual(window.check(session: 10, sequence: 3), .accept)
        XCTAssertEqual(window.check(session: 10, sequence: 2), .accept, "late but unseen: the network reorders")
        XCTAssertEqual(window.check(session: 10, sequence: 2), .replayed)
        XCTAssertEqual(window.check(session: 10, sequence: 200), .accept)
        XCTAssertEqual(window.check(session: 10, sequence: 200 - 63), .accept, "the oldest one still in the window")
        XCTAssertEqual(window.check(session: 10, sequence: 200 - 64), .replayed, "too old to tell: dropped")
        XCTAssertEqual(window.check(session: 9, sequence: 500), .oldSession, "before the peer restarted")
        XCTAssertEqual(window.check(session: 11, sequence: 1), .accept, "the peer restarted")
        XCTAssertEqual(window.check(session: 10, sequence: 201), .oldSession)
    }

    func test_rangesParseAndOverlap() throws {
        let a = try XCTUnwrap(InstanceRange(parsing: Array("0-15".utf8)))
        let b = try XCTUnwrap(InstanceRange(parsing: Array("16-31".utf8)))
        XCTAssertEqual(a.last, 15)
        XCTAssertFalse(a.overlaps(b))
        XCTAssertTrue(a.overlaps(InstanceRange(parsing: Array("15-15".utf8))!))
        XCTAssertTrue(b.contains(31) && !b.contains(32) && !b.contains(15))
        for bad in ["", "5", "5-", "-5", "9-3", "a-b", "0-70000", "1 - 2"] {
            XCTAssertNil(InstanceRange(parsing: Array(bad.utf8)), bad)
        }
    }

    func test_announcementsRoundTripAndParseTotally() {
        let announcement = Announcement(instances: [.init(index: 16, ports: [23756, 23757]), .init(index: 17, ports: [])])
        XCTAssertEqual(Announcement(body: announcement.body), announcement)
        XCTAssertEqual(Announcement(body: Announcement(instances: []).body), Announcement(instances: []))
        let body = announcement.body
        for cut in 0..<body.count { XCTAssertNil(Announcement(body: Array(body.prefix(cut))), "cut at \(cut)") }
        XCTAssertNil(Announcement(body: body + [0]), "trailing bytes")
        XCTAssertNil(Announcement(body: [1, 0, 16, 0, 1, 0, 0]), "port 0")
        XCTAssertNil(Announcement(body: [1, 0, 16, 0, 33] + [UInt8](repeating: 1, count: 64)), "fewer ports than counted")
        let many = Announcement(instances: [.init(index: 3, ports: (1...300).map { UInt16($0) })])
        XCTAssertEqual(Announcement(body: many.body)?.instances.first?.ports, (1...255).map { UInt16($0) },
                       "an instance with more ports than a count byte holds: the first 255 go")
    }

    /// TCP listeners travel in a section after the UDP ports, which an announcement without
    /// any leaves out (the form bridges before TCP sent, which still parses).
    func test_announcementsCarryTCPListenersInASectionOfTheirOwn() {
        let announcement = Announcement(instances: [.init(index: 16, ports: [23757], streamPorts: [6112]), .init(index: 17, ports: [6111])])
        let body = announcement.body
        XCTAssertEqual(body.count, 2 + 5 + 5 + 2 + 5)
        XCTAssertEqual(Announcement(body: body), announcement)
        let udpOnly = Array(body.prefix(12))
        XCTAssertEqual(Announcement(body: udpOnly)?.instances.map(\.streamPorts), [[], []], "the UDP part alone is an announcement")
        for cut in 13..<body.count { XCTAssertNil(Announcement(body: Array(body.prefix(cut))), "cut at \(cut)") }
        XCTAssertNil(Announcement(body: udpOnly + [1, 0, 18, 0, 1, 0xE8, 0x17]), "TCP ports of an instance not announced")
        XCTAssertNil(Announcement(body: udpOnly + [0, 0]), "an empty TCP section")
        XCTAssertNil(Announcement(body: udpOnly + [2, 0, 16, 0, 1, 0xE8, 0x17, 16, 0, 1, 0xE8, 0x17]), "one instance twice")
        XCTAssertNil(Announcement(body: udpOnly + [2, 0, 17, 0, 1, 0xE8, 0x17, 16, 0, 1, 0xE8, 0x17]),
                     "out of the UDP part's order (it would encode otherwise)")
        let both = udpOnly + [2, 0, 16, 0, 1, 0xE8, 0x17, 17, 0, 1, 0xE9, 0x17]
        XCTAssertEqual(Announcement(body: both)?.body, both, "in order it round-trips")
    }

    func test_aForwardedDatagramKeepsTargetAndFrame() {
        let wire: [UInt8] = Array(0..<20)
        let body = wire.withUnsafeBytes { ForwardedDatagram.body(target: 0x1234, frame: $0) }
        let parsed = ForwardedDatagram.parse(body)
        XCTAssertEqual(parsed?.target, 0x1234)
        XCTAssertEqual(parsed.map { Array($0.frame) }, wire)
        XCTAssertNil(ForwardedDatagram.parse([1]))
    }
}
