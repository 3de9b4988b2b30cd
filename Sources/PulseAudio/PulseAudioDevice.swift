import AudioCore
import CPulseSimple
import Foundation

/// Options of the PulseAudio backend.
public struct PulseOptions: Sendable {
    /// Source name (`--mic`), nil = server default.
    public var mic: String?
    /// Sink name (`--speaker`), nil = server default.
    public var speaker: String?
    /// Target device latency of playback (`--playback-buffer-ms`).
    public var playbackBufferMs = 50
    /// Jitter prebuffer a turn waits for before it plays, at first; with `adaptiveJitter` it then
    /// grows on underruns and shrinks when arrival is steady (`JitterPolicy`).
    public var prebufferMs = 30
    public var adaptiveJitter = true
    /// Server address (`unix:/path` or `tcp:host`); nil = `$PULSE_SERVER` or the default socket.
    public var server: String?
    public var captureEnabled = true
    /// Sees every block the playback thread writes (24 kHz mono, silence included; 20 ms of zeros
    /// per idle wait), on that thread: the echo canceller's reference. Must return at once.
    public var playbackTap: (@Sendable ([Int16]) -> Void)?
    public var playbackEnabled = true
    /// How long start-up waits for the server to accept a stream before giving up (`pa_simple_new`
    /// itself may wait 30 s on a server that accepts the connection and never answers).
    public var openTimeoutSeconds = 5.0
    public init() {}
}

/// Problems on a running device, reported upward (never a crash). Each stream reports `.lost` once per
/// outage (with the reason) and `.recovered` once it works again; "microphone" and "speaker" name them.
public enum DeviceEvent: Sendable, Equatable {
    case lost(String)
    case recovered(String)
}

/// Opens one stream for a device thread: `record` true is the microphone, false the speaker.
typealias StreamOpener = @Sendable (_ record: Bool) throws(PulseError) -> any DeviceStream

/// libpulse-simple capture (16 kHz, 20 ms reads) and playback (24 kHz, ≤ 10 ms writes, so a purge waits for at most 10 ms of a write in progress),
/// each on its own thread. Shared state: the capture ring, the playback queue and meter slots,
/// each with its own lock held only while copying.
///
/// The sound server may come and go (a PulseAudio restart, PipeWire upgraded under the user). Each
/// stream then reports `.lost` once per outage, polls the server every `retryInterval` (1 s) and
/// reports `.recovered` once a reopened stream has worked; nothing traps and nothing blocks for
/// long: every `pa_simple_new` runs on a short-lived thread of its own, waited for at most
/// `openTimeoutSeconds` at start-up and polled afterwards (libpulse itself waits up to 30 s for a
/// server that accepts and never answers).
public final class PulseAudioDevice: AudioDevice, @unchecked Sendable {
    public let capture: AsyncStream<CaptureChunk>
    public let events: AsyncStream<DeviceEvent>
    private let eventsContinuation: AsyncStream<DeviceEvent>.Continuation
    private let ring: CaptureRing
    private let queue: PlaybackQueue
    private let micSlot = MeterSlot()
    private let speakerSlot = MeterSlot()
    private let options: PulseOptions
    private let opener: StreamOpener
    /// How often a lost stream is reopened.
    let retryInterval: Double
    private let lock = NSLock()
    // Guarded by `lock`:
    private var latencyMicros = 0
    /// Guarded by `lock`: the open speaker stream (for `flushNow`), and whether a flush waits.
    private var playbackStream: (any DeviceStream)?
    private var flushPending = false
    private let flusher = DispatchQueue(label: "livetalk.speaker-flush")
    private var captureCount = 0
    private var reopenAttempts: [Bool: Int] = [:]   // by `record`
    private var threads: [Thread] = []
    /// Guards `running`; stream threads wait on it between reopen attempts, `stop()` wakes them.
    private let stopCondition = NSCondition()
    private var running = true

    /// Opens the streams (on their threads) and returns once both are open, or throws the first failure.
    public convenience init(options: PulseOptions = PulseOptions()) throws(PulseError) {
        try self.init(options: options, retryInterval: 1) { record throws(PulseError) in
            if record {
                return try PulseStream(record: true, rate: 16000, device: options.mic, name: "microphone",
                                       fragmentMs: 20, targetLatencyMs: 20, server: options.server)
            }
            return try PulseStream(record: false, rate: 24000, device: options.speaker, name: "assistant",
                                   fragmentMs: 10, targetLatencyMs: options.playbackBufferMs, server: options.server)
        }
    }

    /// Tests pass fake streams and a short retry interval.
    init(options: PulseOptions, retryInterval: Double, opener: @escaping StreamOpener) throws(PulseError) {
        self.options = options
        self.opener = opener
        self.retryInterval = retryInterval
        ring = CaptureRing(capacity: 50)
        capture = ring.stream
        queue = PlaybackQueue(rate: 24000, maxWriteMs: 10,
                              jitter: JitterPolicy(startMs: options.prebufferMs, adaptive: options.adaptiveJitter))
        (events, eventsContinuation) = AsyncStream.makeStream(of: DeviceEvent.self, bufferingPolicy: .bufferingNewest(64))
        let failures = FailureList()
        let opened = DispatchGroup()
        if options.playbackEnabled {
            opened.enter()
            start(name: "livetalk-playback") { [self] in
                playbackLoop(onOpen: { e in
                    if let e { failures.add(e) }
                    opened.leave()
                })
            }
        }
        if options.captureEnabled {
            opened.enter()
            start(name: "livetalk-capture") { [self] in
                captureLoop(onOpen: { e in
                    if let e { failures.add(e) }
                    opened.leave()
                })
            }
        }
        opened.wait()   // bounded: each thread gives up opening after `openTimeoutSeconds`
        if let first = failures.first {
            stop()
            throw first
        }
    }

    private func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread(block: body)
        t.name = name
        t.qualityOfService = .userInteractive
        lock.withLock { threads.append(t) }
        t.start()
    }

    private var isRunning: Bool {
        stopCondition.lock()
        defer { stopCondition.unlock() }
        return running
    }

    /// Sleeps until `deadline` or `stop()`, whichever comes first.
    private func pause(until deadline: Date) {
        stopCondition.lock()
        while running, Date() < deadline { _ = stopCondition.wait(until: deadline) }
        stopCondition.unlock()
    }

    /// Failed or pending reopen attempts so far, per stream (tests wait on it instead of sleeping).
    func reopenAttemptCount(record: Bool) -> Int { lock.withLock { reopenAttempts[record] ?? 0 } }

    /// Keeps one stream open for the life of the device: the shared lost/poll/recovered cycle of both
    /// threads. `step` does one unit of work (a 20 ms read, a ≤ 10 ms write or an idle wait) and
    /// returns whether it talked to the server successfully; it throws when the stream is dead. Its
    /// second argument asks it to talk to the server (a reopened stream is not trusted until it has).
    private func keepOpen(record: Bool, onOpen: (PulseError?) -> Void,
                          step: (any DeviceStream, Bool) throws(PulseError) -> Bool, lost: () -> Void,
                          atEnd: ((any DeviceStream)?) -> Void) {
        let label = record ? "microphone" : "speaker"
        let open: @Sendable () throws(PulseError) -> any DeviceStream = { [opener] () throws(PulseError) in try opener(record) }
        let first = PendingOpen(open)
        var stream: (any DeviceStream)?
        switch first.take(timeout: options.openTimeoutSeconds) {
        case .success(let s)?:
            stream = s
            onOpen(nil)
        case .failure(let e)?:
            onOpen(e)
            return
        case nil:
            first.abandon()
            onOpen(PulseError(kind: .noServer,
                              message: "the PulseAudio server at \(options.server ?? PulseError.serverDescription) is not answering: "
                                  + "restart it, or use --audio wav|null"))
            return
        }
        var outage = false       // `.lost` was reported and `.recovered` not yet
        var confirmed = true     // the current stream has worked at least once
        var pending: PendingOpen?
        var attemptStarted = Date()
        while isRunning {
            guard let s = stream else {
                if pending == nil {
                    attemptStarted = Date()
                    pending = PendingOpen(open)
                    lock.withLock { reopenAttempts[record, default: 0] += 1 }
                }
                switch pending?.take(timeout: retryInterval) {
                case .success(let s)?:
                    pending = nil
                    stream = s
                    confirmed = false
                case .failure?:
                    pending = nil
                    pause(until: attemptStarted + retryInterval)
                case nil:
                    break   // still opening (a server that accepted and is silent): keep polling it
                }
                continue
            }
            do {
                if try step(s, !confirmed), !confirmed {
                    confirmed = true
                    if outage {
                        outage = false
                        eventsContinuation.yield(.recovered(label))
                    }
                }
            } catch {
                stream = nil
                lost()
                if !outage {
                    outage = true
                    eventsContinuation.yield(.lost("\(label): \(error.message)"))
                }
                // A stream that died before it ever worked is part of the same outage: poll again later.
                if !confirmed { pause(until: attemptStarted + retryInterval) }
                confirmed = false
            }
        }
        pending?.abandon()
        atEnd(stream)
    }

    // MARK: capture thread

    private func captureLoop(onOpen: (PulseError?) -> Void) {
        var meter = LevelMeter(rate: 16000)
        keepOpen(record: true, onOpen: onOpen, step: { s, _ throws(PulseError) in
            let samples = try s.read(count: 320)   // 20 ms: waits only on the device
            ring.push(CaptureChunk(samples: samples))
            micSlot.set(meter.process(samples))
            lock.withLock { captureCount += 1 }
            return true
        }, lost: {}, atEnd: { _ in })
        ring.finish()
    }

    // MARK: playback thread

    private func playbackLoop(onOpen: (PulseError?) -> Void) {
        var meter = LevelMeter(rate: 24000)
        let tap = options.playbackTap
        var writes = 0
        let idleChunk = [Int16](repeating: 0, count: 480)
        keepOpen(record: false, onOpen: onOpen, step: { s, probe throws(PulseError) in
            lock.withLock { playbackStream = s }
            if queue.takeFlushRequest() { s.flush() }
            var talked = false
            // What the device still holds (pa_simple interpolates it locally: no round trip to the
            // server): the queue counts an underrun by it, and measures each turn's headroom with it.
            let holds = ((try? s.latencyMicros()) ?? 0) * 24 / 1000
            switch queue.next(deviceHolds: holds) {
            case .audio(let turn, let samples):
                try s.write(samples)
                queue.markWritten(turn: turn, count: samples.count)
                speakerSlot.set(meter.process(samples))
                tap?(samples)
                talked = true
            case .silence(let n):
                let zeros = [Int16](repeating: 0, count: n)
                try s.write(zeros)
                speakerSlot.set(meter.process(idleChunk[0..<min(n, idleChunk.count)]))
                tap?(zeros)
                talked = true
            case .idle:
                speakerSlot.set(meter.process(idleChunk))
                tap?(idleChunk)
                queue.waitForWork(timeout: 0.02)
            case .waitForChunk:
                // Ask again before the device runs dry: a little less than what it holds over one write.
                queue.waitForWork(timeout: max(0.001, min(0.005, Double(holds) / 24000 / 2)))
            }
            writes += 1
            // Also probes a stream that has just been reopened: an idle speaker notices a dead server here.
            if writes % 5 == 0 || probe {
                let l = min(try s.latencyMicros(), 60_000_000)   // a minute caps any server's nonsense
                lock.withLock { latencyMicros = l }
                talked = true
            }
            return talked
        }, lost: {
            lock.withLock { (latencyMicros, playbackStream) = (0, nil) }
        }, atEnd: { s in
            lock.withLock { playbackStream = nil }
            if let s, queue.queuedSamples == 0 { s.drain() }
        })
    }

    // MARK: AudioDevice

    public func play(turn: Int, samples: [Int16]) { queue.enqueue(turn: turn, samples: samples) }
    public func endTurn(_ turn: Int) { queue.endTurn(turn) }
    public func purge(turn: Int) {
        queue.purge(turn: turn)
        flushNow()
    }
    public func duck(gainDB: Double) -> Bool {
        // What the device holds (its latency) is written again, quieter, after a flush.
        guard queue.duck(gainDB: gainDB, rewindSamples: lock.withLock { latencyMicros } * 24 / 1000) else { return false }
        flushNow()
        return true
    }

    /// Flushes the speaker now, from a queue of its own, instead of after the ≤ 10 ms write the
    /// playback thread may be blocked in (issue 11 item 5: purge in ≤ 10 ms). pa_simple takes its
    /// mainloop's lock per call, so this is safe beside that write (PLATFORM.md: a cross-thread
    /// flush returned in 0.26 ms); the playback thread still flushes after its write, which drops
    /// whatever that write added. Never on the caller: a stalled sound server would hang it. At
    /// most one flush waits (`flushPending`); the stream is kept alive by the reference.
    private func flushNow() {
        let s: (any DeviceStream)? = lock.withLock {
            guard !flushPending, let s = playbackStream else { return nil }
            flushPending = true
            return s
        }
        guard let s else { return }
        let ref = FlushableStream(stream: s)
        flusher.async { [self] in
            ref.stream.flush()
            lock.withLock { flushPending = false }
        }
    }
    public func unduck() { queue.unduck() }

    public func playedSamples(turn: Int) -> Int {
        let latencySamples = lock.withLock { latencyMicros } * 24 / 1000
        return max(0, queue.writtenSamples(turn: turn) - latencySamples)
    }

    public func queuedSamples() -> Int { queue.queuedSamples }

    public func firstAudible(turn: Int) -> ContinuousClock.Instant? {
        guard let written = queue.firstWrittenAt(turn: turn) else { return nil }
        return written + .microseconds(lock.withLock { latencyMicros })
    }
    public func levels() -> (mic: MeterReading, speaker: MeterReading) { (micSlot.get(), speakerSlot.get()) }

    public func stats() -> AudioStats {
        var s = AudioStats()
        s.captureChunks = ring.pushed
        s.captureDropped = ring.dropped
        s.playbackUnderruns = queue.underrunCount
        s.playbackDroppedSamples = queue.droppedSamples
        s.purges = queue.purges
        s.ducks = queue.ducks
        s.playbackLatencyMicros = lock.withLock { latencyMicros }
        s.prebufferMs = queue.prebufferMs
        return s
    }

    public func stop() {
        stopCondition.lock()
        running = false
        stopCondition.broadcast()
        stopCondition.unlock()
        queue.wake()
        eventsContinuation.finish()
        ring.finish()   // capture consumers end now, even if the capture thread is still in a read
    }
}

/// One stream being opened on a short-lived thread of its own, so that the caller can stop waiting.
/// A stream that finishes opening after the caller gave up is freed on that thread.
final class PendingOpen: @unchecked Sendable {
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    // Guarded by `lock`:
    private var result: Result<any DeviceStream, PulseError>?
    private var abandoned = false

    init(_ open: @escaping @Sendable () throws(PulseError) -> any DeviceStream) {
        let t = Thread { [self] in
            var r: Result<any DeviceStream, PulseError>?
            do throws(PulseError) { r = .success(try open()) } catch { r = .failure(error) }
            lock.withLock {
                if !abandoned { swap(&result, &r) }
            }
            r = nil   // abandoned: free the stream here, not on the device thread
            done.signal()
        }
        t.name = "livetalk-pulse-open"
        t.start()
    }

    /// The outcome, once; nil if the open is still running after `timeout` seconds.
    func take(timeout: Double) -> Result<any DeviceStream, PulseError>? {
        guard done.wait(timeout: .now() + max(0, timeout)) == .success else { return nil }
        return lock.withLock {
            defer { result = nil }
            return result
        }
    }

    /// The caller no longer wants the stream.
    func abandon() {
        let r: Result<any DeviceStream, PulseError>? = lock.withLock {
            abandoned = true
            defer { result = nil }
            return result
        }
        _ = r
    }
}

/// Open errors collected from the stream threads.
private final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var errors: [PulseError] = []
    func add(_ e: PulseError) { lock.withLock { errors.append(e) } }
    var first: PulseError? { lock.withLock { errors.first } }
}

/// A stream handed to the flush queue: `DeviceStream.flush` may be called beside the playback
/// thread's write (see there), and the reference keeps the stream alive until it returns.
private struct FlushableStream: @unchecked Sendable {
    let stream: any DeviceStream
}
