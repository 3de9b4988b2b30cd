import AudioCore
#if canImport(Glibc)
import Glibc
#endif
import Emulator
import Foundation
import LiveProtocol
import LiveSession
import Testing
import TestSupport
import WebSocketTransport

/// Issue 13 item 5: the emulator under abuse, over real loopback sockets, with its default limits.
@Suite(.serialized) struct EmulatorAbuseTests {
    /// Resident set size of a process, in MB.
    static func residentMB(_ pid: Int32) -> Double {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return (line.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0) / 1024
    }


    static func encoded(_ m: ClientMessage) -> Data { (try? LiveCoder.encode(m)) ?? Data() }

    static func converse(_ h: EndpointOnly, _ what: String) async throws {
        let s = Session(config: SessionConfig(endpoint: h.endpoint(), setup: testSetup(text: true)),
                        transport: WebSocketTransport(), tools: ToolRegistry.builtins())
        let r = EventRecorder()
        _ = r.attach(s)
        await s.connect()
        await s.sendText("hello")
        try await r.wait(for: "a real client's reply \(what)", seconds: 120) { $0.completedTurns == 1 }
        await s.sendText("what time is it")
        try await r.wait(for: "a real client's second reply \(what)", seconds: 120) { $0.completedTurns == 2 }
        await s.quit()
    }

    /// `livetalk serve --speech tones` with its default limits, in its own process (so its RSS is
    /// its own, not the test runner's, where other suites run in parallel).
    /// Its log (stderr, warnings and worse) is collected: evicted silent sockets must not flood it.
    static func startServe() throws -> (Process, Int, LineCollector) {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("livetalk")
        let p = Process()
        p.executableURL = exe
        p.arguments = ["serve", "--port", "0", "--speech", "tones", "--log-level", "warning"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardInput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let reader = LineCollector(out.fileHandleForReading)
        let log = LineCollector(err.fileHandleForReading)
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let r = reader.text.range(of: #"listening on ws://127\.0\.0\.1:(\d+)"#, options: .regularExpression),
               let port = Int(reader.text[r].split(separator: ":").last ?? "") {
                return (p, port, log)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        p.terminate()
        throw CancellationError()
    }

    @Test func testIssue13_300IdleSockets50ActiveSessionsAndARealClientStillConverses() async throws {
        let (serve, port, log) = try Self.startServe()
        defer { serve.terminate() }
        let h = try EndpointOnly(port: port)
        try await Self.converse(h, "before the load")   // warms the server up
        let before = Self.residentMB(serve.processIdentifier)

        var fds = (0..<300).map { _ in silentLoopbackSocket(port: port) }
        defer { fds.forEach { close($0) } }
        var opened: [AbuseActiveSession] = []
        for _ in 0..<50 { opened.append(try await AbuseActiveSession(h)) }
        let active = opened
        for (i, a) in active.enumerated() {
            try await eventually("active session \(i + 1) of 50 set up (300 silent sockets open)") { a.state.setUp }
        }
        // All 50 stream at once while a real client converses.
        let streams = Task {
            try await withThrowingTaskGroup(of: Void.self) { g in
                for a in active { g.addTask { try await a.stream(seconds: 3) } }
                try await g.waitForAll()
            }
        }
        try await Self.converse(h, "with 300 silent sockets and 50 sessions streaming")
        try await streams.value
        for (i, a) in active.enumerated() {
            try await eventually("active session \(i + 1) of 50 answered its tone") { a.state.turns >= 1 }
            #expect(a.state.closed == nil, "active session \(i + 1) was closed")
        }
        let peak = Self.residentMB(serve.processIdentifier)

        for a in active { await a.connection.close(code: 1000, reason: "done") }
        fds.forEach { close($0) }
        fds = []
        try await Self.converse(h, "after the load")
        var after = Self.residentMB(serve.processIdentifier)
        let deadline = ContinuousClock.now + .seconds(30)
        while after > before * 1.2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            after = Self.residentMB(serve.processIdentifier)
        }
        print("# abuse: server RSS \(before) MB before, \(peak) MB under load, \(after) MB after")
        #expect(after <= before * 1.2, "server RSS \(before) MB before, \(peak) MB under load, \(after) MB after: within 20 % of the start")
        // Hummingbird logged an error line per evicted silent socket (271 a run): now a counted
        // summary at most every 10 s. The run lasts well under 10 minutes: at most 60 summaries.
        let lines = log.text.split(separator: "\n")
        let summaries = lines.filter { $0.contains("closed before finishing the HTTP upgrade") }
        print("# abuse: \(lines.count) log lines, \(summaries.count) handshake summaries")
        #expect(!lines.contains { $0.contains("Error handling upgrade result") }, "no error line per evicted socket")
        #expect(!summaries.isEmpty, "300 silent sockets over a 80-connection bound: evictions are summarised")
        #expect(lines.count <= 60, "\(lines.count) log lines: \(lines.prefix(5))")
    }
}

/// The endpoint of a `livetalk serve` child, where tests take an `EmulatorHarness`.
struct EndpointOnly: Sendable {
    let port: Int
    init(port: Int) throws { self.port = port }
    func endpoint() -> Endpoint { try! Endpoint.custom("ws://127.0.0.1:\(port)", apiKey: nil, kind: .emulator) }
}

/// Collects a child's output as it comes.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    init(_ h: FileHandle) {
        h.readabilityHandler = { [weak self] fh in
            let d = fh.availableData
            guard let self else { return }
            if d.isEmpty { fh.readabilityHandler = nil; return }
            self.lock.withLock { self.data.append(d) }
        }
    }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}

private func eventually(_ what: String, seconds: Double = 120, _ check: @Sendable () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if await check() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("gave up waiting for \(what)")
    throw CancellationError()
}

/// One active session on a raw connection: setup, then `seconds` of microphone audio in real
/// time (100 ms chunks, a 0.5 s tone at the start), the reply counted.
final class AbuseActiveSession: @unchecked Sendable {
    let connection: any TransportConnection
    private let lock = NSLock()
    private var setUp = false
    private var turns = 0
    private var closedCode: UInt16?

    init(_ h: EndpointOnly) async throws {
        connection = try await WebSocketTransport().connect(to: h.endpoint())
        let c = connection
        Task.detached { [self] in
            for await item in c.inbound {
                switch item {
                case .text(let t): self.on(Data(t.utf8))
                case .binary(let d): self.on(d)
                case .closed(let code, _): self.lock.withLock { self.closedCode = code }
                }
            }
        }
        c.send(EmulatorAbuseTests.encoded(.setup(testSetup())))
    }

    private func on(_ d: Data) {
        guard let m = try? LiveCoder.decodeServer(d, mode: .tolerant) else { return }
        lock.withLock {
            if case .setupComplete = m.payload { setUp = true }
            if case .serverContent(let sc) = m.payload, sc.turnComplete == true { turns += 1 }
        }
    }

    var state: (setUp: Bool, turns: Int, closed: UInt16?) { lock.withLock { (setUp, turns, closedCode) } }

    func stream(seconds: Double) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let tone = (0..<8000).map { Int16(0.3 * 32767 * sin(2 * Double.pi * 300 * Double($0) / 16000)) }
        for i in 0..<Int(seconds * 10) {
            let chunk = i < 5 ? Array(tone[(i * 1600)..<((i + 1) * 1600)]) : [Int16](repeating: 0, count: 1600)
            connection.send(EmulatorAbuseTests.encoded(.realtimeInput(RealtimeInput(audio: Blob(mimeType: "audio/pcm;rate=16000", data: PCM.data(chunk))))))
            try await Task.sleep(until: start + .milliseconds(100 * (i + 1)), clock: clock)
        }
    }
}

