import CWineBridge
import VirtualIPCore

/// The instance's log: one line format for everything the DLL writes, the Swift layer's
/// lines and the C side's (the trace of every hooked call, the hooks' installation):
/// "[ms] pid N level: message". Where and how much come from VIRTUALLAN_LOG and
/// VIRTUALLAN_LOG_LEVEL as InstanceConfig parses them: one parse for both sides.
struct Log {
    let platform: Platform
    let path: [UInt8]?
    let level: LogLevel

    func enabled(_ level: LogLevel) -> Bool { path != nil && level <= self.level }

    func write(_ level: LogLevel, _ message: String) {
        guard enabled(level) else { return }
        line(level, message)
    }

    /// A line written whenever there is a log, whatever its level: what a copy's log must
    /// always start with (the hooks' installation).
    func note(_ level: LogLevel, _ message: String) {
        guard path != nil else { return }
        line(level, message)
    }

    private func line(_ level: LogLevel, _ message: String) {
        guard let path else { return }
        platform.log(path: path, "[\(platform.nowMs)] pid \(platform.processID) \(level.name): \(message)")
    }

    /// This process's log before (or without) its instance: the environment's settings; a
    /// setting InstanceConfig refuses leaves the log off (the instance reports it itself).
    nonisolated(unsafe) static var process: Log = {
        let platform = Platform.default
        let config = try? InstanceConfig.fromEnvironment { key in platform.environment(key.name) }
        return Log(platform: platform, path: config?.logPath, level: config?.logLevel ?? .warning)
    }()
}

/// For the C side (swift_exports.h): whether `level` (LogLevel's raw value) is written.
@_cdecl("vl_log_enabled")
public func logEnabled(_ level: Int32) -> Int32 {
    guard let level = LogLevel(rawValue: Int(level)) else { return 0 }
    return Log.process.enabled(level) ? 1 : 0
}

/// For the C side: one line at `level`, in the log's format.
@_cdecl("vl_log_write")
public func logWrite(_ level: Int32, _ text: UnsafePointer<CChar>, _ length: UInt32) {
    guard let level = LogLevel(rawValue: Int(level)) else { return }
    Log.process.write(level, String(decoding: UnsafeRawBufferPointer(start: text, count: Int(length)), as: UTF8.self))
}

/// For the C side: a line written whenever there is a log, labelled `level` (`Log.note`).
@_cdecl("vl_log_note")
public func logNote(_ level: Int32, _ text: UnsafePointer<CChar>, _ length: UInt32) {
    guard let level = LogLevel(rawValue: Int(level)) else { return }
    Log.process.note(level, String(decoding: UnsafeRawBufferPointer(start: text, count: Int(length)), as: UTF8.self))
}
