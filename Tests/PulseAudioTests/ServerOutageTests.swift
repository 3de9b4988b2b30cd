import AudioCore
import Foundation
import Testing
@testable import PulseAudio

/// Polls `cond` until it holds or `seconds` pass; records an issue naming what was awaited on timeout.
@discardableResult
func eventually(_ what: String, seconds: Double = 15, sourceLocation: SourceLocation = #_sourceLocation,
                _ cond: () -> Bool) async -> Bool {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while !cond() {
        if Date() >= deadline {
            Issue.record("timed out after \(seconds) s waiting for \(what)", sourceLocation: sourceLocation)
            return false
        }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return true
}

/// The device's events, collected as they come.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var events: [DeviceEvent] = []
    private var task: Task<Void, Never>?

    init(_ stream: AsyncStream<DeviceEvent>) {
        task = Task { [self] in
            for await e in stream { lock.withLock { events.append(e) } }
        }
    }

    var all: [DeviceEvent] { lock.withLock { events } }
    func lost(_ prefix: String) -> Int {
        all.filter { if case .lost(let w) = $0 { w.hasPrefix(prefix + ":") } else { false } }.count
    }
    func recovered(_ what: String) -> Int { all.filter { $0 == .recovered(what) }.count }
}

/// Capture chunks, counted as they come.
final class ChunkCounter: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var n = 0

    init(_ stream: AsyncStream<CaptureChunk>) {
        Task { [self] in
            for await _ in stream { lock.withLock { n += 1 } }
        }
    }

    var count: Int { lock.withLock { n } }
}

/// A sound server in memory: streams opened before a `restart()` stay dead, like libpulse's.
final class FakeServer: @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`:
    private var up = true
    private var generation = 0
    private var brokenLatency = false

    func kill() { lock.withLock { up = false } }
    func restart() { lock.withLock { up = true; generation += 1 } }
    /// The next latency queries return `(pa_usec_t)-1`, as libpulse does for a dead stream.
    func breakLatency() { lock.withLock { brokenLatency = true } }

    func alive(_ g: Int) -> Bool { lock.withLock { up && g == generation } }
    var latencyBroken: Bool { lock.withLock { brokenLatency } }

    func open(record: Bool) throws(PulseError) -> any DeviceStream {
        let g: Int? = lock.withLock {
            guard up else { return nil }
            brokenLatency = false
            return generation
        }
        guard let g else { throw PulseError(kind: .noServer, message: "Connection refused") }
        return FakeStream(server: self, generation: g)
    }
}

final class FakeStream: DeviceStream {
    let server: FakeServer
    let generation: Int
    init(server: FakeServer, generation: Int) {
        self.server = server
        self.generation = generation
    }

    func check() throws(PulseError) {
        if !server.alive(generation) { throw PulseError(kind: .noServer, message: "Connection terminated") }
    }

    func read(count: Int) throws(PulseError) -> [Int16] {
        Thread.sleep(forTimeInterval: 0.005)
        try check()
        return [Int16](repeating: 0, count: count)
    }

    func write(_ samples: [Int16]) throws(PulseError) {
        Thread.sleep(forTimeInterval: 0.002)
        try check()
    }

    func flush() {}
    func drain() {}

    func latencyMicros() throws(PulseError) -> Int {
        let raw: UInt64 = server.latencyBroken || !server.alive(generation) ? UInt64.max : 20_000
        return try PulseStream.latency(raw: raw, error: 0)
    }
}

struct PulseOutageUnitTests {
    func device(_ server: FakeServer, capture: Bool = true) throws -> PulseAudioDevice {
        var o = PulseOptions()
        o.captureEnabled = capture
        return try PulseAudioDevice(options: o, retryInterval: 0.05) { record throws(PulseError) in
            try server.open(record: record)
        }
    }

    @Test func testR2_latencyErrorIsLossNotTrap() async throws {
        // The conversion itself: (pa_usec_t)-1 is an error, huge values clamp.
        #expect(throws: PulseError.self) { _ = try PulseStream.latency(raw: UInt64.max, error: 0) }
        #expect(try PulseStream.latency(raw: UInt64.max - 1, error: 0) == Int.max)
        #expect(try PulseStream.latency(raw: 40_000, error: 0) == 40_000)

        // An idle speaker whose latency query fails: reported as lost, reopened, no trap.
        let server = FakeServer()
        let dev = try device(server, capture: false)
        defer { dev.stop() }
        let log = EventLog(dev.events)
        server.breakLatency()
        await eventually("a .lost(speaker) event") { log.lost("speaker") == 1 }
        await eventually(".recovered(speaker) after the reopen") { log.recovered("speaker") == 1 }
        #expect(log.all.count == 2)
    }

    @Test func testR2_oneLostPerOutageThenBothStreamsRecover() async throws {
        let server = FakeServer()
        let dev = try device(server)
        defer { dev.stop() }
        let log = EventLog(dev.events)
        let chunks = ChunkCounter(dev.capture)
        await eventually("capture chunks before the outage") { chunks.count >= 3 }
        server.kill()
        await eventually("both streams reported lost") { log.lost("microphone") == 1 && log.lost("speaker") == 1 }
        let before = (dev.reopenAttemptCount(record: true), dev.reopenAttemptCount(record: false))
        await eventually("five more failed reopen attempts of each stream") {
            dev.reopenAttemptCount(record: true) >= before.0 + 5 && dev.reopenAttemptCount(record: false) >= before.1 + 5
        }
        #expect(log.lost("microphone") == 1, "one .lost per outage, not one per poll: \(log.all)")
        #expect(log.lost("speaker") == 1, "\(log.all)")
        #expect(log.recovered("microphone") == 0 && log.recovered("speaker") == 0)

        server.restart()
        await eventually("both streams recovered") { log.recovered("microphone") == 1 && log.recovered("speaker") == 1 }
        let after = chunks.count
        await eventually("capture chunks after the recovery") { chunks.count >= after + 3 }
        dev.play(turn: 1, samples: [Int16](repeating: 1000, count: 4_800))
        dev.endTurn(1)
        await eventually("the speaker writes again") { dev.playedSamples(turn: 1) > 0 }
        #expect(log.all.count == 4, "\(log.all)")
    }

    @Test func testR2_aServerThatAcceptsAndNeverAnswersCannotHoldStartUp() throws {
        // A unix socket that is listening but never answers: libpulse would wait ~30 s for it.
        let dir = NSTemporaryDirectory() + "lt-silent-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/native"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            for (i, b) in path.utf8.prefix(buf.count - 1).enumerated() { buf[i] = b }
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0 && listen(fd, 8) == 0)

        var o = PulseOptions()
        o.server = "unix:" + path
        o.captureEnabled = false
        o.openTimeoutSeconds = 1
        #expect(throws: PulseError(kind: .noServer,
                                   message: "the PulseAudio server at unix:\(path) is not answering: restart it, or use --audio wav|null")) {
            _ = try PulseAudioDevice(options: o)
        }
    }
}

extension RealDaemonTests {
    /// A real private daemon killed and restarted under an open device (the scenario of R2).
    @Suite
    struct PulseServerRestartTests {
        @Test(.timeLimit(.minutes(1)))
        func testR2_serverRestartReopensBothStreams() async throws {
            let daemon = try PrivateDaemon()
            try daemon.start()
            defer { daemon.kill() }
            var o = PulseOptions()
            o.server = daemon.server
            o.speaker = "lost_sink"
            o.mic = "lost_sink.monitor"
            let dev = try PulseAudioDevice(options: o)
            defer { dev.stop() }
            let log = EventLog(dev.events)
            let chunks = ChunkCounter(dev.capture)
            await eventually("capture chunks from the first daemon") { chunks.count >= 5 }

            daemon.kill()
            await eventually(".lost for microphone and speaker") { log.lost("microphone") == 1 && log.lost("speaker") == 1 }
            let before = (dev.reopenAttemptCount(record: true), dev.reopenAttemptCount(record: false))
            await eventually("two failed reopen attempts of each stream (the device polls every second)") {
                dev.reopenAttemptCount(record: true) >= before.0 + 2 && dev.reopenAttemptCount(record: false) >= before.1 + 2
            }
            #expect(log.lost("microphone") == 1 && log.lost("speaker") == 1, "one .lost per outage: \(log.all)")

            try daemon.start()   // same socket path
            await eventually(".recovered for microphone and speaker") {
                log.recovered("microphone") == 1 && log.recovered("speaker") == 1
            }
            let after = chunks.count
            await eventually("capture chunks from the restarted daemon") { chunks.count >= after + 5 }
            dev.play(turn: 2, samples: ToneGenerator.sine(frequency: 440, seconds: 0.5, rate: 24000))
            dev.endTurn(2)
            await eventually("playback written to the restarted daemon") { dev.playedSamples(turn: 2) > 0 }
            #expect(log.all.count == 4, "\(log.all)")
        }
    }
}
