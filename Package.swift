// swift-tools-version:6.1
import PackageDescription

// Dependencies point one way (docs/ARCHITECTURE.md):
//   virtuallan -> VirtualLANCLI -> VirtualLANBridge -> WinsockDetours -> VirtualIPCore
//                                        └─> HostKit           ├─> HookEngine
//                                                              └─> CWineBridge (C)
// The DLL is VirtualIPCore + HookEngine + WinsockDetours (Embedded Swift) and CWineBridge's
// Win32 half: wine/build-dll compiles exactly those, so nothing else can reach it.
let package = Package(
    name: "VirtualLAN",
    products: [
        .executable(name: "virtuallan", targets: ["virtuallan"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // Portable core: no Foundation, also compiled as Embedded Swift for the i686 DLL.
        // Addresses, config, wire header, registry layout and claims, router.
        .target(name: "VirtualIPCore"),
        // The inline-hook engine: x86 length decoder, trampoline planning and the bytes of
        // trampoline and patch. No Winsock in it; Embedded-clean (in the DLL).
        .target(name: "HookEngine"),
        // C: Winsock ABI types, the hook table, the Linux platform backend (its Win32
        // emulation for tests in files of its own), the DLL's Win32 half.
        .target(
            name: "CWineBridge",
            linkerSettings: [.linkedLibrary("pthread")]
        ),
        // Tests only: calls a hook-table entry through libffi with its declared signature.
        .target(
            name: "CHookTableFFI",
            dependencies: ["CWineBridge"],
            linkerSettings: [.linkedLibrary("ffi")]
        ),
        // Winsock semantics over the core and the Platform table.
        .target(name: "WinsockDetours", dependencies: ["VirtualIPCore", "HookEngine", "CWineBridge"]),
        // The Linux host's side, for the bridge and the tools (Foundation): plain sockets,
        // addresses, the monotonic clock, locks, user-facing failures.
        .target(name: "HostKit"),
        // The cross-host bridge: link frames, announcements, the link's cipher (swift-crypto),
        // the engine and relayed TCP streams.
        .target(name: "VirtualLANBridge", dependencies: [
            "HostKit", "VirtualIPCore", "WinsockDetours",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The commands: argument parsing and output (Foundation is fine: never in the DLL).
        .target(name: "VirtualLANCLI", dependencies: [
            "VirtualLANBridge", "HostKit", "WinsockDetours", "VirtualIPCore", "CWineBridge",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The tool: a thin main over the commands.
        .executableTarget(name: "virtuallan", dependencies: ["VirtualLANCLI"]),
        // Test support: an instance in a process of its own (the multi-process and bridge tests).
        .executableTarget(name: "virtuallan-testpeer", dependencies: [
            "HostKit", "WinsockDetours", "VirtualIPCore", "CWineBridge",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/TestPeer"),
        .testTarget(name: "VirtualIPCoreTests", dependencies: ["VirtualIPCore"]),
        .testTarget(name: "HookEngineTests", dependencies: ["HookEngine"]),
        .testTarget(name: "VirtualLANBridgeTests", dependencies: [
            "VirtualLANBridge", "HostKit", "VirtualIPCore", "WinsockDetours", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "CLITests", dependencies: ["VirtualLANCLI", "VirtualLANBridge", "HostKit", "VirtualIPCore", "WinsockDetours"]),
        .testTarget(
            name: "WinsockDetoursTests",
            dependencies: ["WinsockDetours", "VirtualIPCore", "CWineBridge", "CHookTableFFI", "HostKit", "virtuallan-testpeer", "virtuallan"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
