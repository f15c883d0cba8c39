import CWineBridge
import VirtualIPCore

// A copy is a PC, not a process: every process a hooked process starts gets the DLL too
// and joins this process's instance (a launcher that starts the game, a game that starts
// its own server, `cmd /c game.exe`). CreateProcessInternalW is where every way of starting
// a process meets (CreateProcessA/W, ShellExecute, system).

/// kernel32's ERROR_NOT_SUPPORTED: a backend that starts no processes (the Linux tests').
private let notSupported = WinsockError(50)

/// Starts the process suspended, lists it in this process's instance (made now if it was
/// not yet: two processes a launcher starts are one PC), loads the DLL into it and hands it
/// the instance, then lets it run (unless the caller asked for it suspended). A process the
/// DLL cannot follow (a 64-bit one) runs without it, said in the log.
@_cdecl("vl_hook_CreateProcessInternalW")
public func hookCreateProcessInternalW(_ token: UnsafeMutableRawPointer?, _ application: UnsafePointer<UInt16>?,
                                       _ commandLine: UnsafeMutablePointer<UInt16>?, _ processAttributes: UnsafeMutableRawPointer?,
                                       _ threadAttributes: UnsafeMutableRawPointer?, _ inherit: Int32, _ flags: UInt32,
                                       _ environment: UnsafeMutableRawPointer?, _ directory: UnsafePointer<UInt16>?,
                                       _ startup: UnsafeMutableRawPointer?, _ information: UnsafeMutablePointer<VL_PROCESS_INFORMATION>?,
                                       _ newToken: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    let host = VirtualHost.current
    let platform = host?.platform ?? .default
    guard platform.startsProcesses else {
        platform.lastError = notSupported
        return 0
    }
    // Without a place to learn the new process it is not ours to follow, nor when the user
    // said so (VIRTUALLAN_CHILDREN=ignore): started as asked.
    let follows = host?.config.followsChildren != false && information.map { platform.usable(UnsafePointer($0), writable: true) } == true
    let suspended = UInt32(VL_CREATE_SUSPENDED)
    var start = vl_process_start(token: token, application: application, command_line: commandLine,
                                 process_attributes: processAttributes, thread_attributes: threadAttributes, inherit: inherit,
                                 flags: follows ? flags | suspended : flags, environment: environment, directory: directory,
                                 startup: startup, information: information, new_token: newToken)
    if let error = platform.startProcessSuspended(&start) {
        platform.lastError = WinsockError(Int32(bitPattern: error))
        return 0
    }
    guard follows, let information else { return 1 }
    let pid = information.pointee.dwProcessId
    let joining = host?.adopt(childProcess: pid)
    if inherit != 0, let host, let joining { host.handInheritedSockets(to: joining.member) }
    if let error = platform.follow(information, joining: joining?.instance, staySuspended: flags & suspended != 0) {
        if let host, let joining { host.registry.leave(joining.instance, member: joining.member) }
        host?.log(.warning, "process \(pid) runs without the DLL (Win32 error \(error) while loading it; a 64-bit program cannot take the 32-bit DLL): it is not part of the virtual LAN")
    }
    return 1
}

/// The DLL in a process a member of instance `index` started (called by that member once
/// the DLL is loaded, before the process runs): this process joins that instance. 1 when it
/// did, 0 when it claimed one of its own (the instance ended meanwhile) or has none.
@_cdecl("vl_join_instance")
public func joinInstance(_ index: UInt32, _ generation: UInt32) -> Int32 {
    VirtualHost.joining = SlotClaim(index: Int(index), generation: generation)
    guard let host = VirtualHost.current else { return 0 }
    return host.claim == VirtualHost.joining && host.member != 0 ? 1 : 0
}
