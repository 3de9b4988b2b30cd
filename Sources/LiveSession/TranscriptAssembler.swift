import Foundation
import LiveProtocol

/// Assembles transcription fragments into whole turns. Pure; the session feeds it.
public struct TranscriptAssembler: Sendable {
    private var user = ""
    private var model = ""
    private var modelText = ""
    /// The current model turn's sources (bounded, see `CitationList`).
    private var sources = CitationList()
    /// Characters of one side's turn kept at most; a server that never ends a turn cannot grow
    /// it without bound. What is cut is counted in `truncatedCharacters`.
    public static let maxTurnCharacters = 32_000
    public private(set) var truncatedCharacters = 0

    public init() {}

    public mutating func userFragment(_ s: String) { Self.append(s, to: &user, cut: &truncatedCharacters) }
    public mutating func modelTranscript(_ s: String) { Self.append(s, to: &model, cut: &truncatedCharacters) }
    public mutating func modelTextPart(_ s: String) { Self.append(s, to: &modelText, cut: &truncatedCharacters) }
    public mutating func grounding(_ g: GroundingMetadata) { sources.add(g) }
    /// Sources dropped over `CitationList.maxPerTurn` in the current turn.
    public var droppedCitations: Int { sources.dropped }

    static func append(_ s: String, to text: inout String, cut: inout Int) {
        let room = maxTurnCharacters - text.count
        if s.count <= room {
            text += s
        } else {
            if room > 0 { text += s.prefix(room) }
            cut += s.count - max(0, room)
        }
    }

    /// The user's words so far, if any, as a finished turn (called when the model starts or the turn ends).
    public mutating func takeUser(turn: Int) -> TranscriptTurn? {
        let t = Self.tidy(user)
        user = ""
        return t.isEmpty ? nil : TranscriptTurn(role: .user, text: t, turn: turn)
    }

    /// The model's turn: the transcription of its speech, else its text parts.
    public mutating func takeModel(turn: Int, interrupted: Bool) -> TranscriptTurn? {
        let t = Self.tidy(model.isEmpty ? modelText : model)
        model = ""
        modelText = ""
        let cited = sources.take()
        sources = CitationList()
        return t.isEmpty && cited.isEmpty ? nil : TranscriptTurn(role: .model, text: t, turn: turn, interrupted: interrupted, citations: cited)
    }

    public mutating func reset() {
        let cut = truncatedCharacters
        self = .init()
        truncatedCharacters = cut
    }

    static func tidy(_ s: String) -> String {
        s.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
    }
}
