import CWineBridge
import VirtualIPCore

/// select() and WSAPoll(). A virtual UDP socket is readable when a datagram the game would
/// get is queued (bad frames in front are dropped first), always writable, never
/// exceptional. A virtual TCP socket's answer is its backing socket's (the stream is the
/// OS's), as is any other socket's in the same call: the wait is one real select/WSAPoll over all of them, in the kernel (no polling
/// loop); it re-checks only when a socket wakes it.
extension VirtualHost {
    func select(read: UnsafeMutablePointer<VL_FD_SET>?, write: UnsafeMutablePointer<VL_FD_SET>?,
                except: UnsafeMutablePointer<VL_FD_SET>?, timeout: UnsafePointer<VL_TIMEVAL>?) -> Result<Int, WinsockError> {
        // A set holds fd_count sockets, however many: FD_SETSIZE is the program's own choice
        // (Wine's tests pass 200 in a set of their own making).
        func members(_ set: UnsafeMutablePointer<VL_FD_SET>?) -> [UInt]? {
            guard let set else { return [] }
            guard platform.canWrite(set, 4) else { return nil }
            let count = Int(set.pointee.fd_count)
            guard platform.canWrite(set, vl_fd_set_size(UInt32(clamping: count))) else { return nil }
            return (0..<count).map { UInt(vl_fd_set_get(set, UInt32($0))) }
        }
        guard let readers = members(read), let writers = members(write), let exceptional = members(except) else { return .failure(.fault) }
        guard startupCount > 0 else { return .failure(.notInitialised) }
        guard !(readers.isEmpty && writers.isEmpty && exceptional.isEmpty) else { return .failure(.invalidArgument) }
        if let timeout, timeout.pointee.tv_sec < 0 || timeout.pointee.tv_usec < 0 { return .failure(.invalidArgument) }
        let waitMs: Int64? = timeout.map { Int64($0.pointee.tv_sec) * 1000 + (Int64($0.pointee.tv_usec) + 999) / 1000 }

        // One entry per socket: what is asked of it. Of a virtual one's backing socket the OS
        // is asked only whether it is readable, or, when only writability or exceptions are
        // asked (ours to answer), for an exception that never comes to a UDP socket: select
        // needs a socket to wait on for its timeout.
        var handles: [UInt] = [], asked: [UInt8] = []
        func ask(_ list: [UInt], _ bit: Int32) {
            for handle in list {
                if let i = handles.firstIndex(of: handle) { asked[i] |= UInt8(bit) } else { handles.append(handle); asked.append(UInt8(bit)) }
            }
        }
        ask(readers, Int32(VL_WAIT_READ))
        ask(writers, Int32(VL_WAIT_WRITE))
        ask(exceptional, Int32(VL_WAIT_EXCEPT))
        // A datagram socket's readiness is ours to answer (a stream's is its backing socket's).
        let owner = owners(handles)
        let realInterest = handles.indices.map { i -> UInt8 in
            guard owner[i] == .datagram else { return asked[i] }
            return asked[i] & UInt8(VL_WAIT_READ) != 0 ? UInt8(VL_WAIT_READ) : UInt8(VL_WAIT_EXCEPT)
        }

        let start = platform.nowMs
        while true {
            // Ours: the virtual sockets' answers, now (their queues looked at outside the lock).
            var answer = handles.indices.map { i -> UInt8 in
                guard owner[i] == .datagram, let readable = datagramQueued(handles[i], looking: asked[i] & UInt8(VL_WAIT_READ) != 0) else { return 0 }
                return (readable ? UInt8(VL_WAIT_READ) : 0) | (asked[i] & UInt8(VL_WAIT_WRITE))
            }
            let ours = answer.contains { $0 != 0 }
            let remaining = waitMs.map { max(0, $0 - Int64(platform.nowMs &- start)) }
            var ready = [UInt8](repeating: 0, count: handles.count)
            let woke: Int
            switch platform.waitSockets(handles, interest: realInterest, ready: &ready, timeoutMs: ours ? 0 : Int32(clamping: remaining ?? -1)) {
            case let .success(n): woke = n
            case let .failure(error):
                // A socket another thread closed while the wait ran: WSAENOTSOCK with the
                // sets emptied, as ws2_32 ends it (sock.c, Wine bug 38399); one that was
                // closed before leaves them as they were.
                if error == .notSocket, !closedSince(handles, owner).isEmpty {
                    for set in [read, write, except] { set?.pointee.fd_count = 0 }
                }
                return .failure(error)
            }
            for i in handles.indices where owner[i] != .datagram { answer[i] = ready[i] }
            if answer.contains(where: { $0 != 0 }) || remaining == 0 || (woke == 0 && remaining != nil) {
                return .success(publish(read: read, write: write, except: except, asked: (readers, writers, exceptional)) { handle, bit in
                    answer[handles.firstIndex(of: handle)!] & UInt8(bit) != 0
                })
            }
        }
    }

    /// The answer into the game's sets, as ws2_32 writes it: the sets may be one and the same
    /// memory, so all are emptied first; then each asked entry that is ready joins its set
    /// unless it is there already, and the count is of the joins (a socket listed twice, or
    /// ready to read and write in aliased sets, counts once).
    private func publish(read: UnsafeMutablePointer<VL_FD_SET>?, write: UnsafeMutablePointer<VL_FD_SET>?,
                         except: UnsafeMutablePointer<VL_FD_SET>?, asked: ([UInt], [UInt], [UInt]),
                         isReady: (UInt, Int32) -> Bool) -> Int {
        for set in [read, write, except] { set?.pointee.fd_count = 0 }
        var joined = 0
        func join(_ set: UnsafeMutablePointer<VL_FD_SET>?, _ list: [UInt], _ bit: Int32) {
            guard let set else { return }
            for handle in list where isReady(handle, bit) {
                let count = set.pointee.fd_count
                guard !(0..<count).contains(where: { UInt(vl_fd_set_get(set, $0)) == handle }) else { continue }
                vl_fd_set_put(set, count, VL_SOCKET(handle))
                set.pointee.fd_count = count + 1
                joined += 1
            }
        }
        join(read, asked.0, Int32(VL_WAIT_READ))
        join(write, asked.1, Int32(VL_WAIT_WRITE))
        join(except, asked.2, Int32(VL_WAIT_EXCEPT))
        return joined
    }

    /// What each handle is to the layer: a socket of ours or not, and a datagram one (its
    /// readiness is ours to answer) or not.
    private func owners(_ handles: [UInt]) -> [Owner] {
        lock.locked { handles.map { sockets[$0].map { $0 is DatagramSocket ? .datagram : .stream } ?? .os } }
    }

    /// The places of the handles that were sockets of ours and are no more: another
    /// thread closed them while the wait ran.
    private func closedSince(_ handles: [UInt], _ owners: [Owner]) -> [Int] {
        lock.locked { handles.indices.filter { owners[$0] != .os && sockets[handles[$0]] == nil } }
    }

    /// WSAPoll: a virtual entry has POLLRDNORM when a datagram is queued and POLLWRNORM
    /// always (as asked); the other entries are the OS's WSAPoll's, in the same call.
    func poll(_ fds: UnsafeMutablePointer<VL_WSAPOLLFD>?, count: UInt32, timeoutMs: Int32) -> Result<Int, WinsockError> {
        guard startupCount > 0 else { return .failure(.notInitialised) }
        guard let fds, count > 0 else { return .failure(.invalidArgument) }
        let entries = UnsafeMutableBufferPointer(start: fds, count: Int(count))
        let handles = entries.map { UInt($0.fd) }
        let owner = owners(handles)
        let readBits = Int16(VL_POLLRDNORM), writeBits = Int16(VL_POLLWRNORM)
        let start = platform.nowMs
        while true {
            let answer = entries.indices.map { i -> Int16 in
                guard owner[i] == .datagram, let readable = datagramQueued(handles[i], looking: entries[i].events & readBits != 0) else { return 0 }
                return (readable ? readBits : 0) | (entries[i].events & writeBits)
            }
            let ours = answer.contains { $0 != 0 }
            let remaining: Int32 = timeoutMs < 0 ? -1 : max(0, timeoutMs - Int32(truncatingIfNeeded: platform.nowMs &- start))
            // The OS's question: a virtual entry asks only its backing socket's readability.
            var real = entries.indices.map { i in
                VL_WSAPOLLFD(fd: entries[i].fd, events: owner[i] == .datagram ? entries[i].events & readBits : entries[i].events, revents: 0)
            }
            let woke: Int
            let invalid = Int16(VL_POLLNVAL)
            let polled = platform.poll(&real, count: count, timeoutMs: ours ? 0 : remaining)
            // Virtual sockets another thread closed while the wait ran: ws2_32 answers them
            // POLLNVAL and counts them (sock.c's test_WSAPoll).
            let gone = closedSince(handles, owner)
            switch polled {
            case let .success(n): woke = n
            case let .failure(error):
                guard error == .notSocket, !gone.isEmpty else { return .failure(error) }
                for i in entries.indices { entries[i].revents = gone.contains(i) ? invalid : 0 }
                return .success(gone.count)
            }
            for i in entries.indices { entries[i].revents = owner[i] == .datagram ? answer[i] : real[i].revents }
            // An entry that is no socket (POLLNVAL) is answered but not counted, as ws2_32
            // counts, except one of ours closed while the wait ran.
            let ready = entries.indices.filter { i in entries[i].revents != 0 && (entries[i].revents != invalid || gone.contains(i)) }.count
            if ready > 0 || remaining == 0 || (woke == 0 && remaining > 0) { return .success(ready) }
        }
    }

    /// Waits (up to `ms`, < 0 forever) until `handle` is readable for real: >0 ready, 0 time
    /// out, or -error.
    func waitReadable(_ handle: UInt, ms: Int32) -> Int32 {
        switch platform.waitSocket(handle, for: Int32(VL_WAIT_READ), timeoutMs: ms) {
        case let .success(ready): return ready ? 1 : 0
        case let .failure(error): return -error.rawValue
        }
    }
}

/// Whose a handle is: the OS's, or a stream or a datagram socket of ours.
enum Owner { case os, stream, datagram }
