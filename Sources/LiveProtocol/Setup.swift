import Foundation

/// `setup`: the first client message of every connection. Fixed for the connection's life;
/// to change it, reconnect with a resumption handle (PROTOCOL.md §2, §3.1).
public struct Setup: Codable, Hashable, Sendable {
    /// `models/{id}`, or a Vertex resource name `projects/…/publishers/google/models/{id}`.
    public var model: String
    public var generationConfig: GenerationConfig?
    public var systemInstruction: Content?
    public var tools: [Tool]?
    public var realtimeInputConfig: RealtimeInputConfig?
    /// `{}` asks for resumption handles; `{"handle": …}` resumes.
    public var sessionResumption: SessionResumptionConfig?
    public var contextWindowCompression: ContextWindowCompression?
    public var inputAudioTranscription: AudioTranscriptionConfig?
    public var outputAudioTranscription: AudioTranscriptionConfig?
    public var proactivity: ProactivityConfig?
    public var historyConfig: HistoryConfig?
    /// Vertex only.
    public var explicitVadSignal: Bool?

    public init(model: String, generationConfig: GenerationConfig? = nil, systemInstruction: Content? = nil,
                tools: [Tool]? = nil, realtimeInputConfig: RealtimeInputConfig? = nil,
                sessionResumption: SessionResumptionConfig? = nil,
                contextWindowCompression: ContextWindowCompression? = nil,
                inputAudioTranscription: AudioTranscriptionConfig? = nil,
                outputAudioTranscription: AudioTranscriptionConfig? = nil,
                proactivity: ProactivityConfig? = nil, historyConfig: HistoryConfig? = nil,
                explicitVadSignal: Bool? = nil) {
        self.model = model
        self.generationConfig = generationConfig
        self.systemInstruction = systemInstruction
        self.tools = tools
        self.realtimeInputConfig = realtimeInputConfig
        self.sessionResumption = sessionResumption
        self.contextWindowCompression = contextWindowCompression
        self.inputAudioTranscription = inputAudioTranscription
        self.outputAudioTranscription = outputAudioTranscription
        self.proactivity = proactivity
        self.historyConfig = historyConfig
        self.explicitVadSignal = explicitVadSignal
    }

    /// Whether the server decides turn ends (automatic VAD) — the default.
    public var automaticActivityDetection: Bool {
        realtimeInputConfig?.automaticActivityDetection?.disabled != true
    }

    /// All declared functions across `tools`.
    public var functionDeclarations: [FunctionDeclaration] {
        (tools ?? []).flatMap { $0.functionDeclarations ?? [] }
    }
}

public struct GenerationConfig: Codable, Hashable, Sendable {
    public var responseModalities: [Modality]?
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var maxOutputTokens: Int?
    public var seed: Int?
    public var candidateCount: Int?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    public var mediaResolution: MediaResolution?
    public var speechConfig: SpeechConfig?
    public var thinkingConfig: ThinkingConfig?
    public var enableAffectiveDialog: Bool?

    public init(responseModalities: [Modality]? = nil, temperature: Double? = nil, topP: Double? = nil,
                topK: Int? = nil, maxOutputTokens: Int? = nil, seed: Int? = nil, candidateCount: Int? = nil,
                presencePenalty: Double? = nil, frequencyPenalty: Double? = nil,
                mediaResolution: MediaResolution? = nil, speechConfig: SpeechConfig? = nil,
                thinkingConfig: ThinkingConfig? = nil, enableAffectiveDialog: Bool? = nil) {
        self.responseModalities = responseModalities
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.maxOutputTokens = maxOutputTokens
        self.seed = seed
        self.candidateCount = candidateCount
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.mediaResolution = mediaResolution
        self.speechConfig = speechConfig
        self.thinkingConfig = thinkingConfig
        self.enableAffectiveDialog = enableAffectiveDialog
    }
}

public struct Modality: OpenEnum {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let audio = Modality(rawValue: "AUDIO")
    public static let text = Modality(rawValue: "TEXT")
    public static let image = Modality(rawValue: "IMAGE")
    public static let video = Modality(rawValue: "VIDEO")
    public static let document = Modality(rawValue: "DOCUMENT")
}

public struct MediaResolution: OpenEnum {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let low = MediaResolution(rawValue: "MEDIA_RESOLUTION_LOW")
    public static let medium = MediaResolution(rawValue: "MEDIA_RESOLUTION_MEDIUM")
    public static let high = MediaResolution(rawValue: "MEDIA_RESOLUTION_HIGH")
}

public struct SpeechConfig: Codable, Hashable, Sendable {
    public var voiceConfig: VoiceConfig?
    public var languageCode: String?
    public init(voiceName: String?, languageCode: String? = nil) {
        self.voiceConfig = voiceName.map { VoiceConfig(prebuiltVoiceConfig: .init(voiceName: $0)) }
        self.languageCode = languageCode
    }
    public var voiceName: String? { voiceConfig?.prebuiltVoiceConfig?.voiceName }
}

public struct VoiceConfig: Codable, Hashable, Sendable {
    public var prebuiltVoiceConfig: PrebuiltVoiceConfig?
}

public struct PrebuiltVoiceConfig: Codable, Hashable, Sendable {
    public var voiceName: String?
}

public struct ThinkingConfig: Codable, Hashable, Sendable {
    public var thinkingBudget: Int?
    /// Gemini 3.x: `MINIMAL`, `LOW`, `MEDIUM`, `HIGH` (`XHIGH` in google-genai 3.6), as the SDK
    /// sends them; instead of `thinkingBudget`.
    public var thinkingLevel: String?
    public var includeThoughts: Bool?
    public init(thinkingBudget: Int? = nil, thinkingLevel: String? = nil, includeThoughts: Bool? = nil) {
        self.thinkingBudget = thinkingBudget
        self.thinkingLevel = thinkingLevel
        self.includeThoughts = includeThoughts
    }
}

/// One entry of `setup.tools`.
public struct Tool: Codable, Hashable, Sendable {
    public var functionDeclarations: [FunctionDeclaration]?
    public var googleSearch: EmptyObject?
    public var codeExecution: EmptyObject?
    public var urlContext: EmptyObject?

    public init(functionDeclarations: [FunctionDeclaration]? = nil, googleSearch: EmptyObject? = nil,
                codeExecution: EmptyObject? = nil, urlContext: EmptyObject? = nil) {
        self.functionDeclarations = functionDeclarations
        self.googleSearch = googleSearch
        self.codeExecution = codeExecution
        self.urlContext = urlContext
    }
}

public struct FunctionDeclaration: Codable, Hashable, Sendable {
    public var name: String
    public var description: String?
    /// OpenAPI-subset schema (`type: "OBJECT"`) — mutually exclusive with `parametersJsonSchema`.
    public var parameters: JSONValue?
    /// Plain JSON Schema.
    public var parametersJsonSchema: JSONValue?
    public var behavior: FunctionBehavior?
    /// What the function returns: OpenAPI-subset schema, or plain JSON Schema (`responseJsonSchema`).
    public var response: JSONValue?
    public var responseJsonSchema: JSONValue?

    public init(name: String, description: String? = nil, parameters: JSONValue? = nil,
                parametersJsonSchema: JSONValue? = nil, behavior: FunctionBehavior? = nil,
                response: JSONValue? = nil, responseJsonSchema: JSONValue? = nil) {
        self.response = response
        self.responseJsonSchema = responseJsonSchema
        self.name = name
        self.description = description
        self.parameters = parameters
        self.parametersJsonSchema = parametersJsonSchema
        self.behavior = behavior
    }

    public var isNonBlocking: Bool { behavior == .nonBlocking }
}

public struct FunctionBehavior: OpenEnum {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let blocking = FunctionBehavior(rawValue: "BLOCKING")
    public static let nonBlocking = FunctionBehavior(rawValue: "NON_BLOCKING")
}

/// `realtimeInputConfig` (PROTOCOL.md §5.2).
public struct RealtimeInputConfig: Codable, Hashable, Sendable {
    public var automaticActivityDetection: AutomaticActivityDetection?
    public var activityHandling: ActivityHandling?
    public var turnCoverage: TurnCoverage?

    public init(automaticActivityDetection: AutomaticActivityDetection? = nil,
                activityHandling: ActivityHandling? = nil, turnCoverage: TurnCoverage? = nil) {
        self.automaticActivityDetection = automaticActivityDetection
        self.activityHandling = activityHandling
        self.turnCoverage = turnCoverage
    }
}

public struct AutomaticActivityDetection: Codable, Hashable, Sendable {
    public var disabled: Bool?
    public var startOfSpeechSensitivity: StartSensitivity?
    public var endOfSpeechSensitivity: EndSensitivity?
    public var prefixPaddingMs: Int?
    public var silenceDurationMs: Int?

    public init(disabled: Bool? = nil, startOfSpeechSensitivity: StartSensitivity? = nil,
                endOfSpeechSensitivity: EndSensitivity? = nil, prefixPaddingMs: Int? = nil,
                silenceDurationMs: Int? = nil) {
        self.disabled = disabled
        self.startOfSpeechSensitivity = startOfSpeechSensitivity
        self.endOfSpeechSensitivity = endOfSpeechSensitivity
        self.prefixPaddingMs = prefixPaddingMs
        self.silenceDurationMs = silenceDurationMs
    }
}

public struct StartSensitivity: OpenEnum {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let unspecified = StartSensitivity(rawValue: "START_SENSITIVITY_UNSPECIFIED")
    public static let high = StartSensitivity(rawValue: "START_SENSITIVITY_HIGH")
    public static let low = StartSensitivity(rawValue: "START_SENSITIVITY_LOW")
}

public struct EndSensitivity: OpenEnum {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let unspecified = EndSensitivity(rawValue: "END_SENSITIVITY_UNSPECIFIED")
    public static let high = EndSensitivity(rawValue: "END_SENSITIVITY_HIGH")
    public static let low = EndSensitivity(rawValue: "END_SENSITIVITY_LOW")
}

public struct ActivityHandling: OpenEnum {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let unspecified = ActivityHandling(rawValue: "ACTIVITY_HANDLING_UNSPECIFIED")
    public static let startOfActivityInterrupts = ActivityHandling(rawValue: "START_OF_ACTIVITY_INTERRUPTS")
    public static let noInterruption = ActivityHandling(rawValue: "NO_INTERRUPTION")
}

public struct TurnCoverage: OpenEnum {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let unspecified = TurnCoverage(rawValue: "TURN_COVERAGE_UNSPECIFIED")
    public static let onlyActivity = TurnCoverage(rawValue: "TURN_INCLUDES_ONLY_ACTIVITY")
    public static let allInput = TurnCoverage(rawValue: "TURN_INCLUDES_ALL_INPUT")
    public static let audioActivityAndAllVideo = TurnCoverage(rawValue: "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO")
}

public struct SessionResumptionConfig: Codable, Hashable, Sendable {
    public var handle: String?
    /// Vertex only.
    public var transparent: Bool?
    public init(handle: String? = nil, transparent: Bool? = nil) {
        self.handle = handle
        self.transparent = transparent
    }
}

public struct ContextWindowCompression: Codable, Hashable, Sendable {
    public var triggerTokens: Int?
    public var slidingWindow: SlidingWindow?
    public init(triggerTokens: Int? = nil, slidingWindow: SlidingWindow? = nil) {
        self.triggerTokens = triggerTokens
        self.slidingWindow = slidingWindow
    }
}

public struct SlidingWindow: Codable, Hashable, Sendable {
    public var targetTokens: Int?
    public init(targetTokens: Int? = nil) { self.targetTokens = targetTokens }
}

/// Presence (`{}`) switches transcription on.
public struct AudioTranscriptionConfig: Codable, Hashable, Sendable {
    public var languageCodes: [String]?
    public init(languageCodes: [String]? = nil) { self.languageCodes = languageCodes }
}

public struct ProactivityConfig: Codable, Hashable, Sendable {
    public var proactiveAudio: Bool?
    /// google-genai 3.6 (UNCONFIRMED on the service).
    public var proactiveVideo: Bool?
    public init(proactiveAudio: Bool? = nil, proactiveVideo: Bool? = nil) {
        self.proactiveAudio = proactiveAudio
        self.proactiveVideo = proactiveVideo
    }
}

public struct HistoryConfig: Codable, Hashable, Sendable {
    public var initialHistoryInClientContent: Bool?
}
