import Foundation

/// One line on stdout, flushed at once (a test or a script reads it while we run).
public func say(_ line: String) {
    print(line)
    fflush(nil) // all streams (Swift 6 will not touch the C global stdout)
}
