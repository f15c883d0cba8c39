import CWineBridge
import VirtualIPCore

/// The same operations for Swift callers in this process (benchmarks, tools): no C
/// structs, results instead of last-error codes. Semantics are the Winsock ones above.
extension VirtualHost {
    /// WSAStartup for a Swift caller.
    public func start() {
        var data = VL_WSADATA()
        _ = startup(version: 0x0202, data: &data)
    }

    /// A UDP socket bound to `address:port` (port 0: ephemeral), blocking.
    public func openUDP(port: UInt16, address: IPv4Address = .any, broadcast: Bool = false) -> Result<UInt, WinsockError> {
        let handle: UInt
        switch openSocket() {
        case let .failure(error): return .failure(error)
        case let .success(h): handle = h
        }
        if broadcast { lock.locked { (sockets[handle] as? DatagramSocket)?.broadcast = true } }
        var name = VL_SOCKADDR_IN(sin_family: UInt16(VL_AF_INET), sin_port: port.bigEndian, sin_addr: address.networkOrder,
                                  sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        if let error = bind(handle, &name, Int32(MemoryLayout<VL_SOCKADDR_IN>.size)) {
            _ = closeSocket(handle)
            return .failure(error)
        }
        return .success(handle)
    }

    /// Sets the backing socket's receive buffer (SO_RCVBUF).
    public func setReceiveBuffer(_ handle: UInt, bytes: Int32) {
        var value = bytes
        _ = setsockopt(handle, level: Int32(VL_SOL_SOCKET), name: Int32(VL_SO_RCVBUF), value: &value, length: 4)
    }

    /// FIONBIO for a Swift caller: a receive with nothing queued answers WSAEWOULDBLOCK.
    public func setNonBlocking(_ handle: UInt, _ on: Bool) -> WinsockError? {
        withSocket(handle) { setNonBlocking($0, on) }
    }

    public func send(_ handle: UInt, _ payload: UnsafeRawBufferPointer, to address: IPv4Address, port: UInt16) -> Result<Int, WinsockError> {
        var buffer = VL_WSABUF(len: UInt32(payload.count), buf: UnsafeMutablePointer(mutating: payload.baseAddress?.assumingMemoryBound(to: CChar.self)))
        return send(handle, buffers: &buffer, count: 1, to: SocketAddress(address: address, port: port))
    }

    /// One datagram into `buffer`: its size and source.
    public func receive(_ handle: UInt, into buffer: UnsafeMutableRawBufferPointer) -> Result<(count: Int, address: IPv4Address, port: UInt16), WinsockError> {
        var wsabuf = VL_WSABUF(len: UInt32(buffer.count), buf: buffer.baseAddress?.assumingMemoryBound(to: CChar.self))
        var from = VL_SOCKADDR_IN()
        var fromLength = Int32(MemoryLayout<VL_SOCKADDR_IN>.size)
        switch receive(handle, buffers: &wsabuf, count: 1, flags: 0, from: &from, fromLength: &fromLength) {
        case let .failure(error): return .failure(error)
        case let .success(n):
            return .success((n, IPv4Address(networkOrder: from.sin_addr), UInt16(bigEndian: from.sin_port)))
        }
    }

    public func close(_ handle: UInt) { _ = closeSocket(handle) }

    /// The backing socket's port on 127.0.0.1 (diagnostics: the kernel's own tables).
    public func realPort(of handle: UInt) -> UInt16? { lock.locked { sockets[handle]?.realPort } }
}
