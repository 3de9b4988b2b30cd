import Foundation
import LiveProtocol
import LiveSession
import Testing
import TestSupport

/// Issue 9 and review findings R1, R3, R4, R10, R13, R22, R23 on the `Session` actor, through the
/// in-memory transport (no sockets): peers that stall, lie or never answer.
@Suite(.serialized)
struct SessionRobustnessTests {
    static let endpoint: Endpoint = {
        do { return try Endpoint.custom("ws://127.0.0.1:9", apiKey: nil) } catch { fatalError("\(error)") }
    }()

    static func fastDeadlines() -> Deadlines {
        var d = Deadlines()
        d.connect = .milliseconds(300)
        d.setup = .milliseconds(300)
        d.close = .milliseconds(200)
        return d
    }

    struct Harness {
        let session: Session
        let recorder: EventRecorder
        let transport: InMemoryTransport
        var servers: AsyncStream<InMemoryTransport.ServerEnd>.Iterator
    }

    static func harness(script: [InMemoryTransport.ConnectBehaviour] = [], tools: ToolRegistry = ToolRegistry(),
                        policy: ReconnectPolicy = .init(initialDelay: .milliseconds(50)),
                        bufferCapacity: Int = 3000) -> Harness {
        let t = InMemoryTransport(script: script)
        let s = Session(config: SessionConfig(endpoint: endpoint, setup: testSetup(), policy: policy,
                                              deadlines: fastDeadlines()),
                        transport: t, tools: tools, bufferCapacity: bufferCapacity)
        let r = EventRecorder()
        _ = r.attach(s)
        return Harness(session: s, recorder: r, transport: t, servers: t.accepted.makeAsyncIterator())
    }

    /// Connects and completes setup; returns the server end.
    static func connect(_ h: inout Harness) async throws -> InMemoryTransport.ServerEnd {
        await h.session.connect()
        let server = try await next(&h.servers, "the client to connect")
        server.send(#"{"setupComplete":{}}"#)
        try await h.recorder.wait(for: "CONNECTED", seconds: 10) { $0.states.contains(.connected) }
        return server
    }

    static func next(_ it: inout AsyncStream<InMemoryTransport.ServerEnd>.Iterator, _ what: String, seconds: Double = 10)
        async throws -> InMemoryTransport.ServerEnd
    {
        let box = ServerBox(it)
        let got = try await bounded(seconds: seconds, what) { await box.next() }
        it = box.iterator
        guard let got else { throw TestTimeout(what: what) }
        return got
    }

    /// `quit()` must return within 1 s (its close deadline here is 0.2 s).
    /// `quit()` returns although the peer never finishes the close: it is cut at the close deadline
    /// (200 ms here) plus 500 ms of grace. The bound is 5 s so that a loaded machine (the whole
    /// suite runs in parallel on two cores) does not fail it — a quit that waits on the peer
    /// never returns at all.
    static func quitsPromptly(_ s: Session, _ what: String) async throws {
        try await bounded(seconds: 5, "quit() to return \(what)") { await s.quit() }
        let state = await s.state
        #expect({ if case .closed = state { true } else { false } }(), "\(state)")
    }

    // MARK: quit in every state (issue 9 item 2)

    @Test func testR1_quitWhileTheConnectHangs() async throws {
        let h = Self.harness(script: [.hang])
        await h.session.connect()
        try await h.recorder.wait(for: "CONNECTING", seconds: 10) { $0.states.contains(.connecting(attempt: 0)) }
        try await Self.quitsPromptly(h.session, "while the connect hangs")
    }

    @Test func testR1_quitWhileWaitingOutABackoff() async throws {
        let h = Self.harness(script: [.fail(.unreachable(host: "x", detail: "refused"))],
                             policy: .init(initialDelay: .seconds(600), maxDelay: .seconds(600)))
        await h.session.connect()
        try await h.recorder.wait(for: "a back-off", seconds: 10) { $0.states.contains(.connecting(attempt: 1)) }
        try await Self.quitsPromptly(h.session, "during a back-off")
    }

    @Test func testR1_quitWhileWaitingForSetupComplete() async throws {
        var h = Self.harness()
        await h.session.connect()
        _ = try await Self.next(&h.servers, "the client to connect")
        try await Self.quitsPromptly(h.session, "before setupComplete")
    }

    @Test func testR10_quitMidTurnWithAPeerThatNeverAnswersTheClose() async throws {
        var h = Self.harness()
        h.transport.setStallsCloses(true)
        let server = try await Self.connect(&h)
        server.send(#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAAAAA=="}}]}}}"#)
        try await h.recorder.wait(for: "model audio", seconds: 10) { !$0.audioTurns().isEmpty }
        try await Self.quitsPromptly(h.session, "mid-turn with a stalled peer")
        #expect(server.closedByClient?.code == 1000)
    }

    @Test func testR1_quitWhileAToolStillRuns() async throws {
        let slow = ToolDefinition(declaration: FunctionDeclaration(name: "slow", description: "never ends")) { _ in
            try await Task.sleep(for: .seconds(3600))
            return .null
        }
        var h = Self.harness(tools: ToolRegistry([slow]))
        let server = try await Self.connect(&h)
        server.send(#"{"toolCall":{"functionCalls":[{"id":"c1","name":"slow","args":{}}]}}"#)
        try await h.recorder.wait(for: "the tool to start", seconds: 10) { !$0.tools.isEmpty }
        try await Self.quitsPromptly(h.session, "while a tool runs")
        #expect(await h.recorder.events.tools.contains { if case .cancelled = $0 { true } else { false } })
    }

    // MARK: deadlines

    @Test func testSetupDeadline_retriesThenGivesUpAsRetryable() async throws {
        // The server end accepts the socket and never sends setupComplete.
        let h = Self.harness()
        await h.session.connect()
        try await h.recorder.wait(for: "giving up after setup deadlines", seconds: 20) { $0.failure != nil }
        let f = try #require(await h.recorder.events.failure)
        #expect(f.headline.contains("did not complete setup"), "\(f.headline)")
        #expect(h.transport.connectCount == SessionStateMachine.firstConnectAttempts + 1)
    }

    @Test func testConnectDeadline_aHangingConnectIsRetried() async throws {
        var h = Self.harness(script: [.hang])
        await h.session.connect()
        // The first connect hangs; its deadline makes it a retryable failure and the second opens.
        let server = try await Self.next(&h.servers, "a second connect after the first one's deadline", seconds: 30)
        server.send(#"{"setupComplete":{}}"#)
        try await h.recorder.wait(for: "CONNECTED", seconds: 10) { $0.states.contains(.connected) }
        #expect(h.transport.connectCount == 2)
        await h.session.quit()
    }

    // MARK: hostile server messages

    @Test func testR3_goAwayFarInTheFutureDoesNotTrap() async throws {
        var h = Self.harness()
        let server = try await Self.connect(&h)
        // Mid-turn (not a safe point), so the session waits for the turn end or the deadline,
        // which is clamped to a day rather than overflowing.
        server.send(#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAAAAA=="}}]}}}"#)
        server.send(#"{"goAway":{"timeLeft":"1e17s"}}"#)
        server.send(#"{"goAway":{"timeLeft":"18446744073709551616s"}}"#)
        try await h.recorder.wait(for: "the goAway", seconds: 10) { ev in
            ev.contains { if case .goAway(let left) = $0 { left == .seconds(86_400) } else { false } }
        }
        #expect(await h.session.state == .connected)
        await h.session.quit()
    }

    @Test func testR4_audioAtAnUnplayableRateIsDroppedAndCounted() async throws {
        var h = Self.harness()
        let server = try await Self.connect(&h)
        let chunk = Data(count: 2048).base64EncodedString()
        for rate in ["1", "7999", "48001", "99999999999999999999999", "abc"] {
            server.send(#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=\#(rate)","data":"\#(chunk)"}}]}}}"#)
        }
        server.send(#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=16000","data":"\#(chunk)"}}]}}}"#)
        try await h.recorder.wait(for: "the playable chunk", seconds: 10) { !$0.audioTurns().isEmpty }
        let ev = await h.recorder.events
        let rates = ev.compactMap { if case .audio(_, let r, _) = $0 { r } else { nil } }
        #expect(rates == [16000])
        // 1, 7999 and 48001 are out of range; the others declare a rate that does not parse.
        #expect(await h.session.counters.audioChunksBadRate == 5)
        // One warning for the burst, not one per chunk.
        #expect(ev.warnings.filter { $0.contains("unplayable rate") }.count == 1)
        await h.session.quit()
    }

    @Test func malformedMessagesAreWarningsNotTraps() async throws {
        var h = Self.harness()
        let server = try await Self.connect(&h)
        for bad in ["", "{", "[]", "null", #"{"serverContent":{"modelTurn":{"parts":"x"}}}"#, #"{"toolCall":{"functionCalls":[{}]}}"#,
                    String(repeating: "[", count: 100_000), #"{"sessionResumptionUpdate":{"newHandle":7}}"#] {
            server.send(bad)
        }
        server.send(#"{"serverContent":{"turnComplete":true}}"#)
        try await h.recorder.wait(for: "the good message after the bad ones", seconds: 10) { $0.completedTurns == 1 }
        let ev = await h.recorder.events
        #expect(ev.warnings.count <= 2, "\(ev.warnings)")   // rate-limited
        #expect(await h.session.counters.badMessages >= 6)
        #expect(await h.session.state == .connected)
        await h.session.quit()
    }

    // MARK: R13 input drops

    @Test func testR13_overflowingTheReplayBufferWarnsOnceNotPerChunk() async throws {
        var h = Self.harness(bufferCapacity: 100)
        let server = try await Self.connect(&h)
        _ = server
        let chunk = Data(count: 640)
        for _ in 0..<300 { await h.session.sendAudio(chunk) }
        await h.session.sendText("after the audio")
        // Events reach the recorder asynchronously: wait for the text, which comes after any drop report.
        try await h.recorder.wait(for: "the text sent after the audio", seconds: 30) { ev in
            ev.contains { if case .userText("after the audio") = $0 { true } else { false } }
        }
        let ev = await h.recorder.events
        let drops = ev.compactMap { if case .inputDropped(let n) = $0 { n } else { nil } }
        #expect(drops.count == 1, "\(drops)")
        await h.session.quit()
    }

    // MARK: R13 what a handle confirms

    @Test func testR13_aTextThatInterruptedATurnIsReplayedIfTheConnectionDropsBeforeItsAnswer() async throws {
        var h = Self.harness()
        let server = try await Self.connect(&h)
        server.send(#"{"sessionResumptionUpdate":{"newHandle":"h1","resumable":true}}"#)
        server.send(#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAAAAA=="}}]}}}"#)
        try await h.recorder.wait(for: "model audio", seconds: 10) { !$0.audioTurns().isEmpty }
        await h.session.sendText("stop and listen")
        // The server cuts its turn for the text, and sends a handle without saying what it consumed
        // (the Developer API never does); then the connection drops before the text is answered.
        server.send(#"{"serverContent":{"interrupted":true}}"#)
        server.send(#"{"serverContent":{"turnComplete":true}}"#)
        server.send(#"{"sessionResumptionUpdate":{"newHandle":"h2","resumable":true}}"#)
        try await h.recorder.wait(for: "the interrupted turn to end", seconds: 10) { $0.completedTurns == 1 }
        server.close(code: 1006)
        let again = try await Self.next(&h.servers, "the reconnect")
        var it = again.received.makeAsyncIterator()
        guard let setupData = await it.next(), case .setup(let setup) = try LiveCoder.decodeClient(setupData) else {
            Issue.record("no setup on the new connection"); return
        }
        #expect(setup.sessionResumption?.handle == "h2")
        again.send(#"{"setupComplete":{}}"#)
        var replayed: [String] = []
        while replayed.isEmpty, let d = await it.next() {
            if case .realtimeInput(let r) = try LiveCoder.decodeClient(d), let t = r.text { replayed.append(t) }
        }
        #expect(replayed == ["stop and listen"])
        await h.session.quit()
    }

    // MARK: R23 tool bookkeeping

    @Test func testR23_duplicateToolIdsAreRefusedAndTheCountReturnsToZero() async throws {
        let quick = ToolDefinition(declaration: FunctionDeclaration(name: "quick", description: "answers")) { _ in .string("ok") }
        var h = Self.harness(tools: ToolRegistry([quick]))
        let server = try await Self.connect(&h)
        server.send(#"{"toolCall":{"functionCalls":[{"id":"same","name":"quick"},{"id":"same","name":"quick"},{"name":"quick"}]}}"#)
        try await h.recorder.wait(for: "two finished calls", seconds: 10) { ev in
            ev.tools.filter { if case .finished = $0 { true } else { false } }.count == 2
        }
        let ev = await h.recorder.events
        #expect(ev.warnings.contains { $0.contains("second tool call with the id same") })
        #expect(await h.session.counters.badToolCalls == 1)
        // The responses: one with the id "same", one with no id (the server gave none).
        var ids: [String?] = []
        var it = server.received.makeAsyncIterator()
        while ids.count < 2 {
            guard let d = await it.next() else { break }
            if case .toolResponse(let r) = try LiveCoder.decodeClient(d) { ids += r.functionResponses.map(\.id) }
        }
        #expect(ids.sorted { ($0 ?? "") < ($1 ?? "") } == [nil, "same"])
        await h.session.quit()
    }
}

/// A task-group child can advance an iterator the test owns.
final class ServerBox: @unchecked Sendable {
    var iterator: AsyncStream<InMemoryTransport.ServerEnd>.Iterator
    init(_ i: AsyncStream<InMemoryTransport.ServerEnd>.Iterator) { iterator = i }
    func next() async -> InMemoryTransport.ServerEnd? { await iterator.next() }
}

/// Runs `body`, failing with `TestTimeout(what)` if it has not finished within `seconds` (a hang
/// guard). The body runs unstructured, so a body that hangs cannot hold the test up.
@discardableResult
func bounded<T: Sendable>(seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let once = Once<Result<T, any Error>>()
    return try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        once.set(c)
        Task {
            do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            once.resume(.failure(TestTimeout(what: "\(what) (within \(seconds) s)")))
        }
    }
}

/// Resumes a continuation exactly once, from whichever side comes first.
final class Once<R: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var cont: Any?
    func set<T>(_ c: CheckedContinuation<T, any Error>) { lock.withLock { cont = c } }
    func resume<T>(_ r: Result<T, any Error>) where R == Result<T, any Error> {
        let c: CheckedContinuation<T, any Error>? = lock.withLock {
            defer { cont = nil }
            return cont as? CheckedContinuation<T, any Error>
        }
        c?.resume(with: r)
    }
}
