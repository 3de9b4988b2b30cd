import Foundation

/// Assembles transcription fragments into whole turns. Pure; the session feeds it.
public struct TranscriptAssembler: Sendable {
    private var user = ""
    private var model = ""
    private var modelText = ""

    public init() {}

    public mutating func userFragment(_ s: String) { user += s }
    public mutating func modelTranscript(_ s: String) { model += s }
    public mutating func modelTextPart(_ s: String) { modelText += s }

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
        return t.isEmpty ? nil : TranscriptTurn(role: .model, text: t, turn: turn, interrupted: interrupted)
    }

    public mutating func reset() { self = .init() }

    static func tidy(_ s: String) -> String {
        s.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
    }
}
