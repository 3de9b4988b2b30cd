// EchoCanceller — in-process acoustic echo cancellation and noise suppression for the microphone,
// with WebRTC audio processing (Debian's webrtc-audio-processing 0.3) behind the CWebRTCAudio shim.
//
// Framing. WebRTC works on 10 ms frames (160 samples at 16 kHz, mono int16). `render` and `capture`
// take any length; both cut their input into 10 ms frames internally.
//
// Latency. `capture` returns exactly as many samples as it is given, delayed by one frame: the output
// starts with 10 ms (160 samples) of silence and every sample comes out 10 ms after it went in, whatever
// the chunk sizes (`latencySamples`). WebRTC's overlapping blocks add their own delay inside the
// processed audio: 112 samples (7 ms) for the AEC, 96 samples (6 ms) for noise suppression — so the
// microphone reaches the caller 23 ms later with both on (measured by the tests).
//
// The delay. `streamDelayMs` is how long after a reference sample is given to `render` its echo is
// given to `capture` — in a live client, the playback latency (written → heard) plus the capture
// latency (heard → delivered). Clamped to 0...500 ms (the AEC's trusted range). WebRTC is told
// `streamDelayMs − Options.delayMarginMs` (40 ms): with the extended filter (the default) the AEC
// still cancels an echo that comes up to ~100 ms later than it was told, but loses it as soon as it
// is told a delay ~30 ms too long, so the margin turns that into a tolerance of about ±60 ms around
// the given delay (measured for echo delays of 20–400 ms). Delay-agnostic mode is off by default: in
// this version it overrides a correct delay with its own estimate, which fails for echoes of 250 ms
// and more (under 20 dB at 250 ms, 2 dB at 400 ms, against 53 dB without it); it helps only when the delay
// is unknown and short (it finds an 80 ms echo when told 0 ms).
//
// The reference. `render` should get every block the speaker plays, silence included, at 16 kHz.
// It only queues: complete 10 ms reference frames wait in a bounded queue of `renderQueueCapacity`
// frames (1 s) and are handed to WebRTC by the next `capture`, before its own frames — so the
// playback thread never runs the DSP and never waits for it. When capture stops while render goes on,
// the queue keeps the newest second and counts the older frames it drops (`droppedRenderFrames`);
// a partial frame (< 160 samples) waits for the rest. Memory is bounded whatever the callers do.
// Keep the reference continuous: when it runs dry the AEC reuses old far-end data. With echo
// cancellation off, `render` does nothing.
//
// Thread safety. `render` and `capture` may be called from different threads at the same time
// (typically the playback thread and the microphone's consumer). Two `NSLock`s guard the state:
// one for the reference queue (held only to append or take frames, never during processing) and one
// for the WebRTC processor, the capture framing and the measurements (held by `capture` for the
// processing of its frames). `capture` takes the queue's lock inside the processor's, never the other
// way round. Calls to `capture` from several threads are serialised; their order is the callers'.
//
// Measurements. `erleDB` is WebRTC's own echo return loss enhancement (its GetMetrics average), nil
// while the AEC has none; in 0.3 it stays unknown for seconds (on a noiseless echo, for all 12 s of a
// test), may fall back to unknown later, and reads 36–45 dB where the output is 53 dB down. So
// `echoReductionDB` is this class's own figure: the ratio, in dB, of microphone energy in to energy out
// over the frames where the reference was active in the last 500 ms (exponentially smoothed, ≈ 1 s
// time constant; capped at 60 dB; nil until 1 s of such frames). It counts everything the processing
// removes while the far end plays — echo, and noise when noise suppression is on; near-end speech
// during double talk lowers it. `processingCost` adds up the thread CPU time spent in WebRTC.

import CWebRTCAudio
import Foundation

public enum EchoCancelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Only 16 kHz is supported.
    case unsupportedSampleRate(Int)
    /// WebRTC refused to create or configure the processor (its error code).
    case creationFailed(code: Int32)

    public var description: String {
        switch self {
        case .unsupportedSampleRate(let rate):
            "echo cancellation runs at 16000 Hz only, not \(rate) Hz: resample the microphone and the reference first"
        case .creationFailed(let code):
            "WebRTC audio processing could not be created (error \(code))"
        }
    }
}

/// `@unchecked Sendable`: all mutable state is behind `queueLock` or `engineLock` (see above).
public final class EchoCanceller: @unchecked Sendable {
    /// Echo suppression (the AEC's non-linear processor): higher removes more residual echo and
    /// more of the near end during double talk.
    public enum EchoSuppression: Int32, Sendable { case low = 0, moderate = 1, high = 2 }
    /// Noise suppression: higher removes more noise and distorts speech more.
    public enum NoiseSuppressionLevel: Int32, Sendable { case low = 0, moderate = 1, high = 2, veryHigh = 3 }

    public struct Options: Sendable, Equatable {
        /// WebRTC's extended filter: a longer echo tail and more tolerance of delay errors.
        public var extendedFilter: Bool
        /// WebRTC's delay-agnostic mode: the AEC estimates the echo delay itself (default off: see the
        /// type's comment — it loses echoes of 250 ms and more even when told the right delay).
        public var delayAgnostic: Bool
        /// Default `.high`: a voice client's far end is a model that must not hear itself (residual
        /// echo re-triggers its voice detection and it interrupts itself), and a barge-in still gets
        /// through: in the double-talk test `.high` leaves the echo 52 dB down and the near end 6.5 dB
        /// down, `.moderate` 45 dB and 4.9 dB.
        public var echoSuppression: EchoSuppression
        /// Default `.moderate`: a recogniser listens to the result, and higher levels cost speech.
        public var noiseSuppressionLevel: NoiseSuppressionLevel
        /// Removes DC and rumble below ~80 Hz from the microphone before the AEC.
        public var highPassFilter: Bool
        /// The initial stream delay, ms (see `streamDelayMs`).
        public var initialDelayMs: Int
        /// WebRTC is told `streamDelayMs − delayMarginMs` (not below 0): its filter copes with an echo
        /// up to ~100 ms later than told, but loses it when told a delay 30 ms too long.
        public var delayMarginMs: Int

        public init(extendedFilter: Bool = true, delayAgnostic: Bool = false, echoSuppression: EchoSuppression = .high,
                    noiseSuppressionLevel: NoiseSuppressionLevel = .moderate, highPassFilter: Bool = true,
                    initialDelayMs: Int = 0, delayMarginMs: Int = 40) {
            self.extendedFilter = extendedFilter
            self.delayAgnostic = delayAgnostic
            self.echoSuppression = echoSuppression
            self.noiseSuppressionLevel = noiseSuppressionLevel
            self.highPassFilter = highPassFilter
            self.initialDelayMs = initialDelayMs
            self.delayMarginMs = delayMarginMs
        }
    }

    /// CPU time spent in WebRTC (render and capture frames), and the audio it covered.
    public struct ProcessingCost: Sendable, Equatable {
        /// Thread CPU seconds inside WebRTC's calls.
        public var seconds: Double = 0
        /// 10 ms capture frames processed.
        public var captureFrames: Int = 0
        /// 10 ms reference frames processed.
        public var renderFrames: Int = 0
        /// Seconds of microphone audio processed.
        public var audioSeconds: Double { Double(captureFrames) / 100 }
        /// Share of one core: processing seconds / audio seconds (0 before any audio).
        public var cpuFraction: Double { audioSeconds > 0 ? seconds / audioSeconds : 0 }
    }

    /// Samples per 10 ms frame.
    public let frameSamples: Int
    public let sampleRate: Int
    public let echoCancellation: Bool
    public let noiseSuppression: Bool
    public let options: Options
    /// Reference frames kept while no capture takes them: 100 frames = 1 s.
    public let renderQueueCapacity = 100
    /// Samples `capture` delays its output by (one frame, 10 ms).
    public var latencySamples: Int { frameSamples }

    private struct RenderQueue {
        var partial: [Int16] = []
        var frames: [[Int16]] = []
        /// When each frame was handed over (ms on the caller's clock; nil: not stamped).
        var stamps: [Double?] = []
        var head = 0
        var dropped = 0
        var queued: Int { frames.count - head }
    }

    private struct Engine {
        var input: [Int16] = []
        var output: [Int16]
        var delayMs: Int
        var cost = ProcessingCost()
        // Own echo reduction: far-end activity over the last 50 frames, smoothed energies.
        var farActive = [Bool](repeating: false, count: 50)
        var farIndex = 0
        var energyIn = 0.0
        var energyOut = 0.0
        var activeFrames = 0
        var lastError: Int32 = 0
        var errors = 0

        init(frameSamples: Int, delayMs: Int) {
            output = [Int16](repeating: 0, count: frameSamples)
            self.delayMs = delayMs
        }
    }

    /// The WebRTC processor: used only under `engineLock`, destroyed in `deinit`.
    private let processor: OpaquePointer
    private let queueLock = NSLock()
    /// Guarded by `queueLock`.
    private var queue = RenderQueue()
    private let engineLock = NSLock()
    /// Guarded by `engineLock`.
    private var engine: Engine

    /// Far-end frame energy (mean square, full scale = 1) above which the reference counts as active: −60 dBFS.
    private static let farActiveEnergy = 1e-6
    /// Microphone frame energy below which a frame is ignored by `echoReductionDB`: −70 dBFS.
    private static let nearFloorEnergy = 1e-7
    private static let smoothing = 0.99
    private static let maxReductionDB = 60.0

    public init(sampleRate: Int = 16000, echoCancellation: Bool, noiseSuppression: Bool,
                options: Options = .init()) throws(EchoCancelError) {
        guard sampleRate == 16000 else { throw .unsupportedSampleRate(sampleRate) }
        var config = cwa_config(
            sample_rate_hz: Int32(sampleRate),
            echo_cancellation: echoCancellation ? 1 : 0,
            noise_suppression: noiseSuppression ? 1 : 0,
            extended_filter: options.extendedFilter ? 1 : 0,
            delay_agnostic: options.delayAgnostic ? 1 : 0,
            echo_suppression_level: options.echoSuppression.rawValue,
            noise_suppression_level: options.noiseSuppressionLevel.rawValue,
            high_pass_filter: options.highPassFilter ? 1 : 0)
        var code: Int32 = 0
        guard let processor = cwa_create(&config, &code) else { throw .creationFailed(code: code) }
        let delay = Self.clampDelay(options.initialDelayMs)
        frameSamples = sampleRate / 100
        self.sampleRate = sampleRate
        self.echoCancellation = echoCancellation
        self.noiseSuppression = noiseSuppression
        self.options = options
        self.processor = processor
        engine = Engine(frameSamples: sampleRate / 100, delayMs: delay)
    }

    deinit { cwa_destroy(processor) }

    private func withQueue<T>(_ body: (inout RenderQueue) -> T) -> T {
        queueLock.lock()
        defer { queueLock.unlock() }
        return body(&queue)
    }

    private func withEngine<T>(_ body: (inout Engine) -> T) -> T {
        engineLock.lock()
        defer { engineLock.unlock() }
        return body(&engine)
    }

    // MARK: - Reference (any thread)

    /// The far-end reference: what the speaker played (or is about to), at 16 kHz, any length.
    /// Queues complete 10 ms frames for the next `capture`; never blocks on the processing.
    /// Ignored when echo cancellation is off (nothing else needs the reference).
    /// `atMs`: when it was handed over (the playback thread's write), on the clock `capture`'s
    /// `capturedAtMs` uses; see `capture`.
    public func render(_ samples: [Int16], atMs: Double? = nil) {
        guard echoCancellation, !samples.isEmpty else { return }
        let n = frameSamples, capacity = renderQueueCapacity
        withQueue { q in
            q.partial.append(contentsOf: samples)
            var start = 0
            while q.partial.count - start >= n {
                q.frames.append(Array(q.partial[start..<(start + n)]))
                // A frame completed by this call was handed over as its last sample was.
                let after = q.partial.count - (start + n)
                q.stamps.append(atMs.map { $0 - Double(after) * 1000 / Double(sampleRate) })
                start += n
            }
            if start > 0 { q.partial.removeFirst(start) }
            let excess = q.queued - capacity
            if excess > 0 {
                q.head += excess
                q.dropped += excess
            }
            // Compact the consumed head now and then (amortised O(1)).
            if q.head > capacity {
                q.frames.removeFirst(q.head)
                q.stamps.removeFirst(q.head)
                q.head = 0
            }
        }
    }

    /// Reference frames dropped because no `capture` took them within `renderQueueCapacity` frames.
    public var droppedRenderFrames: Int { withQueue { $0.dropped } }
    /// Complete reference frames waiting for the next `capture` (≤ `renderQueueCapacity`).
    public var queuedRenderFrames: Int { withQueue { $0.queued } }

    // MARK: - Microphone (any thread; serialised)

    /// The near-end microphone at 16 kHz, any length: returns the same number of samples, processed,
    /// 10 ms later (see the type's comment).
    ///
    /// `capturedAtMs`: when the last of `samples` was captured (the device's read), on the clock of
    /// `render`'s `atMs`. Each 10 ms frame then goes to WebRTC after exactly the reference frames
    /// handed over before it was captured, as if both ran in real time: a consumer that gets to the
    /// microphone late (CPU load) and then processes a burst of chunks no longer gives the first
    /// chunk of the burst all the reference of the stall and the rest none, which moved the echo
    /// against the delay the canceller was told. Without stamps, every queued frame goes first.
    public func capture(_ samples: [Int16], capturedAtMs: Double? = nil) -> [Int16] {
        guard !samples.isEmpty else { return [] }
        let n = frameSamples
        return withEngine { e in
            e.input.append(contentsOf: samples)
            var start = 0
            var frame = [Int16](repeating: 0, count: n)
            while e.input.count - start >= n {
                let frameEndMs = capturedAtMs.map { $0 - Double(e.input.count - (start + n)) * 1000 / Double(sampleRate) }
                let reference = withQueue { q -> ArraySlice<[Int16]> in
                    var end = q.frames.count
                    if let frameEndMs {
                        end = q.head
                        while end < q.frames.count, (q.stamps[end] ?? -.infinity) <= frameEndMs { end += 1 }
                    }
                    let taken = q.frames[q.head..<end]
                    if end == q.frames.count {
                        q.frames.removeAll(keepingCapacity: true)
                        q.stamps.removeAll(keepingCapacity: true)
                        q.head = 0
                    } else {
                        q.head = end
                    }
                    return taken
                }
                for i in 0..<n { frame[i] = e.input[start + i] }
                process(&e, reference: reference, frame: &frame)
                e.output.append(contentsOf: frame)
                start += n
            }
            if start > 0 { e.input.removeFirst(start) }
            let out = Array(e.output[0..<samples.count])
            e.output.removeFirst(samples.count)
            return out
        }
    }

    private func process(_ e: inout Engine, reference: ArraySlice<[Int16]>, frame: inout [Int16]) {
        let t0 = cwa_thread_cpu_seconds()
        var farActiveNow = false
        for r in reference {
            let code = r.withUnsafeBufferPointer { cwa_process_reverse(processor, $0.baseAddress, $0.count) }
            note(&e, code)
            e.cost.renderFrames += 1
            if Self.energy(r) > Self.farActiveEnergy { farActiveNow = true }
        }
        let inEnergy = Self.energy(frame)
        // Told below 500 ms: the extended filter takes 500 ms and more as bogus and falls back to 50 ms.
        let told = min(max(0, e.delayMs - options.delayMarginMs), 490)
        note(&e, cwa_set_stream_delay_ms(processor, Int32(told)))
        let code = frame.withUnsafeMutableBufferPointer { cwa_process_stream(processor, $0.baseAddress, $0.count) }
        note(&e, code)
        e.cost.seconds += cwa_thread_cpu_seconds() - t0
        e.cost.captureFrames += 1

        // Own echo reduction over frames whose echo window (the last 500 ms of reference) was active.
        e.farActive[e.farIndex] = farActiveNow
        e.farIndex = (e.farIndex + 1) % e.farActive.count
        if e.farActive.contains(true), inEnergy > Self.nearFloorEnergy {
            e.energyIn = e.energyIn * Self.smoothing + inEnergy
            e.energyOut = e.energyOut * Self.smoothing + Self.energy(frame)
            e.activeFrames += 1
        }
    }

    private func note(_ e: inout Engine, _ code: Int32) {
        if code != 0, code != Int32(CWA_WARN_BAD_STREAM_PARAMETER) {
            e.lastError = code
            e.errors += 1
        }
    }

    // MARK: - Settings and measurements

    /// The echo delay, ms (see the type's comment); clamped to 0...500.
    public var streamDelayMs: Int {
        get { withEngine { $0.delayMs } }
        set { withEngine { $0.delayMs = Self.clampDelay(newValue) } }
    }

    /// WebRTC's echo return loss enhancement (average), dB; nil when the AEC is off or has none yet.
    public var erleDB: Double? {
        withEngine { _ in
            var m = cwa_echo_metrics()
            guard cwa_echo_metrics_get(processor, &m) == 0, m.erle_known != 0 else { return nil }
            return Double(m.erle_average)
        }
    }

    /// This class's own echo reduction, dB (see the type's comment); nil until measured.
    public var echoReductionDB: Double? {
        withEngine { e in
            guard e.activeFrames >= 100, e.energyIn > 0 else { return nil }
            let out = max(e.energyOut, e.energyIn * pow(10, -Self.maxReductionDB / 10))
            return 10 * log10(e.energyIn / out)
        }
    }

    /// Whether the last capture frame might contain echo (WebRTC's verdict).
    public var streamHasEcho: Bool { withEngine { _ in cwa_stream_has_echo(processor) != 0 } }

    public var processingCost: ProcessingCost { withEngine { $0.cost } }

    /// WebRTC calls that failed (warnings excluded), and the last failure's code; the audio of a
    /// failed capture frame passes unprocessed.
    public var errors: (count: Int, last: Int32) { withEngine { ($0.errors, $0.lastError) } }

    // MARK: - Helpers

    private static func clampDelay(_ ms: Int) -> Int { min(max(ms, 0), 500) }

    /// Mean square, full scale = 1.
    static func energy(_ samples: some Collection<Int16>) -> Double {
        guard !samples.isEmpty else { return 0 }
        var sum = 0.0
        for s in samples { let x = Double(s) / 32768; sum += x * x }
        return sum / Double(samples.count)
    }
}
