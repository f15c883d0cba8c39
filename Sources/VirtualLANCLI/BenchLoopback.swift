import Foundation
import HostKit
import VirtualLANBridge
import VirtualIPCore
import WinsockDetours

/// A datagram endpoint the benchmarks drive the same way on both paths.
protocol BenchEndpoint: AnyObject, Sendable {
    func send(_ payload: UnsafeRawBufferPointer, to peer: BenchEndpoint) -> Bool
    /// Blocks for one datagram; nil once the endpoint is closed.
    func receive(_ buffer: UnsafeMutableRawBufferPointer) -> Int?
    func close()
}

/// Raw UDP on 127.0.0.1: the physical limit the virtual path is compared with.
final class RawEndpoint: BenchEndpoint {
    let fd: Int32
    let port: UInt16

    init() {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, 4)
        var address = HostAddress.loopback(0).sockaddr
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(fd, $0, length)
                _ = getsockname(fd, $0, &length)
            }
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    func send(_ payload: UnsafeRawBufferPointer, to peer: BenchEndpoint) -> Bool {
        var to = HostAddress.loopback((peer as! RawEndpoint).port).sockaddr
        return withUnsafePointer(to: &to) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, payload.baseAddress, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == payload.count
    }

    func receive(_ buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let n = recv(fd, buffer.baseAddress, buffer.count, 0)
        return n > 0 ? n : nil
    }

    func close() { shutdown(fd, Int32(SHUT_RDWR)) }
    deinit { Glibc.close(fd) }
}

/// A virtual socket of one instance, through the Winsock layer (header, registry, checks).
final class VirtualEndpoint: BenchEndpoint {
    let host: VirtualHost
    let handle: UInt
    let port: UInt16

    init(host: VirtualHost, port: UInt16) {
        self.host = host
        self.port = port
        handle = try! host.openUDP(port: port, broadcast: true).get()
        host.setReceiveBuffer(handle, bytes: 4 << 20)
    }

    func send(_ payload: UnsafeRawBufferPointer, to peer: BenchEndpoint) -> Bool {
        let peer = peer as! VirtualEndpoint
        return (try? host.send(handle, payload, to: peer.host.address, port: peer.port).get()) == payload.count
    }

    func receive(_ buffer: UnsafeMutableRawBufferPointer) -> Int? {
        if case let .success(r) = host.receive(handle, into: buffer) { return r.count }
        return nil
    }

    func close() { host.close(handle) }
}

/// Several instances in this process over one in-memory registry.
final class BenchLAN {
    let memory = InMemoryRegion(size: RegistryLayout.size(slotCount: RegistryLayout.defaultSlotCount))
    let registry: Registry
    var hosts: [VirtualHost] = []

    init(instances: Int) {
        registry = try! Registry.attach(memory.region, network: .defaultNetwork)
        for index in 0..<instances {
            let host = try! VirtualHost(platform: .default, config: InstanceConfig(pinnedInstance: index), registry: registry)
            host.start()
            hosts.append(host)
        }
    }

    func shutdown() { for host in hosts { host.shutdown() } }
}

