// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "VirtualLAN",
    products: [
        .executable(name: "virtuallan", targets: ["virtuallan"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Portable core: no Foundation, also compiled as Embedded Swift for the i686 DLL.
        .target(name: "VirtualIPCore"),
        // C: Winsock ABI types, the hook table, the Linux platform backend, libffi dispatch.
        .target(
            name: "CWineBridge",
            linkerSettings: [.linkedLibrary("ffi"), .linkedLibrary("pthread")]
        ),
        // Winsock semantics over the core and the Platform table.
        .target(name: "WinsockDetours", dependencies: ["VirtualIPCore", "CWineBridge"]),
        // The launcher and status tool (Foundation is fine here: it never goes into the DLL).
        .executableTarget(name: "virtuallan", dependencies: [
            "WinsockDetours", "VirtualIPCore", "CWineBridge",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "VirtualIPCoreTests", dependencies: ["VirtualIPCore"]),
        .testTarget(name: "CLITests", dependencies: ["virtuallan", "VirtualIPCore", "WinsockDetours"]),
        .testTarget(
            name: "WinsockDetoursTests",
            dependencies: ["WinsockDetours", "VirtualIPCore", "CWineBridge", "virtuallan"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
