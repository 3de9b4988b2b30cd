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

/// The voices: male and female, US and GB, espeak-ng's plain `en`, 140–190 wpm. The recogniser
/// was tuned on the first two (the tests' user voice and the emulator's default, Puck) and, from
/// issue 13's front-end and decision work on, on the six after them (variants no other row uses);
/// the seven marked held out were only measured.
let asrVoices: [MatrixVoice] = [
    MatrixVoice(voice: EspeakVoice(name: "en-us+f2", rate: 160), label: "us f2 160", heldOut: false),
    MatrixVoice(voice: EspeakVoice(name: "en-us+m3", rate: 165), label: "us m3 165", heldOut: false),
    MatrixVoice(voice: EspeakVoice(name: "en-us+m7", rate: 170), label: "us m7 170", heldOut: false),
    MatrixVoice(voice: EspeakVoice(name: "en-us+f1", rate: 155, pitch: 58), label: "us f1 155", heldOut: false),
    MatrixVoice(voice: EspeakVoice(name: "en-gb+f1", rate: 165, pitch: 55), label: "gb f1 165", heldOut: false),
    MatrixVoice(voice: EspeakVoice(name: "en-gb+m5", rate: 175, pitch: 45), label: "gb m5 175", heldOut: false),
    MatrixVoice(voice: EspeakVoice(name: "en-us+m6", rate: 160, pitch: 45), label: "us m6 160", heldOut: false),
    MatrixVoice(voice: EspeakVoice(name: "en-gb+f2", rate: 180, pitch: 62), label: "gb f2 180", heldOut: false),
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

/// Sentences outside the grammar: the recogniser should not force them onto an agent phrase.
let asrOutOfGrammar = ["please call my mother", "turn on the kitchen lights", "i would like a cup of coffee",
                       "the train leaves at noon"]

/// What `Listener.decide` would choose with `tolerance` and `coverage` (README "Emulator speech").
func decided(_ r: Recognition, tolerance: Double, coverage: Double) -> String {
    Listener.decide(r, tolerance: tolerance, coverage: coverage).text
}

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
    var all: [(voice: Int, phrase: String, r: Recognition)] = []
    var unstableList: [String] = []
    for phrase in asrPhrases {
        var line = "# " + phrase.padding(toLength: width, withPad: " ", startingAt: 0)
        for (v, mv) in asrVoices.enumerated() {
            let audio = pad + (try await ReproducibleSpeech.record(phrase, voice: mv.voice)) + pad
            var results: [Recognition] = []
            for _ in 0..<max(1, repeats) {
                results.append(await Listener.recognize(audio, grammar: grammar))
            }
            if Set(results).count > 1 {
                unstable += 1
                unstableList.append("\(mv.label) \"\(phrase)\": \(Set(results.map(\.text)))")
            }
            all.append((v, phrase, results[0]))
            let heard = results[0].text
            if heard == phrase {
                exact[v] += 1
                line += cell("ok")
            } else {
                line += cell(heard.isEmpty ? "-" : heard)
                let r = results[0]
                misheard.append("\(mv.label): \"\(phrase)\" → \"\(heard)\" (\(r.source.rawValue); grammar \"\(r.grammarHypothesis ?? "")\""
                                + (r.grammarRescored.map { ", rescored \"\($0)\"" } ?? "")
                                + ", language model \"\(r.languageModelHypothesis ?? "")\")")
            }
        }
        rows.append(line)
        print(line)
    }
    print("# * held out: not used while tuning")
    // Out-of-grammar sentences, for the false accepts of each tolerance.
    var outside: [(voice: Int, r: Recognition)] = []
    for sentence in asrOutOfGrammar {
        for (v, mv) in asrVoices.enumerated() {
            let audio = pad + (try await ReproducibleSpeech.record(sentence, voice: mv.voice)) + pad
            outside.append((v, await Listener.recognize(audio, grammar: grammar)))
        }
    }
    print("# tolerance (grammar score per frame may trail the language model's by) and coverage (least share of the language model's word frames the grammar's words cover): exact on tuning / held-out voices, out-of-grammar sentences forced onto a phrase (tuning / held-out)")
    var forcedInUse = 0
    for cov in [0.0, 0.7, 0.8, 0.9] {
        for tol in [2.0, 4, 6, 8, 10] {
            func exactPct(_ heldOut: Bool) -> Double {
                let xs = all.filter { asrVoices[$0.voice].heldOut == heldOut }
                return Double(xs.filter { decided($0.r, tolerance: tol, coverage: cov) == $0.phrase }.count) / Double(max(1, xs.count)) * 100
            }
            func forced(_ heldOut: Bool) -> Int {
                outside.filter { asrVoices[$0.voice].heldOut == heldOut }.filter { r in
                    r.r.grammarHypothesis != nil && decided(r.r, tolerance: tol, coverage: cov) == r.r.grammarHypothesis
                }.count
            }
            let inUse = tol == Listener.tolerance && cov == Listener.coverage
            if inUse { forcedInUse = forced(false) + forced(true) }
            let held = outside.filter { asrVoices[$0.voice].heldOut }.count
            print(String(format: "#   %4.0f %4.1f%@: %5.1f %% / %5.1f %%, forced %d of %d / %d of %d", tol, cov,
                         inUse ? " (in use)" : "         ", exactPct(false), exactPct(true),
                         forced(false), outside.count - held, forced(true), held))
        }
    }
    for u in unstableList { print("# differing results for one recording: \(u)") }
    for m in misheard { print("# misheard \(m)") }
    let n = asrPhrases.count
    for (v, mv) in asrVoices.enumerated() {
        print(String(format: "# %@%@ %2d of %d exact", mv.label, mv.heldOut ? " (held out)" : "", exact[v], n))
    }
    func percent(_ voices: [Int]) -> Double {
        Double(voices.map { exact[$0] }.reduce(0, +)) / Double(voices.count * n) * 100
    }
    let voices = Array(asrVoices.indices)
    report("asr.exact_percent", percent(voices), "%")
    report("asr.exact_percent.tuning_voices", percent(voices.filter { !asrVoices[$0].heldOut }), "%")
    report("asr.exact_percent.held_out_voices", percent(voices.filter { asrVoices[$0].heldOut }), "%")
    report("asr.recordings_with_differing_results", Double(unstable), "recordings")
    print("# out-of-grammar sentences forced onto a phrase with the rule in use: \(forcedInUse) of \(outside.count)")
    report("asr.out_of_grammar_forced", Double(forcedInUse), "sentences")
}
