import CWineBridge
import VirtualIPCore

/// WSAAccept on a virtual listener: the OS's own WSAAccept, with a condition function of
/// the layer's in front of the game's. Before the connection is accepted, the game's
/// condition is shown the caller's and the callee's virtual names (Windows' CallerId and
/// CalleeId; no data, no QOS), named from the registry by the caller's real port, since
/// the connection's preamble cannot be read before it is accepted. Its answer is the OS's
/// to carry out, as on Windows: CF_ACCEPT, the connection is accepted (then checked by its
/// preamble as accept checks it); CF_REJECT, refused (WSAECONNREFUSED); CF_DEFER, it stays
/// in the OS's queue, preamble unread, and the listener's next accept, WSAAccept or
/// AcceptEx takes it first (WSATRY_AGAIN). No condition function: accept.
extension VirtualHost {
    func wsaAccept(_ handle: UInt, address: UnsafeMutablePointer<VL_SOCKADDR_IN>?, length: UnsafeMutablePointer<Int32>?,
                   condition: UnsafeMutableRawPointer?, data: UInt) -> Result<UInt, WinsockError> {
        accept(handle, address: address, length: length, condition: condition.map { AcceptCondition(function: $0, data: data) })
    }

    /// The names the game's condition is shown for a connection from real TCP port
    /// `realPort` to `listener`: the caller (its copy's address, or 127.0.0.1 when it
    /// connects to its own copy over loopback) and the callee (the listener's address the
    /// connection reaches). nil when no socket of the registry connects from that port, or
    /// the listener's scope does not take the caller: the preamble check refuses it then.
    func conditionNames(realPort: UInt16, listener: Router.Receiver) -> (caller: SocketAddress, callee: SocketAddress)? {
        guard let caller = registry.streamCaller(realPort: realPort) else { return nil }
        if caller.overLoopback {
            guard caller.slot == listener.instance, listener.scope.acceptsLoopback else { return nil }
            return (SocketAddress(address: .loopback, port: caller.virtualPort), SocketAddress(address: .loopback, port: listener.virtualPort))
        }
        guard listener.scope.acceptsLAN else { return nil }
        return (SocketAddress(address: registry.network.address(ofInstance: caller.slot), port: caller.virtualPort),
                SocketAddress(address: address, port: listener.virtualPort))
    }
}

/// The game's WSAAccept condition function and its callback data.
struct AcceptCondition {
    let function: UnsafeMutableRawPointer
    let data: UInt
}

/// What the layer's condition function needs, passed through the OS's WSAAccept.
struct AcceptQuestion {
    let host: VirtualHost
    let listener: Router.Receiver
    let condition: AcceptCondition

    /// The layer's condition: the game's, shown the virtual names. A caller the registry
    /// does not name is accepted, for the preamble check to refuse.
    static let decide: Platform.AcceptDecision = { context, realPort, group in
        let question = context!.assumingMemoryBound(to: AcceptQuestion.self).pointee
        let host = question.host
        guard let (caller, callee) = host.conditionNames(realPort: realPort, listener: question.listener) else { return 0 }
        var callerName = VL_SOCKADDR_IN(), calleeName = VL_SOCKADDR_IN()
        var size: Int32 = 16
        _ = caller.write(to: &callerName, length: &size)
        _ = callee.write(to: &calleeName, length: &size)
        return withUnsafeMutablePointer(to: &callerName) { callerPointer in
            withUnsafeMutablePointer(to: &calleeName) { calleePointer in
                var callerBuffer = VL_WSABUF(len: 16, buf: UnsafeMutableRawPointer(callerPointer).assumingMemoryBound(to: CChar.self))
                var calleeBuffer = VL_WSABUF(len: 16, buf: UnsafeMutableRawPointer(calleePointer).assumingMemoryBound(to: CChar.self))
                return host.platform.callAcceptCondition(question.condition.function, caller: &callerBuffer, callee: &calleeBuffer,
                                                         group: group, data: question.condition.data)
            }
        }
    }
}
