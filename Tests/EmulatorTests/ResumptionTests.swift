import Foundation
import LiveProtocol
import Testing
@testable import Emulator

extension Collector {
    var updates: [SessionResumptionUpdate] {
        messages.compactMap { if case .sessionResumptionUpdate(let u) = $0.payload, u.newHandle != nil { u } else { nil } }
    }
    var toolCalls: [FunctionCall] {
        messages.flatMap { m -> [FunctionCall] in if case .toolCall(let c) = m.payload { c.functionCalls } else { [] } }
    }
    /// The first handle issued after the first message matching `after`.
    func handle(after: (ServerMessage) -> Bool) -> SessionResumptionUpdate? {
        guard let i = messages.firstIndex(where: after) else { return nil }
        return messages[(i + 1)...].lazy.compactMap {
            if case .sessionResumptionUpdate(let u) = $0.payload, u.newHandle != nil { u } else { nil }
        }.first
    }
}

func isInterrupted(_ m: ServerMessage) -> Bool {
    if case .serverContent(let sc) = m.payload { sc.interrupted == true } else { false }
}

func isTurnComplete(_ m: ServerMessage) -> Bool {
    if case .serverContent(let sc) = m.payload { sc.turnComplete == true } else { false }
}

/// Session resumption as a client sees it: a handle resumes the conversation as it stood when the
/// handle was issued, and `lastConsumedClientMessageIndex` says which input that state holds; the
/// client sends again whatever came after it.
struct ResumptionTests {
    func options() -> EmulatorOptions {
        var o = EmulatorOptions()
        o.speech = .tones
        return o
    }

    func setup(handle: String? = nil, noInterruption: Bool = false, tools: [FunctionDeclaration] = []) -> Data {
        var s = Setup(model: "models/gemini-x", generationConfig: GenerationConfig(responseModalities: [.text]),
                      sessionResumption: SessionResumptionConfig())
        s.sessionResumption?.handle = handle
        if noInterruption { s.realtimeInputConfig = RealtimeInputConfig(activityHandling: .noInterruption) }
        if !tools.isEmpty { s.tools = [Tool(functionDeclarations: tools)] }
        return encoded(.setup(s))
    }

    /// What a client does after a drop or goAway: resume with `update`'s handle on a new
    /// connection, then send again every message after `lastConsumedClientMessageIndex`
    /// (`sent[i]` is connection message i + 1; `setup` was 0).
    func resume(_ update: SessionResumptionUpdate, sent: [Data], state: EmulatorState,
                tools: [FunctionDeclaration] = []) async throws -> (EmulatorBrain, Collector) {
        let handle = try #require(update.newHandle)
        let consumed = try #require(update.lastConsumedClientMessageIndex.flatMap { Int($0) })
        let c = Collector()
        let b = EmulatorBrain(options: options(), shared: state, output: c)
        await b.receive(setup(handle: handle, tools: tools))
        let closes = await c.closes
        #expect(closes.isEmpty, "the handle resumes: \(closes)")
        for m in sent.dropFirst(max(0, consumed)) { await b.receive(m) }
        return (b, c)
    }

    // MARK: the store

    @Test func aSessionKeepsItsLastHandles() async {
        var l = EmulatorState.Limits()
        l.maxSnapshots = 4
        l.resumptionTTL = .seconds(60)
        let state = EmulatorState(limits: l)
        let t0 = Date()
        for i in 0..<5 {
            await state.store(handle: "a\(i)", snapshot: .init(history: [], session: 1, createdAt: t0), now: t0 + Double(i))
        }
        // The client may not have received a4 (nor a3) when it closed: the handles before still resume.
        for h in ["a2", "a3", "a4"] { #expect(await state.snapshot(for: h, now: t0 + 5) != nil, "\(h)") }
        for h in ["a0", "a1"] { #expect(await state.snapshot(for: h, now: t0 + 5) == nil, "\(h)") }
        #expect(await state.stats.snapshotsSuperseded == 2)
        // The cap counts handles, not sessions.
        for i in 0..<3 {
            await state.store(handle: "b\(i)", snapshot: .init(history: [], session: 2, createdAt: t0 + 10), now: t0 + 10 + Double(i))
        }
        #expect(await state.snapshotCount == 4)
        #expect(await state.stats.snapshotsEvicted == 2)
        #expect(await state.sessionsWithHandles == 2)
        // The TTL holds for every kept handle, and the per-session index empties with the store.
        await state.store(handle: "c", snapshot: .init(history: [], session: 3, createdAt: t0 + 100), now: t0 + 100)
        #expect(await state.snapshotCount == 1)
        #expect(await state.sessionsWithHandles == 1)
    }

    // MARK: what a handle covers

    /// A text that interrupts a reply is answered by the turn that starts after the interruption:
    /// the handle issued with the interruption's turnComplete must not cover it.
    @Test func aTextThatInterruptsIsNotCoveredByTheInterruptionsHandle() async throws {
        let state = EmulatorState(limits: .init(options()))
        let c = Collector()
        let b = EmulatorBrain(options: options(), shared: state, output: c)
        await b.receive(setup())
        let sent = [encoded(.realtimeInput(.text("hello there"))), encoded(.realtimeInput(.text("my name is Ada")))]
        for m in sent { await b.receive(m) }
        let u = try #require(await c.handle(after: isInterrupted))
        #expect(u.lastConsumedClientMessageIndex == "1", "the interrupting text (message 2) is not answered yet")
        // The client closes right after the interruption's turnComplete (a goAway) and resumes.
        await b.connectionClosed()
        let (b2, c2) = try await resume(u, sent: sent, state: state)
        try await eventually("the resumed session to answer the interrupting text, then issue a handle") {
            let (turns, updates) = (await c2.turnsCompleted, await c2.updates.count)
            return turns == 1 && updates == 2
        }
        #expect(await c2.textReply == "Nice to meet you, Ada.")
        #expect(await c2.updates.last?.lastConsumedClientMessageIndex == "1", "the replayed text is covered once answered")
        await b2.connectionClosed()
    }

    /// NO_INTERRUPTION: a text queued behind a reply is not covered by the handle at that reply's end.
    @Test func aQueuedTextIsNotCoveredUntilItsTurnEnds() async throws {
        let state = EmulatorState(limits: .init(options()))
        let c = Collector()
        let b = EmulatorBrain(options: options(), shared: state, output: c)
        await b.receive(setup(noInterruption: true))
        let sent = [encoded(.realtimeInput(.text("hello there"))), encoded(.realtimeInput(.text("my name is Ada")))]
        for m in sent { await b.receive(m) }
        try await eventually("both replies and their handles") {
            let (turns, updates) = (await c.turnsCompleted, await c.updates.count)
            return turns == 2 && updates == 3
        }
        #expect(await c.updates.map(\.lastConsumedClientMessageIndex) == ["0", "1", "2"])
        // Resuming with the handle of the first reply's end answers the queued text.
        let first = try #require(await c.handle(after: isTurnComplete))
        await b.connectionClosed()
        let (b2, c2) = try await resume(first, sent: sent, state: state)
        try await eventually("the resumed session to answer the queued text") { await c2.turnsCompleted == 1 }
        #expect(await c2.textReply == "Nice to meet you, Ada.")
        await b2.connectionClosed()
    }

    /// A tool response sent just before the connection closed: the resumed session has not made
    /// that call, so the request that led to it is sent again and answered with a new call.
    @Test func aToolRequestCutByACloseIsAnsweredAfterResuming() async throws {
        let tools = [FunctionDeclaration(name: "get_current_time")]
        let state = EmulatorState(limits: .init(options()))
        let c = Collector()
        let b = EmulatorBrain(options: options(), shared: state, output: c)
        await b.receive(setup(tools: tools))
        var sent = [encoded(.realtimeInput(.text("hello there"))), encoded(.realtimeInput(.text("please get current time")))]
        for m in sent { await b.receive(m) }
        let u = try #require(await c.handle(after: isInterrupted))
        try await eventually("the tool call") { await !c.toolCalls.isEmpty }
        let first = try #require(await c.toolCalls.first)
        sent.append(encoded(.toolResponse(ToolResponse(functionResponses: [
            FunctionResponse(id: first.id, name: first.name, response: ["time": "10:00"]),
        ]))))
        await b.receive(sent[2])
        await b.connectionClosed()   // before the reply's turnComplete and its handle
        let (b2, c2) = try await resume(u, sent: sent, state: state, tools: tools)
        try await eventually("the resumed session to call the tool again") { await !c2.toolCalls.isEmpty }
        let again = try #require(await c2.toolCalls.first)
        #expect(again.id != first.id, "call ids are never reused")
        await b2.receive(encoded(.toolResponse(ToolResponse(functionResponses: [
            FunctionResponse(id: again.id, name: again.name, response: ["time": "11:00"]),
        ]))))
        try await eventually("the answer to the time request") { await c2.turnsCompleted == 1 }
        #expect(await c2.textReply == "The get_current_time result: time 11:00.")
        #expect(await state.stats.lateToolResponses == 1, "the response to the old call is ignored, and counted")
        await b2.connectionClosed()
    }

    /// A NON_BLOCKING call outlives its turn: its response is accepted by a resumed connection.
    @Test func aBackgroundCallIsAnsweredOnTheResumedConnection() async throws {
        let tools = [FunctionDeclaration(name: "book_ticket", behavior: .nonBlocking)]
        let state = EmulatorState(limits: .init(options()))
        let c = Collector()
        let b = EmulatorBrain(options: options(), shared: state, output: c)
        await b.receive(setup(tools: tools))
        let sent = [encoded(.realtimeInput(.text("book ticket destination=Rome")))]
        await b.receive(sent[0])
        try await eventually("the background call's turn") { await c.turnsCompleted == 1 }
        let call = try #require(await c.toolCalls.first)
        let u = try #require(await c.handle(after: isTurnComplete))
        #expect(u.lastConsumedClientMessageIndex == "1")
        await b.connectionClosed()
        let (b2, c2) = try await resume(u, sent: sent, state: state, tools: tools)
        await b2.receive(encoded(.toolResponse(ToolResponse(functionResponses: [
            FunctionResponse(id: call.id, name: call.name, response: ["seat": "12A"]),
        ]))))
        try await eventually("the background result's turn") { await c2.turnsCompleted == 1 }
        #expect(await c2.textReply == "The book_ticket result: seat 12A.")
        #expect(await state.stats.lateToolResponses == 0)
        await b2.connectionClosed()
    }
}

/// A client that answers a tool call while the brain is still sending it: the response reaches
/// the brain before the turn waits for it.
actor PromptToolClient: EmulatorOutput {
    private var brain: EmulatorBrain?
    let collector = Collector()
    func attach(_ b: EmulatorBrain) { brain = b }
    func send(_ data: Data, asText: Bool) async {
        await collector.send(data, asText: asText)
        guard let m = try? LiveCoder.decodeServer(data), case .toolCall(let call) = m.payload else { return }
        let responses = call.functionCalls.map { FunctionResponse(id: $0.id, name: $0.name, response: ["time": "09:30"]) }
        await brain?.receive(encoded(.toolResponse(ToolResponse(functionResponses: responses))))
    }
    func close(code: UInt16, reason: String) async { await collector.close(code: code, reason: reason) }
    func drop() async { await collector.drop() }
}

struct ToolResponseTimingTests {
    @Test func aBlockingCallAnsweredBeforeTheTurnWaitsIsStillUsed() async throws {
        var o = EmulatorOptions()
        o.speech = .tones
        let state = EmulatorState(limits: .init(o))
        let client = PromptToolClient()
        let b = EmulatorBrain(options: o, shared: state, output: client)
        await client.attach(b)
        var s = Setup(model: "models/gemini-x", generationConfig: GenerationConfig(responseModalities: [.text]))
        s.tools = [Tool(functionDeclarations: [FunctionDeclaration(name: "get_current_time")])]
        await b.receive(encoded(.setup(s)))
        await b.receive(encoded(.realtimeInput(.text("please get current time"))))
        let c = client.collector
        try await eventually("the reply using the early response") { await c.turnsCompleted == 1 }
        #expect(await c.textReply == "The get_current_time result: time 09:30.")
        #expect(await state.stats.lateToolResponses == 0)
        await b.connectionClosed()
    }
}
