import AudioCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging

/// swift-log handler that appends to a file — the UI owns the terminal, so logs never go there.
public struct FileLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let sink: FileSink

    public init(label: String, sink: FileSink, level: Logger.Level) {
        self.label = label
        self.sink = sink
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let ts = ISO8601DateFormatter.string(from: Date(), timeZone: .current,
                                             formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        var all = metadata
        if let m = event.metadata { all.merge(m) { _, b in b } }
        let meta = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        sink.write("\(ts) \(event.level) [\(label)] \(event.message)\(meta)\n")
    }
}

/// One open log file shared by every logger: appended to, created 0600 (in a 0700 directory when it
/// makes one), never through a symbolic link (R20). When the file cannot be opened, logging is off
/// and `problem` says why (the caller may show it).
public final class FileSink: @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`:
    private var fd: Int32   // -1 when logging is off
    private var failure: String?

    /// Why the log file could not be opened or written, if so.
    public var problem: String? { lock.withLock { failure } }

    public init(path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o700])
        }
        do { fd = try PrivateFile.open(path, .append) } catch {
            fd = -1
            failure = "log file \(error.description)"
        }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    public func write(_ s: String) {
        lock.withLock {
            guard fd >= 0 else { return }
            if !PrivateFile.write(fd, Data(s.utf8)) {
                Glibc.close(fd)
                fd = -1
                failure = "log file: write failed; logging stopped"
            }
        }
    }
}

public enum LogSetup {
    /// `$XDG_STATE_HOME/livetalk/livetalk.log` (or `~/.local/state/…`).
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let base = XDG.stateHome(environment)
        return base + "/livetalk/livetalk.log"
    }

    /// Bootstraps swift-log once, to a file (or stderr for `serve`). Returns why the log file cannot
    /// be used (a symbolic link, no permission), for the caller to show; logging is then off.
    @discardableResult
    public static func bootstrap(path: String?, level: Logger.Level, toStderr: Bool = false) -> String? {
        if toStderr {
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
            return nil
        }
        let sink = FileSink(path: path ?? defaultPath())
        LoggingSystem.bootstrap { FileLogHandler(label: $0, sink: sink, level: level) }
        return sink.problem
    }
}
