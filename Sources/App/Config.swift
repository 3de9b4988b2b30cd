// App — the client runtime: the plan (flags > env > file), one runtime for both faces, files
// and recordings, logging, the embedded emulator. The `livetalk` target parses flags and injects
// the edges (WebSocket, PulseAudio, curses); App never imports them.
import Foundation
import LiveProtocol
import TOMLKit

/// Settings read from `$XDG_CONFIG_HOME/livetalk/config.toml`. Every field is optional.
public struct FileConfig: Sendable, Equatable {
    public var apiKey: String?
    public var model: String?
    public var voice: String?
    public var apiVersion: String?
    public var endpoint: String?
    public var system: String?
    public var mode: String?
    public var theme: String?
    public var caFile: String?
    public var logFile: String?
    public var logLevel: String?
    public var vertexProject: String?
    public var vertexLocation: String?
    public var vertexAccessToken: String?
    /// `[mcp.NAME]` tables: MCP servers whose tools the model may call (issue 12).
    public var mcp: [MCPServerConfig] = []
    /// Problems worth telling the user that do not stop the program (R20: a secret in a file others
    /// can read). The caller prints them, one line each.
    public var warnings: [String] = []
    /// Session settings (issue 12), by config key, as written (checked when read; see `SessionKnobs`).
    public var knobs: [String: KnobValue] = [:]
    /// The file these settings came from (for errors found later), if any.
    public var path: String?

    public init() {}

    nonisolated(unsafe) static let stringKeys: [String: WritableKeyPath<FileConfig, String?>] = [
        "api_key": \.apiKey, "model": \.model, "voice": \.voice, "api_version": \.apiVersion,
        "endpoint": \.endpoint, "system": \.system, "mode": \.mode, "theme": \.theme, "ca_file": \.caFile,
        "log_file": \.logFile, "log_level": \.logLevel,
    ]
    nonisolated(unsafe) static let vertexKeys: [String: WritableKeyPath<FileConfig, String?>] = [
        "project": \.vertexProject, "location": \.vertexLocation, "access_token": \.vertexAccessToken,
    ]

    /// The default location: `$XDG_CONFIG_HOME/livetalk/config.toml` (or `~/.config/…`).
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        XDG.configHome(environment) + "/livetalk/config.toml"
    }

    /// Reads a config file; a missing file is an empty config.
    public static func load(path: String) throws(ConfigError) -> FileConfig {
        guard FileManager.default.fileExists(atPath: path) else { return FileConfig() }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(path: path, line: nil, message: "cannot read the file (permissions or not UTF-8)")
        }
        var c = try parse(text, path: path)
        var st = stat()
        if c.apiKey != nil || c.vertexAccessToken != nil, stat(path, &st) == 0 {
            c.warnings += secretWarnings(path: path, mode: Int(st.st_mode))
        }
        return c
    }

    /// A config file holding a secret must not be readable by group or others (R20).
    static func secretWarnings(path: String, mode: Int) -> [String] {
        guard mode & 0o077 != 0 else { return [] }
        return ["\(path) holds a secret (api_key or vertex.access_token) but others can read it "
            + "(mode \(String(mode & 0o777, radix: 8))): run chmod 600 \(path)"]
    }

    public static func parse(_ text: String, path: String) throws(ConfigError) -> FileConfig {
        // toml++ aborts on some malformed input (fuzz finding F1): only well-formed text of the
        // subset livetalk uses reaches it.
        do throws(TOMLGate.Rejection) { try TOMLGate.check(text) } catch let r { throw ConfigError(path: path, line: r.line, message: r.message) }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw ConfigError(path: path, line: e.source.begin.line, message: e.description)
        } catch {
            throw ConfigError(path: path, line: nil, message: "\(error)")
        }
        var c = FileConfig()
        for key in table.keys.sorted() {
            let line = lineOf(key: key, in: text)
            if let kp = stringKeys[key] {
                guard let s = table[key]?.string else {
                    throw ConfigError(path: path, line: line, message: "\(key) must be a string (in quotes)")
                }
                c[keyPath: kp] = s
            } else if key == "vertex" {
                guard let t = table[key]?.table else {
                    throw ConfigError(path: path, line: line, message: "vertex must be a table: [vertex]")
                }
                for vk in t.keys.sorted() {
                    let vline = lineOf(key: vk, in: text)
                    guard let kp = vertexKeys[vk] else {
                        throw ConfigError(path: path, line: vline,
                                          message: "unknown key vertex.\(vk) (known: \(vertexKeys.keys.sorted().joined(separator: ", ")))")
                    }
                    guard let s = t[vk]?.string else {
                        throw ConfigError(path: path, line: vline, message: "vertex.\(vk) must be a string (in quotes)")
                    }
                    c[keyPath: kp] = s
                }
            } else if key == "mcp" {
                guard let t = table[key]?.table else {
                    throw ConfigError(path: path, line: line, message: "mcp must hold tables: [mcp.NAME]")
                }
                c.mcp = try MCPServerConfig.parse(t, text: text, path: path)
            } else if SessionKnobs.configKeys.contains(key), let value = table[key] {
                c.knobs[key] = try knobValue(key: key, value: value, line: line, path: path)
            } else {
                throw ConfigError(path: path, line: line,
                                  message: "unknown key \(key) (known: \((stringKeys.keys.sorted() + ["[vertex]", "[mcp.NAME]"]).joined(separator: ", ")); "
                                      + "session settings: \(SessionKnobs.configKeys.sorted().joined(separator: ", ")))")
            }
        }
        c.path = path
        if let m = c.mode, m != "vad", m != "ptt" {
            throw ConfigError(path: path, line: lineOf(key: "mode", in: text), message: "mode must be \"vad\" or \"ptt\", not \"\(m)\"")
        }
        return c
    }

    /// A session setting's value as text (`0.5`, `true`, `"low"`, `["en-US", "de-DE"]`), checked
    /// against its knob so a bad value names this file and line.
    static func knobValue(key: String, value: any TOMLValueConvertible, line: Int?, path: String) throws(ConfigError) -> KnobValue {
        let text: String?
        if let s = value.string {
            text = s
        } else if let b = value.bool {
            text = b ? "on" : "off"
        } else if let i = value.int {
            text = String(i)
        } else if let d = value.double {
            text = String(d)
        } else if let a = value.array {
            let items = a.map { $0.string }
            text = items.contains(where: { $0 == nil }) ? nil : items.compactMap { $0 }.joined(separator: ",")
        } else {
            text = nil
        }
        guard let knob = SessionKnobs.knobs.first(where: { $0.configKey == key }) else {
            throw ConfigError(path: path, line: line, message: "unknown key \(key)")
        }
        var scratch = SessionKnobs()
        guard let text, knob.set(&scratch, text) else {
            throw ConfigError(path: path, line: line, message: "\(key) = \(text ?? "this value"): use \(knob.expected)")
        }
        return KnobValue(value: text, line: line)
    }

    /// The 1-based line where `key = …` is written, for error messages.
    static func lineOf(key: String, in text: String) -> Int? {
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix(key), t.dropFirst(key.count).trimmingCharacters(in: .whitespaces).hasPrefix("=") { return i + 1 }
        }
        return nil
    }
}

/// A bad config file: names the file and, where known, the line.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var message: String
    public var description: String { "\(path)\(line.map { ":\($0)" } ?? ""): \(message)" }
}
