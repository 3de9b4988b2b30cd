import Foundation

/// 20 ms of 16 kHz mono from the microphone.
public struct CaptureChunk: Sendable {
    public var samples: [Int16]
    /// When the device handed it over (for hand-off latency figures).
    public var capturedAt: ContinuousClock.Instant
    public init(samples: [Int16], capturedAt: ContinuousClock.Instant = .now) {
        self.samples = samples
        self.capturedAt = capturedAt
    }
}

/// Counters a device reports (the UI and benchmarks show them).
public struct AudioStats: Sendable, Hashable {
    public var captureChunks = 0
    public var captureDropped = 0
    public var playbackUnderruns = 0
    /// Model audio refused because the playback queue was full (`PlaybackQueue.maxQueuedSamples`).
    public var playbackDroppedSamples = 0
    public var purges = 0
    /// Local barge-in ducks of the speaker.
    public var ducks = 0
    /// Device latency of the playback stream, microseconds (0 when unknown).
    public var playbackLatencyMicros = 0
    /// The jitter buffer's prebuffer target now, ms (0 for devices without one).
    public var prebufferMs = 0
    public init() {}
}

/// What the session side needs from an audio backend (PulseAudio, WAV files, null).
/// Implementations run their own threads; every method here returns at once.
public protocol AudioDevice: AnyObject, Sendable {
    /// Microphone chunks, 16 kHz mono, 20 ms each. Finishes when the device stops.
    var capture: AsyncStream<CaptureChunk> { get }
    /// Queue 24 kHz mono model audio of `turn`.
    func play(turn: Int, samples: [Int16])
    /// No more audio will come for `turn` (lets the jitter buffer play out a short tail).
    func endTurn(_ turn: Int)
    /// Barge-in: drop everything queued for `turn` (and earlier), flush the device, ignore later chunks of it.
    func purge(turn: Int)
    /// Samples of `turn` that have actually reached the speaker (24 kHz), for trimming transcripts.
    func playedSamples(turn: Int) -> Int
    /// Samples still waiting to be written to the speaker.
    func queuedSamples() -> Int
    func levels() -> (mic: MeterReading, speaker: MeterReading)
    func stats() -> AudioStats
    func stop()
    /// When the first sample of `turn` became audible (written, plus the device's latency), if it has.
    func firstAudible(turn: Int) -> ContinuousClock.Instant?
    /// Local barge-in: lower what plays now by `gainDB` (within one small write); false when
    /// nothing was playing.
    func duck(gainDB: Double) -> Bool
    /// Back to full volume.
    func unduck()
}

extension AudioDevice {
    /// Devices without a speaker (files, null) never make anything audible.
    public func firstAudible(turn: Int) -> ContinuousClock.Instant? { nil }
    /// Devices without a speaker have nothing to duck.
    public func duck(gainDB: Double) -> Bool { false }
    public func unduck() {}
}

/// A bounded hand-off from a capture thread to async code: never blocks the writer; when full,
/// the oldest chunk is dropped and counted (`dropped`). Bound: `capacity` chunks, 50 by default
/// (1 s of 20 ms chunks, about 32 KB) — a consumer that stalls longer loses the oldest audio.
public final class CaptureRing: @unchecked Sendable {
    public let stream: AsyncStream<CaptureChunk>
    private let continuation: AsyncStream<CaptureChunk>.Continuation
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var droppedCount = 0
    private var pushedCount = 0

    /// `capacity` chunks (default 50 = 1 s of 20 ms chunks).
    public init(capacity: Int = 50) {
        (stream, continuation) = AsyncStream.makeStream(of: CaptureChunk.self, bufferingPolicy: .bufferingNewest(capacity))
    }

    /// Called on the capture thread.
    public func push(_ chunk: CaptureChunk) {
        let r = continuation.yield(chunk)
        lock.withLock {
            pushedCount += 1
            if case .dropped = r { droppedCount += 1 }
        }
    }

    public func finish() { continuation.finish() }
    public var dropped: Int { lock.withLock { droppedCount } }
    public var pushed: Int { lock.withLock { pushedCount } }
}

/// In-process processing of the microphone against what the speaker played: echo cancellation
/// and noise suppression (the `EchoCancel` target implements it with WebRTC). Called from the
/// playback thread (`played`) and the microphone's consumer (`microphone`); both return at once.
public protocol MicProcessor: AnyObject, Sendable {
    /// Every block written to the speaker, silence included, at `rate`.
    func played(_ samples: [Int16], rate: Int)
    /// A microphone chunk at 16 kHz, processed: the same length, or longer when audio held back
    /// earlier (the start of the user's words, while an echo gate decided) comes out with it.
    func microphone(_ samples: [Int16]) -> [Int16]
    /// The same, with when the device read the chunk (`CaptureChunk.capturedAt`), so a processor
    /// can line it up with what was played whenever the consumer gets to it.
    func microphone(_ samples: [Int16], capturedAt: ContinuousClock.Instant) -> [Int16]
    /// How far the echo lags what was played: the device latencies, in ms.
    func setDelay(ms: Int)
    /// The live echo reduction, in dB, once measured.
    var echoReductionDB: Double? { get }
    /// A line for the log at the end of a conversation (what it measured); empty: nothing to say.
    var diagnostics: String { get }
}

public extension MicProcessor {
    /// A processor that needs no times processes the chunk as it comes.
    func microphone(_ samples: [Int16], capturedAt: ContinuousClock.Instant) -> [Int16] { microphone(samples) }
    var diagnostics: String { "" }
}
