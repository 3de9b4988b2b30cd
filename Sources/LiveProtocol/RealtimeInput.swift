import Foundation

/// `realtimeInput`: streaming input. Exactly one field is set per message.
public struct RealtimeInput: Codable, Hashable, Sendable {
    /// 16-bit LE mono PCM, rate in the MIME type.
    public var audio: Blob?
    /// One image frame (`image/*`).
    public var video: Blob?
    public var text: String?
    /// Only with automatic activity detection disabled.
    public var activityStart: EmptyObject?
    public var activityEnd: EmptyObject?
    /// The microphone stopped; flushes the server's buffered audio (automatic VAD only).
    public var audioStreamEnd: Bool?
    /// Deprecated form; only the first element counts.
    public var mediaChunks: [Blob]?

    public init(audio: Blob? = nil, video: Blob? = nil, text: String? = nil, activityStart: EmptyObject? = nil,
                activityEnd: EmptyObject? = nil, audioStreamEnd: Bool? = nil, mediaChunks: [Blob]? = nil) {
        self.audio = audio
        self.video = video
        self.text = text
        self.activityStart = activityStart
        self.activityEnd = activityEnd
        self.audioStreamEnd = audioStreamEnd
        self.mediaChunks = mediaChunks
    }

    public static func audio(pcm16k: Data) -> RealtimeInput { RealtimeInput(audio: Blob(mimeType: Blob.pcm16kMime, data: pcm16k)) }
    public static func image(jpeg: Data) -> RealtimeInput { RealtimeInput(video: Blob(mimeType: "image/jpeg", data: jpeg)) }
    public static func text(_ text: String) -> RealtimeInput { RealtimeInput(text: text) }
    public static let activityStart = RealtimeInput(activityStart: EmptyObject())
    public static let activityEnd = RealtimeInput(activityEnd: EmptyObject())
    public static let audioStreamEnd = RealtimeInput(audioStreamEnd: true)

    /// The audio blob of this message, also from the deprecated `mediaChunks` form.
    public var audioBlob: Blob? {
        if let audio { return audio }
        if let first = mediaChunks?.first, first.mimeType?.hasPrefix("audio/") == true { return first }
        return nil
    }
}
