import Foundation
import LiveProtocol

/// Everything the session tells the UI, line mode and transcript writer — one stream, in order.
public enum SessionEvent: Sendable {
    /// The state changed (also reports whether a resumption handle is held).
    case state(SessionState, handleHeld: Bool)
    case setupComplete(sessionId: String?)
    /// A fragment of what the user said (server transcription).
    case inputTranscript(String, finished: Bool)
    /// A text the user typed and we sent.
    case userText(String)
    /// A fragment of the model's speech transcription, tagged with its turn.
    case outputTranscript(String, turn: Int)
    /// A model text part (TEXT modality); thoughts come as `.thought`.
    case modelText(String, turn: Int)
    /// A thought summary of the model (`thought: true` parts, with `includeThoughts`): shown
    /// apart (dimmed), never spoken, never part of the turn's text.
    case thought(String, turn: Int)
    /// 24 kHz PCM16 mono of model speech for `turn`.
    case audio(Data, sampleRate: Int, turn: Int)
    /// Stop playing `turn` now and drop what is queued (barge-in). Always before other effects.
    case purge(turn: Int)
    case generationComplete(turn: Int)
    case turnComplete(turn: Int, interrupted: Bool, reason: String?)
    /// A whole turn, assembled from fragments (for transcripts and line mode).
    case turn(TranscriptTurn)
    case tool(ToolActivity)
    case usage(UsageMetadata)
    /// The server will close in `timeLeft`; the session reconnects before then.
    case goAway(timeLeft: Duration)
    case grounding(GroundingMetadata)
    case voiceActivity(String)
    /// Input held while offline was delivered (`count` messages), or dropped for space.
    case replayed(count: Int)
    case inputDropped(count: Int)
    /// A problem that did not end the session (bad frame, unknown message).
    case warning(String)
    /// The session ended for good (`nil` = clean quit).
    case ended(SessionFailure?)
}

/// A tool call's life, with durations.
public enum ToolActivity: Sendable, Hashable {
    case started(id: String, name: String, args: JSONValue?, nonBlocking: Bool)
    case finished(id: String, name: String, result: JSONValue, duration: Duration)
    case failed(id: String, name: String, error: String, duration: Duration)
    case cancelled(id: String, name: String, duration: Duration)

    public var id: String {
        switch self {
        case .started(let id, _, _, _), .finished(let id, _, _, _), .failed(let id, _, _, _), .cancelled(let id, _, _): id
        }
    }
}

/// One finished turn of either side.
public struct TranscriptTurn: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable { case user, model }
    public var role: Role
    public var text: String
    public var turn: Int
    public var interrupted: Bool
    /// The model turn's numbered sources (Google Search grounding); empty for most turns.
    public var citations: [Citation]
    public init(role: Role, text: String, turn: Int, interrupted: Bool = false, citations: [Citation] = []) {
        self.role = role
        self.text = text
        self.turn = turn
        self.interrupted = interrupted
        self.citations = citations
    }
}
