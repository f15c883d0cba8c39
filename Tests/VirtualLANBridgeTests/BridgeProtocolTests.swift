import XCTest
import VirtualIPCore
@testable import VirtualLANBridge

/// The link between bridges: our use of swift-crypto's HMAC-SHA-256 against RFC 4231's vectors, the frame's
/// sealing and total parsing, the replay window, host ranges.
final class BridgeProtocolTests: XCTestCase {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    func test_hmacMatchesRFC4231() {
        XCTAssertEqual(hex(LinkAuthenticator(key: [UInt8](repeating: 0x0b, count: 20)).code(Array("Hi There".utf8))),
                       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        XCTAssertEqual(hex(LinkAuthenticator(key: Array("Jefe".utf8)).code(Array("what do ya want for nothing?".utf8))),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        XCTAssertEqual(hex(LinkAuthenticator(key: [UInt8](repeating: 0xaa, count: 20)).code([UInt8](repeating: 0xdd, count: 50))),
                       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe")
        // Case 6: a key longer than a block is hashed first.
        XCTAssertEqual(hex(LinkAuthenticator(key: [UInt8](repeating: 0xaa, count: 131)).code(Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))),
                       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    func test_aTruncatedTagIsCheckedWholeAndTooShortOnesAreRefused() {
        let auth = LinkAuthenticator(key: Array("Jefe".utf8))
        let message = Array("what do ya want for nothing?".utf8)
        var tag = Array(auth.code(message).prefix(BridgeFrame.tagSize))
        func valid(_ tag: [UInt8]) -> Bool {
            tag.withUnsafeBytes { t in message.withUnsafeBytes { auth.isValid(tag: t, for: $0) } }
        }
        XCTAssertTrue(valid(tag))
        XCTAssertTrue(valid(auth.code(message)), "the whole code is a tag too")
        XCTAssertFalse(valid(Array(tag.prefix(15))), "a tag shorter than 16 bytes proves nothing")
        tag[15] ^= 1
        XCTAssertFalse(valid(tag), "its last byte counts")
    }

    let range = InstanceRange(first: 16, count: 16)!
    let mac = LinkAuthenticator(key: Array("a shared key of the virtual LAN".utf8))

    func frame(sequence: UInt64 = 1, body: [UInt8] = [1, 2, 3]) -> BridgeFrame {
        BridgeFrame(kind: .datagram, sender: range, session: 1_700_000_000_000, sequence: sequence, sentAtMs: 1_700_000_000_500, body: body)
    }

    func test_aSealedFrameOpensToTheSameFrame() throws {
        let sealed = try XCTUnwrap(frame().sealed(with: mac))
        XCTAssertEqual(sealed.count, BridgeFrame.overhead + 3)
        XCTAssertEqual(try BridgeFrame.open(sealed, with: mac).get(), frame())
    }

    func test_anyChangedByteOrAnotherKeyIsRejectedAsBadTag() throws {
        let sealed = try XCTUnwrap(frame().sealed(with: mac))
        for i in 0..<sealed.count {
            var changed = sealed
            changed[i] ^= 0x01
            XCTAssertEqual(BridgeFrame.open(changed, with: mac), .failure(.badTag), "byte \(i)")
        }
        XCTAssertEqual(BridgeFrame.open(sealed, with: LinkAuthenticator(key: Array("another key".utf8))), .failure(.badTag))
        XCTAssertEqual(BridgeFrame.open(Array(sealed.prefix(BridgeFrame.overhead - 1)), with: mac), .failure(.malformed))
        XCTAssertEqual(BridgeFrame.open([], with: mac), .failure(.malformed))
    }

    func test_anAuthenticFrameWithImpossibleFieldsIsMalformed() throws {
        // Sealed with the right key but version 2: the key holder is a newer build.
        var newer = try XCTUnwrap(frame().sealed(with: mac))
        newer.removeLast(BridgeFrame.tagSize)
        newer[4] = 2
        newer += mac.code(newer).prefix(BridgeFrame.tagSize)
        XCTAssertEqual(BridgeFrame.open(newer, with: mac), .failure(.malformed))
    }

    func test_aBodyTooLargeForOneDatagramIsNotSealed() {
        XCTAssertNil(frame(body: [UInt8](repeating: 0, count: BridgeFrame.maxSize - BridgeFrame.overhead + 1)).sealed(with: mac))
        XCTAssertNotNil(frame(body: [UInt8](repeating: 0, count: BridgeFrame.maxSize - BridgeFrame.overhead)).sealed(with: mac))
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
