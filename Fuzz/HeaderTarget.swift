// libFuzzer target: the wire header decoder, the receive-side check and the TCP preamble
// check, with any bytes as the frame (or preamble) and the first two bytes as the real
// source port. Built by scripts/fuzz.
// Compiled in one module with Sources/VirtualIPCore/*.swift (see scripts/fuzz).
#if canImport(VirtualIPCore)
import VirtualIPCore
#endif

let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: RegistryLayout.defaultSlotCount))
let router: Router = {
    let registry = try! Registry.attach(memory.region, network: .defaultNetwork)
    for index in 0..<3 {
        let claim = try! registry.claim(owner: UInt32(index + 1), kind: .linux, pinned: index, nowMs: 0, isOwnerAlive: { _, _ in nil })
        _ = registry.addSocket(slot: claim.index, virtualPort: 23756, realPort: UInt16(40000 + index), scope: .any)
        _ = registry.addSocket(slot: claim.index, virtualPort: 23757, realPort: UInt16(41000 + index), scope: .lan)
        _ = registry.addSocket(slot: claim.index, virtualPort: 23756, realPort: UInt16(40000 + index), scope: .any, transport: .tcp)
    }
    return Router(registry: registry)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    switch WireHeader.decode(bytes) {
    case let .header(header):
        // A decoded header re-encodes to exactly the bytes it came from.
        var again = [UInt8](repeating: 0, count: WireHeader.size)
        again.withUnsafeMutableBytes { header.encode(into: $0.baseAddress!) }
        precondition(again.elementsEqual(bytes.prefix(WireHeader.size)), "decode/encode round trip")
    case .rejected:
        break
    }
    let port = size >= 2 ? UInt16(data[0]) << 8 | UInt16(data[1]) : 0
    for scope in [BindScope.any, .loopback, .lan] {
        let receiver = Router.Receiver(instance: 1, virtualPort: 23756, scope: scope)
        let datagram = router.check(frame: bytes, realSourcePort: port, receiver: receiver)
        let stream = router.checkPreamble(bytes, realSourcePort: port, listener: receiver)
        // The same bytes never open a stream and deliver a datagram both.
        if case .deliver = datagram, case .deliver = stream { preconditionFailure("a frame that is both a datagram and a preamble") }
    }
    return 0
}
