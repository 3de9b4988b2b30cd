import Foundation
import LiveProtocol

/// One call of a tool, as its body sees it: the session's id for the call (the one its
/// `ToolActivity` events carry) and the model's arguments.
public struct ToolInvocation: Sendable {
    public var id: String
    public var args: JSONValue?
    public init(id: String, args: JSONValue?) {
        self.id = id
        self.args = args
    }
}

/// A function the model may call: its declaration (sent in `setup`) and its body.
public struct ToolDefinition: Sendable {
    public var declaration: FunctionDeclaration
    /// For NON_BLOCKING tools: how the model should treat the result.
    public var scheduling: FunctionResponseScheduling?
    /// Where the tool comes from: nil for a built-in, else the MCP server's name.
    public var source: String?
    /// The tool's own name at its source (an MCP tool declared under a prefixed name keeps it here).
    public var sourceName: String
    /// A one-line description for `livetalk tools`.
    public var summary: String { declaration.description.map { $0.split(separator: "\n").first.map(String.init) ?? "" } ?? "" }
    public var invoke: @Sendable (ToolInvocation) async throws -> JSONValue

    public init(declaration: FunctionDeclaration, scheduling: FunctionResponseScheduling? = nil,
                run: @escaping @Sendable (JSONValue?) async throws -> JSONValue) {
        self.init(declaration: declaration, scheduling: scheduling, source: nil, sourceName: declaration.name) { try await run($0.args) }
    }

    public init(declaration: FunctionDeclaration, scheduling: FunctionResponseScheduling? = nil, source: String?, sourceName: String,
                invoke: @escaping @Sendable (ToolInvocation) async throws -> JSONValue) {
        self.declaration = declaration
        self.scheduling = scheduling
        self.source = source
        self.sourceName = sourceName
        self.invoke = invoke
    }

    /// Runs the body outside a session (tests, `livetalk tools`): a call with no id.
    public func run(_ args: JSONValue?) async throws -> JSONValue { try await invoke(ToolInvocation(id: "", args: args)) }

    /// How the tool pane and line mode name it: `server › tool` for an MCP tool, the name for a built-in.
    public var label: String { source.map { "\($0) › \(sourceName)" } ?? declaration.name }
}

/// A tool body's failure, answered as `{"error": message}`.
public struct ToolFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The tools declared in `setup` and run on `toolCall`.
public struct ToolRegistry: Sendable {
    public private(set) var tools: [String: ToolDefinition] = [:]
    private var order: [String] = []

    public init(_ tools: [ToolDefinition] = []) {
        for t in tools { register(t) }
    }

    public mutating func register(_ tool: ToolDefinition) {
        if tools[tool.declaration.name] == nil { order.append(tool.declaration.name) }
        tools[tool.declaration.name] = tool
    }

    public var declarations: [FunctionDeclaration] { order.compactMap { tools[$0]?.declaration } }

    /// Every tool, in the order registered.
    public var all: [ToolDefinition] { order.compactMap { tools[$0] } }

    public subscript(name: String) -> ToolDefinition? { tools[name] }

    /// Built-in tools: the current time (BLOCKING) and a timer (NON_BLOCKING, answers when it rings).
    public static func builtins(timerScheduling: FunctionResponseScheduling = .whenIdle) -> ToolRegistry {
        ToolRegistry([
            ToolDefinition(
                declaration: FunctionDeclaration(
                    name: "get_current_time",
                    description: "The current local date and time, and the time zone.",
                    parameters: ["type": "OBJECT", "properties": [:]]),
                run: { _ in
                    let f = DateFormatter()
                    f.locale = Locale(identifier: "en_US_POSIX")
                    f.dateFormat = "yyyy-MM-dd HH:mm:ss"
                    return ["time": .string(f.string(from: Date())), "timezone": .string(TimeZone.current.identifier)]
                }),
            ToolDefinition(
                declaration: FunctionDeclaration(
                    name: "start_timer",
                    description: "Start a countdown timer; answers when it rings. Runs in the background.",
                    parameters: ["type": "OBJECT",
                                 "properties": ["seconds": ["type": "NUMBER", "description": "length in seconds"]],
                                 "required": ["seconds"]],
                    behavior: .nonBlocking),
                scheduling: timerScheduling,
                run: { args in
                    let seconds: Double
                    switch args?["seconds"] {
                    case .int(let i)?: seconds = Double(i)
                    case .double(let d)?: seconds = d
                    case .string(let s)?: seconds = Double(s) ?? -1
                    default: seconds = -1
                    }
                    guard seconds >= 0, seconds <= 3600 else {
                        throw ToolFailure("seconds must be a number from 0 to 3600")
                    }
                    try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                    return ["rang_after_seconds": .double(seconds)]
                }),
        ])
    }
}
