import Foundation
import LiveProtocol

/// A function the model may call: its declaration (sent in `setup`) and its body.
public struct ToolDefinition: Sendable {
    public var declaration: FunctionDeclaration
    /// For NON_BLOCKING tools: how the model should treat the result.
    public var scheduling: FunctionResponseScheduling?
    public var run: @Sendable (JSONValue?) async throws -> JSONValue

    public init(declaration: FunctionDeclaration, scheduling: FunctionResponseScheduling? = nil,
                run: @escaping @Sendable (JSONValue?) async throws -> JSONValue) {
        self.declaration = declaration
        self.scheduling = scheduling
        self.run = run
    }
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
