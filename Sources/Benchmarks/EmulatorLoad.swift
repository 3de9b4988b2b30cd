// The lean load generator of `livetalk-bench emulator`: many sessions on raw `WebSocketTransport`
// connections (no `Session` actor, no replay buffer), every message encoded once and shared, so
// the bench process is not what saturates first.
import AudioCore
import Foundation
import LiveProtocol
import LiveSession
import WebSocketTransport

/// Resident set size of a process, in MB (`/proc/PID/status`).
func residentMB(_ pid: Int32) -> Double {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
    let kb = line.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0
    return kb / 1024
}

/// The machine's 1-minute load average (`/proc/loadavg`), printed with each ramp step: on a shared
/// machine the figures mean little without it.
func loadAverage() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return .nan }
    return s.split(separator: " ").first.flatMap { Double($0) } ?? .nan
}

/// What a tone session saw of its measured turn.
struct ToneTurn: Sendable {
    var latency: Double          // end of the tone → first reply audio
    var replySeconds: Double     // reply audio length
    var arrivalSeconds: Double   // first to last reply chunk
    var sendLag: Double          // worst lateness of a microphone chunk against its schedule
}

/// One raw session: `setup`, then microphone audio in 100 ms chunks in real time — `cycles` times
/// 0.6 s of tone then silence, `cycleSeconds` apart — and the replies' audio counted. The last
/// cycle's reply is the measured one.
final class ToneLoadClient: Sendable {
    static let chunkSamples = 1600   // 100 ms at 16 kHz
    static let tone = ToneGenerator.sine(frequency: 440, seconds: 0.6, rate: 16000, amplitude: 0.3)

    let connection: any TransportConnection
    private let state = ToneState()

    private init(connection: any TransportConnection) { self.connection = connection }

    static func open(port: Int, setup: Data) async throws -> ToneLoadClient {
        let endpoint = try Endpoint.custom("ws://127.0.0.1:\(port)", apiKey: nil)
        let c: any TransportConnection
        do { c = try await WebSocketTransport().connect(to: endpoint) } catch { throw BenchError("connect: \(error)") }
        let client = ToneLoadClient(connection: c)
        c.send(setup)
        let s = client.state
        Task.detached {
            for await item in c.inbound {
                switch item {
                case .text(let t): s.on(Data(t.utf8))
                case .binary(let d): s.on(d)
                case .closed: s.closed()
                }
            }
        }
        for _ in 0..<2000 where !s.isSetUp {
            if s.isClosed { throw BenchError("a tone session was closed before setupComplete") }
            try await Task.sleep(for: .milliseconds(5))
        }
        guard s.isSetUp else { throw BenchError("no setupComplete within 10 s") }
        return client
    }

    /// Streams `cycles` cycles starting after `offset`; returns the last cycle's reply.
    func run(messages: SharedMicMessages, cycles: Int, cycleSeconds: Double, offset: Double) async throws -> ToneTurn {
        let clock = ContinuousClock()
        let start = clock.now + .seconds(offset)
        let perCycle = Int(cycleSeconds * 10)
        var lag = 0.0
        var toneEnd = start
        for i in 0..<(cycles * perCycle) {
            let due = start + .milliseconds(100 * i)
            try await Task.sleep(until: due, clock: clock)
            lag = max(lag, (clock.now - due).seconds)
            let k = i % perCycle
            if k == 0 && i / perCycle == cycles - 1 { state.reset() }
            connection.send(k < messages.toneChunks.count ? messages.toneChunks[k] : messages.silence)
            if k == messages.toneChunks.count - 1 { toneEnd = clock.now }
        }
        // The reply of the last cycle is over well before the cycle ends when the server keeps up;
        // otherwise wait for it (at most 10 s more).
        for _ in 0..<1000 where !state.turnDone { try await Task.sleep(for: .milliseconds(10)) }
        let t = state.snapshot()
        guard let first = t.first, let last = t.last else { throw BenchError("a tone session got no reply audio") }
        return ToneTurn(latency: (first - toneEnd).seconds, replySeconds: Double(t.bytes) / 48000,
                        arrivalSeconds: (last - first).seconds, sendLag: lag)
    }

    func close() async { await connection.close(code: 1000, reason: "bench done") }
}

/// The microphone messages every tone session sends, encoded once.
struct SharedMicMessages: Sendable {
    let toneChunks: [Data]
    let silence: Data

    init() throws {
        func message(_ samples: [Int16]) throws -> Data {
            try LiveCoder.encode(.realtimeInput(RealtimeInput(audio: Blob(mimeType: "audio/pcm;rate=16000", data: PCM.data(samples)))))
        }
        let tone = ToneLoadClient.tone
        toneChunks = try stride(from: 0, to: tone.count, by: ToneLoadClient.chunkSamples).map {
            try message(Array(tone[$0..<min($0 + ToneLoadClient.chunkSamples, tone.count)]))
        }
        silence = try message([Int16](repeating: 0, count: ToneLoadClient.chunkSamples))
    }
}

/// Counts reply audio without decoding JSON: a message with `"inlineData"` carries audio whose
/// base64 `"data"` length gives its bytes; `"turnComplete"` ends the turn.
final class ToneState: @unchecked Sendable {
    private let lock = NSLock()
    private var setUp = false
    private var isClosedFlag = false
    private var first: ContinuousClock.Instant?
    private var last: ContinuousClock.Instant?
    private var bytes = 0
    private var done = false

    private static let inline = Array("\"inlineData\"".utf8)
    private static let dataKey = Array("\"data\":\"".utf8)
    private static let turnComplete = Array("\"turnComplete\"".utf8)
    private static let setupComplete = Array("\"setupComplete\"".utf8)

    func on(_ d: Data) {
        let now = ContinuousClock.now
        let b = [UInt8](d)
        lock.lock(); defer { lock.unlock() }
        if !setUp { if Self.find(Self.setupComplete, in: b) != nil { setUp = true }; return }
        if Self.find(Self.inline, in: b) != nil, let k = Self.find(Self.dataKey, in: b) {
            var end = k + Self.dataKey.count
            while end < b.count && b[end] != UInt8(ascii: "\"") { end += 1 }
            let n = end - k - Self.dataKey.count
            bytes += n / 4 * 3
            if first == nil { first = now }
            last = now
        }
        if Self.find(Self.turnComplete, in: b) != nil, first != nil { done = true }
    }

    static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = 0
        while i <= hay.count - needle.count {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    func reset() { lock.lock(); first = nil; last = nil; bytes = 0; done = false; lock.unlock() }
    func closed() { lock.lock(); isClosedFlag = true; lock.unlock() }
    var isSetUp: Bool { lock.lock(); defer { lock.unlock() }; return setUp }
    var isClosed: Bool { lock.lock(); defer { lock.unlock() }; return isClosedFlag }
    var turnDone: Bool { lock.lock(); defer { lock.unlock() }; return done }
    func snapshot() -> (first: ContinuousClock.Instant?, last: ContinuousClock.Instant?, bytes: Int) {
        lock.lock(); defer { lock.unlock() }
        return (first, last, bytes)
    }
}

/// `--speech tones`: N sessions each streaming microphone audio in real time and hearing a reply
/// to every tone, N growing until one falls behind. Returns the most held.
func benchToneSessions(maxSessions: Int) async throws -> Int {
    let (serve, port) = try startEmulator(["--speech", "tones", "--max-connections", String(maxSessions + 64),
                                           "--idle-timeout", "30"])
    defer { stopProcess(serve) }
    let setup = try LiveCoder.encode(.setup(Setup(model: "models/gemini-bench", generationConfig: GenerationConfig(responseModalities: [.audio]),
                                                  inputAudioTranscription: .init(), outputAudioTranscription: .init())))
    let messages = try SharedMicMessages()
    let idleMB = residentMB(serve.processIdentifier)
    var held = 0
    var perSession: Double?
    var n = 25
    while n <= maxSessions {
        var clients: [ToneLoadClient] = []
        for _ in 0..<n { clients.append(try await ToneLoadClient.open(port: port, setup: setup)) }
        let count = n
        let cpu0 = processCPU(serve), own0 = cpuSeconds(), wall0 = ContinuousClock.now
        let turns = try await withThrowingTaskGroup(of: ToneTurn.self) { g in
            for (i, c) in clients.enumerated() {
                g.addTask { try await c.run(messages: messages, cycles: 2, cycleSeconds: 4, offset: 2.0 * Double(i) / Double(count)) }
            }
            return try await g.reduce(into: [ToneTurn]()) { $0.append($1) }
        }
        let wall = (ContinuousClock.now - wall0).seconds
        let serverCPU = (processCPU(serve) - cpu0) / wall * 100, ownCPU = (cpuSeconds() - own0) / wall * 100
        let rss = residentMB(serve.processIdentifier)
        for c in clients { await c.close() }
        let worstLatency = turns.map(\.latency).max() ?? 0
        let worstStretch = turns.map { $0.arrivalSeconds / max(0.001, $0.replySeconds - 0.04) }.max() ?? 0
        let worstLag = turns.map(\.sendLag).max() ?? 0
        // Server VAD: the reply may start only after 500 ms of silence.
        let behind = turns.contains { $0.arrivalSeconds > ($0.replySeconds - 0.04) * 1.05 + 0.1 } || worstLatency > 1.5
        let generatorLate = worstLag > 0.2
        print(String(format: "# %4d tone sessions: worst tone end→first audio %5.0f ms, worst arrival/length %.3f, microphone chunks up to %3.0f ms late, server CPU %3.0f %%, bench CPU %3.0f %%, server RSS %.0f MB, load average %.1f%@",
                     n, worstLatency * 1000, worstStretch, worstLag * 1000, serverCPU, ownCPU, rss, loadAverage(),
                     behind ? "  ← behind real time" : generatorLate ? "  ← the load generator fell behind" : ""))
        if behind || generatorLate { break }
        held = n
        perSession = (rss - idleMB) / Double(n)
        n = n < 100 ? n * 2 : n + 50
    }
    report("emulator.realtime_sessions_held.tones", Double(held), "sessions")
    if let perSession { report("emulator.rss_mb_per_session", perSession, "MB") }
    return held
}
