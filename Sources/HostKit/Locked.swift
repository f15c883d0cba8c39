import Foundation

/// A value shared between threads, every access under its lock: the host side's one lock
/// wrapper (the DLL's side has WinsockDetours' `Lock` over the platform's mutex).
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    public init(_ value: Value) { stored = value }

    public var value: Value {
        get { withLock { $0 } }
        set { withLock { $0 = newValue } }
    }

    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&stored)
    }
}
