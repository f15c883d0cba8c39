// The virtuallan tool: the commands live in VirtualLANCLI (so tests reach them as a library).
import VirtualLANCLI

VirtualLAN.main()
