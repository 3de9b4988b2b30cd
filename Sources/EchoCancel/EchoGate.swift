import Foundation

/// The residual echo gate after the echo canceller (issue 11): while the speaker plays, a microphone
/// chunk that is no louder than the echo the speaker can explain is sent as silence; a chunk
/// clearly above it (the user speaking over the model) passes, and so does the next `holdMs`.
///
/// Why: WebRTC's canceller needs a second or two of the model's voice to converge, and what leaks
/// before then (or after a change of the echo path) is loud enough for a server's voice detection
/// to take it for the user, so the model interrupts itself on the first words of a reply. The gate
/// closes that gap; once the canceller has converged it rarely has anything left to do.
///
/// How: the speaker's level is the loudest reference frame of the last `windowMs` (which covers
/// the device latency and the echo's delay). The gate learns `echoReturnDB`, how loud the processed
/// microphone gets relative to that level while only the speaker sounds: the loudest recent echo,
/// starting at 0 dB (the echo as loud as what was played), rising 1 dB per chunk with a louder echo
/// and falling 5 dB a second as the canceller converges; and likewise `rawEchoReturnDB`, the echo before
/// the canceller. Two chunks in a row more than `marginDB` above the first estimate, more than
/// `rawMarginDB` above the second (before the canceller), not cut by the canceller by more than
/// `maxCancelledDB`, and above `minSpeechDBFS`, are the user. With no playback (the speaker below `quietDBFS`)
/// every chunk passes untouched. Pure: time comes in as a value.
public struct EchoGate: Sendable {
    public var windowMs = 400
    public var marginDB = 10.0
    public var holdMs = 500
    public var quietDBFS = -60.0
    /// How fast the echo estimate falls when the echo gets quieter (0.1 dB per 20 ms chunk: 5 dB/s).
    public var decayDBPerChunk = 0.1
    /// A voice quieter than this is not the user talking to the model (the canceller's residue can
    /// rise above the echo estimate at inaudible levels).
    public var minSpeechDBFS = -45.0
    /// How fast the echo estimate rises with a louder echo (1 dB per chunk).
    public var riseDBPerChunk = 1.0
    /// How fast it rises with a chunk that looks like the user to the canceller (above its residue,
    /// not cut) but not loud enough over the raw echo to open the gate (0.2 dB per chunk).
    public var doubtfulRiseDBPerChunk = 0.2
    /// Loud chunks in a row that open the gate (2: 40 ms of the user's voice; the first is lost).
    public var openAfterChunks = 2
    private var loudRun = 0
    /// Chunks sent as silence that the opening of the gate sends after all (the start of the
    /// user's words): at most `heldChunks` (3: 60 ms). So a chunk that opens the gate comes out
    /// longer than it went in, and the microphone stream gets that much ahead of real time.
    public var heldChunks = 3
    private var held: [[Int16]] = []
    /// Openings of the gate (each released what it held).
    public private(set) var releasedChunks = 0
    /// Microphone levels below this count as this (the canceller often returns exact zeros).
    public static let floorDB = -100.0
    /// The speaker's level the last chunk was compared with (for figures and debugging).
    public private(set) var lastSpeakerDBFS = -Double.infinity
    /// What the gate has learned: processed microphone level minus speaker level, in dB, while
    /// only the speaker sounds.
    public private(set) var echoReturnDB = 0.0
    /// The same before the canceller: how loud the speaker's echo reaches the microphone.
    public private(set) var rawEchoReturnDB = 0.0
    /// How far above that raw echo the user must be (a double-talk detector, as Geigel's).
    public var rawMarginDB = 4.0
    /// A chunk is compared with the lowest estimates of the last this many chunks (4: 80 ms, about a
    /// syllable's onset), so the onset's own first chunks, which teach the estimates before the
    /// gate opens, do not raise the bar for the rest of it. A first barge-in traced on the test echo
    /// path lost its first word that way in 4 of 10 runs (see `EchoGateTests`).
    public var onsetChunks = 4
    /// The estimates (residue, raw) the last `onsetChunks` chunks were compared with.
    private var recentEstimates: [(residue: Double, raw: Double)] = []
    /// The most the canceller may have taken out of a chunk that is the user (raw level minus
    /// processed level). The canceller cannot cancel the user's voice, so a chunk it cut by more
    /// than this is its own echo, however loud the residue: under CPU load the canceller's residue
    /// comes in bursts 10–15 dB above its converged level while it still removes 15–18 dB, and two
    /// such chunks in a row opened the gate at the start of a reply (the model heard its own "You"
    /// and answered it). The user over the model measured 1–10 dB here (`LIVETALK_ECHO_TRACE`).
    public var maxCancelledDB = 12.0
    public private(set) var gatedChunks = 0
    public private(set) var passedChunks = 0
    /// The reference frames of the last `windowMs`, newest last; bound: `maxFrames`.
    private var frames: [(atMs: Double, dBFS: Double)] = []
    public static let maxFrames = 256
    private var holdUntilMs = -Double.infinity

    /// The microphone's sample rate.
    public let rate: Int
    private var micMs = 0.0

    /// When set, `lastTrace` describes each decision (levels and estimates; `LIVETALK_ECHO_TRACE`).
    public var tracing = false
    public private(set) var lastTrace = ""

    public init(rate: Int = 16000) { self.rate = max(1, rate) }

    /// A block the speaker played, at `atMs` (any monotonic clock, in milliseconds).
    public mutating func played(_ samples: [Int16], atMs: Double) {
        guard !samples.isEmpty else { return }
        frames.append((atMs, Self.dBFS(samples[...])))
        let oldest = atMs - Double(windowMs)
        if let firstKept = frames.firstIndex(where: { $0.atMs >= oldest }), firstKept > 0 {
            frames.removeFirst(firstKept)
        }
        if frames.count > Self.maxFrames { frames.removeFirst(frames.count - Self.maxFrames) }
    }

    /// The processed microphone chunk at `atMs` (and the same chunk before the canceller, `raw`):
    /// unchanged, silence when it is only echo, or — when the user's voice opens the gate — the
    /// chunks held back before it followed by this one.
    public mutating func microphone(_ samples: [Int16], raw: [Int16]? = nil, atMs: Double) -> [Int16] {
        let oldest = atMs - Double(windowMs)
        let speaker = frames.lazy.filter { $0.atMs >= oldest }.map(\.dBFS).max() ?? -.infinity
        // The hold counts microphone audio, not wall-clock time: a consumer that stalls and then
        // catches up must not find the user's words "over" in the middle of them.
        micMs += Double(samples.count) * 1000 / Double(rate)
        let now = micMs
        guard speaker > quietDBFS, !samples.isEmpty else { return samples }
        let level = max(Self.floorDB, Self.dBFS(samples[...]))
        let ratio = level - speaker
        let rawLevel = raw.map { max(Self.floorDB, Self.dBFS($0[...])) }
        let rawRatio = rawLevel.map { $0 - speaker }
        lastSpeakerDBFS = speaker
        // The user: clearly above what the canceller leaves, and (before the canceller) clearly above
        // the echo the speaker makes — a burst of residue from a disturbed filter is neither.
        // Each against its lowest of the last `onsetChunks`: the user's first syllable ramps up over
        // a few chunks, and those that do not open the gate yet teach it; they must not raise the
        // bar the same syllable then has to clear.
        recentEstimates.append((echoReturnDB, rawEchoReturnDB))
        if recentEstimates.count > onsetChunks { recentEstimates.removeFirst(recentEstimates.count - onsetChunks) }
        let residueBar = recentEstimates.lazy.map(\.residue).min() ?? echoReturnDB
        let rawBar = recentEstimates.lazy.map(\.raw).min() ?? rawEchoReturnDB
        let aboveResidue = ratio > residueBar + marginDB
        let aboveEcho = rawRatio.map { $0 > rawBar + rawMarginDB } ?? true
        let uncancelled = rawLevel.map { $0 - level < maxCancelledDB } ?? true
        if tracing {
            lastTrace = String(format: "mic %.0f spk %.1f lvl %.1f ratio %.1f raw %.1f est %.1f rawest %.1f res %d echo %d unc %d hold %d",
                               now, speaker, level, ratio, rawRatio ?? .nan, echoReturnDB, rawEchoReturnDB,
                               aboveResidue ? 1 : 0, aboveEcho ? 1 : 0, uncancelled ? 1 : 0, now < holdUntilMs ? 1 : 0)
        }
        if aboveResidue, aboveEcho, uncancelled, level > minSpeechDBFS {
            echoReturnDB = min(10, echoReturnDB + 0.05)   // a changed echo path is followed, slowly
            loudRun += 1
            // Speech lasts: one loud chunk alone opens nothing.
            if loudRun >= openAfterChunks || now < holdUntilMs {
                let opening = now >= holdUntilMs
                holdUntilMs = now + Double(holdMs)
                passedChunks += 1
                guard opening else { return samples }
                // The first words were held back while the gate made up its mind: send them first.
                let first = held.joined()
                held.removeAll()
                releasedChunks += 1
                return Array(first) + samples
            }
            return gated(samples)
        }
        loudRun = 0
        // A chunk the canceller could not cut and that stands above its residue sounds like the
        // user to it, even though it is not (yet) loud enough over the raw echo: learn from it only
        // slowly. Learning at full speed let the first syllable of a barge-in (5 dB over the
        // path's echo) raise the raw estimate 1 dB a chunk until the user could no longer clear it.
        let rise = aboveResidue && uncancelled ? doubtfulRiseDBPerChunk : riseDBPerChunk
        echoReturnDB = track(echoReturnDB, ratio, rise: rise)
        if let rawRatio { rawEchoReturnDB = track(rawEchoReturnDB, rawRatio, rise: rise) }
        if now < holdUntilMs {   // the tail of the user's words
            passedChunks += 1
            return samples
        }
        return gated(samples)
    }

    /// Silence in place of `samples`, which are kept (the newest `heldChunks`) in case they were
    /// the start of the user's words.
    private mutating func gated(_ samples: [Int16]) -> [Int16] {
        gatedChunks += 1
        held.append(samples)
        if held.count > heldChunks { held.removeFirst(held.count - heldChunks) }
        return [Int16](repeating: 0, count: samples.count)
    }

    /// The loudest recent echo: up by at most `riseDBPerChunk` (a voice that swells within the
    /// margin must not teach the gate that it is echo), down by `decayDBPerChunk`.
    private func track(_ estimate: Double, _ ratio: Double, rise: Double) -> Double {
        let step = ratio > estimate ? min(ratio - estimate, rise) : -decayDBPerChunk
        return max(-80, min(10, estimate + step))
    }

    public static func dBFS(_ s: ArraySlice<Int16>) -> Double {
        guard !s.isEmpty else { return -.infinity }
        var sum = 0.0
        for x in s { sum += Double(x) * Double(x) }
        let ms = sum / Double(s.count)
        return ms > 0 ? 10 * log10(ms / (32768.0 * 32768.0)) : -.infinity
    }
}
