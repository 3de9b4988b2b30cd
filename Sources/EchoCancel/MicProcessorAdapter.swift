import AudioCore
import Foundation

/// The microphone's echo canceller and noise suppressor (issue 11): `EchoCanceller` behind
/// AudioCore's `MicProcessor`, as the client uses it.
///
/// - The reference is what the playback thread wrote to the speaker, silence included, at 24 kHz:
///   `played` brings it to 16 kHz with a 3 → 2 decimator that keeps its phase across blocks (a
///   per-block resampler would round each block's length and drift against the microphone).
/// - `microphone` runs on the capture consumer, before the voice gate: WebRTC's canceller (low
///   suppression), then the residual `EchoGate` (echo cancellation only), which sends echo as
///   silence and may return a chunk longer than it got (the start of the user's words it held).
/// - `played` only queues (the WebRTC work happens in `microphone`), so the playback thread never waits.
public final class WebRTCMicProcessor: MicProcessor, @unchecked Sendable {
    private let canceller: EchoCanceller
    private let lock = NSLock()
    /// Guarded by `lock`: 24 kHz samples waiting for a full group of three, and the last sample of
    /// the previous group (the decimator's low-pass looks one sample back).
    private var pending: [Int16] = []
    private var previous: Int32 = 0
    /// Guarded by `gateLock`: the residual echo gate after the canceller (nil with echo
    /// cancellation off: noise suppression alone gates nothing).
    private let gateLock = NSLock()
    private var gate: EchoGate?
    private let started = ContinuousClock.now
    /// Guarded by `delayLock`: the echo's delay measured from the audio (`EchoDelayEstimator`),
    /// the device-latency figure `setDelay` gives until then, and microphone chunks since the last
    /// estimate (one a second: every 50 chunks of 20 ms).
    private let delayLock = NSLock()
    private var delays = EchoDelayEstimator()
    private var latencyHintMs: Int?
    private var chunksSinceEstimate = 0

    public init(echoCancellation: Bool, noiseSuppression: Bool) throws(EchoCancelError) {
        // Low suppression: the residual echo gate after the canceller catches what it leaves, and
        // stronger suppression cut the user's words when they talked over the model (on the test
        // daemon's echo path, "what time is it" spoken over a reply was heard whole 5 of 5 times at
        // low, 4 of 5 at moderate, and as "i it" at high).
        var options = EchoCanceller.Options()
        options.echoSuppression = .low
        canceller = try EchoCanceller(sampleRate: 16000, echoCancellation: echoCancellation,
                                      noiseSuppression: noiseSuppression, options: options)
        gate = echoCancellation ? EchoGate() : nil
        if let path = ProcessInfo.processInfo.environment["LIVETALK_ECHO_TRACE"].map({ "\($0).\(getpid())" }), echoCancellation,
           FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) {
            trace = h
            gate?.tracing = true
        }
    }
    /// A developer's trace of the gate's decisions, one line per microphone chunk
    /// (`LIVETALK_ECHO_TRACE=file` writes `file.PID`: the echo bench runs several clients at once).
    private var trace: FileHandle?

    private var nowMs: Double { ms(since: .now) }

    private func ms(since instant: ContinuousClock.Instant) -> Double {
        let d = instant - started
        return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }

    public func played(_ samples: [Int16], rate: Int) {
        let reference: [Int16]
        if rate == 16000 {
            reference = samples
        } else if rate == 24000 {
            reference = lock.withLock { decimate(samples) }
        } else {
            reference = Resampler.resample(samples, from: rate, to: 16000)
        }
        let at = nowMs
        if !reference.isEmpty { canceller.render(reference, atMs: at) }
        if gate != nil, !reference.isEmpty { delayLock.withLock { delays.referenceAudio(reference, rate: 16000, atMs: at) } }
        gateLock.withLock { gate?.played(samples, atMs: at) }
    }

    public func microphone(_ samples: [Int16]) -> [Int16] { process(samples).out }

    public func microphone(_ samples: [Int16], capturedAt: ContinuousClock.Instant) -> [Int16] {
        process(samples, capturedAt: capturedAt).out
    }

    /// `microphone`, with the canceller's output before the gate (the benchmark's echo reduction).
    /// `capturedAt`: when the device read the chunk (nil: now) — the canceller lines the reference
    /// up with the microphone by these times, not by when this call comes.
    public func process(_ samples: [Int16], capturedAt: ContinuousClock.Instant? = nil) -> (cancelled: [Int16], out: [Int16]) {
        let at = capturedAt.map { ms(since: $0) } ?? nowMs
        if gate != nil { measureDelay(samples, atMs: at) }
        let processed = canceller.capture(samples, capturedAtMs: at)
        let out = gateLock.withLock { () -> [Int16]? in
            let out = gate?.microphone(processed, raw: samples, atMs: at)
            if let trace, let line = gate?.lastTrace {
                trace.write(Data("\(line) out \(out.map { EchoGate.dBFS($0[...]) } ?? 0)\n".utf8))
            }
            return out
        }
        return (processed, out ?? processed)
    }

    /// Microphone chunks the residual echo gate sent as silence, and those it let through while
    /// the speaker played.
    public var gateCounts: (gated: Int, passed: Int) {
        gateLock.withLock { (gate?.gatedChunks ?? 0, gate?.passedChunks ?? 0) }
    }

    /// The device-latency figure: used until the echo's delay has been measured from the audio.
    public func setDelay(ms: Int) {
        let measured = delayLock.withLock { () -> Int? in
            latencyHintMs = ms
            return delays.delayMs
        }
        if measured == nil { canceller.streamDelayMs = max(0, min(500, ms)) }
    }

    /// The echo's delay: what the device latency said, what the audio said (nil until measured),
    /// and the estimates made and refused.
    public var echoDelay: (latencyMs: Int?, measuredMs: Int?, estimates: Int, refusals: Int) {
        delayLock.withLock { (latencyHintMs, delays.delayMs, delays.estimates, delays.refusals) }
    }

    public var diagnostics: String {
        let d = echoDelay, gate = gateCounts
        return "echo delay: \(d.measuredMs.map { "\($0) ms measured from the audio" } ?? "not measured") "
            + "(\(d.estimates) estimates, \(d.refusals) refused; the device latency said \(d.latencyMs.map { "\($0) ms" } ?? "nothing")); "
            + "echo gate: \(gate.gated) chunks sent as silence, \(gate.passed) passed while the speaker played; "
            + "reference frames dropped: \(canceller.droppedRenderFrames)"
    }

    /// Feeds the raw microphone to the delay estimator and, once a second, tells the canceller
    /// the measured delay. The correlation runs on a copy, outside `delayLock`: the playback
    /// thread feeds the reference under that lock and must never wait for it.
    private func measureDelay(_ samples: [Int16], atMs: Double) {
        let snapshot = delayLock.withLock { () -> EchoDelayEstimator? in
            delays.microphoneAudio(samples, rate: 16000, atMs: atMs)
            chunksSinceEstimate += 1
            guard chunksSinceEstimate >= 50 else { return nil }
            chunksSinceEstimate = 0
            return delays
        }
        guard let snapshot else { return }
        let measurement = snapshot.measure()
        let measured = delayLock.withLock { () -> Int? in
            let before = delays.delayMs
            let now = delays.record(measurement)
            return now != before ? now : nil
        }
        if let measured { canceller.streamDelayMs = max(0, min(500, measured - Self.measuredDelayLeadMs)) }
    }

    /// The canceller is told the measured delay less this. Measured on the test daemon's echo path
    /// (`livetalk-bench echo`, 5–8 fresh cancellers each): told the measured delay itself (less the
    /// canceller's own 40 ms margin), the first reply's echo went down 25.7 dB (worst 23.6) on the
    /// 50 ms path and 14.3 dB (worst 12.7) on the 80 ms path; told 30 ms less, 56.1 (worst 47.1) and
    /// 22.9+ (worst). WebRTC subtracts the far-end audio it holds itself (its "system delay") from
    /// the delay it is told, and the reference reaches it a microphone chunk at a time, not frame by
    /// frame as in `EchoCanceller`'s tests: the same echo then needs a shorter told delay.
    public static let measuredDelayLeadMs = 30

    /// The canceller's own measure (energy in vs out while the speaker plays, smoothed over about
    /// a second): WebRTC's ERLE stays unknown for seconds and reads low (EchoCanceller's notes).
    public var echoReductionDB: Double? { canceller.echoReductionDB }

    /// Processing time against audio processed so far (the benchmark's CPU figure).
    public var cost: EchoCanceller.ProcessingCost { canceller.processingCost }

    /// 24 → 16 kHz: every three input samples give two, after a short [1 2 1]/4 low-pass that keeps
    /// most of the speech band below 8 kHz. Called with `lock` held.
    private func decimate(_ samples: [Int16]) -> [Int16] {
        pending.append(contentsOf: samples)
        let groups = pending.count / 3
        guard groups > 0 else { return [] }
        var out = [Int16]()
        out.reserveCapacity(groups * 2)
        var prev = previous
        for g in 0..<groups {
            let a = Int32(pending[3 * g]), b = Int32(pending[3 * g + 1]), c = Int32(pending[3 * g + 2])
            out.append(Int16(clamping: (prev + 2 * a + b) / 4))
            out.append(Int16(clamping: (a + 3 * b + 3 * c + c) / 8))
            prev = c
        }
        previous = prev
        pending.removeFirst(groups * 3)
        return out
    }
}
