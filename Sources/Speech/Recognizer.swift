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
}

/// One pocketsphinx 0.8 decoder. Not thread-safe: a `Listener` uses it from its own queue, and
/// the pool hands each decoder to one listener at a time.
final class SphinxDecoder {
    enum Kind: Sendable { case grammar, languageModel }
    let kind: Kind
    private let ps: OpaquePointer
    /// Grammars compiled on this decoder, by search name. A search is never replaced: pocketsphinx
    /// 0.8 frees the old search while it may still be current.
    private var searches: [PhraseGrammar: String] = [:]

    init(kind: Kind, model: String) throws {
        self.kind = kind
        guard FileManager.default.fileExists(atPath: "\(model)/en-us/mdef") else {
            throw SpeechError.recognizerUnavailable("no acoustic model at \(model)/en-us")
        }
        _ = Self.quiet
        var argv = ["-hmm", "\(model)/en-us", "-dict", "\(model)/cmudict-en-us.dict", "-samprate", "16000"]
        switch kind {
        case .languageModel:
            argv += ["-lm", "\(model)/en-us.lm.bin"]
        case .grammar:
            // Synthetic speech falls off the default beams before the grammar's end state;
            // wide beams cost little on a small grammar. Fillers make short phrases worse.
            argv += ["-beam", "1e-100", "-pbeam", "1e-100", "-wbeam", "1e-80", "-fsgusefiller", "no"]
        }
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        defer { cargs.forEach { free($0) } }
        guard let config = cmd_ln_parse_r(nil, ps_args(), Int32(cargs.count), &cargs, 1),
              let ps = ps_init(config) else {
            throw SpeechError.recognizerUnavailable("ps_init failed for \(model)")
        }
        cmd_ln_free_r(config)
        self.ps = ps

    }

    deinit { ps_free(ps) }

    /// pocketsphinx logs a lot to one process-wide log file. `-logfn` would reopen that file on
    /// every decoder made, under the feet of decoders logging on other threads (a crash), so
    /// logging is switched off once, before the first decoder.
    private static let quiet: Void = err_set_logfp(nil)

    func isKnown(_ word: String) -> Bool {
        guard let p = ps_lookup_word(ps, word) else { return false }
        free(p)
        return true
    }

    /// Selects `grammar` (compiled once per decoder while it stays the same). False when no
    /// phrase of it is usable.
    func use(_ g: PhraseGrammar) -> Bool {
        if let name = searches[g] { return ps_set_search(ps, name) == 0 }
        let name = "agent\(searches.count)"
        guard let source = g.jsgf(isKnown: isKnown), ps_set_jsgf_string(ps, name, source) == 0 else { return false }
        searches[g] = name
        return ps_set_search(ps, name) == 0
    }

    func start() { ps_start_utt(ps) }

    func process(_ samples: [Int16]) {
        samples.withUnsafeBufferPointer { _ = ps_process_raw(ps, $0.baseAddress, $0.count, 0, 0) }
    }

    func hypothesis() -> (text: String?, perFrame: Double?) {
        var score: Int32 = 0
        guard let h = ps_get_hyp(ps, &score) else { return (nil, nil) }
        let text = String(cString: h)
        let frames = ps_get_n_frames(ps)
        return (text.isEmpty ? nil : text, frames > 0 ? Double(score) / Double(frames) : nil)
    }

    func end() -> (text: String?, perFrame: Double?) {
        ps_end_utt(ps)
        return hypothesis()
    }
}

/// Hands out decoders. Each utterance gets decoders that never heard anything before: pocketsphinx
/// carries state (cepstral mean, noise estimate) from one utterance to the next, and the emulator
/// must hear the same recording the same way every time. Making a decoder takes 0.1 s (grammar)
/// to 0.3 s (language model) of CPU, so spares are made ahead of time, in the background: as many
/// of each kind as were in use at once lately (at least one, at most `maxSpares`). "Lately" decays
/// (R8): each decoder given back lowers the wanted number by one, down to what is in use (at least
/// one), and spares beyond it are freed, so a burst of listeners does not leave ~55 MB per
/// decoder pair held for ever. Counted in `trimmed`.
///
/// Determinism (issue 9 item 7): a decoder's result depends only on the audio and on how it was
/// cut into `feed` calls (live cepstral-mean normalisation updates per call), never on timing,
/// on whether the decoder was a spare or made on demand, or on other decoders running at once.
public final class RecognizerPool: @unchecked Sendable {
    public static let shared = RecognizerPool()
    public static let defaultModel = "/usr/share/pocketsphinx/model/en-us"

    public let model: String
    private let lock = NSLock()
    private var spares: [SphinxDecoder] = []
    private var making: [SphinxDecoder.Kind: Int] = [:]
    private var inUse: [SphinxDecoder.Kind: Int] = [:]
    private var wanted: [SphinxDecoder.Kind: Int] = [:]
    /// Most spares of each kind (a language-model decoder is about 55 MB; the emulator's
    /// `maxListeners` bounds the decoders in use).
    public static let maxSpares = 4
    /// Spares freed as the wanted number decayed.
    public private(set) var trimmed = 0
    private var failure: SpeechError?
    private let maker = DispatchQueue(label: "livetalk.decoders", attributes: .concurrent)

    public init(model: String = RecognizerPool.defaultModel) {
        self.model = model
    }

    /// Makes the spares now, so the first utterance does not wait; throws when pocketsphinx cannot
    /// start (missing model).
    public func prepare() throws {
        for kind in [SphinxDecoder.Kind.grammar, .languageModel] {
            let d = try SphinxDecoder(kind: kind, model: model)
            lock.lock(); spares.append(d); lock.unlock()
        }
    }

    func checkout(_ kind: SphinxDecoder.Kind) throws -> SphinxDecoder {
        lock.lock()
        if let failure { lock.unlock(); throw failure }
        let spare = spares.firstIndex(where: { $0.kind == kind }).map { spares.remove(at: $0) }
        inUse[kind, default: 0] += 1
        wanted[kind] = min(Self.maxSpares, max(wanted[kind] ?? 1, inUse[kind]!))
        lock.unlock()
        defer { replenish(kind) }
        if let spare { return spare }
        do {
            return try SphinxDecoder(kind: kind, model: model)
        } catch let e as SpeechError {
            lock.lock(); failure = e; lock.unlock()
            throw e
        }
    }

    /// A used decoder is not reused (see the type's comment). The wanted number of spares decays.
    func checkin(_ d: SphinxDecoder) {
        var freed: [SphinxDecoder] = []
        lock.lock()
        let kind = d.kind
        inUse[kind, default: 1] -= 1
        let target = max(1, inUse[kind] ?? 0, (wanted[kind] ?? 1) - 1)
        wanted[kind] = target
        var have = spares.filter { $0.kind == kind }.count
        while have > target, let i = spares.lastIndex(where: { $0.kind == kind }) {
            freed.append(spares.remove(at: i))
            have -= 1
        }
        trimmed += freed.count
        lock.unlock()
        guard !freed.isEmpty else { return }
        freed.removeAll()   // ps_free outside the lock
        Self.returnFreedMemory()
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

    private static func returnFreedMemory() { _ = mallocTrim?(0) }

    /// Spares held now, by kind (tests).
    public var spareCounts: (grammar: Int, languageModel: Int) {
        lock.lock(); defer { lock.unlock() }
        return (spares.filter { $0.kind == .grammar }.count, spares.filter { $0.kind == .languageModel }.count)
    }

    private func replenish(_ kind: SphinxDecoder.Kind) {
        lock.lock()
        let have = spares.filter { $0.kind == kind }.count + (making[kind] ?? 0)
        let needed = max(0, (wanted[kind] ?? 1) - have)
        making[kind, default: 0] += needed
        lock.unlock()
        for _ in 0..<needed {
            maker.async {
                var d = try? SphinxDecoder(kind: kind, model: self.model)
                self.lock.lock()
                // The wanted number may have decayed while this one was being made.
                if let made = d, self.spares.filter({ $0.kind == kind }).count < (self.wanted[kind] ?? 1) {
                    self.spares.append(made)
                    d = nil
                }
                self.making[kind, default: 1] -= 1
                self.lock.unlock()
                d = nil   // an unwanted one is freed here, outside the lock
            }
        }
    }
}

/// Recognises one utterance while it is spoken: 16 kHz audio goes in as it arrives, partial
/// words come out, `finish` gives the result.
///
/// Two searches run side by side on the audio: a JSGF grammar of the phrases the agent knows
/// (reliable, but it forces every sound onto some phrase) and the generic English language
/// model (open vocabulary, weak on synthetic speech). The result:
/// * no words from the language model (pocketsphinx heard no speech in it) → no words;
/// * else the grammar's phrase when its path score per frame is within `tolerance` of the
///   language model's (an out-of-grammar sentence scores clearly worse in the grammar);
/// * else the language model's words. For "repeat after me …" the language model's words are
///   used when it also heard "repeat after me", since the grammar's word loop is too narrow.
/// Partial words are those both searches agree on so far, excluding each one's last word.
public final class Listener: @unchecked Sendable {
    public static let tolerance = 2.0

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
        grammarDecoder?.process(samples)
        lmDecoder?.process(samples)
        sinceCheck += samples.count
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
        finished = true
        let g = grammarDecoder?.end() ?? (nil, nil)
        let l = lmDecoder?.end() ?? (nil, nil)
        release()
        let r = Self.decide(grammar: g, languageModel: l)
        let words = r.text.split(separator: " ").map(String.init)
        let common = zip(words, emitted).prefix { $0 == $1 }.count
        let rest = words[common...].joined(separator: " ")
        return (r, rest.isEmpty ? "" : (common == 0 && emitted.isEmpty ? "" : " ") + rest)
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

    static func decide(grammar g: (text: String?, perFrame: Double?),
                       languageModel l: (text: String?, perFrame: Double?)) -> Recognition {
        let gt = clean(g.text), lt = clean(l.text)
        var r = Recognition(text: "", source: .none, grammarHypothesis: gt, languageModelHypothesis: lt,
                            grammarScore: g.perFrame, languageModelScore: l.perFrame)
        guard let lt else { return r }
        if let gt, let gs = g.perFrame, let ls = l.perFrame, gs >= ls - tolerance {
            let repeatPrefix = "repeat after me "
            if gt.hasPrefix(repeatPrefix), lt.hasPrefix(repeatPrefix) {
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
