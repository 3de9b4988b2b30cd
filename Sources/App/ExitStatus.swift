/// Exit codes of `livetalk` (also in `livetalk --help`).
public enum ExitStatus {
    public static let ok: Int32 = 0
    /// The session ended with an error (fatal close code, gave up reconnecting, no reply).
    public static let sessionFailed: Int32 = 1
    /// Bad flags, config file or input file (ArgumentParser's EX_USAGE).
    public static let usage: Int32 = 64
    /// Could not start (the embedded emulator or a local resource failed).
    public static let startFailed: Int32 = 69
    /// Interrupted by SIGINT/SIGTERM/SIGHUP.
    public static let interrupted: Int32 = 130
}
