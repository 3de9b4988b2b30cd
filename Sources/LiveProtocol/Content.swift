import Foundation

/// `Content`: a role and its parts — turns, system instructions, model output.
public struct Content: Codable, Hashable, Sendable {
    public var role: String?
    public var parts: [Part]?

    public init(role: String? = nil, parts: [Part]? = nil) {
        self.role = role
        self.parts = parts
    }

    public static func user(_ text: String) -> Content { Content(role: "user", parts: [Part(text: text)]) }

    /// The concatenated text of every non-thought text part.
    public var text: String {
        (parts ?? []).filter { $0.thought != true }.compactMap(\.text).joined()
    }
}

/// One `Part` of a `Content`. Exactly one payload field is normally set.
public struct Part: Codable, Hashable, Sendable {
    public var text: String?
    /// `true` marks a thought summary; clients keep these out of transcripts.
    public var thought: Bool?
    public var inlineData: Blob?
    public var fileData: FileData?
    public var functionCall: FunctionCall?
    public var functionResponse: FunctionResponse?
    public var executableCode: ExecutableCode?
    public var codeExecutionResult: CodeExecutionResult?
    /// An opaque signature of the model's thinking (Gemini 3.x), base64 on the wire. Kept as
    /// received: a client that sends the model's turns back (history) must send it with them.
    public var thoughtSignature: Data?

    public init(text: String? = nil, thought: Bool? = nil, inlineData: Blob? = nil, fileData: FileData? = nil,
                functionCall: FunctionCall? = nil, functionResponse: FunctionResponse? = nil,
                executableCode: ExecutableCode? = nil, codeExecutionResult: CodeExecutionResult? = nil,
                thoughtSignature: Data? = nil) {
        self.thoughtSignature = thoughtSignature
        self.text = text
        self.thought = thought
        self.inlineData = inlineData
        self.fileData = fileData
        self.functionCall = functionCall
        self.functionResponse = functionResponse
        self.executableCode = executableCode
        self.codeExecutionResult = codeExecutionResult
    }
}

/// Inline bytes with a MIME type (`audio/pcm;rate=16000`, `image/jpeg`, …).
/// On the wire `data` is base64 (standard alphabet from us; either alphabet accepted by the emulator).
public struct Blob: Codable, Hashable, Sendable {
    public var mimeType: String?
    public var data: Data

    public init(mimeType: String?, data: Data) {
        self.mimeType = mimeType
        self.data = data
    }

    public static let pcm16kMime = "audio/pcm;rate=16000"
    public static let pcm24kMime = "audio/pcm;rate=24000"

    /// The sample rate declared in an `audio/pcm;rate=N` MIME type, if any: the digits after the
    /// first `rate=` (nil when there are none, or too many for an `Int`).
    public var sampleRate: Int? {
        guard let mimeType else { return nil }
        // Asked for every model audio chunk: for ASCII a byte search finds what Foundation's
        // `range(of:)` finds, without bridging to NSString (0.7 % of the client while streaming).
        let key: Range<String.Index>?
        if mimeType.utf8.allSatisfy({ $0 < 0x80 }) {
            key = mimeType.utf8.firstRange(of: "rate=".utf8)
        } else {
            key = mimeType.range(of: "rate=")
        }
        guard let key else { return nil }
        return Int(mimeType[key.upperBound...].prefix { $0.isNumber })
    }
}

public struct FileData: Codable, Hashable, Sendable {
    public var mimeType: String?
    public var fileUri: String
}

public struct ExecutableCode: Codable, Hashable, Sendable {
    public var language: String?
    public var code: String?
}

public struct CodeExecutionResult: Codable, Hashable, Sendable {
    public var outcome: String?
    public var output: String?
}
