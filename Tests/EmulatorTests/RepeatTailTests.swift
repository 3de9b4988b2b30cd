import Emulator
import Foundation
import Speech
import Testing

/// Issue 13: the word loop after "repeat after me" gets a second pass over the audio after "me",
/// rescored with the language model, on the emulator's own grammar.
@Suite struct RepeatTailTests {
    /// Before that pass these came out as "repeat after me sun sky is blue" and "repeat after me i
    /// a like a my dog" (`livetalk-bench asr`, tuning voices).
    @Test(arguments: [("repeat after me the sky is blue", EspeakVoice(name: "en-us+f2", rate: 160)),
                      ("repeat after me i like my dog", EspeakVoice(name: "en-gb+f1", rate: 165, pitch: 55))])
    func repeatAfterMeTailIsDecodedAgain(_ phrase: String, _ voice: EspeakVoice) async throws {
        let pad = [Int16](repeating: 0, count: 4800)
        let audio = pad + (try await ReproducibleSpeech.record(phrase, voice: voice)) + pad
        let r = await Listener.recognize(audio, grammar: OfflineAgent.grammar(declarations: []))
        #expect(r.grammarRescored == phrase, "\(r)")
        #expect(r.text == phrase && r.source == .grammar, "\(r)")
    }

    /// The tail is cut where the grammar put the end of "me", in frames from the start of the
    /// audio: 2 s of silence before the words (push-to-talk pressed early) must not move the cut.
    @Test func leadingSilenceDoesNotMoveTheCut() async throws {
        let phrase = "repeat after me the sky is blue"
        let speech = try await ReproducibleSpeech.record(phrase, voice: EspeakVoice(name: "en-us+f2", rate: 160))
        let audio = [Int16](repeating: 0, count: 32000) + speech + [Int16](repeating: 0, count: 4800)
        let r = await Listener.recognize(audio, grammar: OfflineAgent.grammar(declarations: []))
        #expect(r.grammarRescored == phrase, "\(r)")
    }
}
