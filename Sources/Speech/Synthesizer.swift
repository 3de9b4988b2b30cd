import CEspeakNG
import Foundation

/// One word of synthesized speech: its text as it appears in the transcript (with the leading
/// space and trailing punctuation) and the sample where it starts being spoken.
public struct SpokenWord: Sendable, Hashable {
    public var text: String
    public var startSample: Int
    public init(text: String, startSample: Int) {
        self.text = text
        self.startSample = startSample
    }
}

/// Speech audio with its words.
public struct SpokenText: Sendable {
    public var samples: [Int16]
    public var rate: Int
    public var words: [SpokenWord]
    public init(samples: [Int16], rate: Int, words: [SpokenWord]) {
        self.samples = samples
        self.rate = rate
        self.words = words
    }
    public var seconds: Double { Double(samples.count) / Double(rate) }
}

public enum SpeechError: Error, CustomStringConvertible, Sendable {
    case synthesizerUnavailable(String)
    case voice(String)
    case recognizerUnavailable(String)

    public var description: String {
        switch self {
        case .synthesizerUnavailable(let s): "espeak-ng is not usable: \(s) (install espeak-ng-data, or run `livetalk serve --speech tones`)"
        case .voice(let s): "espeak-ng has no voice \(s)"
        case .recognizerUnavailable(let s): "pocketsphinx is not usable: \(s) (install pocketsphinx-en-us, or run `livetalk serve --speech tones`)"
        }
    }
}

/// Collects one synthesis: espeak-ng hands it to the callback through `user_data`.
private final class SynthSink {
    var samples: [Int16] = []
    /// (1-based character position, audio position in ms) of each word start.
    var wordStarts: [(position: Int, ms: Int)] = []
}

/// espeak-ng text-to-speech. espeak-ng is a process-wide singleton, so every call runs on one
/// serial queue; `speak` suspends the caller, not a cooperative thread.
public final class Synthesizer: @unchecked Sendable {
    public static let shared = Synthesizer()

    private let queue = DispatchQueue(label: "livetalk.espeak")
    // Touched only on `queue`.
    private var nativeRate: Int32 = 0
    private var initError: String?
    private var currentVoice: EspeakVoice?
    /// Recent syntheses by text, voice and rate, most recent last (see `speak`). Touched only on `queue`.
    private var cache: [(key: CacheKey, speech: SpokenText)] = []
    private var cachedSamples = 0
    /// Bounds of the cache: entries, and samples held in all (8 MB of 16-bit audio).
    public static let cacheEntries = 64
    public static let cacheSamples = 4_000_000
    private var hits = 0, misses = 0

    private struct CacheKey: Hashable {
        var text: String
        var voice: EspeakVoice
        var rate: Int
    }

    private init() {}

    /// Whether this synthesis is held in the cache now (tests).
    public func isCached(_ text: String, voice: EspeakVoice, rate: Int = 24000) async -> Bool {
        (try? await onQueue { self.cache.contains { $0.key == CacheKey(text: text, voice: voice, rate: rate) } }) ?? false
    }

    /// Syntheses served from the cache, and made (tests, benchmarks).
    public func cacheCounts() async -> (hits: Int, misses: Int) {
        (try? await onQueue { (self.hits, self.misses) }) ?? (0, 0)
    }

    /// Starts espeak-ng now (otherwise the first `speak` does it).
    public func prepare() async throws {
        try await onQueue { try self.initialize() }
    }

    /// Speaks `text` with `voice`, resampled to `rate` (speexdsp). The same text in the same voice
    /// and rate is served from a bounded cache of recent syntheses (least recently used out), so a
    /// reply many sessions say ("It is 9:41 AM.") is synthesised once and never waits in the
    /// queue behind the others: espeak-ng is one serial queue for the whole process.
    public func speak(_ text: String, voice: EspeakVoice, rate: Int = 24000) async throws -> SpokenText {
        try await onQueue {
            let key = CacheKey(text: text, voice: voice, rate: rate)
            if let i = self.cache.firstIndex(where: { $0.key == key }) {
                let hit = self.cache.remove(at: i)
                self.cache.append(hit)
                self.hits += 1
                return hit.speech
            }
            let s = try self.synthesize(text, voice: voice, rate: rate)
            self.misses += 1
            guard s.samples.count <= Self.cacheSamples / 4 else { return s }
            self.cache.append((key, s))
            self.cachedSamples += s.samples.count
            while self.cache.count > Self.cacheEntries || self.cachedSamples > Self.cacheSamples {
                self.cachedSamples -= self.cache.removeFirst().speech.samples.count
            }
            return s
        }
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            queue.async { c.resume(with: Result { try body() }) }
        }
    }

    private func initialize() throws {
        if nativeRate > 0 { return }
        if let initError { throw SpeechError.synthesizerUnavailable(initError) }
        let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 100, nil, 0x8000 /* espeakINITIALIZE_DONT_EXIT */)
        guard rate > 0 else {
            initError = "espeak_Initialize failed (no espeak-ng-data?)"
            throw SpeechError.synthesizerUnavailable(initError!)
        }
        nativeRate = rate
        espeak_SetSynthCallback { wav, count, events in
            guard let events, let context = events.pointee.user_data else { return 0 }
            let sink = Unmanaged<SynthSink>.fromOpaque(context).takeUnretainedValue()
            if let wav, count > 0 { sink.samples.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count))) }
            var e = events
            while e.pointee.type != espeakEVENT_LIST_TERMINATED {
                if e.pointee.type == espeakEVENT_WORD {
                    sink.wordStarts.append((Int(e.pointee.text_position), Int(e.pointee.audio_position)))
                }
                e += 1
            }
            return 0
        }
    }

    private func synthesize(_ text: String, voice: EspeakVoice, rate: Int) throws -> SpokenText {
        try initialize()
        if currentVoice != voice {
            if espeak_SetVoiceByName(voice.name) != EE_OK {
                // An unknown language falls back to English with the same variant.
                let variant = voice.name.split(separator: "+").dropFirst().first.map { "+\($0)" } ?? ""
                guard espeak_SetVoiceByName("en-us\(variant)") == EE_OK else { throw SpeechError.voice(voice.name) }
            }
            espeak_SetParameter(espeakRATE, Int32(voice.rate), 0)
            espeak_SetParameter(espeakPITCH, Int32(voice.pitch), 0)
            currentVoice = voice
        }
        let sink = SynthSink()
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }
        let status = text.withCString { p in
            espeak_Synth(p, strlen(p) + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, context.toOpaque())
        }
        guard status == EE_OK else { throw SpeechError.synthesizerUnavailable("espeak_Synth returned \(status.rawValue)") }
        espeak_Synchronize()
        let native = Int(nativeRate)
        let samples = SpeexResample.convert(sink.samples, from: native, to: rate)
        let words = Self.align(text, wordStarts: sink.wordStarts.map { ($0.position, $0.ms * rate / 1000) })
        return SpokenText(samples: samples, rate: rate, words: words)
    }

    /// Transcript pieces for `text`: each whitespace-separated token (with its leading space)
    /// starts at the first espeak-ng word event inside it; a token espeak-ng did not voice (a lone
    /// dash) starts with the token before it.
    static func align(_ text: String, wordStarts: [(position: Int, sample: Int)]) -> [SpokenWord] {
        let chars = Array(text)
        var tokens: [(range: Range<Int>, text: String)] = []
        var i = 0
        while i < chars.count {
            while i < chars.count, chars[i].isWhitespace { i += 1 }
            let start = i
            while i < chars.count, !chars[i].isWhitespace { i += 1 }
            if i > start { tokens.append((start..<i, String(chars[start..<i]))) }
        }
        var out: [SpokenWord] = []
        var lastSample = 0
        for (n, t) in tokens.enumerated() {
            let hit = wordStarts.first { t.range.contains($0.position - 1) }
            let sample = max(lastSample, hit?.sample ?? lastSample)
            lastSample = sample
            out.append(SpokenWord(text: (n == 0 ? "" : " ") + t.text, startSample: sample))
        }
        return out
    }
}
