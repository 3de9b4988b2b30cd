// livetalk-bench asr — the agent's phrases spoken by several espeak-ng voices, recognised by the
// emulator's recogniser (grammar vs language model, as `livetalk serve` does): the matrix of what
// was heard, exact transcripts per voice, tuning voices and held-out ones apart.
import ArgumentParser
import Emulator
import Foundation
import Speech

struct ASRBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "asr",
        abstract: "Recognition across espeak-ng voices: the agent's phrases, exact transcripts per voice (held-out voices marked).")

    @Option(help: "Times each recording is recognised (identical transcripts and scores are checked).") var repeats = 2

    func run() async throws { try await benchASR(repeats: repeats) }
}

/// A voice of the matrix. `heldOut`: never looked at while the recogniser was tuned.
struct MatrixVoice {
    var voice: EspeakVoice
    var label: String
    var heldOut: Bool
}

/// The voices: male and female, US and GB, espeak-ng's plain `en`, 140–190 wpm. The first two are
/// the ones the recogniser was tuned on (the tests' user voice and the emulator's default, Puck).
let asrVoices: [MatrixVoice] = [
    MatrixVoice(voice: EspeakVoice(name: "en-us+f2", rate: 160), label: "us f2 160", heldOut: false),
    MatrixVoice(voice: EspeakVoice(name: "en-us+m3", rate: 165), label: "us m3 165", heldOut: false),
    MatrixVoice(voice: EspeakVoice(name: "en-us+m1", rate: 150, pitch: 38), label: "us m1 150", heldOut: true),
    MatrixVoice(voice: EspeakVoice(name: "en-us+f4", rate: 175, pitch: 66), label: "us f4 175", heldOut: true),
    MatrixVoice(voice: EspeakVoice(name: "en-us+f5", rate: 185), label: "us f5 185", heldOut: true),
    MatrixVoice(voice: EspeakVoice(name: "en-gb+m2", rate: 155, pitch: 42), label: "gb m2 155", heldOut: true),
    MatrixVoice(voice: EspeakVoice(name: "en-gb+f3", rate: 170, pitch: 60), label: "gb f3 170", heldOut: true),
    MatrixVoice(voice: EspeakVoice(name: "en-gb+m4", rate: 190, pitch: 48), label: "gb m4 190", heldOut: true),
    MatrixVoice(voice: EspeakVoice(name: "en", rate: 140), label: "en 140", heldOut: true),
]

/// Instances of every phrase the agent's grammar knows.
let asrPhrases = ["hello", "hi", "good morning", "good evening", "what time is it", "what is the time",
                  "what can you do", "help", "my name is bob", "hello my name is alice", "what is my name",
                  "do you know my name", "tell me my name", "what is the weather in paris",
                  "what is the weather in tokyo", "what is the weather like in london",
                  "repeat after me the sky is blue", "repeat after me i like my dog"]

func benchASR(repeats: Int) async throws {
    let grammar = OfflineAgent.grammar(declarations: [])
    let pad = [Int16](repeating: 0, count: 4800)
    try RecognizerPool.shared.prepare()
    var exact = [Int](repeating: 0, count: asrVoices.count)
    var unstable = 0
    var rows: [String] = []
    let width = 34
    func cell(_ s: String) -> String { s.count >= 12 ? String(s.prefix(11)) + " " : s.padding(toLength: 12, withPad: " ", startingAt: 0) }
    print("# " + "phrase".padding(toLength: width, withPad: " ", startingAt: 0)
          + asrVoices.map { cell($0.label + ($0.heldOut ? "*" : "")) }.joined())
    var misheard: [String] = []
    for phrase in asrPhrases {
        var line = "# " + phrase.padding(toLength: width, withPad: " ", startingAt: 0)
        for (v, mv) in asrVoices.enumerated() {
            let audio = pad + (try await ReproducibleSpeech.record(phrase, voice: mv.voice)) + pad
            var results: [Recognition] = []
            for _ in 0..<max(1, repeats) {
                results.append(await Listener.recognize(audio, grammar: grammar))
            }
            if Set(results).count > 1 { unstable += 1 }
            let heard = results[0].text
            if heard == phrase {
                exact[v] += 1
                line += cell("ok")
            } else {
                line += cell(heard.isEmpty ? "-" : heard)
                misheard.append("\(mv.label): \"\(phrase)\" → \"\(heard)\" (\(results[0].source.rawValue))")
            }
        }
        rows.append(line)
        print(line)
    }
    print("# * held out: not used while tuning")
    for m in misheard { print("# misheard \(m)") }
    let n = asrPhrases.count
    for (v, mv) in asrVoices.enumerated() {
        print(String(format: "# %@%@ %2d of %d exact", mv.label, mv.heldOut ? " (held out)" : "", exact[v], n))
    }
    func percent(_ voices: [Int]) -> Double {
        Double(voices.map { exact[$0] }.reduce(0, +)) / Double(voices.count * n) * 100
    }
    let all = Array(asrVoices.indices)
    report("asr.exact_percent", percent(all), "%")
    report("asr.exact_percent.tuning_voices", percent(all.filter { !asrVoices[$0].heldOut }), "%")
    report("asr.exact_percent.held_out_voices", percent(all.filter { asrVoices[$0].heldOut }), "%")
    report("asr.recordings_with_differing_results", Double(unstable), "recordings")
}
