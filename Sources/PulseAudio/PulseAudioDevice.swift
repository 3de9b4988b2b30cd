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
    /// Jitter prebuffer before a turn starts playing.
    public var prebufferMs = 60
    /// Server address (`unix:/path` or `tcp:host`); nil = `$PULSE_SERVER` or the default socket.
    public var server: String?
    public var captureEnabled = true
    public var playbackEnabled = true
    public init() {}
}

/// Problems on a running device, reported upward (never a crash).
public enum DeviceEvent: Sendable, Equatable {
    case lost(String)
    case recovered(String)
}

/// libpulse-simple capture (16 kHz, 20 ms reads) and playback (24 kHz, ≤ 20 ms writes),
/// each on its own thread. Shared state: the capture ring, the playback queue and meter slots,
/// each with its own lock held only while copying.
public final class PulseAudioDevice: AudioDevice, @unchecked Sendable {
    public let capture: AsyncStream<CaptureChunk>
    public let events: AsyncStream<DeviceEvent>
    private let eventsContinuation: AsyncStream<DeviceEvent>.Continuation
    private let ring: CaptureRing
    private let queue: PlaybackQueue
    private let micSlot = MeterSlot()
    private let speakerSlot = MeterSlot()
    private let options: PulseOptions
    private let lock = NSLock()
    // Guarded by `lock`:
    private var running = true
    private var latencyMicros = 0
    private var captureCount = 0
    private var threads: [Thread] = []

    /// Opens the streams (on their threads) and returns once both are open, or throws the first failure.
    public init(options: PulseOptions = PulseOptions()) throws(PulseError) {
        self.options = options
        ring = CaptureRing(capacity: 50)
        capture = ring.stream
        queue = PlaybackQueue(rate: 24000, prebufferMs: options.prebufferMs, maxWriteMs: 20)
        (events, eventsContinuation) = AsyncStream.makeStream(of: DeviceEvent.self)
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
        opened.wait()
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

    private var isRunning: Bool { lock.withLock { running } }

    // MARK: capture thread

    private func captureLoop(onOpen: (PulseError?) -> Void) {
        var stream: PulseStream?
        do {
            stream = try PulseStream(record: true, rate: 16000, device: options.mic, name: "microphone",
                                     fragmentMs: 20, targetLatencyMs: 20, server: options.server)
            onOpen(nil)
        } catch {
            onOpen(error)
            return
        }
        var meter = LevelMeter(rate: 16000)
        var lost = false
        while isRunning {
            guard let s = stream else {
                Thread.sleep(forTimeInterval: 1)
                stream = try? PulseStream(record: true, rate: 16000, device: options.mic, name: "microphone",
                                          fragmentMs: 20, targetLatencyMs: 20, server: options.server)
                if stream != nil, lost {
                    lost = false
                    eventsContinuation.yield(.recovered("microphone"))
                }
                continue
            }
            do {
                let samples = try s.read(count: 320)   // 20 ms: waits only on the device
                ring.push(CaptureChunk(samples: samples))
                micSlot.set(meter.process(samples))
                lock.withLock { captureCount += 1 }
            } catch {
                stream = nil
                lost = true
                eventsContinuation.yield(.lost("microphone: \(error.message)"))
            }
        }
        ring.finish()
    }

    // MARK: playback thread

    private func playbackLoop(onOpen: (PulseError?) -> Void) {
        func open() throws(PulseError) -> PulseStream {
            try PulseStream(record: false, rate: 24000, device: options.speaker, name: "assistant",
                            fragmentMs: 10, targetLatencyMs: options.playbackBufferMs, server: options.server)
        }
        var stream: PulseStream?
        do {
            stream = try open()
            onOpen(nil)
        } catch {
            onOpen(error)
            return
        }
        var meter = LevelMeter(rate: 24000)
        var lost = false
        var writes = 0
        let idleChunk = [Int16](repeating: 0, count: 480)
        while isRunning {
            guard let s = stream else {
                Thread.sleep(forTimeInterval: 1)
                stream = try? open()
                if stream != nil, lost {
                    lost = false
                    eventsContinuation.yield(.recovered("speaker"))
                }
                continue
            }
            if queue.takeFlushRequest() { s.flush() }
            do {
                switch queue.next() {
                case .audio(let turn, let samples):
                    try s.write(samples)
                    queue.markWritten(turn: turn, count: samples.count)
                    speakerSlot.set(meter.process(samples))
                case .silence(let n):
                    try s.write([Int16](repeating: 0, count: n))
                    speakerSlot.set(meter.process(idleChunk[0..<n]))
                case .idle:
                    speakerSlot.set(meter.process(idleChunk))
                    queue.waitForWork(timeout: 0.02)
                }
                writes += 1
                if writes % 5 == 0 {
                    let l = s.latencyMicros()
                    lock.withLock { latencyMicros = l }
                }
            } catch {
                stream = nil
                lost = true
                eventsContinuation.yield(.lost("speaker: \(error.message)"))
            }
        }
        if let s = stream, queue.queuedSamples == 0 { s.drain() }
    }

    // MARK: AudioDevice

    public func play(turn: Int, samples: [Int16]) { queue.enqueue(turn: turn, samples: samples) }
    public func endTurn(_ turn: Int) { queue.endTurn(turn) }
    public func purge(turn: Int) { queue.purge(turn: turn) }

    public func playedSamples(turn: Int) -> Int {
        let latencySamples = lock.withLock { latencyMicros } * 24 / 1000
        return max(0, queue.writtenSamples(turn: turn) - latencySamples)
    }

    public func queuedSamples() -> Int { queue.queuedSamples }
    public func levels() -> (mic: MeterReading, speaker: MeterReading) { (micSlot.get(), speakerSlot.get()) }

    public func stats() -> AudioStats {
        var s = AudioStats()
        s.captureChunks = ring.pushed
        s.captureDropped = ring.dropped
        s.playbackUnderruns = queue.underrunCount
        s.purges = queue.purges
        s.playbackLatencyMicros = lock.withLock { latencyMicros }
        return s
    }

    public func stop() {
        lock.withLock { running = false }
        queue.wake()
        eventsContinuation.finish()
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
