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
    /// The language the words were recognised in (BCP-47, e.g. `en-US`), when the server says.
    public var languageCode: String?
    public init(text: String?, finished: Bool? = nil, languageCode: String? = nil) {
        self.text = text
        self.finished = finished
        self.languageCode = languageCode
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
            /// The source's domain (the URI may be a redirect through Google).
            public var domain: String?
            public init(uri: String? = nil, title: String? = nil, domain: String? = nil) {
                self.uri = uri
                self.title = title
                self.domain = domain
            }
        }
        public init(web: Web? = nil) { self.web = web }
    }

    public struct SearchEntryPoint: Codable, Hashable, Sendable {
        public var renderedContent: String?
        public init(renderedContent: String? = nil) { self.renderedContent = renderedContent }
    }

    public init(webSearchQueries: [String]? = nil, groundingChunks: [GroundingChunk]? = nil,
                searchEntryPoint: SearchEntryPoint? = nil, groundingSupports: JSONValue? = nil) {
        self.webSearchQueries = webSearchQueries
        self.groundingChunks = groundingChunks
        self.searchEntryPoint = searchEntryPoint
        self.groundingSupports = groundingSupports
    }
}

public struct TurnCompleteReason: OpenEnum {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let needMoreInput = TurnCompleteReason(rawValue: "NEED_MORE_INPUT")
    public static let malformedFunctionCall = TurnCompleteReason(rawValue: "MALFORMED_FUNCTION_CALL")
    public static let responseRejected = TurnCompleteReason(rawValue: "RESPONSE_REJECTED")

    /// Every value google-genai 3.6.1 knows (`types.TurnCompleteReason`); others decode too (open enum).
    public static let known: [String] = [
        "TURN_COMPLETE_REASON_UNSPECIFIED", "MALFORMED_FUNCTION_CALL", "RESPONSE_REJECTED", "NEED_MORE_INPUT",
        "PROHIBITED_INPUT_CONTENT", "IMAGE_PROHIBITED_INPUT_CONTENT", "INPUT_TEXT_CONTAIN_PROMINENT_PERSON_PROHIBITED",
        "INPUT_IMAGE_CELEBRITY", "INPUT_IMAGE_PHOTO_REALISTIC_CHILD_PROHIBITED", "INPUT_TEXT_NCII_PROHIBITED",
        "INPUT_OTHER", "INPUT_IP_PROHIBITED", "BLOCKLIST", "UNSAFE_PROMPT_FOR_IMAGE_GENERATION",
        "GENERATED_IMAGE_SAFETY", "GENERATED_CONTENT_SAFETY", "GENERATED_AUDIO_SAFETY", "GENERATED_VIDEO_SAFETY",
        "GENERATED_CONTENT_PROHIBITED", "GENERATED_CONTENT_BLOCKLIST", "GENERATED_IMAGE_PROHIBITED",
        "GENERATED_IMAGE_CELEBRITY", "GENERATED_IMAGE_PROMINENT_PEOPLE_DETECTED_BY_REWRITER",
        "GENERATED_IMAGE_IDENTIFIABLE_PEOPLE", "GENERATED_IMAGE_MINORS", "OUTPUT_IMAGE_IP_PROHIBITED",
        "GENERATED_OTHER", "MAX_REGENERATION_REACHED",
    ]

    /// Whether the turn ended because something was refused or blocked (not a normal end).
    public var isBlocked: Bool {
        rawValue != "TURN_COMPLETE_REASON_UNSPECIFIED" && rawValue != "NEED_MORE_INPUT"
    }
}
