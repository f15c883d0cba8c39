import CWineBridge
import VirtualIPCore

/// The platform's copies of a socket and the processes this one starts.
extension Platform {
    // MARK: Copies of a backing socket

    func duplicateSocket(_ handle: UInt, process: UInt32, info: UnsafeMutableRawPointer?, wide: Bool) -> WinsockError? {
        error(t.duplicate_socket!(VL_SOCKET(handle), process, info, wide ? 1 : 0))
    }

    func socket(fromInfo info: UnsafeMutableRawPointer, wide: Bool) -> Result<UInt, WinsockError> {
        var copy: VL_SOCKET = 0
        if let error = error(t.socket_from_info!(info, wide ? 1 : 0, &copy)) { return .failure(error) }
        return .success(UInt(copy))
    }

    func duplicateHandle(_ handle: UInt, from source: UnsafeMutableRawPointer?, into target: UnsafeMutableRawPointer?,
                         access: UInt32, inherit: Bool, options: UInt32) -> Result<UInt, WinsockError> {
        var copy: VL_SOCKET = 0
        let code = t.duplicate_handle!(source, VL_SOCKET(handle), target, access, inherit ? 1 : 0, options, &copy)
        return code == 0 ? .success(UInt(copy)) : .failure(WinsockError(Int32(bitPattern: code)))
    }

    /// Whether a process started with bInheritHandles gets the handle.
    func isInheritable(_ handle: UInt) -> Bool { t.handle_inheritable!(VL_SOCKET(handle)) != 0 }
    func setInheritable(_ handle: UInt, _ inheritable: Bool) { t.handle_set_inheritable!(VL_SOCKET(handle), inheritable ? 1 : 0) }

    /// The id of the process a process handle names (GetCurrentProcess()'s too); 0: none.
    func processID(of process: UnsafeMutableRawPointer?) -> UInt32 { t.process_id_of!(process) }

    // MARK: Processes this one starts

    /// Whether the backend starts processes (Win32 does; the Linux test backend does not).
    var startsProcesses: Bool { t.process_start != nil && t.process_follow != nil }

    /// Starts the process suspended: nil, or the Win32 error.
    func startProcessSuspended(_ start: UnsafePointer<vl_process_start>) -> UInt32? {
        let error = t.process_start!(start)
        return error == 0 ? nil : error
    }

    /// Loads the DLL into the suspended process (it joins `joining` when given), then lets it
    /// run unless `staySuspended`: nil, or the Win32 error of the part that failed.
    func follow(_ information: UnsafeMutablePointer<VL_PROCESS_INFORMATION>, joining: SlotClaim?, staySuspended: Bool) -> UInt32? {
        let error = t.process_follow!(information, joining == nil ? 0 : 1, UInt32(joining?.index ?? 0), joining?.generation ?? 0,
                                      staySuspended ? 1 : 0)
        return error == 0 ? nil : error
    }
}
