import Foundation

/// How long after the speaker's audio is handed to the canceller its echo reaches the microphone,
/// measured from the audio itself (issue 11).
///
/// Why: the canceller is told this delay, and WebRTC's filter (0.3, extended) cancels an echo only
/// from about 40 ms before to 60 ms after what it was told (`EchoCanceller`'s notes). The device's
/// playback latency alone misses the rest of the path — the capture latency, a sound server's or
/// a loopback's own buffering, a Bluetooth headset — and it moves with the sound server's load. On
/// the test daemon's echo path under CPU load the latency-based figure was 26–60 ms while the echo
/// came 80–100 ms after the reference (`livetalk-bench echo` measured both), and the canceller's
/// echo reduction fell from ≈ 30 dB to 2–21 dB.
///
/// How: both signals become 10 ms log-energy envelopes stamped with the time they arrived (the
/// reference when the playback thread hands it over, the microphone when its chunk is delivered).
/// Over the last `windowBins`, the lag in `0...maxLagBins` whose normalised correlation of the two
/// envelopes is highest is this estimate, when that correlation is at least `minCorrelation` and
/// the speaker played for at least `minActiveFraction` of the window (speech, not silence, gives an
/// envelope worth correlating). `delayMs` is the median of the last `keptEstimates` estimates, so
/// one bad window (the user talking over the model) moves nothing.
///
/// Pure: time comes in as a value. Bounds: two rings of `ringBins` bins, `keptEstimates` estimates.
public struct EchoDelayEstimator: Sendable {
    public static let binMs = 10.0
    /// The window correlated: 3 s.
    public var windowBins = 300
    /// The shortest window worth an estimate: 1 s.
    public var minWindowBins = 100
    /// The longest delay looked for: 500 ms (the canceller's trusted range).
    public var maxLagBins = 50
    public var minCorrelation = 0.6
    public var minActiveFraction = 0.3
    /// A reference bin louder than this (dBFS) counts as the speaker playing.
    public var activeDBFS = -50.0
    public var keptEstimates = 5
    /// Estimates made and estimates refused (too little playback, or no clear correlation).
    public private(set) var estimates = 0
    public private(set) var refusals = 0
    /// The correlation of the last accepted estimate.
    public private(set) var lastCorrelation = 0.0

    private let ringBins: Int
    private var reference: Ring
    private var microphone: Ring
    private var recent: [Int] = []

    public init(ringBins: Int = 512) {
        self.ringBins = max(64, ringBins)
        reference = Ring(count: self.ringBins)
        microphone = Ring(count: self.ringBins)
    }

    /// Samples (at `rate`) that ended at `atMs`: the reference as handed to the canceller.
    public mutating func referenceAudio(_ samples: [Int16], rate: Int, atMs: Double) {
        reference.add(samples, rate: rate, endingAtMs: atMs)
    }

    /// Samples (at `rate`) that ended at `atMs`: the raw microphone as delivered.
    public mutating func microphoneAudio(_ samples: [Int16], rate: Int, atMs: Double) {
        microphone.add(samples, rate: rate, endingAtMs: atMs)
    }

    /// The delay, in ms, once measured: the median of the recent estimates.
    public var delayMs: Int? {
        guard !recent.isEmpty else { return nil }
        return recent.sorted()[recent.count / 2] * Int(Self.binMs)
    }

    /// What one window said: too little audio yet, refused (silence, or no clear correlation), or
    /// the lag in bins with its correlation.
    public enum Measurement: Sendable, Equatable {
        case tooLittleAudio, refused
        case lag(Int, correlation: Double)
    }

    /// Correlates the window that ends with the newest complete microphone bin and records what
    /// it said; returns the new `delayMs` when this window gave an estimate.
    @discardableResult
    public mutating func estimate() -> Int? { record(measure()) }

    /// Records a `measure()` (of this estimator or a copy of it); returns the new `delayMs` when
    /// it was an estimate. Split from `measure` so a caller can correlate a copy outside its lock
    /// while the audio threads go on feeding the original.
    @discardableResult
    public mutating func record(_ m: Measurement) -> Int? {
        switch m {
        case .tooLittleAudio: return nil
        case .refused:
            refusals += 1
            return nil
        case .lag(let lag, let r):
            estimates += 1
            lastCorrelation = r
            recent.append(lag)
            if recent.count > keptEstimates { recent.removeFirst(recent.count - keptEstimates) }
            return delayMs
        }
    }

    /// The correlation of the window that ends with the newest complete microphone bin (pure).
    public func measure() -> Measurement {
        guard let newestMic = microphone.newest, let micOldest = microphone.oldest, let refOldest = reference.oldest else {
            return .tooLittleAudio
        }
        let end = newestMic - 1   // the newest bin may still be filling
        // The whole window once there is that much audio; before, what there is, from
        // `minWindowBins` on (so the first reply of a session is cancelled with a measured delay
        // after about 1.5 s of it, not 3.5 s).
        let history = end - max(micOldest, refOldest) - maxLagBins
        let window = min(windowBins, ringBins - maxLagBins - 2, history)
        guard window >= minWindowBins else { return .tooLittleAudio }
        let mic = (end - window + 1...end).map { microphone.logEnergy($0) }
        let activeLevel = log10(1 + pow(10, activeDBFS / 10) * 32768 * 32768)
        let active = (end - window + 1...end).filter { reference.logEnergy($0) > activeLevel }.count
        guard Double(active) >= minActiveFraction * Double(window) else { return .refused }
        let micCentred = Self.centred(mic)
        let micNorm = (micCentred.reduce(0) { $0 + $1 * $1 }).squareRoot()
        guard micNorm > 0 else { return .refused }
        var best = (lag: 0, r: -Double.infinity)
        for lag in 0...maxLagBins {
            let ref = Self.centred((end - window + 1...end).map { reference.logEnergy($0 - lag) })
            let refNorm = (ref.reduce(0) { $0 + $1 * $1 }).squareRoot()
            guard refNorm > 0 else { continue }
            var dot = 0.0
            for i in 0..<window { dot += ref[i] * micCentred[i] }
            let r = dot / (refNorm * micNorm)
            if r > best.r { best = (lag, r) }
        }
        guard best.r >= minCorrelation else { return .refused }
        return .lag(best.lag, correlation: best.r)
    }

    private static func centred(_ v: [Double]) -> [Double] {
        let mean = v.reduce(0, +) / Double(max(1, v.count))
        return v.map { $0 - mean }
    }

    /// Mean square per 10 ms bin, by absolute bin number (time / 10 ms), in a ring of `count` bins.
    struct Ring: Sendable {
        private var energy: [Double]
        private var samples: [Int]
        private var stamp: [Int]
        /// The newest bin with audio; nil before any.
        private(set) var newest: Int?
        init(count: Int) {
            energy = [Double](repeating: 0, count: count)
            samples = [Int](repeating: 0, count: count)
            stamp = [Int](repeating: Int.min, count: count)
        }
        /// The first bin that ever had audio.
        private var first: Int?
        /// The oldest bin still held that is not before the first audio.
        var oldest: Int? { newest.map { max($0 - energy.count + 1, first ?? $0) } }

        mutating func add(_ samples: [Int16], rate: Int, endingAtMs: Double) {
            guard !samples.isEmpty, rate > 0 else { return }
            // Bins are counted from time 0; a clock outside ±10^12 ms (30 years) is ignored.
            guard endingAtMs.isFinite, abs(endingAtMs) < 1e12 else { return }
            let endSample = endingAtMs * Double(rate) / 1000
            for (i, x) in samples.enumerated() {
                let at = endSample - Double(samples.count - i)
                let bin = Int((at * 1000 / Double(rate) / EchoDelayEstimator.binMs).rounded(.down))
                if let n = newest, bin <= n - energy.count { continue }   // older than the ring
                if bin > newest ?? Int.min {
                    // Bins skipped over (no audio arrived for them) are silence.
                    let from = newest.map { max($0 + 1, bin - energy.count + 1) } ?? bin
                    for b in from...bin { clear(b) }
                    newest = bin
                    if first == nil { first = bin }
                }
                let slot = bin.modulo(energy.count)
                if stamp[slot] != bin { (stamp[slot], energy[slot], self.samples[slot]) = (bin, 0, 0) }
                energy[slot] += Double(x) * Double(x)
                self.samples[slot] += 1
            }
        }

        private mutating func clear(_ bin: Int) {
            let slot = bin.modulo(energy.count)
            (stamp[slot], energy[slot], samples[slot]) = (bin, 0, 0)
        }

        /// log10(1 + mean square) of `bin`; 0 for a bin not in the ring or with no audio.
        func logEnergy(_ bin: Int) -> Double {
            let slot = bin.modulo(energy.count)
            return stamp[slot] == bin && samples[slot] > 0 ? log10(1 + energy[slot] / Double(samples[slot])) : 0
        }
    }
}

private extension Int {
    func modulo(_ n: Int) -> Int { let r = self % n; return r < 0 ? r + n : r }
}
