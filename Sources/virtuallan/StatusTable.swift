import VirtualIPCore

/// The live view of a registry: one row per claimed slot.
struct StatusTable {
    let registry: Registry
    let nowMs: UInt32

    func render() -> String {
        var out = "registry: subnet \(registry.network.network.dotted)/\(registry.network.prefixLength), \(registry.slotCount) slots\n"
        out += pad("INST", 5) + pad("ADDRESS", 16) + pad("MAC", 19) + pad("PID", 9) + pad("STATE", 7)
            + pad("AGE", 8) + pad("TX", 10) + pad("RX", 10) + pad("DROPS", 7) + "SOCKETS (virtual->real)\n"
        var rows = 0
        for index in 0..<registry.slotCount where registry.state(ofSlot: index).state != .free {
            rows += 1
            let owner = registry.owner(ofSlot: index)
            let counters = registry.counters(ofSlot: index)
            let age = Int32(bitPattern: nowMs &- registry.heartbeat(ofSlot: index))
            var sockets: [String] = []
            registry.forEachSocket(slot: index) { virtualPort, realPort, _ in sockets.append("\(virtualPort)->\(realPort)") }
            out += pad("\(index)", 5) + pad(registry.address(ofSlot: index).dotted, 16)
            out += pad(registry.mac(ofSlot: index).array.map(hex).joined(separator: ":"), 19)
            out += pad("\(owner.pid)", 9) + pad(registry.isStale(index, nowMs: nowMs) ? "stale" : "live", 7)
            out += pad("\(max(0, age) / 1000)s", 8) + pad("\(counters.txDatagrams)", 10) + pad("\(counters.rxDatagrams)", 10)
            out += pad("\(counters.drops.reduce(0, +))", 7) + sockets.joined(separator: " ") + "\n"
        }
        if rows == 0 { out += "(no instances)\n" }
        return out
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    private func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
