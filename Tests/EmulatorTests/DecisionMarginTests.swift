import Emulator
import Foundation
import Speech
import Testing

/// Issue 13: the grammar's phrase is taken when its path scores clearly better per frame than the
/// language model's (`Listener.margin`), even where the language model put words on more frames.
@Suite struct DecisionMarginTests {
    /// One of the asr bench's tuning voices: the language model heard "do you go on you", its words
    /// reaching over frames the grammar put on silence (coverage ≈ 0.8, under `Listener.coverage`),
    /// while the grammar's path scored far better per frame.
    @Test func aGrammarPhraseScoringClearlyBetterIsTaken() async throws {
        let phrase = "do you know my name"
        let pad = [Int16](repeating: 0, count: 4800)
        let voice = EspeakVoice(name: "en-us+m6", rate: 160, pitch: 45)
        let audio = pad + (try await ReproducibleSpeech.record(phrase, voice: voice)) + pad
        let r = await Listener.recognize(audio, grammar: OfflineAgent.grammar(declarations: []))
        #expect(r.text == phrase && r.source == .grammar, "\(r)")
        let withoutMargin = Listener.decide(r, margin: .infinity)
        #expect(withoutMargin.source == .languageModel && withoutMargin.text != phrase, "\(withoutMargin)")
    }
}
