import Foundation

/// `toolCall` (server → client): functions the client must run and answer by `id`.
public struct ToolCall: Codable, Hashable, Sendable {
    public var functionCalls: [FunctionCall]
    public init(functionCalls: [FunctionCall]) { self.functionCalls = functionCalls }
}

public struct FunctionCall: Codable, Hashable, Sendable {
    public var id: String?
    public var name: String
    public var args: JSONValue?
    public init(id: String?, name: String, args: JSONValue? = nil) {
        self.id = id
        self.name = name
        self.args = args
    }
}

/// `toolCallCancellation` (server → client): calls to abandon; never answer them.
public struct ToolCallCancellation: Codable, Hashable, Sendable {
    public var ids: [String]
    public init(ids: [String]) { self.ids = ids }
}

/// `toolResponse` (client → server).
public struct ToolResponse: Codable, Hashable, Sendable {
    public var functionResponses: [FunctionResponse]
    public init(functionResponses: [FunctionResponse]) { self.functionResponses = functionResponses }
}

public struct FunctionResponse: Codable, Hashable, Sendable {
    public var id: String?
    public var name: String?
    /// Free-form; an `"error"` key reports a failure.
    public var response: JSONValue?
    /// NON_BLOCKING only: more responses for this id follow.
    public var willContinue: Bool?
    /// NON_BLOCKING only; default WHEN_IDLE.
    public var scheduling: FunctionResponseScheduling?

    public init(id: String?, name: String?, response: JSONValue?, willContinue: Bool? = nil,
                scheduling: FunctionResponseScheduling? = nil) {
        self.id = id
        self.name = name
        self.response = response
        self.willContinue = willContinue
        self.scheduling = scheduling
    }
}

public struct FunctionResponseScheduling: OpenEnum {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let silent = FunctionResponseScheduling(rawValue: "SILENT")
    public static let whenIdle = FunctionResponseScheduling(rawValue: "WHEN_IDLE")
    public static let interrupt = FunctionResponseScheduling(rawValue: "INTERRUPT")
}
