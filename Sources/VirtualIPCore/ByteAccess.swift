import Synchronization

/// Little-endian field access on raw memory: the wire header and the registry file are
/// defined by byte offsets, never by a struct's memory layout (32-bit DLL and 64-bit CLI
/// read the same bytes).
extension UnsafeRawPointer {
    @inline(__always) public func loadLE16(_ offset: Int) -> UInt16 {
        UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inline(__always) public func loadLE32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) public func loadLE64(_ offset: Int) -> UInt64 {
        UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

extension UnsafeMutableRawPointer {
    @inline(__always) public func storeLE16(_ value: UInt16, _ offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt16.self)
    }
    @inline(__always) public func storeLE32(_ value: UInt32, _ offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }
    @inline(__always) public func storeLE64(_ value: UInt64, _ offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self)
    }
    /// A 4-byte-aligned word shared between processes, accessed atomically.
    @inline(__always) func atomicWord(_ offset: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        (self + offset).assumingMemoryBound(to: Atomic<UInt32>.self)
    }
}
