import Foundation

/// `setupComplete`. Vertex fills `sessionId`.
public struct SetupComplete: Codable, Hashable, Sendable {
    public var sessionId: String?
    public init(sessionId: String? = nil) { self.sessionId = sessionId }
}

/// `goAway`: the server will end this connection after `timeLeft`.
public struct GoAway: Codable, Hashable, Sendable {
    public var timeLeft: ProtoDuration?
    public init(timeLeft: ProtoDuration?) { self.timeLeft = timeLeft }
}

/// `sessionResumptionUpdate`: keep the latest `newHandle` that came with `resumable: true`.
public struct SessionResumptionUpdate: Codable, Hashable, Sendable {
    public var newHandle: String?
    public var resumable: Bool?
    /// int64 as a JSON string (Vertex transparent mode only).
    public var lastConsumedClientMessageIndex: String?

    public init(newHandle: String? = nil, resumable: Bool? = nil) {
        self.newHandle = newHandle
        self.resumable = resumable
    }
}

/// `voiceActivity` (SDK-known): the server's VAD saw speech start or end.
public struct VoiceActivity: Codable, Hashable, Sendable {
    public var type: String?
    public var audioOffset: ProtoDuration?
    public init(type: String?, audioOffset: ProtoDuration? = nil) {
        self.type = type
        self.audioOffset = audioOffset
    }
}

/// `voiceActivityDetectionSignal` (SDK-known, allowlisted).
public struct VoiceActivityDetectionSignal: Codable, Hashable, Sendable {
    public var vadSignalType: String?
}

/// A protobuf `Duration` in its JSON form: decimal seconds with an `s` suffix ("50s", "1.500s").
public struct ProtoDuration: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The exact wire text, kept so re-encoding is byte-identical.
    public let text: String
    public let seconds: Double

    /// The longest duration this type converts to a `Duration`: one day. Peers may send anything;
    /// a goAway "in 1e17 s" means "not soon", never a trap.
    public static let maxSeconds: Double = 86_400

    public init(seconds: Double) {
        let seconds = seconds.isFinite ? min(max(seconds, 0), Self.maxSeconds) : 0
        self.seconds = seconds
        if seconds == seconds.rounded() {
            self.text = "\(Int64(seconds))s"
        } else {
            self.text = String(format: "%.3fs", seconds)
        }
    }

    /// Parses "1.500s"; returns nil on anything else.
    public init?(text: String) {
        guard text.hasSuffix("s"), let v = Double(text.dropLast()), v.isFinite, v >= 0 else { return nil }
        self.text = text
        self.seconds = v
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let d = ProtoDuration(text: s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a protobuf Duration: \"\(s)\"")
        }
        self = d
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }

    /// Clamped to `maxSeconds`.
    public var duration: Duration { .milliseconds(Int64((min(seconds, Self.maxSeconds) * 1000).rounded())) }
    public var description: String { text }
}
