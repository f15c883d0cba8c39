import CWineBridge

/// The control data WSARecvMsg hands back, as the socket asked for it (IP_PKTINFO,
/// IP_RECVTTL, IP_RECVTOS, set on the backing socket, which keeps them).
struct ControlData: OptionSet {
    let rawValue: UInt8
    /// IP_PKTINFO: the virtual destination and the virtual adapter's index.
    static let packetInfo = ControlData(rawValue: 1)
    /// IP_TTL: the datagram's time to live, Windows' default (128): a virtual datagram
    /// crossed no router.
    static let timeToLive = ControlData(rawValue: 2)
    /// IP_TOS: the datagram's type of service, 0 (the layer sets none).
    static let typeOfService = ControlData(rawValue: 4)

    static let timeToLiveValue: Int32 = 128
    static let typeOfServiceValue: Int32 = 0

    /// What `socket` asked for (lock held).
    init(asked socket: VirtualSocket, platform: Platform) {
        func on(_ name: Int32) -> Bool { (platform.intOption(socket.handle, level: Int32(VL_IPPROTO_IP), name: name) ?? 0) != 0 }
        var asked: ControlData = []
        if on(Int32(VL_IP_PKTINFO)) { asked.insert(.packetInfo) }
        if on(Int32(VL_IP_RECVTTL)) { asked.insert(.timeToLive) }
        if on(Int32(VL_IP_RECVTOS)) { asked.insert(.typeOfService) }
        self = asked
    }

    init(rawValue: UInt8) { self.rawValue = rawValue }
    init() { rawValue = 0 }
}
