import Foundation

/// One line on stdout, flushed at once (a test or a script reads it while we run).
public func say(_ line: String) {
    print(line)
    fflush(nil) // all streams (Swift 6 will not touch the C global stdout)
}

/// One line on stderr: what the user must know beside a command's output (a warning), kept
/// out of what a script captures from stdout.
public func warn(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
