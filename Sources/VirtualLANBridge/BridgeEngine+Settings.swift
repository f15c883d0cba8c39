import HostKit
import VirtualIPCore

extension BridgeEngine {
    public struct Settings {
        public var listen: HostAddress
        public var peers: [HostAddress]
        public var range: InstanceRange
        public var key: [UInt8]
        /// Frames sent longer ago than this (or this far in the future) are dropped: an old
        /// recording cannot be replayed to a bridge that just started. Hosts' clocks must
        /// agree to within this (NTP does).
        public var maxClockSkewMs: UInt64 = 30_000
        /// Passes frames on between the other hosts (BridgeEngine+Relay): a bridge every host
        /// reaches, for hosts that cannot reach each other.
        public var relay = false
        /// Where the bridge writes what it knows of each other host (BridgeEngine+Probes),
        /// for `virtuallan status`.
        public var peersFile: String?

        public init(listen: HostAddress, peers: [HostAddress], range: InstanceRange, key: [UInt8], maxClockSkewMs: UInt64 = 30_000,
                    relay: Bool = false, peersFile: String? = nil) {
            self.peersFile = peersFile
            self.listen = listen
            self.peers = peers
            self.range = range
            self.key = key
            self.maxClockSkewMs = maxClockSkewMs
            self.relay = relay
        }
    }
}
