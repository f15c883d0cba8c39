@testable import VirtualIPCore

/// A registry in memory with instances 0..<count claimed (slot i for instance i).
func claimedRegistry(_ memory: InMemoryRegion, instances count: Int) throws -> Registry {
    let registry = try Registry.attach(memory.region, network: .defaultNetwork)
    for i in 0..<count {
        let claim = try registry.claim(owner: UInt32(100 + i), kind: .linux, nowMs: 0, isOwnerAlive: { _, _ in nil })
        precondition(claim.index == i)
    }
    return registry
}
