/// A platform mutex (the DLL's side: no Foundation, no stdlib Mutex on the Embedded target);
/// no recursion. The host side's lock is HostKit's `Locked`.
final class Lock: @unchecked Sendable {
    let platform: Platform
    let mutex: UnsafeMutableRawPointer

    init(_ platform: Platform) {
        self.platform = platform
        mutex = platform.createMutex()
    }

    deinit { platform.destroyMutex(mutex) }

    /// A hold that spans calls (a datagram socket's receive side): `unlock` ends it.
    @inline(__always) func lock() { platform.lock(mutex) }
    @inline(__always) func unlock() { platform.unlock(mutex) }

    @inline(__always) func locked<T>(_ body: () -> T) -> T {
        lock()
        defer { unlock() }
        return body()
    }
}
