import AudioCore
import CPulseSimple
import Foundation

/// Records a source (e.g. a sink's monitor) on its own thread — for tests and benchmarks.
public final class PulseRecorder: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var samples: [Int16] = []
    private var running = true
    private let done = DispatchSemaphore(value: 0)
    public let rate: Int

    public init(source: String, rate: Int = 16000, fragmentMs: Int = 5, server: String? = nil) throws(PulseError) {
        self.rate = rate
        let ready = DispatchSemaphore(value: 0)
        let failure = FailureSlot()
        let frag = rate * fragmentMs / 1000
        let t = Thread { [self] in
            let stream: PulseStream
            do {
                stream = try PulseStream(record: true, rate: rate, device: source, name: "test-recorder",
                                         fragmentMs: fragmentMs, targetLatencyMs: fragmentMs, server: server)
            } catch {
                failure.set(error as? PulseError ?? PulseError(kind: .other, message: "\(error)"))
                ready.signal()
                done.signal()
                return
            }
            lock.withLock { self.stream = stream }
            ready.signal()
            while lock.withLock({ running }) {
                guard let chunk = try? stream.read(count: frag) else { break }
                lock.withLock { samples.append(contentsOf: chunk) }
            }
            done.signal()
        }
        t.start()
        ready.wait()
        if let e = failure.get() { throw e }
    }

    /// Samples recorded so far.
    public var count: Int { lock.withLock { samples.count } }
    /// The record stream, for its latency (pa_simple calls take the stream's own lock).
    private var stream: PulseStream?
    /// Samples recorded so far, and how far behind the source they are: sound the source had
    /// already produced that is still on its way to `samples` (pa_simple's record latency).
    public func countAndLatencyMs() -> (count: Int, latencyMs: Double) {
        let (n, s) = lock.withLock { (samples.count, stream) }
        let micros = (try? s?.latencyMicros()) ?? 0
        return (n, Double(micros) / 1000)
    }
    public func snapshot() -> [Int16] { lock.withLock { samples } }

    public func stop() {
        lock.withLock { running = false }
        done.wait()
    }
}

/// Plays samples into a sink with blocking writes on the calling thread — the "seeds' pattern"
/// baseline of the benchmark, and a way for tests to feed the mic_feed sink.
public final class PulsePlayer {
    let stream: PulseStream
    public init(sink: String?, rate: Int, targetLatencyMs: Int = 50, fragmentMs: Int = 10, server: String? = nil) throws(PulseError) {
        stream = try PulseStream(record: false, rate: rate, device: sink, name: "test-player", fragmentMs: fragmentMs,
                                 targetLatencyMs: targetLatencyMs, server: server)
    }
    public func write(_ samples: [Int16]) throws(PulseError) { try stream.write(samples) }
    public func flush() { stream.flush() }
    public func drain() { stream.drain() }
    /// Device latency in microseconds; nil once the stream is dead.
    public func latencyMicros() -> Int? { try? stream.latencyMicros() }
}

private final class FailureSlot: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var error: PulseError?
    func set(_ e: PulseError) { lock.withLock { error = e } }
    func get() -> PulseError? { lock.withLock { error } }
}
