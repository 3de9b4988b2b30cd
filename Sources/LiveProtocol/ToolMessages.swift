import Foundation

/// `toolCall` (server → client): functions the client must run and answer by `id`.
public struct ToolCall: Codable, Hashable, Sendable {
    public var functionCalls: [FunctionCall]
    public init(functionCalls: [FunctionCall]) { self.functionCalls = functionCalls }
}

public struct FunctionCall: Codable, Hashable, Sendable {
    public var id: String?
    /// Empty when the server left it out (a continuation chunk of a streamed call may).
    public var name: String
    public var args: JSONValue?
    /// Vertex: arguments streamed piece by piece; `willContinue` says more chunks of this call follow.
    public var partialArgs: [PartialArg]?
    public var willContinue: Bool?

    public init(id: String?, name: String, args: JSONValue? = nil, partialArgs: [PartialArg]? = nil, willContinue: Bool? = nil) {
        self.id = id
        self.name = name
        self.args = args
        self.partialArgs = partialArgs
        self.willContinue = willContinue
    }

    enum CodingKeys: String, CodingKey { case id, name, args, partialArgs, willContinue }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        args = try c.decodeIfPresent(JSONValue.self, forKey: .args)
        partialArgs = try c.decodeIfPresent([PartialArg].self, forKey: .partialArgs)
        willContinue = try c.decodeIfPresent(Bool.self, forKey: .willContinue)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(id, forKey: .id)
        if !name.isEmpty { try c.encode(name, forKey: .name) }
        try c.encodeIfPresent(args, forKey: .args)
        try c.encodeIfPresent(partialArgs, forKey: .partialArgs)
        try c.encodeIfPresent(willContinue, forKey: .willContinue)
    }
}

/// One piece of a streamed function call's arguments (Vertex): a value at `jsonPath`
/// (`$.location`), and whether more of that value follows (a string arriving in pieces).
public struct PartialArg: Codable, Hashable, Sendable {
    public var jsonPath: String?
    public var stringValue: String?
    public var numberValue: Double?
    public var boolValue: Bool?
    /// `"NULL_VALUE"` when the value is JSON null.
    public var nullValue: String?
    public var willContinue: Bool?

    public init(jsonPath: String?, stringValue: String? = nil, numberValue: Double? = nil, boolValue: Bool? = nil,
                nullValue: String? = nil, willContinue: Bool? = nil) {
        self.jsonPath = jsonPath
        self.stringValue = stringValue
        self.numberValue = numberValue
        self.boolValue = boolValue
        self.nullValue = nullValue
        self.willContinue = willContinue
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
