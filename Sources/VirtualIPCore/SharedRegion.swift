/// A block of memory every instance maps: a file mapping in production (provided by the
/// platform layer), plain memory in tests. The registry only needs base and size.
public struct SharedRegion: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let size: Int

    public init(base: UnsafeMutableRawPointer, size: Int) {
        self.base = base
        self.size = size
    }
}

/// A zero-filled region in this process's memory: several `Registry` views over one of
/// these behave like several processes over one file.
public final class InMemoryRegion: @unchecked Sendable {
    public let region: SharedRegion

    public init(size: Int) {
        let base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        region = SharedRegion(base: base, size: size)
    }

    deinit { region.base.deallocate() }
}
