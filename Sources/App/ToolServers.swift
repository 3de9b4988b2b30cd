import Foundation
import LiveProtocol
import LiveSession
import TOMLKit

// MCP servers as tools (issue 12), the pure half: the `[mcp.NAME]` config, the names tools are
// declared under, their schemas, the allow-list, the restart back-off, and the interface of the
// edge that runs the servers (`ToolServers`, implemented by the `MCPTools` target and injected by
// `livetalk`; App never imports the MCP SDK).

/// One `[mcp.NAME]` table of `config.toml`: a stdio server (`command`, `args`, `env`, `cwd`) or a
/// streamable HTTP one (`url`).
public struct MCPServerConfig: Sendable, Equatable {
    public var name: String
    public var command: String?
    public var args: [String] = []
    public var env: [String: String] = [:]
    public var cwd: String?
    public var url: String?
    /// Tools that run without asking (`["*"]`: all of this server's tools).
    public var allow: [String] = []
    /// A call that has not answered by then is cancelled and answered with an error.
    public var timeout: Duration = MCPServerConfig.defaultTimeout

    public static let defaultTimeout: Duration = .seconds(30)

    public init(name: String, command: String? = nil, args: [String] = [], env: [String: String] = [:], cwd: String? = nil,
                url: String? = nil, allow: [String] = [], timeout: Duration = MCPServerConfig.defaultTimeout) {
        (self.name, self.command, self.args, self.env, self.cwd) = (name, command, args, env, cwd)
        (self.url, self.allow, self.timeout) = (url, allow, timeout)
    }

    static let keys = ["command", "args", "env", "cwd", "url", "allow", "timeout"]

    /// The `mcp` table of a config file: one server per sub-table.
    static func parse(_ table: TOMLTable, text: String, path: String) throws(ConfigError) -> [MCPServerConfig] {
        var out: [MCPServerConfig] = []
        for name in table.keys.sorted() {
            let line = FileConfig.lineOf(key: name, in: text) ?? headerLine("mcp.\(name)", in: text)
            guard let t = table[name]?.table else {
                throw ConfigError(path: path, line: line, message: "mcp.\(name) must be a table: [mcp.\(name)] with command = \"…\" or url = \"…\"")
            }
            guard name.range(of: #"^[A-Za-z0-9_-]{1,32}$"#, options: .regularExpression) != nil else {
                throw ConfigError(path: path, line: line, message: "mcp server name \"\(name)\": use 1–32 letters, digits, _ or -")
            }
            var s = MCPServerConfig(name: name)
            func fail(_ key: String, _ m: String) -> ConfigError {
                ConfigError(path: path, line: FileConfig.lineOf(key: key, in: text) ?? line, message: "mcp.\(name).\(key) \(m)")
            }
            for k in t.keys.sorted() {
                let v = t[k]
                switch k {
                case "command", "cwd", "url":
                    guard let str = v?.string, !str.isEmpty else { throw fail(k, "must be a non-empty string (in quotes)") }
                    if k == "command" { s.command = str } else if k == "cwd" { s.cwd = str } else { s.url = str }
                case "args", "allow":
                    guard let a = v?.array else { throw fail(k, "must be an array of strings: [\"a\", \"b\"]") }
                    var items: [String] = []
                    for i in 0..<a.count {
                        guard let str = a[i].string else { throw fail(k, "must be an array of strings: [\"a\", \"b\"]") }
                        items.append(str)
                    }
                    if k == "args" { s.args = items } else { s.allow = items }
                case "env":
                    guard let e = v?.table else { throw fail(k, "must be a table of strings: env = { NAME = \"value\" }") }
                    for ek in e.keys {
                        guard let str = e[ek]?.string else { throw fail(k, "must be a table of strings: env = { NAME = \"value\" }") }
                        s.env[ek] = str
                    }
                case "timeout":
                    let seconds = v?.double ?? v?.int.map(Double.init)
                    guard let seconds, seconds.isFinite, seconds >= 0.1, seconds <= 3600 else {
                        throw fail(k, "must be a number of seconds from 0.1 to 3600")
                    }
                    s.timeout = .seconds(clamping: seconds)
                default:
                    throw fail(k, "is not a known key (known: \(keys.joined(separator: ", ")))")
                }
            }
            switch (s.command, s.url) {
            case (nil, nil): throw ConfigError(path: path, line: line, message: "[mcp.\(name)] needs command = \"…\" (stdio) or url = \"…\" (HTTP)")
            case (_?, _?): throw ConfigError(path: path, line: line, message: "[mcp.\(name)] has both command and url: keep one")
            default: break
            }
            if let u = s.url {
                guard let parsed = URL(string: u), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else {
                    throw fail("url", "must be an http:// or https:// URL")
                }
            }
            out.append(s)
        }
        return out
    }

    static func headerLine(_ header: String, in text: String) -> Int? {
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where line.trimmingCharacters(in: .whitespaces).hasPrefix("[\(header)]") { return i + 1 }
        return nil
    }
}

/// A tool as a server lists it (already converted from the SDK's types).
public struct MCPToolInfo: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var inputSchema: JSONValue?
    public init(name: String, description: String?, inputSchema: JSONValue?) {
        self.name = name
        self.description = description
        self.inputSchema = inputSchema
    }
}

/// What happened to a server, for the session pane, line mode and the log.
public enum ToolServerNews: Sendable, Equatable {
    case ready(server: String, tools: Int)
    case failed(server: String, reason: String, retryIn: Duration?)
    case exited(server: String, status: String, retryIn: Duration?)
}

/// The edge that runs MCP servers. `MCPTools.MCPToolServers` is the real one.
public protocol ToolServers: Sendable {
    /// Starts every server and returns once each has listed its tools, failed, or `deadline`
    /// passed; servers not ready by then go on starting (and restarting) in the background.
    func start(deadline: Duration) async -> [String: [MCPToolInfo]]
    /// The tools of the servers ready now.
    func currentTools() async -> [String: [MCPToolInfo]]
    /// Calls `tool` on `server`; throws `ToolFailure` for a timeout, a server that exited or an
    /// error result. Cancelling the task sends the server an MCP cancel notification.
    func call(server: String, tool: String, args: JSONValue?) async throws -> JSONValue
    /// Server news (ready, failed, exited, restarting).
    var news: AsyncStream<ToolServerNews> { get }
    /// Stops every server (stdin closed, SIGTERM, then SIGKILL) and waits for them to go.
    func stop() async
    /// Kills every server now, from any thread (the exit of last resort). Idempotent.
    func killNow()
}

/// The tools of a run: built-ins and servers' tools under the names they are declared with.
public enum ToolCatalog {
    /// Gemini's function names: a letter or underscore, then letters, digits, `_ . : -`, 64 at most.
    public static func sanitize(_ name: String) -> String {
        var out = String(name.unicodeScalars.map { s -> Character in
            let ok = ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s) || "_.:-".unicodeScalars.contains(s)
            return ok ? Character(s) : "_"
        })
        if out.isEmpty || !(out.first!.isLetter || out.first == "_") { out = "_" + out }
        return String(out.prefix(64))
    }

    /// The declared name of each server tool: its own (sanitised) name, or `server_name` when
    /// that name is taken by a built-in or by another server's tool. Built-ins keep theirs.
    /// A name still taken after prefixing gets `_2`, `_3` … Returns `[server: [tool: declared]]`.
    public static func names(builtins: [String], servers: [(server: String, tools: [String])]) -> [String: [String: String]] {
        var count: [String: Int] = [:]
        for b in builtins { count[b, default: 0] += 1 }
        for s in servers { for t in Set(s.tools.map(sanitize)) { count[t, default: 0] += 1 } }
        var taken = Set(builtins)
        var out: [String: [String: String]] = [:]
        for s in servers {
            for t in s.tools {
                let plain = sanitize(t)
                var name = (count[plain] ?? 0) > 1 ? sanitize(s.server + "_" + t) : plain
                var n = 2
                let base = name
                while taken.contains(name) {
                    name = String(base.prefix(60)) + "_\(n)"
                    n += 1
                }
                taken.insert(name)
                out[s.server, default: [:]][t] = name
            }
        }
        return out
    }

    /// Largest input schema declared as it is (encoded JSON); a larger one is replaced by
    /// "any object", so a hostile server cannot blow up `setup`.
    public static let maxSchemaBytes = 32 * 1024
    /// Longest description declared.
    public static let maxDescription = 1_000

    /// An MCP input schema (JSON Schema) as Gemini's `parametersJsonSchema`: an object schema
    /// with `properties`, without `$schema` (Gemini refuses it); anything else kept as it is.
    public static func parametersSchema(_ schema: JSONValue?) -> JSONValue {
        let anyObject: JSONValue = ["type": "object", "properties": [:]]
        guard case .object(var o)? = schema else { return anyObject }
        if let data = try? JSONEncoder().encode(JSONValue.object(o)), data.count > maxSchemaBytes { return anyObject }
        o["$schema"] = nil
        if o["type"] == nil { o["type"] = "object" }
        guard o["type"] == "object" else { return anyObject }
        if case .object? = o["properties"] {} else { o["properties"] = [:] }
        return .object(o)
    }

    /// A server tool's declaration.
    public static func declaration(_ tool: MCPToolInfo, as name: String) -> FunctionDeclaration {
        let text = tool.description.map { String($0.prefix(maxDescription)) }
        return FunctionDeclaration(name: name, description: text, parametersJsonSchema: parametersSchema(tool.inputSchema))
    }

    /// The registry for a run: the built-ins, then each server's tools (servers in name order),
    /// each call going through `approve` (when the allow-list says ask) and then `servers`.
    public static func registry(builtins: ToolRegistry, configs: [MCPServerConfig], tools: [String: [MCPToolInfo]],
                                servers: (any ToolServers)?, approve: @escaping @Sendable (ApprovalRequest) async -> Bool) -> ToolRegistry {
        var r = builtins
        let listed = configs.map(\.name).filter { tools[$0] != nil }.map { (server: $0, tools: tools[$0]!.map(\.name)) }
        let named = names(builtins: builtins.declarations.map(\.name), servers: listed)
        for c in configs {
            for t in tools[c.name] ?? [] {
                guard let declared = named[c.name]?[t.name] else { continue }
                let (server, tool, allow) = (c.name, t.name, c.allow)
                r.register(ToolDefinition(declaration: declaration(t, as: declared), source: server, sourceName: tool) { call in
                    if AllowList.decide(allow: allow, tool: tool, declared: declared) == .ask {
                        let ok = await approve(ApprovalRequest(id: call.id, server: server, tool: tool, args: call.args))
                        try Task.checkCancellation()
                        guard ok else { throw ToolFailure(ToolCatalog.refusal(server: server, tool: tool)) }
                    }
                    guard let servers else { throw ToolFailure("the MCP server \(server) is not running") }
                    return try await servers.call(server: server, tool: tool, args: call.args)
                })
            }
        }
        return r
    }

    /// What the model is told when the user says no (an error it can explain).
    public static func refusal(server: String, tool: String) -> String {
        "the user did not allow this call of \(tool) (MCP server \(server)); do not retry it unless the user asks"
    }
}

/// Whether a server's tool runs at once or asks the user first.
public enum AllowList {
    public enum Decision: Sendable, Equatable { case run, ask }

    /// `allow = ["*"]` runs every tool of the server; `allow = ["name", …]` runs the tools named
    /// (by their name on the server or the name they are declared with); anything else asks.
    public static func decide(allow: [String], tool: String, declared: String) -> Decision {
        allow.contains("*") || allow.contains(tool) || allow.contains(declared) ? .run : .ask
    }
}

/// A call waiting for the user's yes or no.
public struct ApprovalRequest: Sendable, Equatable {
    public var id: String
    public var server: String
    public var tool: String
    public var args: JSONValue?
    public init(id: String, server: String, tool: String, args: JSONValue?) {
        (self.id, self.server, self.tool, self.args) = (id, server, tool, args)
    }
}

/// Restarting a server that exited: 1 s, doubling to 30 s; a server that stayed up for a minute
/// starts again from 1 s.
public struct RestartBackoff: Sendable, Equatable {
    public var first: Duration = .seconds(1)
    public var maximum: Duration = .seconds(30)
    public var stableAfter: Duration = .seconds(60)
    public private(set) var failures = 0

    public init() {}

    /// The wait before the next start, after a run of `ranFor`.
    public mutating func next(ranFor: Duration) -> Duration {
        if ranFor >= stableAfter { failures = 0 }
        let d = first * (1 << min(failures, 16))
        failures += 1
        return min(d, maximum)
    }
}

/// Calls waiting for the user's answer, keyed by the session's call id. The screen asks in its
/// tool pane and answers here; a call cancelled meanwhile resumes as refused.
final class ApprovalDesk: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var waiting: [String: CheckedContinuation<Bool, Never>] = [:]
    /// Guarded by `lock`: ids answered or cancelled before their continuation was stored.
    private var early: [String: Bool] = [:]
    /// At most this many calls wait at once; more are refused at once.
    static let maxWaiting = 32

    func ask(_ id: String, announce: @Sendable () -> Void) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let resumeNow: Bool? = lock.withLock {
                    if let answer = early.removeValue(forKey: id) { return answer }
                    if waiting.count >= Self.maxWaiting { return false }
                    waiting[id] = c
                    return nil
                }
                if let resumeNow { c.resume(returning: resumeNow) } else { announce() }
            }
        } onCancel: {
            answer(id, false)
        }
    }

    /// The user's answer (or a cancellation); an id not waiting yet is kept for when it does.
    func answer(_ id: String, _ allowed: Bool) {
        let c: CheckedContinuation<Bool, Never>? = lock.withLock {
            if let c = waiting.removeValue(forKey: id) { return c }
            if early.count < 1_000 { early[id] = allowed }
            return nil
        }
        c?.resume(returning: allowed)
    }

    /// Quitting: every waiting call is refused.
    func refuseAll() {
        let all = lock.withLock { defer { waiting.removeAll() }; return Array(waiting.values) }
        for c in all { c.resume(returning: false) }
    }
}

extension ToolCatalog {
    /// `livetalk tools`: one line per tool — its declared name, where it comes from (built-in or
    /// `server › tool`), whether a call runs at once or asks, and the first line of its description.
    public static func listing(_ registry: ToolRegistry, configs: [MCPServerConfig]) -> [String] {
        let allow = Dictionary(configs.map { ($0.name, $0.allow) }, uniquingKeysWith: { a, _ in a })
        let rows: [[String]] = [["NAME", "FROM", "RUNS", "DESCRIPTION"]] + registry.all.map { t in
            let runs: String = if let s = t.source {
                AllowList.decide(allow: allow[s] ?? [], tool: t.sourceName, declared: t.declaration.name) == .run ? "at once" : "asks"
            } else { "at once" }
            return [t.declaration.name, t.source == nil ? "built-in" : t.label, runs, String(t.summary.prefix(120))]
        }
        let widths = (0..<3).map { i in rows.map { $0[i].count }.max() ?? 0 }
        return rows.map { r in
            (0..<3).map { r[$0] + String(repeating: " ", count: widths[$0] - r[$0].count + 2) }.joined() + r[3]
        }
    }
}
