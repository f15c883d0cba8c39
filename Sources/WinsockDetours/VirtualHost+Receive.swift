import CWineBridge
import VirtualIPCore

/// What a receiving socket needs to judge a frame, read under the lock.
struct ReceiverView {
    let socket: VirtualSocket
    let receiver: Router.Receiver
    let peer: SocketAddress?
}

/// One datagram the game may have.
struct Arrival {
    let source: SocketAddress
    /// The virtual address it was sent to, as its sender addressed it (a broadcast address
    /// for a broadcast): what IP_PKTINFO reports.
    let destination: IPv4Address
    let isBroadcast: Bool
    /// The payload's full length; more than `copied` when the buffers were too small.
    let payloadLength: Int
    let copied: Int
    var truncated: Bool { payloadLength > copied }
}

extension Arrival {
    /// Bytes of a stream: never truncated, from nobody in particular.
    init(stream bytes: Int) {
        self.init(source: SocketAddress(address: .any, port: 0), destination: .any, isBroadcast: false,
                  payloadLength: bytes, copied: bytes)
    }
}

extension VirtualHost {
    func view(of socket: VirtualSocket) -> ReceiverView {
        ReceiverView(socket: socket,
                     receiver: Router.Receiver(instance: instance, virtualPort: socket.virtualPort, scope: socket.scope,
                                               groups: .joinedBy(realPort: socket.realPort)),
                     peer: socket.peer.map { SocketAddress(address: $0.address, port: $0.port) })
    }

    /// The receive-side check of one frame (header in `header`, lengths in `received`).
    func judge(_ view: ReceiverView, header: UnsafeRawPointer, _ received: vl_received) -> Router.Verdict {
        guard received.from_loopback != 0, received.length >= UInt32(WireHeader.size) else { return .drop(.malformed) }
        return router.check(frame: UnsafeRawBufferPointer(start: header, count: WireHeader.size),
                            realSourcePort: received.real_source_port, receiver: view.receiver)
    }

    /// Takes frames off the backing socket until one may go to the game: bad or spoofed ones
    /// are dropped and counted, frames from other than a connected peer are skipped.
    /// `peek` (MSG_PEEK) leaves the deliverable one queued; what is skipped is still taken,
    /// unless a blocking take waits in the OS (`mayDiscard`: then WSAEWOULDBLOCK, and that
    /// take drops it). Non-blocking calls and every peek run on the socket's receive side;
    /// a blocking take waits in the OS without it (`takeWaitingInOS`), up to `withinMs` when
    /// it is not 0 (SO_RCVTIMEO: WSAETIMEDOUT, frames dropped meanwhile included).
    func takeDatagram(_ view: ReceiverView, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, blocking: Bool,
                      peek: Bool = false, withinMs: UInt32 = 0) -> Result<Arrival, WinsockError> {
        var headerBytes: (UInt64, UInt64) = (0, 0)
        let flags = (blocking ? Int32(VL_RECEIVE_BLOCKING) : 0) | (peek ? Int32(VL_RECEIVE_PEEK) : 0)
        let deadline = waitDeadline(after: withinMs)
        return withUnsafeMutableBytes(of: &headerBytes) { raw in
            let header = raw.baseAddress!
            while true {
                guard let left = timeLeft(withinMs, until: deadline) else { return .failure(.timedOut) }
                let taken = platform.receiveFrame(view.socket.handle, header: header, buffers: buffers, count: count, flags: flags,
                                                  timeoutMs: left < 0 ? 0 : UInt32(left))
                if blocking && lock.locked({ view.socket.closed }) { return .failure(.interrupted) }
                let received: vl_received
                switch taken {
                case let .success(frame): received = frame
                case let .failure(error): return .failure(error)
                }
                switch judge(view, header: header, received) {
                case let .drop(reason):
                    registry.countDrop(slot: instance, reason)
                    log(.debug, "dropped a frame from real port \(received.real_source_port): \(reason.name)")
                case let .deliver(wire):
                    let source = SocketAddress(address: wire.source, port: wire.sourcePort)
                    if view.peer.map({ $0 == source }) ?? true {
                        let payload = Int(received.length) - WireHeader.size
                        if !peek { registry.countDatagram(slot: instance, received: true, bytes: payload) }
                        return .success(Arrival(source: source, destination: wire.destination, isBroadcast: wire.isBroadcast,
                                                payloadLength: payload, copied: Int(received.copied) - WireHeader.size))
                    }
                }
                // A peeked frame the game will never get must leave the queue, or it would be
                // peeked forever; a blocking take waiting in the OS takes it, if one is there.
                if peek {
                    guard (view.socket as? DatagramSocket)?.mayDiscard ?? true else { return .failure(.wouldBlock) }
                    platform.discardFrame(view.socket.handle, header: header)
                }
            }
        }
    }

    /// One try that does not wait, on the datagram socket's receive side alone (not the
    /// host's lock): `closed` answers a socket closesocket ended since it was looked up.
    func takeWithoutBlocking(_ view: ReceiverView, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, peek: Bool = false,
                             closed: WinsockError) -> Result<Arrival, WinsockError> {
        guard let datagram = view.socket as? DatagramSocket, datagram.startReceive() else { return .failure(closed) }
        defer { datagram.finishReceive() }
        return takeDatagram(view, buffers: buffers, count: count, blocking: false, peek: peek)
    }

    /// The end of a wait bounded by `ms` (SO_RCVTIMEO); 0: no bound, and no clock is read
    /// (a take that does not wait is on every datagram's path).
    func waitDeadline(after ms: UInt32) -> UInt32 { ms == 0 ? 0 : platform.nowMs &+ ms }

    /// The milliseconds left of a wait bounded by `ms` that ends at `deadline` (-1: no
    /// bound); nil once it has passed.
    func timeLeft(_ ms: UInt32, until deadline: UInt32) -> Int32? {
        guard ms > 0 else { return -1 }
        let left = Int32(bitPattern: deadline &- platform.nowMs)
        return left > 0 ? left : nil
    }

    /// A blocking take that waits inside the OS (the fast way under Wine: one call), up to
    /// `withinMs` when it is not 0 (SO_RCVTIMEO), counted so that no peek meanwhile discards
    /// a frame it may have taken (`mayDiscard`). A close ends the wait (WSAEINTR).
    func takeWaitingInOS(_ view: ReceiverView, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32,
                         withinMs: UInt32) -> Result<Arrival, WinsockError> {
        guard let datagram = view.socket as? DatagramSocket, datagram.startTakingInOS() else { return .failure(.interrupted) }
        defer { datagram.finishTakingInOS() }
        return takeDatagram(view, buffers: buffers, count: count, blocking: true, withinMs: withinMs)
    }

    /// A blocking peek (bounded by SO_RCVTIMEO when `ms` is not 0): waits for the backing
    /// socket to be readable, then peeks on the receive side (a frame we drop sends it back
    /// to waiting); WSAETIMEDOUT when `ms` pass first, as Windows. A close ends the wait
    /// (WSAEINTR).
    func peekWaiting(_ view: ReceiverView, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, withinMs ms: UInt32) -> Result<Arrival, WinsockError> {
        let deadline = waitDeadline(after: ms)
        while true {
            guard let remaining = timeLeft(ms, until: deadline) else { return .failure(.timedOut) }
            let woke = waitReadable(view.socket.handle, ms: remaining)
            if lock.locked({ view.socket.closed }) { return .failure(.interrupted) }
            if woke < 0 { return .failure(WinsockError(rawValue: -woke)) }
            if woke == 0 { continue } // the deadline check above decides
            let taken = takeWithoutBlocking(view, buffers: buffers, count: count, peek: true, closed: .interrupted)
            if case .failure(.wouldBlock) = taken { continue }
            return taken
        }
    }

    /// recvfrom / recv / non-overlapped WSARecvFrom. Too small buffers: the first part is
    /// copied, the rest discarded, WSAEMSGSIZE (Windows' behaviour).
    func receive(_ handle: UInt, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, flags: Int32,
                 from: UnsafeMutablePointer<VL_SOCKADDR_IN>?, fromLength: UnsafeMutablePointer<Int32>?) -> Result<Int, WinsockError> {
        switch receiveArrival(handle, buffers: buffers, count: count, flags: flags, from: from, fromLength: fromLength) {
        case let .failure(error): return .failure(error)
        case let .success(arrival): return arrival.truncated ? .failure(.messageSize) : .success(arrival.copied)
        }
    }

    /// The receive itself: the datagram's facts (a truncated one is a success here; the
    /// callers say WSAEMSGSIZE). `mustBlock`: it waits for data even on a non-blocking socket
    /// (the synchronous I/O of a socket without WSA_FLAG_OVERLAPPED).
    func receiveArrival(_ handle: UInt, buffers: UnsafePointer<VL_WSABUF>?, count: UInt32, flags: Int32,
                        from: UnsafeMutablePointer<VL_SOCKADDR_IN>?, fromLength: UnsafeMutablePointer<Int32>?,
                        mustBlock: Bool = false) -> Result<Arrival, WinsockError> {
        guard buffers != nil || count == 0 else { return .failure(.fault) }
        let peek = flags & Int32(VL_MSG_PEEK) != 0
        // One lookup tells a stream from a datagram socket. A stream has no datagrams: its
        // bytes as the OS gives them, its flags the OS's to judge (`from` is not written, as
        // Windows ignores it on a connected stream).
        enum Plan { case stream(StreamSocket), datagram(ReceiverView, blocking: Bool, timeout: UInt32), unbound(blocking: Bool) }
        let start: Result<Plan, WinsockError> = withSocket(handle, orFail: { .failure($0) }) { socket in
            if case let .stream(stream) = socket.kind { return .success(.stream(stream)) }
            // MSG_OOB is a stream's; any other flag is unknown (Windows: WSAEOPNOTSUPP, WSAEINVAL).
            guard flags & 1 == 0 else { return .failure(.operationNotSupported) }
            guard flags & ~Int32(VL_MSG_PEEK) == 0 else { return .failure(.invalidArgument) }
            if from != nil, fromLength == nil || fromLength!.pointee < 16 { return .failure(.fault) }
            let blocks = mustBlock || !socket.nonBlocking
            guard socket.isBound else { return .success(.unbound(blocking: blocks)) }
            if blocks { socket.activeCalls += 1 }
            return .success(.datagram(view(of: socket), blocking: blocks, timeout: socket.receiveTimeout))
        }
        let receiver: ReceiverView, blocking: Bool, timeout: UInt32
        switch start {
        case let .failure(error): return .failure(error)
        case let .success(.stream(stream)):
            return streamReceive(stream, buffers: buffers, count: count, flags: flags, mustBlock: mustBlock).map { Arrival(stream: $0) }
        case let .success(.datagram(view, block, within)): (receiver, blocking, timeout) = (view, block, within)
        // Never bound: its backing socket is, so the OS is asked of one that is not (Windows
        // WSAEINVAL; Wine 8 WSAEWOULDBLOCK, sock.c's test_connect_udp). A blocking one keeps
        // Windows' WSAEINVAL at once: Wine would wait until the socket closes.
        case let .success(.unbound(block)):
            return .failure(block ? .invalidArgument : platform.unboundReceiveError(flags: flags))
        }
        let result: Result<Arrival, WinsockError>
        if blocking {
            willBlock?()
            result = peek ? peekWaiting(receiver, buffers: buffers, count: count, withinMs: timeout)
                          : takeWaitingInOS(receiver, buffers: buffers, count: count, withinMs: timeout)
            leave(receiver.socket)
        } else {
            result = takeWithoutBlocking(receiver, buffers: buffers, count: count, peek: peek, closed: .notSocket)
        }
        if case let .success(arrival) = result, from != nil { _ = arrival.source.write(to: from, length: fromLength) }
        return result
    }

    /// WSARecvMsg (its pointer comes from WSAIoctl): a receive that also says whether the
    /// datagram was a broadcast (MSG_BCAST) and the control data the game asked for
    /// (`ControlData`). Blocking as the socket is, or overlapped (the message is completed
    /// with the datagram).
    func receiveMessage(_ handle: UInt, _ message: UnsafeMutablePointer<VL_WSAMSG>?, received: UnsafeMutablePointer<UInt32>?,
                        overlapped: UnsafeMutablePointer<VL_OVERLAPPED>?, routine: UnsafeMutableRawPointer?) -> WinsockError? {
        // The message is read now and its flags written at the end: both must be possible.
        guard let message, platform.usable(UnsafePointer(message), writable: true),
              platform.usable(UnsafePointer(overlapped), writable: true) else { return .fault }
        let controls = withSocket(handle, orFail: { _ in ControlData() }) { ControlData(asked: $0, platform: platform) }
        let name = message.pointee.name, nameLength = name == nil ? nil : vl_wsamsg_namelen(message)
        if let overlapped {
            var flags: UInt32 = 0
            return receiveOverlapped(handle, buffers: message.pointee.lpBuffers, count: message.pointee.dwBufferCount,
                                     received: received, flags: &flags, from: name, fromLength: nameLength,
                                     overlapped: overlapped, routine: routine, message: message, controls: controls)
        }
        guard let received else { return .fault }
        let result = receiveArrival(handle, buffers: message.pointee.lpBuffers, count: message.pointee.dwBufferCount,
                                    flags: Int32(bitPattern: message.pointee.dwFlags), from: name, fromLength: nameLength)
        guard case let .success(arrival) = result else {
            if case let .failure(error) = result { return error }
            return nil
        }
        if let error = describe(arrival, in: message, controls: controls) { return error }
        received.pointee = UInt32(arrival.copied)
        return nil
    }

    /// A received message's flags and control data, one control message per kind asked for,
    /// in Winsock's layout (each header and its data aligned to a pointer). Control data that
    /// does not fit is left out with MSG_CTRUNC, and the receive says WSAEMSGSIZE.
    func describe(_ arrival: Arrival, in message: UnsafeMutablePointer<VL_WSAMSG>, controls: ControlData) -> WinsockError? {
        // A datagram for many is a broadcast or, to a group address, a multicast.
        var out: UInt32 = !arrival.isBroadcast ? 0 : arrival.destination.isMulticast ? UInt32(VL_MSG_MCAST) : UInt32(VL_MSG_BCAST)
        if arrival.truncated { out |= UInt32(VL_MSG_TRUNC) }
        var written = 0
        let capacity = Int(message.pointee.Control.len), control = message.pointee.Control.buf.map { UnsafeMutableRawPointer($0) }
        func add<T>(_ type: Int32, _ value: T) {
            let header = MemoryLayout<VL_WSACMSGHDR>.size, length = header + MemoryLayout<T>.size
            let align = MemoryLayout<UInt>.alignment, space = (length + align - 1) / align * align
            guard let control, written + length <= capacity else { out |= UInt32(VL_MSG_CTRUNC); return }
            (control + written).storeBytes(of: VL_WSACMSGHDR(cmsg_len: UInt(length), cmsg_level: Int32(VL_IPPROTO_IP), cmsg_type: type),
                                           as: VL_WSACMSGHDR.self)
            (control + written + header).storeBytes(of: value, as: T.self)
            written += min(space, capacity - written)
        }
        if controls.contains(.packetInfo) {
            add(Int32(VL_IP_PKTINFO), VL_IN_PKTINFO(ipi_addr: arrival.destination.networkOrder, ipi_ifindex: adapterIndex))
        }
        if controls.contains(.timeToLive) { add(Int32(VL_IP_TTL), ControlData.timeToLiveValue) }
        if controls.contains(.typeOfService) { add(Int32(VL_IP_TOS), ControlData.typeOfServiceValue) }
        message.pointee.Control.len = UInt32(written)
        message.pointee.dwFlags = out
        return arrival.truncated || out & UInt32(VL_MSG_CTRUNC) != 0 ? .messageSize : nil
    }

    /// select's and WSAPoll's look at one handle: whether a datagram the game would get is
    /// queued (when `looking`; else false); nil when it is no datagram socket of ours. The
    /// queue is looked at outside the host's lock.
    func datagramQueued(_ handle: UInt, looking: Bool) -> Bool? {
        guard let found = receiverView(handle) else { return nil }
        return looking && nextPayloadLength(found) != nil
    }

    /// The view of the handle's datagram socket (nil: it is none of ours), read under the
    /// lock for what runs on the socket's receive side.
    func receiverView(_ handle: UInt) -> ReceiverView? {
        lock.locked { (sockets[handle] as? DatagramSocket).map(view(of:)) }
    }

    /// The payload size of the next datagram the game would get, dropping bad frames in
    /// front of it; nil when none is queued (or the socket is unbound: nothing comes to it).
    /// On the socket's receive side alone: its view is read under the host's lock.
    func nextPayloadLength(_ receiverView: ReceiverView) -> Int? {
        guard let socket = receiverView.socket as? DatagramSocket, receiverView.receiver.virtualPort != 0,
              socket.startReceive() else { return nil }
        defer { socket.finishReceive() }
        var headerBytes: (UInt64, UInt64) = (0, 0)
        return withUnsafeMutableBytes(of: &headerBytes) { raw -> Int? in
            while true {
                guard let received = platform.peekFrame(socket.handle, header: raw.baseAddress) else { return nil }
                var keep = false
                switch judge(receiverView, header: raw.baseAddress!, received) {
                case let .drop(reason):
                    registry.countDrop(slot: instance, reason)
                case let .deliver(wire):
                    keep = receiverView.peer.map { $0 == SocketAddress(address: wire.source, port: wire.sourcePort) } ?? true
                }
                if keep { return Int(received.length) - WireHeader.size }
                // Take the frame we will never deliver off the queue, then look again; a
                // blocking take waiting in the OS takes it instead, if one is there.
                guard socket.mayDiscard else { return nil }
                platform.discardFrame(socket.handle, header: raw.baseAddress)
            }
        }
    }
}
