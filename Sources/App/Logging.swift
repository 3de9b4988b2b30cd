import Foundation
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

/// One open log file shared by every logger.
public final class FileSink: @unchecked Sendable {
    private let handle: FileHandle?
    private let lock = NSLock()

    public init(path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        handle = FileHandle(forWritingAtPath: path)
        handle?.seekToEndOfFile()
    }

    public func write(_ s: String) {
        lock.withLock { handle?.write(Data(s.utf8)) }
    }
}

public enum LogSetup {
    /// `$XDG_STATE_HOME/livetalk/livetalk.log` (or `~/.local/state/…`).
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let base = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state"
        return base + "/livetalk/livetalk.log"
    }

    /// Bootstraps swift-log once, to a file (or stderr for `serve`).
    public static func bootstrap(path: String?, level: Logger.Level, toStderr: Bool = false) {
        if toStderr {
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
            return
        }
        let sink = FileSink(path: path ?? defaultPath())
        LoggingSystem.bootstrap { FileLogHandler(label: $0, sink: sink, level: level) }
    }
}
