import CPocketSphinx
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the recogniser made of one utterance, and why.
public struct Recognition: Sendable, Hashable {
    public enum Source: String, Sendable { case grammar, languageModel = "language model", none }
    /// Lower-case words; empty when no words were recognised (`source == .none`).
    public var text: String
    public var source: Source
    public var grammarHypothesis: String?
    public var languageModelHypothesis: String?
    /// Path scores per frame (log domain; higher is better).
    public var grammarScore: Double?
    public var languageModelScore: Double?
    /// Frames each search put words on (not silence or noise fillers).
    public var grammarWordFrames: Int?
    public var languageModelWordFrames: Int?
    /// "repeat after me …" with the words of the grammar's second pass over what follows "me",
    /// rescored with the language model (`Listener.repeatTail`).
    public var grammarRescored: String?
    /// Whether a grammar search ran over the utterance (a session's phrases were known).
    public var grammarSearched = false
    /// The sound was one steady tone, which is never words (`ToneCheck`).
    public var steadyTone = false
}

/// A linear congruential generator from a fixed seed: the same 16-bit values on every machine and
/// run (the decoders' priming clip, the listener's noise floor).
struct FixedNoise: Sendable {
    private var state: UInt32 = 12345
    /// The next value, 0…65535.
    mutating func next() -> UInt32 {
        state = state &* 1_103_515_245 &+ 12345
        return state >> 16
    }
}

/// Whether a sound is one steady tone — a beep, a test signal — rather than speech, from the
/// zero crossings of its 50 ms windows: a tone crosses zero the same number of times in nearly
/// every loud window (300 Hz: 30 ± 1), where speech swings between voiced sounds (10–40) and
/// fricatives (100 and more) within a word. A crossing counts only once the signal has swung past
/// a quarter of the window's RMS on the other side, so a microphone's hiss does not add crossings;
/// windows quieter than `loudRMS` (−40 dBFS) are left out, and the windows where a tone starts or
/// stops (partly quiet, fewer crossings) are why only `steadyShare` of them must agree. The
/// level must hold as well. Holds the counts and levels of at most `maxWindows` loud windows (60 s).
struct ToneCheck: Sendable {
    static let window = 800
    static let loudRMS = 330.0
    /// Loud windows needed to call it a tone (0.3 s).
    static let minimumLoudWindows = 6
    /// The share of loud windows whose crossings must lie within 15 % (and 1) of their median, and
    /// their level within 20 % of the median level (`steadiness`).
    static let steadyShare = 0.8
    static let maxWindows = 1200
    private(set) var crossings: [Int] = []
    private(set) var levels: [Double] = []

    var loudWindows: Int { crossings.count }

    mutating func add(_ w: ArraySlice<Int16>) {
        guard crossings.count < Self.maxWindows else { return }
        var energy = 0.0
        for x in w { energy += Double(x) * Double(x) }
        let rms = (energy / Double(max(1, w.count))).squareRoot()
        guard rms >= Self.loudRMS else { return }
        let t = Int32(rms / 4)
        var count = 0, side = 0   // -1 below −t, +1 above +t
        for x in w {
            let v = Int32(x)
            let now = v > t ? 1 : (v < -t ? -1 : 0)
            if now != 0 {
                if side != 0 && now != side { count += 1 }
                side = now
            }
        }
        crossings.append(count)
        levels.append(rms)
    }

    /// The share of loud windows within 15 % (and 1) of the median count of crossings and within
    /// 20 % of the median level: a tone holds both, where even a one-syllable word ("hi") rises
    /// and falls.
    var steadiness: Double {
        guard !crossings.isEmpty else { return 0 }
        let c = Double(crossings.sorted()[crossings.count / 2]), l = levels.sorted()[levels.count / 2]
        let near = zip(crossings, levels).filter { abs(Double($0) - c) <= 0.15 * c + 1 && abs($1 - l) <= 0.2 * l }.count
        return Double(near) / Double(crossings.count)
    }

    var isSteadyTone: Bool { loudWindows >= Self.minimumLoudWindows && steadiness >= Self.steadyShare }
}

/// One pocketsphinx decoder (Debian's 5prealpha). Not thread-safe: a `Listener` uses it from its own
/// queue, and the pool hands each decoder to one listener at a time.
///
/// A decoder is reused across utterances after `reset()`, which gives it back the state it had
/// when it was made, as far as anything it decodes can tell: pocketsphinx carries three things
/// from one utterance to the next — the live cepstral mean (restored to the model's `-cmninit`
/// prior with empty accumulators, exactly as `ps_init` leaves it), the front end's noise estimate
/// (`ps_start_stream`), and the acoustic scorer's top-N codeword history, which seeds each frame's
/// search and so decides ties (no public way to clear it; a fixed 0.2 s priming clip is decoded
/// and thrown away, so the history is always the same one). A fresh decoder is reset the same way
/// before its first use, so fresh and reused decoders are interchangeable. `RecognitionReuseTests`
/// checks that every phrase gives the same words and the same path scores, to the unit, from a
/// fresh decoder and from decoders that heard other phrases before it.
/// One search's best path: its words, path score per frame, frames on words (at the end only).
struct Hypothesis: Sendable {
    var text: String?
    var perFrame: Double?
    var wordFrames: Int?
    /// The last frame of each word of the path (at the end only).
    var wordEnds: [Int] = []
    /// The "repeat after me" second pass's words (see `Listener.repeatTail`).
    var rescored: String?
}

final class SphinxDecoder: @unchecked Sendable {   // used by one queue at a time, handed over by the pool
    enum Kind: Sendable { case grammar, languageModel }
    let kind: Kind
    private let ps: OpaquePointer
    /// Grammars compiled on this decoder, by search name. A search is never replaced: pocketsphinx
    /// frees the old search while it may still be current. Bounded by the pool (`maxSearches`).
    private var searches: [PhraseGrammar: String] = [:]
    var searchCount: Int { searches.count }
    /// The cepstral-mean state `ps_init` left (see `reset`).
    private let pristineMean: [mfcc_t]
    private let pristineSum: [mfcc_t]
    private let pristineFrames: Int32
    private let pristineCMN: cmn_type_t

    /// The language-model decoder's search options: at most 1,000 HMMs and 5 word exits per
    /// frame (defaults: 30,000 and unlimited) cut its CPU from 0.28 to about 0.07–0.11 of a core
    /// per second of speech, with the same words on the agent's phrases and path scores within a
    /// few percent (its words only count when the grammar's do not fit). Turning the second (flat)
    /// pass off as well made it hear words in a tone and moved its scores against the grammar's
    /// (`SpeechTests` caught both).
    static let languageModelArguments = ["-maxhmmpf", "1000", "-maxwpf", "5"]

    init(kind: Kind, model: String) throws {
        self.kind = kind
        guard FileManager.default.fileExists(atPath: "\(model)/en-us/mdef") else {
            throw SpeechError.recognizerUnavailable("no acoustic model at \(model)/en-us")
        }
        _ = Self.quiet
        var argv = ["-hmm", "\(model)/en-us", "-dict", "\(model)/cmudict-en-us.dict", "-samprate", "16000"]
        // Spectral noise subtraction estimates the noise from the utterance's first frames; on
        // clean speech after digital silence it took speech away (issue 13, with the cepstral
        // mean below: exact 64 → 67 % on the asr bench's first two voices, 46 → 50 % on its six
        // other tuning voices).
        argv += ["-remove_noise", "no"]
        switch kind {
        case .languageModel:
            // Each decoder reads the language model (27 MB) itself: pocketsphinx's trie model keeps
            // lookup caches inside the model, so decoders sharing one raced on them (the same
            // recording scored differently while another decoder ran).
            argv += Self.languageModelArguments + ["-lm", "\(model)/en-us.lm.bin"]
        case .grammar:
            // Synthetic speech falls off the default beams before the grammar's end state;
            // wide beams cost little on a small grammar. Silence fillers stay on (the default):
            // without them the pauses before, between and after words had to be spoken words
            // ("hello" → "hello there", "repeat after me …" gained "is i a"); with them an
            // out-of-grammar sentence becomes a short phrase and silence, which the decision
            // catches by the frames put on words (`Listener.coverage`).
            argv += ["-beam", "1e-100", "-pbeam", "1e-100", "-wbeam", "1e-80"]
            // Every frame is searched (`-remove_silence no`): the "repeat after me" tail pass
            // (`Listener.repeatTail`) cuts the audio where the grammar put the end of "me", which
            // needs frame numbers that are positions in the audio. With the front end's speech
            // detector on, they were not once the utterance began with 2 s of the noise floor
            // (issue 13: "me" ended at frame 384 of 453 frames of audio, 94 frames late, and the
            // tail came out as "i"). It costs the grammar's search of the silence around speech;
            // not on the language-model decoder, five times the cost per frame.
            argv += ["-remove_silence", "no"]
        }
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        defer { cargs.forEach { free($0) } }
        guard let config = cmd_ln_parse_r(nil, ps_args(), Int32(cargs.count), &cargs, 1),
              let ps = ps_init(config) else {
            throw SpeechError.recognizerUnavailable("ps_init failed for \(model)")
        }
        cmd_ln_free_r(config)
        self.ps = ps
        if kind == .grammar {
            // The search the priming clip is decoded under, whatever grammar the decoder used last.
            guard ps_set_jsgf_string(ps, "prime", "#JSGF V1.0;\ngrammar prime;\npublic <s> = hello ;\n") == 0 else {
                ps_free(ps)
                throw SpeechError.recognizerUnavailable("ps_set_jsgf_string failed")
            }
        }
        guard let feat = ps_get_feat(ps), let cmn = feat.pointee.cmn_struct else {
            ps_free(ps)
            throw SpeechError.recognizerUnavailable("no feature computation in the decoder")
        }
        let n = Int(cmn.pointee.veclen)
        if n == Self.initialCepstralMean.count {
            for i in 0..<n { cmn.pointee.cmn_mean[i] = mfcc_t(Self.initialCepstralMean[i]) }
        }
        pristineMean = Array(UnsafeBufferPointer(start: cmn.pointee.cmn_mean, count: n))
        pristineSum = Array(UnsafeBufferPointer(start: cmn.pointee.sum, count: n))
        pristineFrames = cmn.pointee.nframe
        pristineCMN = feat.pointee.cmn
        reset()
    }

    deinit { ps_free(ps) }

    /// The cepstral mean every utterance starts from. pocketsphinx's live normalisation subtracts
    /// this fixed mean for the whole of an utterance (it updates the mean only when an utterance
    /// ends, and `reset` puts it back), so it should be that of the speech the emulator hears.
    /// The model's own (`-cmninit 41.00,-5.29,…` in its feat.params, which also overrides a
    /// `-cmninit` argument) is that of its recorded training speech. c1…c12 are the frame-weighted
    /// means of the 18 agent phrases spoken by the asr bench's 8 tuning voices (never the held-out
    /// ones). Their c0 (the energy) is 60.8; 53 is used: with the measured mean the speech of
    /// some voices scored as silence in both searches ("hello my name is alice" → "my name is
    /// bob" with "hello" and "alice" on silence), and a lower c0 reads the speech as louder.
    /// Issue 13, on the tuning voices with the rule of `Listener` (exact transcripts, and
    /// out-of-grammar sentences forced onto a phrase of 32): the model's mean 71 %, 7; the measured
    /// mean (c0 60.8) 75 %, 1; c0 57 / 55 / 53 / 50 / 45: 81 %, 1 / 81 %, 0 / 83 %, 0 / 81 %, 1 /
    /// 81 %, 4; c0 54 with the model's c1…c12: 76 %, 2.
    static let initialCepstralMean: [Float] = [53, 8.71, -4.31, 29.13, -19.20, 2.79, -3.30, -18.91, -2.87,
                                               -12.17, 10.70, -9.75, -0.84]

    /// pocketsphinx logs a lot to one process-wide log file. `-logfn` would reopen that file on
    /// every decoder made, under the feet of decoders logging on other threads (a crash), so
    /// logging is switched off once, before the first decoder.
    private static let quiet: Void = err_set_logfp(nil)

    /// 0.2 s of fixed pseudo-random noise (a linear congruential generator, so the same on every
    /// machine and run): what every decoder hears last before an utterance (see the type's comment).
    static let primingClip: [Int16] = {
        var x = FixedNoise()
        return (0..<3200).map { _ in Int16(Int32(x.next() & 0x7FF) - 1024) }
    }()

    /// Gives the decoder back its state as made (see the type's comment). Between utterances only.
    func reset() {
        restoreCepstralMean()
        ps_start_stream(ps)
        if kind == .grammar { ps_set_search(ps, "prime") }
        ps_start_utt(ps)
        process(Self.primingClip)
        ps_end_utt(ps)
        restoreCepstralMean()
        ps_start_stream(ps)
    }

    private func restoreCepstralMean() {
        guard let feat = ps_get_feat(ps), let cmn = feat.pointee.cmn_struct else { return }
        for i in 0..<pristineMean.count {
            cmn.pointee.cmn_mean[i] = pristineMean[i]
            cmn.pointee.sum[i] = pristineSum[i]
        }
        cmn.pointee.nframe = pristineFrames
        // pocketsphinx switches a batch setting to live on the first partial block; a decoder
        // made anew must behave as one that did so already.
        feat.pointee.cmn = pristineCMN == CMN_NONE ? CMN_NONE : CMN_LIVE
    }

    func isKnown(_ word: String) -> Bool {
        guard let p = ps_lookup_word(ps, word) else { return false }
        free(p)
        return true
    }

    /// Selects `grammar` (compiled once per decoder while it stays the same). False when no
    /// phrase of it is usable.
    func use(_ g: PhraseGrammar, beams: (beam: Double, word: Double)? = nil) -> Bool {
        if let name = searches[g] { return ps_set_search(ps, name) == 0 }
        let name = "agent\(searches.count)"
        guard let source = g.jsgf(isKnown: isKnown) else { return false }
        // A grammar search takes its beams from the decoder's configuration when it is made.
        let config = ps_get_config(ps)
        let saved = (cmd_ln_float_r(config, "-beam"), cmd_ln_float_r(config, "-pbeam"), cmd_ln_float_r(config, "-wbeam"))
        if let beams {
            cmd_ln_set_float_r(config, "-beam", beams.beam)
            cmd_ln_set_float_r(config, "-pbeam", beams.beam)
            cmd_ln_set_float_r(config, "-wbeam", beams.word)
        }
        let made = ps_set_jsgf_string(ps, name, source) == 0
        if beams != nil {
            cmd_ln_set_float_r(config, "-beam", saved.0)
            cmd_ln_set_float_r(config, "-pbeam", saved.1)
            cmd_ln_set_float_r(config, "-wbeam", saved.2)
        }
        guard made else { return false }
        searches[g] = name
        return ps_set_search(ps, name) == 0
    }

    func start() { ps_start_utt(ps) }

    func process(_ samples: [Int16]) {
        samples.withUnsafeBufferPointer { _ = ps_process_raw(ps, $0.baseAddress, $0.count, 0, 0) }
    }

    func hypothesis() -> Hypothesis {
        var score: Int32 = 0
        guard let h = ps_get_hyp(ps, &score) else { return Hypothesis() }
        let text = String(cString: h)
        let frames = ps_get_n_frames(ps)
        return Hypothesis(text: text.isEmpty ? nil : text, perFrame: frames > 0 ? Double(score) / Double(frames) : nil)
    }

    /// Ends the utterance: the best path, with the frames it put on words (the segmentation is
    /// walked only here, not for partial results).
    func end() -> Hypothesis {
        ps_end_utt(ps)
        var h = hypothesis()
        guard h.text != nil else { return h }
        var frames = 0
        var seg = ps_seg_iter(ps)
        while let s = seg {
            if let w = ps_seg_word(s), ![UInt8(ascii: "<"), UInt8(ascii: "[")].contains(UInt8(bitPattern: w.pointee)) {
                var start: Int32 = 0, end: Int32 = 0
                ps_seg_frames(s, &start, &end)
                frames += Int(max(0, end - start + 1))
                h.wordEnds.append(Int(end))
            }
            seg = ps_seg_next(s)   // frees the iterator after the last segment
        }
        h.wordFrames = frames
        return h
    }

    /// The language model's n-gram set (a language-model decoder's, between `start` and `reset`):
    /// its words are numbered as in the dictionary, which every decoder reads from the same file.
    var languageModel: OpaquePointer? { kind == .languageModel ? ps_get_lm(ps, "_default") : nil }

    /// After `end`: up to `limit` of the grammar search's best paths, best first (A* over its word
    /// lattice): their words (fillers left out) and path scores.
    func alternatives(limit: Int) -> [(text: String, score: Int32, frames: Int)] {
        guard kind == .grammar else { return [] }
        var out: [(String, Int32, Int)] = []
        var it = ps_nbest(ps)
        while let n = it, out.count < limit {
            var score: Int32 = 0
            if let h = ps_nbest_hyp(n, &score), let t = Listener.clean(String(cString: h)) {
                var frames = 0
                var seg = ps_nbest_seg(n)
                while let sg = seg {
                    var a: Int32 = 0, b: Int32 = 0
                    ps_seg_frames(sg, &a, &b)
                    frames += Int(max(0, b - a + 1))
                    seg = ps_seg_next(sg)
                }
                out.append((t, score, frames))
            }
            it = ps_nbest_next(n)   // frees the iterator after the last
        }
        if let it { ps_nbest_free(it) }
        return out
    }

    /// `words`' score under `model` (from a sentence start to its end, trigrams), in the units of
    /// path scores.
    static func languageScore(_ words: [String], model: OpaquePointer) -> Int {
        var history: [Int32] = [ngram_wid(model, "<s>")]
        var total = 0
        for w in words + ["</s>"] {
            let wid = ngram_wid(model, w)
            var used: Int32 = 0
            let h = Array(history.suffix(2).reversed())
            total += Int(h.withUnsafeBufferPointer { ngram_ng_score(model, wid, UnsafeMutablePointer(mutating: $0.baseAddress), Int32(h.count), &used) } >> 10)
            history.append(wid)
        }
        return total
    }
}

/// Hands out warm decoders and takes them back (issue 13 item 2).
///
/// Making a decoder costs 0.1 s (grammar) to 0.35 s (language model) of CPU and 28 / 93 MB, so a
/// decoder given back is `reset` and kept as a spare for the next utterance. Resets (about 15 %
/// of the emulator's recognition CPU: a priming clip through both searches), decoders made ahead
/// and decoders freed are upkeep: they run on one thread of their own at a lower priority
/// (`DecoderUpkeep`), so under load they yield the cores to utterances being recognised. A
/// decoder given back and not yet reset is still handed out when no reset one is left — it is
/// reset on the way out, which costs a tenth of making one. Bounds: at most `maxSpares` spares of each kind (more given back are
/// freed); a decoder that compiled more than `maxSearches` grammars is freed instead of kept
/// (pocketsphinx cannot drop a search); spares decay: one unused for `spareLifetime` is freed,
/// down to one of each kind (`trimmed` counts them), so a burst of listeners does not leave its
/// memory held. Decoders in use are bounded by the emulator's `maxListeners`.
///
/// Determinism (issue 9 item 7, issue 13 item 3): a decoder's result depends only on the audio and
/// on how it was cut into `process` calls (live cepstral-mean normalisation updates per call; a
/// `Listener` always cuts it into `Listener.block`s, whatever the client sent), never
/// on what it heard before, on timing, on whether it was a spare or made on demand, or on other
/// decoders running at once (`SphinxDecoder.reset`).
public final class RecognizerPool: @unchecked Sendable {
    public static let shared = RecognizerPool()
    public static let defaultModel = "/usr/share/pocketsphinx/model/en-us"

    public let model: String
    /// Most spares of each kind (see `keepSpares(upTo:)`).
    public var maxSpares: Int { lock.lock(); defer { lock.unlock() }; return spareBound }
    private var spareBound: Int
    /// The most `keepSpares(upTo:)` raises the bound to: the emulator's most listeners.
    public static let spareCeiling = 64
    /// A spare unused this long is freed (keeping one of each kind).
    public let spareLifetime: Double
    /// Most grammars one decoder compiles before it is retired.
    public static let maxSearches = 8
    /// Monotonic seconds (tests pass a manual clock).
    private let now: @Sendable () -> Double

    private let lock = NSLock()
    private var spares: [(decoder: SphinxDecoder, idleSince: Double)] = []
    /// Given back, waiting for their reset on the upkeep thread (at most the decoders in use).
    private var dirty: [SphinxDecoder] = []
    private var inUse: [SphinxDecoder.Kind: Int] = [:]
    private var making: [SphinxDecoder.Kind: Int] = [:]
    private var failure: SpeechError?
    private var sweepScheduled = false
    /// Decoders made, reused (a spare handed out), freed by decay or bounds.
    public private(set) var made = 0
    public private(set) var reused = 0
    public private(set) var trimmed = 0
    private let worker = DispatchQueue(label: "livetalk.decoders", attributes: .concurrent)

    public init(model: String = RecognizerPool.defaultModel, maxSpares: Int = 16, spareLifetime: Double = 30,
                now: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.model = model
        self.spareBound = max(1, min(Self.spareCeiling, maxSpares))
        self.spareLifetime = spareLifetime
        self.now = now
    }

    /// Raises the spare bound to `count` (at most `spareCeiling`; never lowers it). A server that
    /// recognises up to `count` utterances at once needs as many warm decoders of each kind: with
    /// fewer, each utterance past the bound made a language-model decoder afresh (0.35 s of CPU)
    /// and freed it after, and the speaking ramp fell behind at 20 sessions of a 16-spare pool
    /// (issue 13). Unused spares still decay after `spareLifetime`.
    public func keepSpares(upTo count: Int) {
        lock.lock()
        spareBound = max(spareBound, min(Self.spareCeiling, count))
        lock.unlock()
    }

    /// Makes one spare of each kind now, so the first utterance does not wait; throws when
    /// pocketsphinx cannot start (missing model).
    public func prepare() throws {
        for kind in [SphinxDecoder.Kind.grammar, .languageModel] {
            let d = try make(kind)
            lock.lock(); spares.append((d, now())); lock.unlock()
        }
    }

    private func make(_ kind: SphinxDecoder.Kind) throws -> SphinxDecoder {
        let d = try SphinxDecoder(kind: kind, model: model)
        lock.lock(); made += 1; lock.unlock()
        return d
    }

    func checkout(_ kind: SphinxDecoder.Kind) throws -> SphinxDecoder {
        lock.lock()
        if let failure { lock.unlock(); throw failure }
        inUse[kind, default: 0] += 1
        // The most recently given back first: the others age towards `spareLifetime`.
        if let i = spares.lastIndex(where: { $0.decoder.kind == kind }) {
            let d = spares.remove(at: i).decoder
            reused += 1
            let ahead = !spares.contains { $0.decoder.kind == kind } && !dirty.contains { $0.kind == kind }
                && (making[kind] ?? 0) == 0
            if ahead { making[kind, default: 0] += 1 }
            lock.unlock()
            if ahead { makeAhead(kind) }
            return d
        }
        // One given back whose reset has not run yet: reset here rather than make one.
        if let i = dirty.firstIndex(where: { $0.kind == kind }) {
            let d = dirty.remove(at: i)
            reused += 1
            lock.unlock()
            d.reset()
            return d
        }
        lock.unlock()
        do {
            return try make(kind)
        } catch let e as SpeechError {
            lock.lock(); failure = e; inUse[kind, default: 1] -= 1; lock.unlock()
            throw e
        }
    }

    /// The last spare of a kind was taken: one more is made in the background, so the next
    /// utterance of a growing load does not wait for it.
    private func makeAhead(_ kind: SphinxDecoder.Kind) {
        DecoderUpkeep.shared.run {
            let d = try? self.make(kind)
            self.lock.lock()
            self.making[kind, default: 1] -= 1
            self.lock.unlock()
            if let d { self.keep(d) }
        }
    }

    /// A used decoder is reset off the caller's path (on the upkeep thread, unless a checkout
    /// needs it first), then kept as a spare (or freed over the bounds).
    func checkin(_ d: SphinxDecoder) {
        lock.lock()
        inUse[d.kind, default: 1] -= 1
        guard d.searchCount <= Self.maxSearches else {
            trimmed += 1
            lock.unlock()
            DecoderUpkeep.shared.run { _ = d; Self.returnFreedMemory() }   // freed there, not on the caller
            return
        }
        dirty.append(d)
        lock.unlock()
        DecoderUpkeep.shared.run {
            self.lock.lock()
            guard let i = self.dirty.firstIndex(where: { $0 === d }) else { self.lock.unlock(); return }   // handed out meanwhile
            self.dirty.remove(at: i)
            self.lock.unlock()
            d.reset()
            self.keep(d)
        }
    }

    private func keep(_ d: SphinxDecoder) {
        lock.lock()
        var freed: [SphinxDecoder] = []
        if spares.filter({ $0.decoder.kind == d.kind }).count < spareBound {
            spares.append((d, now()))
        } else {
            freed.append(d)
        }
        freed += expired()
        trimmed += freed.count
        let schedule = !sweepScheduled && spares.count > 2
        if schedule { sweepScheduled = true }
        lock.unlock()
        if !freed.isEmpty {
            freed.removeAll()   // ps_free outside the lock
            Self.returnFreedMemory()
        }
        if schedule {
            worker.asyncAfter(deadline: .now() + spareLifetime / 2) { [weak self] in
                guard let self else { return }
                self.lock.lock(); self.sweepScheduled = false; self.lock.unlock()
                self.trim()
            }
        }
    }

    /// Spares unused for `spareLifetime`, beyond one of each kind, taken out (under the lock).
    private func expired() -> [SphinxDecoder] {
        let t = now()
        var out: [SphinxDecoder] = []
        for kind in [SphinxDecoder.Kind.grammar, .languageModel] {
            // The newest of each kind is kept whatever its age.
            let mine = spares.indices.filter { spares[$0].decoder.kind == kind }
            for i in mine.dropLast().reversed() where t - spares[i].idleSince >= spareLifetime {
                out.append(spares.remove(at: i).decoder)
            }
        }
        return out
    }

    /// Frees the spares that have decayed (called by the pool's own sweep; tests call it with a
    /// manual clock). Returns how many were freed.
    @discardableResult
    public func trim() -> Int {
        lock.lock()
        var freed = expired()
        trimmed += freed.count
        let again = !sweepScheduled && spares.count > 2
        if again { sweepScheduled = true }
        lock.unlock()
        let n = freed.count
        if n > 0 {
            freed.removeAll()
            Self.returnFreedMemory()
        }
        if again {
            worker.asyncAfter(deadline: .now() + spareLifetime / 2) { [weak self] in
                guard let self else { return }
                self.lock.lock(); self.sweepScheduled = false; self.lock.unlock()
                self.trim()
            }
        }
        return n
    }

    /// glibc keeps freed heap; `malloc_trim` gives it back so RSS falls with the load (looked up
    /// at run time: it is not in the Glibc module, and other C libraries lack it).
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let f = dlsym(nil, "malloc_trim") else { return nil }
        return unsafeBitCast(f, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()

    /// Gives freed heap back to the system (glibc's `malloc_trim`; nothing elsewhere).
    public static func returnFreedMemory() { _ = mallocTrim?(0) }

    /// Spares held now, by kind (tests).
    public var spareCounts: (grammar: Int, languageModel: Int) {
        lock.lock(); defer { lock.unlock() }
        return (spares.filter { $0.decoder.kind == .grammar }.count, spares.filter { $0.decoder.kind == .languageModel }.count)
    }

    /// Decoders handed out and not yet given back (tests).
    public var inUseCount: Int {
        lock.lock(); defer { lock.unlock() }
        return inUse.values.reduce(0, +)
    }
}

/// The recogniser pools' upkeep — resetting decoders given back, making spares ahead, freeing
/// decoders — on one thread of its own at nice +10, in order. Under load the kernel gives the cores
/// to the threads recognising live utterances first; upkeep waits (a checkout that finds no reset
/// spare resets a given-back one itself, so nothing waits for this thread). Jobs are bounded by
/// the decoders that exist (one reset per decoder given back, one decoder made ahead per kind).
final class DecoderUpkeep: @unchecked Sendable {
    static let shared = DecoderUpkeep()
    /// The upkeep thread's nice value (lower priority than the default 0).
    static let niceness: Int32 = 10

    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []   // guarded by `condition`
    private var started = false

    func run(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        if !started {
            started = true
            let t = Thread { [self] in loop() }
            t.start()
        }
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        #if canImport(Glibc)
        // On Linux the nice value is per thread, and `who` 0 names the calling thread.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Self.niceness)
        // Named for `top -H` and /proc (Thread.name does not reach the kernel here).
        try? "livetalk-upkeep".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
        #endif
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}

/// Recognises one utterance while it is spoken: 16 kHz audio goes in as it arrives, partial
/// words come out, `finish` gives the result.
///
/// Two searches run side by side on the audio, with a noise floor added (`noiseFloor`), in blocks
/// of 100 ms (`block`): a JSGF grammar of the phrases the agent knows
/// (reliable, but it forces every sound onto some phrase) and the generic English language
/// model (open vocabulary, weak on synthetic speech). The result:
/// * no words from the language model (pocketsphinx heard no speech in it), none from the
///   grammar when there was one, or a steady tone (`ToneCheck`) → no words;
/// * else the grammar's phrase when its path score per frame is within `tolerance` of the
///   language model's and it put words on at least `coverage` of the frames the language model
///   put words on (an out-of-grammar sentence either scores clearly worse in the grammar or
///   comes out as a short phrase in a lot of silence: "please call my mother" → "hello"), or
///   when its path score per frame beats the language model's by `margin` and it covers at least
///   `marginCoverage` of those frames;
/// * else the language model's words.
/// "repeat after me …" is the grammar's one open slot, a loop of words where the first pass adds,
/// drops and swaps short words ("i a like a my dog"). When the grammar's phrase is chosen and
/// starts so, the audio after "me" gets a second pass (`repeatTail`): the word loop alone, and of
/// its best paths the one the language model finds most likely as a sentence after "repeat after
/// me" (`Recognition.grammarRescored`). Without one, the language model's words are used when it
/// also heard "repeat after me", else the grammar's.
/// Partial words are those both searches agree on so far, excluding each one's last word.
public final class Listener: @unchecked Sendable {
    /// How far the grammar's path score per frame may trail the language model's.
    public static let tolerance = 4.0
    /// The least share of the language model's word frames the grammar's words must cover.
    /// Both chosen on the asr bench's tuning voices (issue 13): with coverage 0.9 and tolerance 6,
    /// 75 % exact and 1 of 32 out-of-grammar sentences forced onto a phrase; 0.8 gave 76 % and 3
    /// of 32 (one of them the user voice's "please call my mother" → "hello there"); without the
    /// coverage test no tolerance kept the false accepts low (tolerance 2: 74 %, 18 of 32). With the
    /// "repeat after me" tail pass, tolerance 6 → 8: 90.3 → 91.0 % on the tuning voices ("help"
    /// kept from the grammar), still 0 of 32 forced; 10 gained nothing more. With the noise floor
    /// and the grammar searching every frame, tolerance 2–10 all gave 93.8 % on the tuning voices,
    /// forcing 1 of 32 out-of-grammar sentences at 2–4 and 2 at 6–10: 8 → 4.
    public static let coverage = 0.9
    /// The grammar is also taken when its path score per frame beats the language model's by at
    /// least `margin` and it covers at least `marginCoverage` of the language model's word frames:
    /// the language model then tends to stretch a phrase over its trailing silence with an extra word
    /// ("what is the time" → "what is that saw you", "do you know my name" → "do you go on you",
    /// coverage 0.77–0.85 with the grammar 13–25 better per frame), while the grammar's phrase for
    /// an out-of-grammar sentence covering 0.7 or more never beat the language model by more than
    /// 7.1 (issue 13; on the tuning voices margin 8–12 all gave 92.4 % against 91.0 % and forced
    /// no out-of-grammar sentence).
    public static let margin = 10.0
    public static let marginCoverage = 0.7
    static let repeatPrefix = "repeat after me "
    /// The tail pass's beams and paths considered (issue 13; chosen on the tuning voices).
    static let tailBeams = (beam: 1e-30, word: 1e-20)
    static let tailCandidates = 100

    private let queue = DispatchQueue(label: "livetalk.listener")
    private let pool: RecognizerPool
    private let grammar: PhraseGrammar?
    private let onPartial: @Sendable (String) -> Void
    // Touched only on `queue`.
    private var grammarDecoder: SphinxDecoder?
    private var lmDecoder: SphinxDecoder?
    private var started = false
    private var failed = false
    private var sinceCheck = 0
    private var emitted: [String] = []
    private var finished = false
    /// The utterance so far, for the second pass over a "repeat after me" tail; nil once longer
    /// than `maxBuffered` (then that pass is skipped).
    private var samples: [Int16]? = []
    /// 30 s: the emulator's longest utterance.
    static let maxBuffered = 30 * 16000
    /// Whether the sound so far is one steady tone (not speech).
    private var tone = ToneCheck()
    /// Audio not yet searched: less than one `block`.
    private var pending: [Int16] = []
    /// The searches run over blocks of 100 ms whatever size the audio arrives in. A result then
    /// depends only on the audio, not on how a client cut it into messages (pocketsphinx's live
    /// cepstral mean moves per call: 0.5 s messages scored "what time is it" -28.20 per frame where
    /// 20 ms ones scored -28.37), and the language-model search costs a third less than when fed
    /// 20 ms at a time among other sessions' decoders: issue 13, 16 decoders fed in turn, 0.058
    /// of a core per second of audio with 20 ms pieces, 0.038 with 100 ms, 0.034 with 250 ms. What
    /// is left of an utterance (under 100 ms) is searched when it ends.
    static let block = 1600

    public init(grammar: PhraseGrammar?, pool: RecognizerPool = .shared,
                onPartial: @escaping @Sendable (String) -> Void = { _ in }) {
        self.grammar = grammar
        self.pool = pool
        self.onPartial = onPartial
    }

    /// 16 kHz mono samples of the utterance, in order.
    public func feed(_ samples: [Int16]) {
        queue.async { self.process(samples) }
    }

    /// Ends the utterance. The text still to append to the partial words already reported is
    /// `remainder` (with a leading space when something was reported).
    public func finish() async -> (recognition: Recognition, remainder: String) {
        await withCheckedContinuation { c in
            queue.async { c.resume(returning: self.complete()) }
        }
    }

    /// Drops the utterance (barge-in by a newer one, connection closed).
    public func cancel() {
        queue.async {
            guard !self.finished else { return }
            self.finished = true
            self.pending = []
            _ = self.grammarDecoder?.end()
            _ = self.lmDecoder?.end()
            self.release()
        }
    }

    private func startIfNeeded() {
        guard !started else { return }
        started = true
        do {
            let l = try pool.checkout(.languageModel)
            lmDecoder = l
            l.start()
            if let grammar {
                let g = try pool.checkout(.grammar)
                if g.use(grammar) {
                    grammarDecoder = g
                    g.start()
                } else {
                    pool.checkin(g)
                }
            }
        } catch {
            failed = true
            release()
        }
    }

    private func process(_ samples: [Int16]) {
        guard !finished else { return }
        startIfNeeded()
        guard !failed else { return }
        pending += samples
        var used = 0
        while pending.count - used >= Self.block {
            search(Array(pending[used..<(used + Self.block)]))
            used += Self.block
        }
        if used > 0 { pending.removeFirst(used) }
    }

    /// The noise floor's amplitude: uniform noise of ±32 (about −65 dBFS, the hiss of a quiet room
    /// through a laptop microphone) is added to everything the searches hear. The acoustic model
    /// learned silence from recordings with a noise floor; in the digital silence around synthetic
    /// (or noise-gated) speech, its silence model instead took in whole words as silence: "hello"
    /// and "alice" of "hello my name is alice" (→ "my name is bob") and "tell me" of "tell me my
    /// name" (→ "my") in British voices. Issue 13, the asr bench's tuning voices (exact, and
    /// out-of-grammar sentences forced onto a phrase of 32): none 92.4 %, 2; ±4 91.7 %; ±8 93.8 %;
    /// ±16 94.4 %; ±24 95.1 %; ±32 96.5 %, 2; ±40 95.8 %; ±48 94.4 %; ±64 92.4 %.
    static let noiseFloor: Int32 = 32
    /// The noise generator, restarted with each utterance, so the same audio always hears the
    /// same noise (whatever the size of the messages it came in).
    private var noise = FixedNoise()

    private func withNoiseFloor(_ input: [Int16]) -> [Int16] {
        var out = input
        let span = UInt32(2 * Self.noiseFloor + 1)
        for i in out.indices {
            out[i] = Int16(clamping: Int32(out[i]) + Int32(noise.next() % span) - Self.noiseFloor)
        }
        return out
    }

    /// Runs both searches over one block (or the last, shorter, piece of the utterance).
    private func search(_ input: [Int16]) {
        var w = 0
        while w + ToneCheck.window <= input.count {
            tone.add(input[w..<(w + ToneCheck.window)])
            w += ToneCheck.window
        }
        let block = withNoiseFloor(input)
        if samples != nil, grammar != nil {
            if samples!.count + block.count <= Self.maxBuffered { samples! += block } else { samples = nil }
        }
        grammarDecoder?.process(block)
        lmDecoder?.process(block)
        sinceCheck += block.count
        if sinceCheck >= 4000 {   // every 250 ms
            sinceCheck = 0
            reportPartial()
        }
    }

    private func reportPartial() {
        guard let l = lmDecoder?.hypothesis().text else { return }
        let lw = l.split(separator: " ").map(String.init).dropLast()
        let gw = (grammarDecoder?.hypothesis().text).map { $0.split(separator: " ").map(String.init).dropLast() } ?? []
        let agreed = zip(lw, gw).prefix { $0 == $1 }.map(\.0)
        guard agreed.count > emitted.count, Array(agreed.prefix(emitted.count)) == emitted else { return }
        let new = agreed[emitted.count...]
        onPartial((emitted.isEmpty ? "" : " ") + new.joined(separator: " "))
        emitted = Array(agreed)
    }

    private func complete() -> (Recognition, String) {
        guard !finished else { return (Recognition(text: "", source: .none), "") }
        startIfNeeded()
        if !failed, !pending.isEmpty { search(pending) }
        pending = []
        finished = true
        var g = grammarDecoder?.end() ?? Hypothesis()
        let l = lmDecoder?.end() ?? Hypothesis()
        if let gt = g.text, gt.hasPrefix(Self.repeatPrefix) { g.rescored = repeatTail(after: g) }
        let grammarSearched = grammarDecoder != nil
        release()
        var r = Self.decide(grammar: g, languageModel: l, grammarSearched: grammarSearched)
        if tone.isSteadyTone {
            // A beep or a test tone: over the noise floor the language model hears "mm" or "in" in it.
            r.text = ""
            r.source = .none
            r.steadyTone = true
        }
        let words = r.text.split(separator: " ").map(String.init)
        let common = zip(words, emitted).prefix { $0 == $1 }.count
        let rest = words[common...].joined(separator: " ")
        return (r, rest.isEmpty ? "" : (common == 0 && emitted.isEmpty ? "" : " ") + rest)
    }

    /// Second pass for "repeat after me …" (the grammar's one open slot, where its word loop adds,
    /// drops and swaps short words): the audio after "me" (where the grammar put its end) is
    /// decoded again by the grammar decoder, reset, with a search of the word loop alone and
    /// narrower beams, and of its `tailCandidates` best paths through the whole tail the one with
    /// the best path score plus the language model's score of the sentence is taken. Nil when
    /// there is no such path (the grammar's own words stand).
    private func repeatTail(after g: Hypothesis) -> String? {
        guard let words = grammar?.slots["word"], let audio = samples, g.wordEnds.count > 3,
              let model = lmDecoder?.languageModel, let d = grammarDecoder else { return nil }
        let from = (g.wordEnds[2] + 1) * 160   // the 10 ms frame after "me"
        guard from < audio.count else { return nil }
        d.reset()
        guard d.use(PhraseGrammar(phrases: ["<word>+"], slots: ["word": words]), beams: Self.tailBeams) else { return nil }
        d.start()
        d.process(Array(audio[from...]))
        _ = d.end()
        let alternatives = d.alternatives(limit: Self.tailCandidates)
        let full = alternatives.map(\.frames).max() ?? 0
        let prefix = Self.repeatPrefix.split(separator: " ").map(String.init)
        func total(_ a: (text: String, score: Int32, frames: Int)) -> Int {
            Int(a.score) + SphinxDecoder.languageScore(prefix + a.text.split(separator: " ").map(String.init), model: model)
        }
        // The lattice also holds paths that stop short of the last frame; only whole ones count.
        guard let best = alternatives.filter({ $0.frames == full }).max(by: { total($0) < total($1) }) else { return nil }
        return Self.repeatPrefix + best.text
    }

    private func release() {
        if let g = grammarDecoder { pool.checkin(g) }
        if let l = lmDecoder { pool.checkin(l) }
        grammarDecoder = nil
        lmDecoder = nil
    }

    static func clean(_ s: String?) -> String? {
        // The language model marks fillers like <sil> or [NOISE] and alternates like word(2).
        guard let s else { return nil }
        let words = s.split(separator: " ").filter { !$0.hasPrefix("<") && !$0.hasPrefix("[") }
            .map { w in w.firstIndex(of: "(").map { String(w[..<$0]) } ?? String(w) }
        return words.isEmpty ? nil : words.joined(separator: " ")
    }

    static func decide(grammar g: Hypothesis, languageModel l: Hypothesis, grammarSearched: Bool) -> Recognition {
        let r = Recognition(text: "", source: .none, grammarHypothesis: clean(g.text), languageModelHypothesis: clean(l.text),
                            grammarScore: g.perFrame, languageModelScore: l.perFrame,
                            grammarWordFrames: g.wordFrames, languageModelWordFrames: l.wordFrames,
                            grammarRescored: clean(g.rescored), grammarSearched: grammarSearched)
        return decide(r)
    }

    /// The rule of the type's comment, on the hypotheses and scores in `r` (benchmarks sweep
    /// `tolerance` and `coverage`; tests switch `margin` off with `.infinity`).
    public static func decide(_ recognition: Recognition, tolerance: Double = Listener.tolerance,
                              coverage: Double = Listener.coverage, margin: Double = Listener.margin) -> Recognition {
        var r = recognition
        r.text = ""
        r.source = .none
        guard let lt = r.languageModelHypothesis else { return r }
        // The grammar forces any speech onto some phrase; when it put no word at all on the
        // sound, the sound was not speech (a tone or a hum, which the language model, hearing it
        // over the noise floor, took for a word such as "in").
        if r.grammarSearched && r.grammarHypothesis == nil { return r }
        let covered = Double(r.grammarWordFrames ?? 0), wanted = Double(r.languageModelWordFrames ?? 0)
        if let gt = r.grammarHypothesis, let gs = r.grammarScore, let ls = r.languageModelScore,
           (gs >= ls - tolerance && covered >= coverage * wanted) || (gs >= ls + margin && covered >= marginCoverage * wanted) {
            if gt.hasPrefix(repeatPrefix), let rt = r.grammarRescored {
                r.text = rt
                r.source = .grammar
            } else if gt.hasPrefix(repeatPrefix), lt.hasPrefix(repeatPrefix) {
                r.text = lt
                r.source = .languageModel
            } else {
                r.text = gt
                r.source = .grammar
            }
        } else {
            r.text = lt
            r.source = .languageModel
        }
        return r
    }

    /// Recognises a whole recording (16 kHz) at once: tests and benchmarks.
    public static func recognize(_ samples: [Int16], grammar: PhraseGrammar?, pool: RecognizerPool = .shared) async -> Recognition {
        let l = Listener(grammar: grammar, pool: pool)
        for start in stride(from: 0, to: samples.count, by: 1600) {
            l.feed(Array(samples[start..<min(start + 1600, samples.count)]))
        }
        return await l.finish().recognition
    }
}
