// libFuzzer target: a registry file of any content. Attaching must refuse or accept it
// without crashing, and everything the status tool reads of an accepted one must be
// readable; a claim on it must stay inside the region. Built by scripts/fuzz.
// Compiled in one module with Sources/VirtualIPCore/*.swift (see scripts/fuzz).
#if canImport(VirtualIPCore)
import VirtualIPCore
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRegistry(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    // The file as mapped: page-aligned memory of the file's size.
    let region = InMemoryRegion(size: max(size, 1))
    region.region.base.copyMemory(from: data, byteCount: size)
    guard let registry = try? Registry.attachExisting(SharedRegion(base: region.region.base, size: size)) else { return 0 }
    for index in 0..<registry.slotCount {
        _ = registry.state(ofSlot: index)
        _ = registry.owner(ofSlot: index)
        _ = registry.isStale(index, nowMs: 1000)
        _ = registry.counters(ofSlot: index)
        registry.forEachSocket(slot: index, includeClosed: true) { _, _, _ in }
    }
    if let claim = try? registry.claim(owner: 7, kind: .linux, nowMs: 100_000, isOwnerAlive: { _, _ in false }) {
        _ = registry.addSocket(slot: claim.index, virtualPort: 1, realPort: 2, scope: .any)
        registry.release(claim)
    }
    return 0
}
