import Emulator
import Foundation
import LiveProtocol
import LiveSession
import Testing
import TestSupport
import WebSocketTransport

/// The `Session` actor against `livetalk serve` over a real loopback WebSocket.
@Suite(.serialized)
struct SessionEmulatorTests {
    func connected(_ h: EmulatorHarness, setup: Setup = testSetup(), tools: ToolRegistry = .builtins(),
                   key: String? = nil, maxInboundBytes: Int = LiveCoder.defaultMaxMessageBytes)
        async throws -> (Session, EventRecorder, Task<Void, Never>)
    {
        let s = makeSession(h, setup: setup, tools: tools, key: key, maxInboundBytes: maxInboundBytes)
        let r = EventRecorder()
        let t = r.attach(s)
        await s.connect()
        try await r.wait(for: "CONNECTED with a handle") { ev in
            ev.contains { if case .state(.connected, true) = $0 { true } else { false } }
        }
        return (s, r, t)
    }

    @Test func textTurn() async throws {
        let h = try await EmulatorHarness.start()
        let (s, r, _) = try await connected(h)
        await s.sendText("hello emulator")
        // The session reports a message's usage after its turnComplete: wait for both.
        try await r.wait(for: "a completed turn and its usage") { ev in
            ev.completedTurns == 1 && ev.contains { if case .usage = $0 { true } else { false } }
        }
        let ev = await r.events
        #expect(ev.turns.map(\.text) == ["hello emulator", "Hello! I am the offline emulator. How can I help?"])
        let audio = ev.compactMap { if case .audio(let d, let rate, let t) = $0 { (d.count, rate, t) } else { nil } }
        #expect(audio.count > 5)
        #expect(audio.allSatisfy { $0.1 == 24000 && $0.2 == 1 && $0.0 <= 24000 * 2 * 40 / 1000 })
        #expect(ev.contains { if case .usage(let u) = $0 { (u.totalTokenCount ?? 0) > 0 } else { false } })
        #expect(ev.contains { if case .generationComplete(1) = $0 { true } else { false } })
        await s.quit()
    }

    @Test func textModalityGivesTextParts() async throws {
        let h = try await EmulatorHarness.start()
        let (s, r, _) = try await connected(h, setup: testSetup(text: true))
        await s.sendText("my name is Ada")
        try await r.wait(for: "a completed turn") { $0.completedTurns == 1 }
        let ev = await r.events
        #expect(ev.audioTurns().isEmpty)
        #expect(ev.modelTurns.map(\.text) == ["Nice to meet you, Ada."])
        await s.quit()
    }

    @Test func audioTurnWithServerVAD() async throws {
        let h = try await EmulatorHarness.start()
        let (s, r, _) = try await connected(h)
        for c in Signal.chunks(Signal.silence(0.3) + Signal.tone(1.0) + Signal.silence(0.8)) { await s.sendAudio(c) }
        try await r.wait(for: "the reply to speech") { $0.completedTurns == 1 }
        let ev = await r.events
        #expect(ev.contains { if case .inputTranscript("[speech 1.0 s]", true) = $0 { true } else { false } })
        #expect(ev.turns.map(\.text) == ["[speech 1.0 s]", "I heard 1.0 s of speech."])
        await s.quit()
    }

    @Test func pushToTalkTurn() async throws {
        let h = try await EmulatorHarness.start()
        let (s, r, _) = try await connected(h, setup: testSetup(pushToTalk: true))
        await s.activityStart()
        for c in Signal.chunks(Signal.tone(0.5)) { await s.sendAudio(c) }
        // No trailing silence: only activityEnd ends the turn.
        await s.activityEnd()
        try await r.wait(for: "the reply to a push-to-talk turn") { $0.completedTurns == 1 }
        #expect(await r.events.turns.map(\.text) == ["[speech 0.5 s]", "I heard 0.5 s of speech."])
        await s.quit()
    }

    @Test func bargeInPurgesFirstAndDropsStaleAudio() async throws {
        let h = try await EmulatorHarness.start()
        let (s, r, _) = try await connected(h)
        await s.sendText("please tell me a long long story about the sea and the ships and the sailors")
        try await r.wait(for: "the first audio") { $0.audioTurns().count >= 3 }
        await s.sendText("stop")
        try await r.wait(for: "the reply after the interruption") { $0.completedTurns == 2 }
        let ev = await r.events
        let purge = try #require(ev.index { if case .purge(1) = $0 { true } else { false } })
        // Nothing of turn 1 is delivered after the purge; turn 1 ends interrupted.
        #expect(ev[purge...].allSatisfy { if case .audio(_, _, 1) = $0 { false } else { true } })
        #expect(ev[purge...].allSatisfy { if case .outputTranscript(_, 1) = $0 { false } else { true } })
        #expect(ev.contains { if case .turnComplete(1, true, _) = $0 { true } else { false } })
        #expect(ev.contains { if case .state(.interrupted, _) = $0 { true } else { false } })
        #expect(ev.modelTurns.last?.text == "I heard: stop")
        #expect(ev.modelTurns.first?.interrupted == true)
        await s.quit()
    }

    @Test func blockingToolCall() async throws {
        let h = try await EmulatorHarness.start()
        let (s, r, _) = try await connected(h)
        await s.sendText("please get current time")
        try await r.wait(for: "the reply using the tool") { $0.completedTurns == 1 }
        let ev = await r.events
        #expect(ev.tools.count == 2)
        guard case .started(_, "get_current_time", _, false) = ev.tools[0],
              case .finished(_, "get_current_time", let result, _) = ev.tools[1]
        else { Issue.record("tool lifecycle \(ev.tools)"); return }
        let time = try #require(result["time"]?.stringValue)
        #expect(ev.modelTurns.last?.text.contains(time) == true)
        await s.quit()
    }

    @Test func nonBlockingToolSpeaksItsResultWhenIdle() async throws {
        let h = try await EmulatorHarness.start()
        let (s, r, _) = try await connected(h)
        await s.sendText("start timer seconds=1")
        try await r.wait(for: "the turn and then the timer's own turn") { $0.completedTurns == 2 }
        let ev = await r.events
        #expect(ev.modelTurns.map(\.text) == ["I started start timer in the background.",
                                              "The start_timer result: rang_after_seconds 1."])
        // WHEN_IDLE: the result is spoken only after the first reply ended, without interrupting it.
        let firstTurnEnd = try #require(ev.index { if case .turnComplete(1, false, _) = $0 { true } else { false } })
        let secondTurnAudio = try #require(ev.index { if case .audio(_, _, 2) = $0 { true } else { false } })
        #expect(firstTurnEnd < secondTurnAudio)
        #expect(!ev.contains { if case .purge = $0 { true } else { false } })
        await s.quit()
    }

    @Test func cancelledCallNeverAnswers() async throws {
        let h = try await EmulatorHarness.start()
        let gate = Gate()
        var tools = ToolRegistry.builtins()
        tools.register(ToolDefinition(declaration: FunctionDeclaration(name: "slow_lookup")) { _ in
            await gate.wait()   // ignores cancellation on purpose: the session must still not answer
            return ["late": true]
        })
        let (s, r, _) = try await connected(h, tools: tools)
        await s.sendText("slow lookup please")
        try await r.wait(for: "the tool to start") { $0.tools.count == 1 }
        await s.sendText("never mind")
        try await r.wait(for: "the cancellation") { ev in ev.tools.contains { if case .cancelled = $0 { true } else { false } } }
        await gate.open()
        try await r.wait(for: "the next reply") { $0.modelTurns.last?.text == "I heard: never mind" }
        // Messages arrive in order: a late response would have been counted before the text was answered.
        await s.sendText("hello")
        try await r.wait(for: "one more reply") { $0.modelTurns.last?.text == "Hello! I am the offline emulator. How can I help?" }
        let stats = await h.stats
        #expect(stats.cancellationsSent == 1)
        #expect(stats.lateToolResponses == 0)
        #expect(await r.events.tools.filter { if case .finished = $0 { true } else { false } }.isEmpty)
        await s.quit()
    }

    @Test func dropMidTurnResumesWithContextAndLosesNoInput() async throws {
        let h = try await EmulatorHarness.start { $0.faults.dropMidReply = 2 }
        let (s, r, _) = try await connected(h)
        await s.sendText("my name is Ada")
        try await r.wait(for: "the first reply") { $0.completedTurns == 1 }
        await s.sendText("tell me a story")
        try await r.wait(for: "the drop") { ev in ev.states.contains { if case .connecting(let a) = $0 { a >= 1 } else { false } } }
        await s.sendText("what is my name")   // typed while reconnecting: held, then delivered
        try await r.wait(for: "the answer from the resumed context") { ev in
            ev.modelTurns.contains { $0.text == "Your name is Ada." && !$0.interrupted }
        }
        let ev = await r.events
        // The unanswered turn (sent before the drop) and the held one were both sent again.
        #expect(ev.contains { if case .replayed(2) = $0 { true } else { false } })
        #expect(ev.modelTurns.first { $0.text.hasPrefix("Your name") }?.text == "Your name is Ada.")
        let stats = await h.stats
        #expect(stats.faultsFired == ["dropMidReply"])
        #expect(stats.resumes == 1)
        #expect(ev.setupCompletes == 2)
        await s.quit()
    }

    @Test func goAwayReconnectsBeforeTheDeadline() async throws {
        let h = try await EmulatorHarness.start {
            $0.connectionLifetime = .seconds(4)
            $0.goAwayBefore = .seconds(3)
        }
        let (s, r, _) = try await connected(h)
        try await r.wait(for: "goAway") { ev in ev.contains { if case .goAway = $0 { true } else { false } } }
        await s.sendText("my name is Ada")   // sent around the reconnect
        try await r.wait(for: "the reconnect and the reply") { ev in
            ev.setupCompletes >= 2 && ev.modelTurns.contains { $0.text == "Nice to meet you, Ada." && !$0.interrupted }
        }
        let stats = await h.stats
        #expect(stats.lifetimeCloses == 0)   // we left before the server had to cut us off
        #expect(stats.resumes >= 1)
        await s.quit()
    }

    @Test func activityMessagesUnderServerVADAreFatal1007() async throws {
        let h = try await EmulatorHarness.start()
        let (s, r, _) = try await connected(h)
        await s.activityStart()
        try await r.wait(for: "CLOSED") { $0.failure != nil }
        let f = try #require(await r.events.failure)
        #expect(f.code == 1007)
        #expect(f.headline.contains("invalid"))
        #expect(f.reason == .invalidMessage)
    }

    @Test func unknownModelIsFatal1008WithHint() async throws {
        let h = try await EmulatorHarness.start()
        let s = makeSession(h, setup: testSetup(model: "models/no-such-model"))
        let r = EventRecorder()
        _ = r.attach(s)
        await s.connect()
        try await r.wait(for: "CLOSED") { $0.failure != nil }
        let f = try #require(await r.events.failure)
        #expect(f.code == 1008)
        #expect(f.headline == "model not found for v1beta")
        #expect(f.reason == .modelNotFound(apiVersion: "v1beta", model: "models/no-such-model"))
        #expect(await h.stats.setups == 0)
    }

    @Test func wrongKeyIsFatal1008() async throws {
        let h = try await EmulatorHarness.start { $0.requireKey = "right-key" }
        let s = makeSession(h, key: "wrong-key")
        let r = EventRecorder()
        _ = r.attach(s)
        await s.connect()
        try await r.wait(for: "CLOSED") { $0.failure != nil }
        let f = try #require(await r.events.failure)
        #expect(f.code == 1008)
        #expect(f.headline.contains("refused the API key"))
        #expect(!f.description.contains("wrong-key"))
        // The right key works.
        let (ok, okr, _) = try await connected(h, key: "right-key")
        await ok.sendText("hi")
        try await okr.wait(for: "a reply") { $0.completedTurns == 1 }
        await ok.quit()
    }

    @Test func badFramesFromTheServerAreWarningsNotCrashes() async throws {
        let h = try await EmulatorHarness.start {
            $0.faults.garbageFrame = true
            $0.faults.unknownMessage = true
            $0.faults.oversizeFrameBytes = 50_000
        }
        let (s, r, _) = try await connected(h, maxInboundBytes: 20_000)
        await s.sendText("hello")
        try await r.wait(for: "a reply after the bad frames") { $0.completedTurns == 1 }
        let w = await r.events.warnings
        #expect(w.contains { $0.contains("malformed") })
        #expect(w.contains { $0.contains("unknown server message (futureMessage)") })
        #expect(w.contains { $0.contains("exceeds the 20000-byte limit") })
        #expect(await r.events.states.last == .connected)
        await s.quit()
    }

    @Test func unreachableEndpointGivesUpWithAClearError() async throws {
        let s = Session(config: SessionConfig(endpoint: try Endpoint.custom("ws://127.0.0.1:9", apiKey: nil),
                                              setup: testSetup(),
                                              policy: ReconnectPolicy(initialDelay: .milliseconds(20), maxAttempts: 2)),
                        transport: WebSocketTransport())
        let r = EventRecorder()
        _ = r.attach(s)
        await s.connect()
        try await r.wait(for: "CLOSED") { $0.failure != nil }
        let f = try #require(await r.events.failure)
        #expect(f.headline.hasPrefix("gave up after 2 reconnect attempts: cannot reach 127.0.0.1"))
        #expect(await r.events.states.contains(.connecting(attempt: 2)))
    }

    @Test func serverCloseCodeInjectionRetriesOn1011() async throws {
        let h = try await EmulatorHarness.start {
            $0.faults.closeCode = 1011
            $0.faults.closeAfter = .milliseconds(100)
        }
        let (s, r, _) = try await connected(h)
        try await r.wait(for: "a resumed connection") { $0.setupCompletes == 2 }
        await s.sendText("hi")
        try await r.wait(for: "a reply") { $0.completedTurns == 1 }
        #expect(await h.stats.resumes == 1)
        await s.quit()
    }

    @Test func disconnectThenConnectAndReset() async throws {
        let h = try await EmulatorHarness.start()
        let (s, r, _) = try await connected(h)
        await s.sendText("my name is Ada")
        try await r.wait(for: "a reply") { $0.completedTurns == 1 }
        await s.disconnect()
        try await r.wait(for: "DISCONNECTED") { $0.states.last == .disconnected }
        await s.connect()
        try await r.wait(for: "connected again") { $0.setupCompletes == 2 }
        await s.sendText("what is my name")
        try await r.wait(for: "a resumed answer") { $0.modelTurns.last?.text == "Your name is Ada." }
        await s.reset()
        try await r.wait(for: "a fresh session") { $0.setupCompletes == 3 }
        await s.sendText("what is my name")
        try await r.wait(for: "a fresh answer") { $0.modelTurns.last?.text == "You have not told me your name yet." }
        await s.quit()
    }
}

/// A one-shot signal for tests.
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
    func open() {
        isOpen = true
        for w in waiters { w.resume() }
        waiters.removeAll()
    }
}
