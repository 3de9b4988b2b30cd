import AudioCore
import Foundation
import LiveProtocol
import Speech

// The emulator's two speech seams. `TurnMachine` never touches speech: it asks for a reply to be
// spoken (`speak`) and an utterance to be heard (`listen`/`hear`/`finishHearing`), and
// `EmulatorBrain` carries that out with the engines chosen by `--speech`:
//
// | `--speech` | SpeechSynthesizing                 | SpeechListening                        |
// |------------|------------------------------------|----------------------------------------|
// | `espeak`   | `EspeakSynthesis` (espeak-ng;      | `SphinxListening` (pocketsphinx through |
// |            | tones when it cannot start)        | `RecognizerPool`, `maxListeners` slots) |
// | `tones`    | `ToneSynthesis` (`PlaceholderVoice`)| `DeafListening` (every utterance is     |
// |            |                                    | "[speech N s]")                         |
//
// (The names are not `Synthesizer`/`Listener`: those are the Speech target's espeak-ng and
// pocketsphinx classes that the espeak implementations wrap.)

/// Turns reply text into audio with the start of each word (for `outputTranscription`).
public protocol SpeechSynthesizing: Sendable {
    /// Never fails: an engine that cannot speak falls back to tones.
    func speak(_ text: String, voiceName: String?, languageCode: String?, rate: Int) async -> SpokenText
}

/// Recognises utterances of 16 kHz audio.
public protocol SpeechListening: Sendable {
    /// Starts hearing one utterance, with the phrases of `context`; `onPartial` gets the words
    /// the engine is sure of so far, in order. Nil when nothing can be heard now (no engine, or
    /// all its slots busy): the utterance is then "[speech N s]".
    func begin(_ context: TurnMachine.ListenContext,
               onPartial: @escaping @Sendable (String) -> Void) async -> (any HeardUtterance)?
}

/// One utterance being recognised. The owner calls exactly one of `finish` and `cancel`, once.
public protocol HeardUtterance: Sendable {
    func feed(_ samples: [Int16])
    /// The words heard (empty when none) and what the final transcription adds to the partials.
    func finish() async -> (text: String, remainder: String)
    func cancel()
}

/// The speech engines of one server, chosen by `--speech`.
public struct SpeechEngines: Sendable {
    public var synthesizer: any SpeechSynthesizing
    public var listener: any SpeechListening

    public init(synthesizer: any SpeechSynthesizing, listener: any SpeechListening) {
        self.synthesizer = synthesizer
        self.listener = listener
    }

    public static func forOptions(_ o: EmulatorOptions, shared: EmulatorState) -> SpeechEngines {
        let tones = ToneSynthesis(charactersPerSecond: o.charactersPerSecond)
        switch o.speech {
        case .espeak: return SpeechEngines(synthesizer: EspeakSynthesis(fallback: tones), listener: SphinxListening(shared: shared))
        case .tones: return SpeechEngines(synthesizer: tones, listener: DeafListening())
        }
    }
}

// MARK: synthesis

/// espeak-ng (`Synthesizer.shared`, one serial queue and a cache for the process) in the
/// `VoiceMap` voice for the setup's voice name and language; tones when espeak-ng cannot start.
public struct EspeakSynthesis: SpeechSynthesizing {
    public var fallback: ToneSynthesis
    public func speak(_ text: String, voiceName: String?, languageCode: String?, rate: Int) async -> SpokenText {
        let voice = VoiceMap.voice(name: voiceName, languageCode: languageCode)
        if let s = try? await Synthesizer.shared.speak(text, voice: voice, rate: rate) { return s }
        return await fallback.speak(text, voiceName: voiceName, languageCode: languageCode, rate: rate)
    }
}

/// `--speech tones`: a pitched burst per word (`PlaceholderVoice`); no speech library is used.
public struct ToneSynthesis: SpeechSynthesizing {
    public var charactersPerSecond: Double
    public func speak(_ text: String, voiceName: String?, languageCode: String?, rate: Int) async -> SpokenText {
        PlaceholderVoice.render(text, rate: rate, charactersPerSecond: charactersPerSecond)
    }
}

/// The voice of `--speech tones` (and the fallback when espeak-ng cannot start): one pitched,
/// enveloped burst per word, pauses between words — audible and as long as the text would take to say.
public enum PlaceholderVoice {
    public static func render(_ text: String, rate: Int, charactersPerSecond: Double) -> SpokenText {
        var out: [Int16] = []
        var words: [SpokenWord] = []
        let pitches: [Double] = [220, 247, 262, 294, 330]
        for (i, word) in text.split(separator: " ").enumerated() {
            words.append(SpokenWord(text: (i == 0 ? "" : " ") + word, startSample: out.count))
            let seconds = max(0.12, Double(word.count) / charactersPerSecond)
            out += ToneGenerator.syllable(frequency: pitches[(i + word.count) % pitches.count], seconds: seconds, rate: rate)
            out += [Int16](repeating: 0, count: Int(Double(rate) / charactersPerSecond))
        }
        return SpokenText(samples: out, rate: rate, words: words)
    }
}

// MARK: recognition

/// pocketsphinx (`Listener` over `RecognizerPool.shared`) with the session's phrase grammar
/// (`OfflineAgent.grammar`). Each utterance holds one of the server's `maxListeners` slots (R8),
/// given back exactly once; with every slot busy, nothing is heard.
public struct SphinxListening: SpeechListening {
    public let shared: EmulatorState
    public func begin(_ context: TurnMachine.ListenContext,
                      onPartial: @escaping @Sendable (String) -> Void) async -> (any HeardUtterance)? {
        guard await shared.acquireListener() else { return nil }
        let grammar = OfflineAgent.grammar(declarations: context.declarations, search: context.search, images: context.images)
        return SphinxUtterance(listener: Listener(grammar: grammar, onPartial: onPartial), shared: shared)
    }
}

/// One pocketsphinx utterance; its slot goes back when it is finished or cancelled.
struct SphinxUtterance: HeardUtterance {
    let listener: Listener
    let shared: EmulatorState
    func feed(_ samples: [Int16]) { listener.feed(samples) }
    func finish() async -> (text: String, remainder: String) {
        let (recognition, remainder) = await listener.finish()
        await shared.releaseListener()
        if !recognition.text.isEmpty { await shared.count { $0.utterancesRecognised += 1 } }
        return (recognition.text, remainder)
    }
    func cancel() {
        listener.cancel()
        Task { [shared] in await shared.releaseListener() }
    }
}

/// `--speech tones`: hears no words; every utterance is "[speech N s]".
public struct DeafListening: SpeechListening {
    public init() {}
    public func begin(_ context: TurnMachine.ListenContext,
                      onPartial: @escaping @Sendable (String) -> Void) async -> (any HeardUtterance)? { nil }
}
