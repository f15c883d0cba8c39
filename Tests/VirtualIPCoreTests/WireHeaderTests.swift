import XCTest
@testable import VirtualIPCore

final class WireHeaderTests: XCTestCase {
    let sample = WireHeader(source: IPv4Address(192, 168, 80, 3), sourcePort: 23757,
                            destination: .limitedBroadcast, destinationPort: 23757, isBroadcast: true)

    func test_roundTripKeepsEveryField() {
        let bytes = sample.bytes
        XCTAssertEqual(bytes.count, 16)
        XCTAssertEqual(Array(bytes[0..<4]), [0x56, 0x4C, 1, 1], "magic 'VL' little endian, version 1, broadcast flag")
        XCTAssertEqual(Array(bytes[4..<8]), [3, 80, 168, 192], "source IPv4 as u32 little endian")
        XCTAssertEqual(WireHeader.decode(bytes), .header(sample))
        let unicast = WireHeader(source: .loopback, sourcePort: 1, destination: IPv4Address(10, 0, 0, 1),
                                 destinationPort: 65535, isBroadcast: false)
        XCTAssertEqual(WireHeader.decode(unicast.bytes), .header(unicast))
    }

    func test_everyTooShortInputIsRejected() {
        for length in 0..<16 {
            XCTAssertEqual(WireHeader.decode(Array(sample.bytes.prefix(length))), .rejected(.truncated), "length \(length)")
        }
    }

    func test_payloadAfterHeaderIsIgnoredByTheDecoder() {
        XCTAssertEqual(WireHeader.decode(sample.bytes + [1, 2, 3]), .header(sample))
    }

    func test_eachMalformedFieldHasItsRejection() {
        func mutated(_ offset: Int, _ value: UInt8) -> [UInt8] {
            var b = sample.bytes
            b[offset] = value
            return b
        }
        XCTAssertEqual(WireHeader.decode(mutated(0, 0x57)), .rejected(.badMagic))
        XCTAssertEqual(WireHeader.decode(mutated(1, 0x00)), .rejected(.badMagic))
        XCTAssertEqual(WireHeader.decode(mutated(2, 0)), .rejected(.unsupportedVersion))
        XCTAssertEqual(WireHeader.decode(mutated(2, 2)), .rejected(.unsupportedVersion))
        XCTAssertEqual(WireHeader.decode(mutated(3, 0x04)), .rejected(.unknownFlags))
        XCTAssertEqual(WireHeader.decode(mutated(3, 0x81)), .rejected(.unknownFlags))
        var noSource = sample
        noSource.source = .any
        XCTAssertEqual(WireHeader.decode(noSource.bytes), .rejected(.invalidSource))
        noSource.source = .limitedBroadcast
        XCTAssertEqual(WireHeader.decode(noSource.bytes), .rejected(.invalidSource))
        var noPort = sample
        noPort.sourcePort = 0
        XCTAssertEqual(WireHeader.decode(noPort.bytes), .rejected(.invalidSource))
        var noDestination = sample
        noDestination.destinationPort = 0
        XCTAssertEqual(WireHeader.decode(noDestination.bytes), .rejected(.invalidDestination))
        noDestination = sample
        noDestination.destination = .any
        XCTAssertEqual(WireHeader.decode(noDestination.bytes), .rejected(.invalidDestination))
    }

    func test_rejectionsMapToDropReasons() {
        XCTAssertEqual(WireHeader.Rejection.unsupportedVersion.dropReason, .unsupportedVersion)
        XCTAssertEqual(WireHeader.Rejection.badMagic.dropReason, .malformed)
    }

    /// Deterministic pseudo-random inputs (a fuzz smoke; the real fuzzer is libFuzzer):
    /// every outcome is a header that re-encodes to the same 16 bytes, or a rejection.
    func test_arbitraryBytesDecodeToHeaderOrRejection() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt8 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        var accepted = 0
        for round in 0..<20_000 {
            var bytes = (0..<Int(next() % 24)).map { _ in next() }
            if round % 2 == 0, bytes.count >= 4 { bytes[0] = 0x56; bytes[1] = 0x4C; bytes[2] = 1; bytes[3] &= 1 }
            if case let .header(h) = WireHeader.decode(bytes) {
                accepted += 1
                XCTAssertEqual(h.bytes, Array(bytes.prefix(16)))
            }
        }
        XCTAssertGreaterThan(accepted, 1000, "the generator must reach the accepting path too")
    }
}
