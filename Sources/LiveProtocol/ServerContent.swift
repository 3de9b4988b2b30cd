import Foundation

/// `serverContent` (PROTOCOL.md §4.2). Any combination of fields may arrive in one message;
/// clients must process every field, and `interrupted` first.
public struct ServerContent: Codable, Hashable, Sendable {
    public var modelTurn: Content?
    public var generationComplete: Bool?
    public var turnComplete: Bool?
    public var interrupted: Bool?
    public var inputTranscription: Transcription?
    public var outputTranscription: Transcription?
    public var interimInputTranscription: Transcription?
    public var groundingMetadata: GroundingMetadata?
    public var urlContextMetadata: JSONValue?
    public var waitingForInput: Bool?
    public var turnCompleteReason: TurnCompleteReason?
    public var interactionStatus: String?

    public init(modelTurn: Content? = nil, generationComplete: Bool? = nil, turnComplete: Bool? = nil,
                interrupted: Bool? = nil, inputTranscription: Transcription? = nil,
                outputTranscription: Transcription? = nil, groundingMetadata: GroundingMetadata? = nil,
                waitingForInput: Bool? = nil, turnCompleteReason: TurnCompleteReason? = nil) {
        self.modelTurn = modelTurn
        self.generationComplete = generationComplete
        self.turnComplete = turnComplete
        self.interrupted = interrupted
        self.inputTranscription = inputTranscription
        self.outputTranscription = outputTranscription
        self.groundingMetadata = groundingMetadata
        self.waitingForInput = waitingForInput
        self.turnCompleteReason = turnCompleteReason
    }
}

public struct Transcription: Codable, Hashable, Sendable {
    public var text: String?
    public var finished: Bool?
    public init(text: String?, finished: Bool? = nil) {
        self.text = text
        self.finished = finished
    }
}

public struct GroundingMetadata: Codable, Hashable, Sendable {
    public var webSearchQueries: [String]?
    public var groundingChunks: [GroundingChunk]?
    public var searchEntryPoint: SearchEntryPoint?
    public var groundingSupports: JSONValue?

    public struct GroundingChunk: Codable, Hashable, Sendable {
        public var web: Web?
        public struct Web: Codable, Hashable, Sendable {
            public var uri: String?
            public var title: String?
        }
    }

    public struct SearchEntryPoint: Codable, Hashable, Sendable {
        public var renderedContent: String?
    }
}

public struct TurnCompleteReason: OpenEnum {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let needMoreInput = TurnCompleteReason(rawValue: "NEED_MORE_INPUT")
    public static let malformedFunctionCall = TurnCompleteReason(rawValue: "MALFORMED_FUNCTION_CALL")
    public static let responseRejected = TurnCompleteReason(rawValue: "RESPONSE_REJECTED")
}
