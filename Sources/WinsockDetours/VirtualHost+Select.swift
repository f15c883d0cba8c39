import CWineBridge
import VirtualIPCore

extension VirtualHost {
    /// select(): a virtual socket is readable when a datagram the game would get is queued
    /// (bad frames in front are dropped first), always writable, never exceptional.
    /// Waits in the kernel (no polling loop) and re-checks only when a backing socket wakes.
    func select(read: UnsafeMutablePointer<VL_FD_SET>?, write: UnsafeMutablePointer<VL_FD_SET>?,
                except: UnsafeMutablePointer<VL_FD_SET>?, timeout: UnsafePointer<VL_TIMEVAL>?) -> Result<Int, WinsockError> {
        func members(_ set: UnsafeMutablePointer<VL_FD_SET>?) -> [UInt] {
            guard let set else { return [] }
            let count = min(Int(set.pointee.fd_count), Int(VL_FD_SETSIZE))
            return (0..<count).map { UInt(vl_fd_set_get(set, UInt32($0))) }
        }
        let readers = members(read), writers = members(write), exceptional = members(except)
        guard startupCount > 0 else { return .failure(.notInitialised) }
        guard !(readers.isEmpty && writers.isEmpty && exceptional.isEmpty) else { return .failure(.invalidArgument) }
        if let timeout, timeout.pointee.tv_sec < 0 || timeout.pointee.tv_usec < 0 { return .failure(.invalidArgument) }
        let known = lock.locked { (readers + writers + exceptional).allSatisfy { sockets[$0] != nil } }
        guard known else { return .failure(.notSocket) }

        let waitMs: Int64? = timeout.map { Int64($0.pointee.tv_sec) * 1000 + (Int64($0.pointee.tv_usec) + 999) / 1000 }
        let start = platform.nowMs
        var readable: [UInt] = []
        while true {
            readable = lock.locked {
                readers.filter { handle in sockets[handle].map { nextPayloadLengthLocked($0) != nil } ?? false }
            }
            let elapsed = Int64(platform.nowMs &- start)
            let remaining = waitMs.map { max(0, $0 - elapsed) }
            if !readable.isEmpty || !writers.isEmpty || remaining == 0 || readers.isEmpty && remaining == nil { break }
            var ready = [UInt8](repeating: 0, count: readers.count)
            let woke = platform.t.wait_readable!(readers, UInt32(readers.count), &ready, Int32(clamping: remaining ?? -1))
            if woke < 0 { return .failure(WinsockError(rawValue: -woke)) }
            if woke == 0 && remaining != nil { break }
        }
        func keep(_ set: UnsafeMutablePointer<VL_FD_SET>?, _ ready: [UInt]) {
            guard let set else { return }
            for (i, handle) in ready.enumerated() { vl_fd_set_put(set, UInt32(i), VL_SOCKET(handle)) }
            set.pointee.fd_count = UInt32(ready.count)
        }
        keep(read, readable)
        keep(write, writers)
        keep(except, [])
        return .success(readable.count + writers.count)
    }
}
