import CWineBridge

/// The OS, as the Winsock layer sees it: a thin Swift face over the C `vl_platform` table.
public struct Platform: @unchecked Sendable {
    public let table: UnsafePointer<vl_platform>

    public init(_ table: UnsafePointer<vl_platform>) { self.table = table }
    public static var `default`: Platform { Platform(vl_default_platform()) }

    @inline(__always) var t: vl_platform { table.pointee }

    var lastError: WinsockError {
        get { WinsockError(rawValue: t.get_last_error!()) }
        nonmutating set { t.set_last_error!(newValue.rawValue) }
    }

    public var nowMs: UInt32 { t.now_ms!() }

    /// The value of environment variable `name`, as bytes.
    func environment(_ name: StaticString) -> [UInt8]? {
        guard let value = t.get_env!(UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)) else { return nil }
        return bytes(of: value)
    }

    public func isOwnerAlive(_ pid: UInt32, _ kind: OwnerKindRaw) -> Bool? {
        switch t.is_process_alive!(pid, kind) {
        case 1: return true
        case 0: return false
        default: return nil
        }
    }

    func log(path: [UInt8], _ line: String) {
        var line = line
        withCString(path) { p in
            line.withUTF8 { u in t.log_line!(p, UnsafeRawPointer(u.baseAddress!).assumingMemoryBound(to: CChar.self), UInt32(u.count)) }
        }
    }
}

public typealias OwnerKindRaw = UInt32

/// A platform mutex; no recursion.
final class Lock: @unchecked Sendable {
    let platform: Platform
    let mutex: UnsafeMutableRawPointer

    init(_ platform: Platform) {
        self.platform = platform
        mutex = platform.t.mutex_create!()!
    }

    @inline(__always) func locked<T>(_ body: () -> T) -> T {
        platform.t.mutex_lock!(mutex)
        defer { platform.t.mutex_unlock!(mutex) }
        return body()
    }
}

/// NUL-terminated C string -> bytes.
func bytes(of cString: UnsafePointer<CChar>) -> [UInt8] {
    var out: [UInt8] = []
    var p = UnsafeRawPointer(cString).assumingMemoryBound(to: UInt8.self)
    while p.pointee != 0 {
        out.append(p.pointee)
        p += 1
    }
    return out
}

/// Calls `body` with `bytes` as a NUL-terminated C string.
func withCString<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
    var terminated = bytes
    terminated.append(0)
    return terminated.withUnsafeBufferPointer { body(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
}
