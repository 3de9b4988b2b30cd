import Foundation

/// `clientContent`: ordered turns appended to the context; `turnComplete: true` starts generation.
public struct ClientContent: Codable, Hashable, Sendable {
    public var turns: [Content]?
    public var turnComplete: Bool?

    public init(turns: [Content]? = nil, turnComplete: Bool? = nil) {
        self.turns = turns
        self.turnComplete = turnComplete
    }
}

/// `contextUpdate` (SDK 3.x only): replace the system instruction and/or tools mid-session.
public struct ContextUpdate: Codable, Hashable, Sendable {
    public var systemInstruction: Content?
    /// Wrapped so that "clear all tools" (`{"tools": []}`) differs from "no change" (absent).
    public var tools: ToolList?

    public struct ToolList: Codable, Hashable, Sendable {
        public var tools: [Tool]
    }
}
