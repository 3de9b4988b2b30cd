import Emulator
import Foundation
import Speech
import Testing

/// Issue 13: the grammar's phrase is taken when its path scores clearly better per frame than the
/// language model's (`Listener.margin`), even where the language model put words on more frames.
@Suite struct DecisionMarginTests {
    /// One of the asr bench's tuning voices (the emulator's default, Puck): the language model
    /// heard "what does that tell you", its words reaching over frames the grammar put on
    /// silence (under `Listener.coverage`), while the grammar's path scored far better per frame.
    /// (Before the noise floor, "do you know my name" in us m6 was the example.)
    @Test func aGrammarPhraseScoringClearlyBetterIsTaken() async throws {
        let phrase = "what is the time"
        let pad = [Int16](repeating: 0, count: 4800)
        let voice = EspeakVoice(name: "en-us+m3", rate: 165)
        let audio = pad + (try await ReproducibleSpeech.record(phrase, voice: voice)) + pad
        let r = await Listener.recognize(audio, grammar: OfflineAgent.grammar(declarations: []))
        #expect(r.text == phrase && r.source == .grammar, "\(r)")
        let withoutMargin = Listener.decide(r, margin: .infinity)
        #expect(withoutMargin.source == .languageModel && withoutMargin.text != phrase, "\(withoutMargin)")
    }
}
