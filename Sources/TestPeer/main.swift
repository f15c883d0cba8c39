// virtuallan-testpeer: test instances in processes of their own, for the multi-process
// tests (Tests/WinsockDetoursTests) and the bridge stage (scripts/bridge_test.py). Not
// installed or shipped: the tool's own commands are in VirtualLANCLI.
import ArgumentParser

struct TestPeer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "virtuallan-testpeer",
        abstract: "Test instances in processes of their own (the multi-process and bridge tests).",
        subcommands: [Peer.self, Claim.self])
}

TestPeer.main()
