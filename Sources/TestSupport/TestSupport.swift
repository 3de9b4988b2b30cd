// TestSupport — helpers for tests only: an emulator on a loopback port and a recorder of session events.
import Emulator
import Foundation
import LiveProtocol
import Logging
import LiveSession
import WebSocketTransport

public struct TestTimeout: Error, CustomStringConvertible {
    public var what: String
    public init(what: String) { self.what = what }
    public var description: String { "gave up waiting for \(what)" }
}

/// A real `livetalk serve` on 127.0.0.1 with a free port, for the duration of a test.
public final class EmulatorHarness: Sendable {
    public let server: EmulatorServer
    public let port: Int
    private let task: Task<Void, Never>

    private init(server: EmulatorServer, port: Int, task: Task<Void, Never>) {
        self.server = server
        self.port = port
        self.task = task
    }

    public static func start(_ configure: (inout EmulatorOptions) -> Void = { _ in }) async throws -> EmulatorHarness {
        var o = EmulatorOptions()
        o.port = 0
        configure(&o)
        var quiet = Logger(label: "test.emulator")
        quiet.logLevel = ProcessInfo.processInfo.environment["LIVETALK_TEST_TRACE"] != nil ? .trace : .critical
        let (server, port, task) = try await EmulatorServer.start(options: o, logger: quiet)
        return EmulatorHarness(server: server, port: port, task: task)
    }

    public var url: String { "ws://127.0.0.1:\(port)" }

    public func endpoint(key: String? = nil) -> Endpoint {
        try! Endpoint.custom(url, apiKey: key, kind: .emulator)
    }

    public var stats: EmulatorState.Stats { get async { await server.state.stats } }

    public func stop() { task.cancel() }

    deinit { task.cancel() }
}

public func testSetup(model: String = "models/gemini-test", pushToTalk: Bool = false, text: Bool = false) -> Setup {
    Setup(model: model,
          generationConfig: GenerationConfig(responseModalities: [text ? .text : .audio]),
          realtimeInputConfig: pushToTalk ? RealtimeInputConfig(automaticActivityDetection: .init(disabled: true)) : nil,
          sessionResumption: SessionResumptionConfig(),
          inputAudioTranscription: AudioTranscriptionConfig(),
          outputAudioTranscription: text ? nil : AudioTranscriptionConfig())
}

/// Records every event of a session and lets a test wait for a condition on the whole log.
public actor EventRecorder {
    public private(set) var events: [SessionEvent] = []
    private var waiters: [(id: Int, check: @Sendable ([SessionEvent]) -> Bool, cont: CheckedContinuation<Bool, Never>)] = []
    private var nextId = 0

    public init() {}

    public nonisolated func attach(_ session: Session) -> Task<Void, Never> {
        Task { for await e in session.events { await self.add(e) } }
    }

    func add(_ e: SessionEvent) {
        events.append(e)
        let ready = waiters.filter { $0.check(events) }
        waiters.removeAll { w in ready.contains { $0.id == w.id } }
        for w in ready { w.cont.resume(returning: true) }
    }

    /// Waits until `check` holds for the log; fails with `TestTimeout` after `seconds` (a hang guard, not a speed check).
    public func wait(for what: String, seconds: Double = 60, _ check: @escaping @Sendable ([SessionEvent]) -> Bool) async throws {
        if check(events) { return }
        nextId += 1
        let id = nextId
        let ok = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            waiters.append((id, check, c))
            Task {
                try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                self.expire(id)
            }
        }
        if !ok { throw TestTimeout(what: what) }
    }

    private func expire(_ id: Int) {
        guard let i = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: i).cont.resume(returning: false)
    }
}

/// Convenience views of an event log.
extension Array where Element == SessionEvent {
    public var turns: [TranscriptTurn] { compactMap { if case .turn(let t) = $0 { t } else { nil } } }
    public var modelTurns: [TranscriptTurn] { turns.filter { $0.role == .model } }
    public var completedTurns: Int { filter { if case .turnComplete = $0 { true } else { false } }.count }
    public var warnings: [String] { compactMap { if case .warning(let w) = $0 { w } else { nil } } }
    public var states: [SessionState] { compactMap { if case .state(let s, _) = $0 { s } else { nil } } }
    public var tools: [ToolActivity] { compactMap { if case .tool(let t) = $0 { t } else { nil } } }
    public var setupCompletes: Int { filter { if case .setupComplete = $0 { true } else { false } }.count }
    public var failure: SessionFailure? {
        for s in states.reversed() { if case .closed(let f?) = s { return f } }
        return nil
    }
    public func audioTurns() -> [Int] { compactMap { if case .audio(_, _, let t) = $0 { t } else { nil } } }
    public func index(where p: (SessionEvent) -> Bool) -> Int? { firstIndex(where: p) }
}

/// 16 kHz test signals.
public enum Signal {
    public static func tone(_ seconds: Double, amplitude: Double = 0.3) -> Data {
        var s: [Int16] = []
        for i in 0..<Int(seconds * 16000) {
            s.append(Int16(amplitude * 32767 * sin(2 * Double.pi * 300 * Double(i) / 16000)))
        }
        return s.withUnsafeBytes { Data($0) }
    }

    public static func silence(_ seconds: Double) -> Data { Data(count: Int(seconds * 16000) * 2) }

    /// Splits into 20 ms chunks.
    public static func chunks(_ d: Data) -> [Data] {
        stride(from: 0, to: d.count, by: 640).map { d.subdata(in: $0..<Swift.min($0 + 640, d.count)) }
    }
}

/// A real client still converses: a text session on `h` says "hello" and waits (bounded) for the
/// reply, naming `what` when it does not come. Returns the session, still open: quit it when done.
public func helloGetsAReply(_ h: EmulatorHarness, _ what: String) async throws -> Session {
    let s = makeSession(h, setup: testSetup(text: true))
    let r = EventRecorder()
    _ = r.attach(s)
    await s.connect()
    await s.sendText("hello")
    try await r.wait(for: what) { $0.completedTurns == 1 }
    return s
}

public func makeSession(_ h: EmulatorHarness, setup: Setup = testSetup(), tools: ToolRegistry = .builtins(),
                        key: String? = nil, policy: ReconnectPolicy = .init(initialDelay: .milliseconds(100)),
                        maxInboundBytes: Int = LiveCoder.defaultMaxMessageBytes) -> Session {
    Session(config: SessionConfig(endpoint: h.endpoint(key: key), setup: setup, policy: policy,
                                  maxInboundBytes: maxInboundBytes),
            transport: WebSocketTransport(), tools: tools)
}
