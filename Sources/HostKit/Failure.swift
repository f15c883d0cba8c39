/// A problem told to the user in one line that says what to do: the one way the tool and
/// the bridge report a fatal problem (the command prints it on stderr and exits non-zero).
public struct Failure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
