import Foundation
import LiveProtocol
import Testing
@testable import Emulator

/// A `TurnMachine` on a manual clock: events go in, actions are recorded; timers fire only
/// when the test moves the clock past them. The answers the connection would give (admission,
/// call numbers, start faults) are given at once; a reply is spoken only when the test says so
/// (`speakToTheEnd`), so a barge-in can land in the middle of it. No socket, no task, no sleep.
struct MachineRig {
    var machine: TurnMachine
    private(set) var now: Duration = .zero
    private(set) var actions: [TurnMachine.Action] = []
    private var timers: [(id: TurnMachine.TimerID, at: Duration)] = []
    private var callNumber = 0
    /// Session number and resumed state the next admission gives.
    var admission: (session: Int, history: [HistoryEntry], openCalls: [String: String])? = nil

    init(_ configure: (inout EmulatorOptions) -> Void = { _ in }) {
        var o = EmulatorOptions()
        o.speech = .tones
        configure(&o)
        machine = TurnMachine(options: o, startedAt: Date(timeIntervalSince1970: 1_700_000_000), seed: 42,
                              imageSize: { _ in (640, 480) })
    }

    /// Feeds one event and answers the connection's questions; returns every action it caused.
    @discardableResult
    mutating func feed(_ event: TurnMachine.Event) -> [TurnMachine.Action] {
        var pending = machine.handle(event, at: now)
        var all: [TurnMachine.Action] = []
        while !pending.isEmpty {
            let a = pending.removeFirst()
            all.append(a)
            var answer: TurnMachine.Event?
            switch a {
            case .startTimer(let id, let at): timers.append((id, at))
            case .admit(let s):
                if let r = admission {
                    answer = .admitted(.init(setup: s, session: r.session, resumed: true, history: r.history, openCalls: r.openCalls))
                } else {
                    answer = .admitted(.init(setup: s, session: 7))
                }
            case .reserveCallNumbers(let count, let turn):
                answer = .callNumbers((0..<count).map { _ in callNumber += 1; return callNumber }, turn: turn)
            case .fireStartFaults(let planned): answer = .startFaults(Set(planned))
            default: break
            }
            if let answer { pending.insert(contentsOf: machine.handle(answer, at: now), at: 0) }
        }
        actions += all
        return all
    }

    @discardableResult
    mutating func send(_ m: ClientMessage) -> [TurnMachine.Action] { feed(.received(encoded(m))) }

    /// Moves the clock on by `d`, firing due timers in order.
    @discardableResult
    mutating func advance(by d: Duration) -> [TurnMachine.Action] {
        let end = now + d
        var out: [TurnMachine.Action] = []
        while let next = timers.filter({ $0.at <= end }).min(by: { $0.at < $1.at }) {
            timers.removeAll { $0.id == next.id && $0.at == next.at }
            now = max(now, next.at)
            out += feed(.timerFired(next.id))
        }
        now = end
        return out
    }

    /// The reply being spoken, if any.
    var speaking: TurnMachine.Reply? {
        var current: TurnMachine.Reply?
        for a in actions {
            if case .speak(let r) = a { current = r }
            if case .stopSpeaking(let t) = a, current?.turn == t { current = nil }
        }
        return current.flatMap { machine.isCurrent(turn: $0.turn) ? $0 : nil }
    }

    /// The speech engine says the current reply is all out.
    @discardableResult
    mutating func speakToTheEnd() -> [TurnMachine.Action] {
        guard let r = speaking else {
            Issue.record("no reply is being spoken")
            return []
        }
        return feed(.spoken(turn: r.turn))
    }
}

extension Array where Element == TurnMachine.Action {
    var messages: [ServerMessage] { compactMap { if case .send(let m, _) = $0 { m } else { nil } } }
    var contents: [ServerContent] { messages.compactMap { if case .serverContent(let sc) = $0.payload { sc } else { nil } } }
    var replies: [TurnMachine.Reply] { compactMap { if case .speak(let r) = $0 { r } else { nil } } }
    var closes: [UInt16] { compactMap { if case .close(let code, _) = $0 { code } else { nil } } }
    var closeReasons: [String] { compactMap { if case .close(_, let r) = $0 { r } else { nil } } }
    var tallies: [TurnMachine.Tally] { compactMap { if case .tally(let t) = $0 { t } else { nil } } }
    var handles: [SessionResumptionUpdate] {
        messages.compactMap { if case .sessionResumptionUpdate(let u) = $0.payload, u.newHandle != nil { u } else { nil } }
    }
    var toolCalls: [FunctionCall] { messages.flatMap { m -> [FunctionCall] in if case .toolCall(let c) = m.payload { c.functionCalls } else { [] } } }
    var cancellations: [String] { messages.flatMap { m -> [String] in if case .toolCallCancellation(let c) = m.payload { c.ids } else { [] } } }
    var interrupted: Bool { contents.contains { $0.interrupted == true } }
    var turnCompletes: Int { contents.filter { $0.turnComplete == true }.count }
    var goAways: [GoAway] { messages.compactMap { if case .goAway(let g) = $0.payload { g } else { nil } } }
    var finishedInput: [String] { contents.compactMap(\.inputTranscription).filter { $0.finished == true }.compactMap(\.text) }
}

/// The emulator's turn logic on the pure machine with a manual clock. Each test names the
/// loopback test (a real socket, or `EmulatorBrain` with a collector) whose scenario it mirrors.
struct TurnMachineTests {
    static func setup(text: Bool = false, ptt: Bool = false, resumption: Bool = false, noInterruption: Bool = false,
                      silenceMs: Int? = nil, tools: [FunctionDeclaration] = [], handle: String? = nil) -> ClientMessage {
        var s = Setup(model: "models/gemini-x", generationConfig: GenerationConfig(responseModalities: [text ? .text : .audio]),
                      inputAudioTranscription: AudioTranscriptionConfig())
        if !text { s.outputAudioTranscription = AudioTranscriptionConfig() }
        var rc = RealtimeInputConfig()
        if ptt { rc.automaticActivityDetection = .init(disabled: true) }
        if let silenceMs { rc.automaticActivityDetection = .init(silenceDurationMs: silenceMs) }
        if noInterruption { rc.activityHandling = .noInterruption }
        if ptt || silenceMs != nil || noInterruption { s.realtimeInputConfig = rc }
        if resumption || handle != nil { s.sessionResumption = SessionResumptionConfig(handle: handle) }
        if !tools.isEmpty { s.tools = [Tool(functionDeclarations: tools)] }
        return .setup(s)
    }

    /// 16 kHz audio: `loud` is a 300 Hz tone at -10 dBFS (the VAD hears it), else silence.
    static func audio(ms: Int, loud: Bool) -> ClientMessage {
        let n = ms * 16
        let samples: [Int16] = (0..<n).map { loud ? Int16(0.3 * 32767 * sin(2 * Double.pi * 300 * Double($0) / 16000)) : 0 }
        return .realtimeInput(RealtimeInput(audio: Blob(mimeType: "audio/pcm;rate=16000", data: samples.withUnsafeBytes { Data($0) })))
    }

    // MARK: setup and ordering

    /// Mirrors BrainTests.setupMustComeFirst / secondSetupAndGarbageAre1007 (collector) and
    /// SessionEmulatorTests.activityMessagesUnderServerVADAreFatal1007 (socket).
    @Test func badOrderingClosesWith1007() {
        var r = MachineRig()
        #expect(r.send(.realtimeInput(.text("hello"))).closes == [1007], "realtimeInput before setup")
        #expect(r.send(Self.setup()).isEmpty, "nothing after the close")

        r = MachineRig()
        r.send(Self.setup())
        #expect(r.send(Self.setup()).closes == [1007], "a second setup")

        r = MachineRig()
        #expect(r.feed(.received(Data("{not json".utf8))).closes == [1007], "garbage")

        r = MachineRig()
        r.send(Self.setup())
        let a = r.send(.realtimeInput(.activityStart))
        #expect(a.closes == [1007], "activityStart under automatic activity detection")
        #expect(a.closeReasons == ["Request contains an invalid argument."])
    }

    /// Mirrors LimitsTests.testR4_audioRateOutside8to48kHzCloses1007 (collector).
    @Test func audioAtARateOutside8to48kHzIs1007() {
        var r = MachineRig()
        r.send(Self.setup())
        let blob = Blob(mimeType: "audio/pcm;rate=96000", data: Data(count: 640))
        let a = r.send(.realtimeInput(RealtimeInput(audio: blob)))
        #expect(a.closes == [1007])
        #expect(a.tallies.contains(.badAudioRate))
    }

    /// Mirrors BrainTests.setupAnswersSetupCompleteThenAHandle and unknownHandleIs1008SessionNotFound.
    @Test func setupIsAdmittedThenAnsweredOrRefused() {
        var r = MachineRig()
        let a = r.send(Self.setup(resumption: true))
        guard case .admit = a.first(where: { if case .tally = $0 { false } else { true } }) else { Issue.record("the setup is checked first: \(a)"); return }
        guard case .setupComplete = a.messages.first?.payload else { Issue.record("setupComplete first: \(a.messages)"); return }
        #expect(a.handles.count == 1 && a.handles[0].lastConsumedClientMessageIndex == "0")
        #expect(r.machine.phase == .live)

        var refused = TurnMachine(options: EmulatorOptions(), startedAt: Date(), seed: 1, imageSize: { _ in nil })
        _ = refused.handle(.received(encoded(Self.setup(handle: "nope"))), at: .zero)
        let closed = refused.handle(.refused(code: 1008, reason: "BidiGenerateContent session not found"), at: .zero)
        #expect(closed == [.close(code: 1008, reason: "BidiGenerateContent session not found")])
        #expect(refused.isClosed)
    }

    // MARK: turn-taking

    /// Mirrors SessionEmulatorTests.textTurn and textModalityGivesTextParts (socket), test_sdk.py test_text_turn.
    @Test func aTextTurnIsSpokenThenCompleted() {
        var r = MachineRig()
        r.send(Self.setup())
        let a = r.send(.clientContent(ClientContent(turns: [Content(role: "user", parts: [Part(text: "my name is Ada")])],
                                                    turnComplete: true)))
        #expect(a.replies.map(\.text) == ["Nice to meet you, Ada."])
        #expect(a.replies.first?.asText == false && a.replies.first?.transcribe == true)
        #expect(a.turnCompletes == 0, "the turn completes when the reply is out")
        let done = r.speakToTheEnd()
        #expect(done.contents.contains { $0.generationComplete == true })
        #expect(done.turnCompletes == 1)
        #expect(r.machine.history.map(\.text) == ["my name is Ada", "Nice to meet you, Ada."])
        // The next turn remembers.
        #expect(r.send(.realtimeInput(.text("what is my name"))).replies.map(\.text) == ["Your name is Ada."])
        // "what time is it" is told from the clock value, not read from the wall clock.
        r.speakToTheEnd()
        r.advance(by: .seconds(120))
        let time = r.send(.realtimeInput(.text("what time is it"))).replies.map(\.text)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "h:mm a"
        #expect(time == ["It is \(f.string(from: Date(timeIntervalSince1970: 1_700_000_120)))."], "\(time)")
    }

    /// Mirrors SessionEmulatorTests.pushToTalkTurn (socket) and EmulatorSpeechTests.pushToTalkUtteranceIsRecognised.
    @Test func pushToTalkActivityBracketsTheUtterance() {
        var r = MachineRig()
        r.send(Self.setup(ptt: true))
        #expect(r.send(Self.audio(ms: 500, loud: true)).replies.isEmpty, "audio outside activity is not heard")
        r.send(.realtimeInput(.activityStart))
        r.send(Self.audio(ms: 1200, loud: true))
        r.send(Self.audio(ms: 300, loud: false))
        let a = r.send(.realtimeInput(.activityEnd))
        #expect(a.finishedInput == ["[speech 1.5 s]"])
        #expect(a.replies.count == 1)
    }

    /// Mirrors SessionEmulatorTests.audioTurnWithServerVAD (socket) and test_sdk.py test_audio_turn_with_server_vad.
    @Test func automaticDetectionEndsTheUtteranceAfterTheSilenceDuration() {
        var r = MachineRig()
        r.send(Self.setup(silenceMs: 400))
        r.send(Self.audio(ms: 800, loud: true))
        #expect(r.send(Self.audio(ms: 300, loud: false)).finishedInput.isEmpty, "300 ms of silence is not yet the end")
        let a = r.send(Self.audio(ms: 200, loud: false))
        #expect(a.finishedInput.count == 1 && a.finishedInput[0].hasPrefix("[speech 0.8"), "\(a.finishedInput)")
        #expect(a.replies.count == 1)
        // Silence alone never starts one.
        r.speakToTheEnd()
        #expect(r.send(Self.audio(ms: 3000, loud: false)).finishedInput.isEmpty)
    }

    /// With espeak-ng the utterance goes to the listener seam: listen, hear (the pre-roll first),
    /// finish; partial words and the remainder make the input transcription. Mirrors
    /// EmulatorSpeechTests.spokenNameIsHeardAnsweredAndTheAnswerSaysWhatItsTranscriptSays.
    @Test func speechModeHearsThroughTheListenerSeam() {
        var r = MachineRig { $0.speech = .espeak }
        r.send(Self.setup(silenceMs: 300))
        let start = r.send(Self.audio(ms: 400, loud: true))
        guard case .listen(let id, let context) = start.first(where: { if case .listen = $0 { true } else { false } }) else {
            Issue.record("no listen: \(start)")
            return
        }
        #expect(context.declarations.isEmpty && !context.search && !context.images)
        #expect(start.contains { if case .hear(id, let s) = $0 { !s.isEmpty } else { false } }, "the pre-roll is heard")
        #expect(r.feed(.partialHeard("my name", utterance: id)).contents.compactMap(\.inputTranscription?.text) == ["my name"])
        let end = r.send(Self.audio(ms: 400, loud: false))
        #expect(end.contains { if case .finishHearing(id, _) = $0 { true } else { false } }, "\(end)")
        #expect(end.replies.isEmpty, "the turn waits for the words")
        let heard = r.feed(.heard(.init(utterance: id, text: "my name is ada", remainder: " is ada", seconds: 0.4)))
        #expect(heard.finishedInput == [" is ada"])
        #expect(heard.replies.map(\.text) == ["Nice to meet you, Ada."])
    }

    /// Mirrors LimitsTests.testR8_utterancesAreCutAtTheMaximumLength (collector).
    @Test(arguments: [false, true]) func anUtteranceIsCutAtTheMaximumLength(ptt: Bool) {
        var r = MachineRig { $0.maxUtterance = .seconds(1) }
        r.send(Self.setup(ptt: ptt))
        if ptt { r.send(.realtimeInput(.activityStart)) }
        var all: [TurnMachine.Action] = []
        for _ in 0..<75 { all += r.send(Self.audio(ms: 20, loud: true)) }
        #expect(all.tallies.filter { $0 == .utteranceCut }.count == 1)
        #expect(all.finishedInput.count == 1 && all.finishedInput[0].hasPrefix("[speech 1.0"), "\(all.finishedInput)")
    }

    // MARK: barge-in

    /// Mirrors SessionEmulatorTests.bargeInPurgesFirstAndDropsStaleAudio (socket) and test_sdk.py test_interruption.
    @Test func speechDuringAReplyInterruptsIt() throws {
        var r = MachineRig()
        r.send(Self.setup(resumption: true))
        r.send(.realtimeInput(.text("hello there")))
        let cut = try #require(r.speaking)
        let a = r.send(Self.audio(ms: 200, loud: true))
        #expect(a.contains(.stopSpeaking(turn: cut.turn)), "the reply's synthesis stops")
        #expect(a.interrupted && a.turnCompletes == 1)
        let interrupted = a.firstIndex { if case .send(let m, _) = $0, case .serverContent(let sc) = m.payload { sc.interrupted == true } else { false } }
        let stop = a.firstIndex(of: .stopSpeaking(turn: cut.turn))
        #expect(stop != nil && interrupted != nil && stop! < interrupted!, "the speech stops before interrupted goes out")
        #expect(a.handles.count == 1, "the cut turn's input counts as dealt with")
        #expect(r.speaking == nil)
        // The cut reply's completion, if it comes late, is ignored.
        #expect(r.feed(.spoken(turn: cut.turn)).isEmpty)
        #expect(!r.machine.history.contains { $0.role == .model })
    }

    /// Mirrors BrainTests.noInterruptionLetsTheReplyFinish (collector).
    @Test func noInterruptionQueuesInputUntilTheReplyEnds() {
        var r = MachineRig()
        r.send(Self.setup(noInterruption: true))
        r.send(.realtimeInput(.text("hello there")))
        let a = r.send(.realtimeInput(.text("my name is Ada")))
        #expect(!a.interrupted && a.replies.isEmpty)
        let done = r.speakToTheEnd()
        #expect(done.turnCompletes == 1)
        #expect(done.replies.map(\.text) == ["Nice to meet you, Ada."], "the queued input starts once the reply ends")
    }

    /// The inputs held for the end of a reply are bounded: one more than `maxQueuedInputs` closes
    /// 1008 with a reason, and nothing is dropped silently before that.
    @Test func theQueueOfHeldInputsIsBounded() {
        var r = MachineRig()
        r.send(Self.setup(noInterruption: true))
        r.send(.realtimeInput(.text("hello there")))
        for i in 0..<TurnMachine.maxQueuedInputs {
            let a = r.send(.realtimeInput(.text("say number \(i)")))
            #expect(a.closes.isEmpty, "input \(i) of \(TurnMachine.maxQueuedInputs) was refused")
        }
        let over = r.send(.realtimeInput(.text("one too many")))
        #expect(over.closes == [1008])
    }

    /// A search turn with thoughts on a Vertex session: the thought part goes first, the
    /// grounding after the reply and before generationComplete; the first turnComplete of a
    /// session goes out as a text frame, with usage (Vertex names the response count
    /// `candidatesTokenCount`). Mirrors SearchSpeechTests and the SDK's thought/citation tests.
    @Test func aSearchTurnWithThoughtsOnVertex() throws {
        var r = MachineRig()
        r.machine = TurnMachine(options: r.machine.options, isVertex: true, startedAt: Date(timeIntervalSince1970: 0), seed: 1,
                                imageSize: { _ in nil })
        var s = Setup(model: "models/gemini-x", generationConfig: GenerationConfig(responseModalities: [.audio]),
                      tools: [Tool(googleSearch: EmptyObject())])
        s.generationConfig?.thinkingConfig = ThinkingConfig(includeThoughts: true)
        let a = r.send(.setup(s))
        guard case .setupComplete(let done)? = a.messages.first?.payload else { Issue.record("\(a)"); return }
        #expect(done.sessionId == "emu-session-7")
        let turn = r.send(.realtimeInput(.text("search for coffee")))
        #expect(turn.contents.first?.modelTurn?.parts?.first?.thought == true)
        #expect(turn.replies.first?.text.contains("Coffee is brewed") == true, "\(turn.replies)")
        let end = r.speakToTheEnd()
        let order = end.contents.map { $0.groundingMetadata != nil ? "grounding" : $0.generationComplete == true ? "generationComplete"
                                       : $0.turnComplete == true ? "turnComplete" : "?" }
        #expect(order == ["grounding", "generationComplete", "turnComplete"])
        let last = try #require(end.last { if case .send = $0 { true } else { false } })
        guard case .send(let m, let asText) = last else { return }
        #expect(asText, "the first turnComplete of a session is a text frame")
        #expect(m.usageMetadata?.candidatesTokenCount != nil && m.usageMetadata?.responseTokenCount == nil)
        r.send(.realtimeInput(.text("hello")))
        let second = r.speakToTheEnd()
        #expect(second.contains { if case .send(_, true) = $0 { true } else { false } } == false, "only the first")
    }

    // MARK: tools

    static let clock = FunctionDeclaration(name: "get_current_time")
    static let search = FunctionDeclaration(name: "start_search", behavior: .nonBlocking)

    /// Mirrors SessionEmulatorTests.blockingToolCall (socket) and test_sdk.py test_tool_call_round_trip.
    @Test func aBlockingCallWaitsForItsResponseThenReplies() throws {
        var r = MachineRig()
        r.send(Self.setup(tools: [Self.clock]))
        let a = r.send(.realtimeInput(.text("get current time please")))
        let call = try #require(a.toolCalls.first)
        #expect(call.name == "get_current_time" && call.id == "function-call-7-1")
        #expect(a.tallies.contains(.toolCallsSent(1)))
        #expect(a.replies.isEmpty, "the reply waits for the response")
        #expect(r.advance(by: .seconds(30)).replies.isEmpty, "however long it takes")
        let b = r.send(.toolResponse(ToolResponse(functionResponses: [
            FunctionResponse(id: call.id, name: call.name, response: .object(["time": .string("9:41")])),
        ])))
        #expect(b.replies.map(\.text) == ["The get_current_time result: time 9:41."])
        // A second answer to the same call is late.
        let late = r.send(.toolResponse(ToolResponse(functionResponses: [FunctionResponse(id: call.id, name: call.name, response: .null)])))
        #expect(late.tallies.contains(.lateToolResponse) && late.replies.isEmpty)
    }

    /// Mirrors ResumptionTests.aBlockingCallAnsweredBeforeTheTurnWaitsIsStillUsed (collector): the
    /// responses come in any order; the turn takes them in its order.
    @Test func responsesInAnyOrderAreTakenInTheTurnsOrder() throws {
        var r = MachineRig()
        let weather = FunctionDeclaration(name: "get_weather")
        r.send(Self.setup(tools: [Self.clock, weather]))
        let calls = r.send(.realtimeInput(.text("get current time and get weather"))).toolCalls
        try #require(calls.count == 2)
        #expect(r.send(.toolResponse(ToolResponse(functionResponses: [
            FunctionResponse(id: calls[1].id, name: calls[1].name, response: .object(["sky": .string("clear")])),
        ]))).replies.isEmpty)
        let a = r.send(.toolResponse(ToolResponse(functionResponses: [
            FunctionResponse(id: calls[0].id, name: calls[0].name, response: .object(["time": .string("9:41")])),
        ])))
        #expect(a.replies.first?.text.contains("The get_current_time result: time 9:41. The get_weather result: sky clear.") == true,
                "\(a.replies)")
    }

    /// Mirrors SessionEmulatorTests.cancelledCallNeverAnswers (socket).
    @Test func aBargeInCancelsTheTurnsCalls() throws {
        var r = MachineRig()
        r.send(Self.setup(tools: [Self.clock]))
        let call = try #require(r.send(.realtimeInput(.text("get current time"))).toolCalls.first)
        let a = r.send(.realtimeInput(.text("never mind")))
        #expect(a.cancellations == [call.id ?? ""])
        #expect(a.tallies.contains(.cancellationSent))
        #expect(a.replies.map(\.text).count == 1, "the new input is answered")
        let late = r.send(.toolResponse(ToolResponse(functionResponses: [FunctionResponse(id: call.id, name: call.name, response: .null)])))
        #expect(late.tallies == [.clientMessage, .lateToolResponse])
    }

    /// Mirrors SessionEmulatorTests.nonBlockingToolSpeaksItsResultWhenIdle (socket).
    @Test func aNonBlockingResultIsSpokenWhenIdle() throws {
        var r = MachineRig()
        r.send(Self.setup(tools: [Self.search]))
        let a = r.send(.realtimeInput(.text("start search")))
        let call = try #require(a.toolCalls.first)
        #expect(a.replies.map(\.text) == ["I started start search in the background."])
        let idle = r.send(.toolResponse(ToolResponse(functionResponses: [
            FunctionResponse(id: call.id, name: call.name, response: .object(["found": .int(3)]), scheduling: .whenIdle),
        ])))
        #expect(idle.replies.isEmpty && !idle.interrupted, "WHEN_IDLE waits for the reply to end")
        #expect(r.speakToTheEnd().replies.map(\.text) == ["The start_search result: found 3."])
    }

    /// SILENT only remembers; INTERRUPT cuts the reply off and answers at once.
    @Test func silentAndInterruptScheduling() throws {
        var r = MachineRig()
        r.send(Self.setup(tools: [Self.search]))
        let call = try #require(r.send(.realtimeInput(.text("start search"))).toolCalls.first)
        let quiet = r.send(.toolResponse(ToolResponse(functionResponses: [
            FunctionResponse(id: call.id, name: call.name, response: .object(["found": .int(1)]), willContinue: true, scheduling: .silent),
        ])))
        #expect(quiet.replies.isEmpty && quiet.messages.isEmpty)
        #expect(r.machine.history.last == HistoryEntry(.tool, "The start_search result: found 1."))
        let cut = r.send(.toolResponse(ToolResponse(functionResponses: [
            FunctionResponse(id: call.id, name: call.name, response: .object(["found": .int(2)]), scheduling: .interrupt),
        ])))
        #expect(cut.interrupted && cut.replies.map(\.text) == ["The start_search result: found 2."])
    }

    // MARK: resumption

    /// Mirrors ResumptionTests.aTextThatInterruptsIsNotCoveredByTheInterruptionsHandle and
    /// aQueuedTextIsNotCoveredUntilItsTurnEnds (collector), SessionEmulatorTests.dropMidTurnResumesWithContextAndLosesNoInput.
    @Test func handlesCoverOnlyAnsweredInput() {
        var r = MachineRig()
        r.send(Self.setup(resumption: true))                       // message 0
        let first = r.send(.realtimeInput(.text("my name is Ada")))  // message 1
        #expect(first.messages.first.map { if case .sessionResumptionUpdate(let u) = $0.payload { u.resumable == false } else { false } } == true,
                "a turn starts with resumable: false")
        let cut = r.send(.realtimeInput(.text("what is my name")))   // message 2 interrupts 1
        #expect(cut.handles.map(\.lastConsumedClientMessageIndex) == ["1"], "the interrupting text is not covered")
        let done = r.speakToTheEnd()
        #expect(done.handles.map(\.lastConsumedClientMessageIndex) == ["2"])
        // Each handle's snapshot is stored before it goes out, with the history it covers.
        let stores = r.actions.compactMap { if case .storeSnapshot(let h, let history, _, _) = $0 { (h, history) } else { nil } }
        #expect(stores.map(\.0) == r.actions.handles.compactMap(\.newHandle))
        #expect(stores.last?.1.map(\.text) == ["my name is Ada", "what is my name", "Your name is Ada."])
        #expect(Set(stores.map(\.0)).count == stores.count, "handles are unique")
    }

    /// Mirrors ResumptionTests.aBackgroundCallIsAnsweredOnTheResumedConnection and test_sdk.py
    /// test_resumption_keeps_context: a resumed session has its history and open calls back.
    @Test func aResumedSessionHasItsHistoryAndOpenCalls() {
        var r = MachineRig()
        r.admission = (session: 3, history: [HistoryEntry(.user, "my name is Ada"), HistoryEntry(.model, "Nice to meet you, Ada.")],
                       openCalls: ["function-call-3-9": "start_search"])
        let a = r.send(Self.setup(tools: [Self.search], handle: "emu-h-3-1-1"))
        #expect(a.tallies.contains(.resume))
        #expect(a.handles.first?.newHandle?.hasPrefix("emu-h-3-") == true)
        #expect(r.send(.realtimeInput(.text("what is my name"))).replies.map(\.text) == ["Your name is Ada."])
        r.speakToTheEnd()
        let answered = r.send(.toolResponse(ToolResponse(functionResponses: [
            FunctionResponse(id: "function-call-3-9", name: "start_search", response: .object(["found": .int(5)])),
        ])))
        #expect(answered.replies.map(\.text) == ["The start_search result: found 5."])
    }

    // MARK: timers

    /// Mirrors SessionEmulatorTests.goAwayReconnectsBeforeTheDeadline (socket).
    @Test func goAwayComesBeforeTheLifetimeEnds() {
        var r = MachineRig {
            $0.connectionLifetime = .seconds(600)
            $0.goAwayBefore = .seconds(60)
        }
        r.send(Self.setup())
        #expect(r.advance(by: .seconds(539)).isEmpty)
        let g = r.advance(by: .seconds(1))
        #expect(g.goAways.map(\.timeLeft) == [ProtoDuration(seconds: 60)])
        #expect(g.tallies.contains(.goAwaySent))
        #expect(r.advance(by: .seconds(59)).isEmpty, "the client has until the end")
        let end = r.advance(by: .seconds(1))
        #expect(end.closes == [1008] && end.closeReasons == ["The operation was aborted."])
        #expect(end.tallies.contains(.lifetimeClose))
    }

    /// Mirrors LimitsTests.testR6_noSetupWithinTheIdleTimeoutCloses1008 (collector, real timer)
    /// and EmulatorAdmissionTests.testR6_anUpgradedConnectionWithoutSetupIsClosedAfterTheIdleTimeout (socket).
    @Test func noSetupWithinTheTimeoutCloses1008AndASetupDisarmsIt() {
        var r = MachineRig()
        r.feed(.opened(setupTimeout: .milliseconds(200)))
        #expect(r.advance(by: .milliseconds(199)).isEmpty)
        let a = r.advance(by: .milliseconds(1))
        #expect(a.closes == [1008] && a.closeReasons.first?.hasPrefix("no setup message within 0.2 s") == true, "\(a)")
        #expect(a.tallies == [.idleClose])

        var s = MachineRig()
        s.feed(.opened(setupTimeout: .milliseconds(100)))
        s.send(Self.setup())
        #expect(s.advance(by: .seconds(5)).closes.isEmpty, "a connection that sent setup is left alone")
    }

    /// Mirrors SessionEmulatorTests.serverCloseCodeInjectionRetriesOn1011 and badFramesFromTheServerAreWarningsNotCrashes (socket).
    @Test func startFaultsFireOnTheClock() {
        var r = MachineRig {
            $0.faults.garbageFrame = true
            $0.faults.closeCode = 1011
            $0.faults.closeAfter = .seconds(2)
        }
        let a = r.send(Self.setup())
        #expect(a.contains(.sendRaw(Data("this is not JSON \u{1}\u{2}".utf8))))
        #expect(r.advance(by: .milliseconds(1999)).isEmpty)
        #expect(r.advance(by: .milliseconds(1)).closes == [1011])

        var d = MachineRig { $0.faults.dropAfter = .seconds(1) }
        d.send(Self.setup())
        #expect(d.advance(by: .seconds(1)) == [.drop])
        #expect(d.machine.isClosed)
    }

    /// The connection ending stops the reply and the utterance, and nothing more goes out.
    @Test func connectionClosedStopsEverything() throws {
        var r = MachineRig { $0.speech = .espeak }
        r.send(Self.setup())
        r.send(Self.audio(ms: 100, loud: true))   // speech starts: an utterance is heard
        let listening = try #require(r.machine.hearing)
        r.send(.realtimeInput(.text("hello there")))
        let turn = try #require(r.speaking?.turn)
        let a = r.feed(.connectionClosed)
        #expect(a == [.stopHearing(utterance: listening), .stopSpeaking(turn: turn)])
        #expect(r.send(.realtimeInput(.text("anyone?"))).isEmpty)
        #expect(r.advance(by: .seconds(3600)).isEmpty, "no timer acts after the end")
    }
}

/// The actor side of the seams: `EmulatorBrain` with injected engines (the real ones are
/// exercised by EmulatorSpeechTests and the SDK tests over sockets).
struct EmulatorBrainSeamTests {
    struct FixedWords: SpeechListening {
        func begin(_ context: TurnMachine.ListenContext,
                   onPartial: @escaping @Sendable (String) -> Void) async -> (any HeardUtterance)? {
            onPartial("my name")
            return Utterance()
        }
    }
    struct Utterance: HeardUtterance {
        func feed(_ samples: [Int16]) {}
        func finish() async -> (text: String, remainder: String) { ("my name is ada", " is ada") }
        func cancel() {}
    }

    @Test func theBrainHearsAndSpeaksThroughItsEngines() async throws {
        var o = EmulatorOptions()
        o.speech = .espeak   // the machine asks to listen; the engines below answer
        let c = Collector()
        let b = EmulatorBrain(options: o, shared: EmulatorState(), output: c,
                              engines: SpeechEngines(synthesizer: ToneSynthesis(charactersPerSecond: 200), listener: FixedWords()))
        var s = Setup(model: "models/gemini-x", generationConfig: GenerationConfig(responseModalities: [.audio]),
                      realtimeInputConfig: RealtimeInputConfig(automaticActivityDetection: .init(disabled: true)),
                      inputAudioTranscription: AudioTranscriptionConfig())
        s.outputAudioTranscription = AudioTranscriptionConfig()
        await b.receive(encoded(.setup(s)))
        await b.receive(encoded(.realtimeInput(.activityStart)))
        await b.receive(audioMessage(tone(seconds: 0.5)))
        await b.receive(encoded(.realtimeInput(.activityEnd)))
        try await eventually("the reply to be spoken") { await c.turnsCompleted == 1 }
        let input = await c.contents.compactMap(\.inputTranscription).map { ($0.text ?? "", $0.finished == true) }
        #expect(input.map(\.0) == ["my name", " is ada"] && input.map(\.1) == [false, true], "\(input)")
        #expect(await c.said == "Nice to meet you, Ada.")
        await b.connectionClosed()
    }
}

/// The utterance detector alone (pure; time is the sample count).
struct UtteranceDetectorTests {
    static func loud(_ ms: Int) -> [Int16] { tone(seconds: Double(ms) / 1000) }

    @Test func theVADStartGivesAtMost300msOfPreRollAndEndsAfterTheSilence() {
        var s = Setup(model: "models/gemini-x")
        s.realtimeInputConfig = RealtimeInputConfig(automaticActivityDetection: .init(silenceDurationMs: 200))
        var d = UtteranceDetector(setup: s, maxUtterance: .seconds(30))
        #expect(d.isAutomatic)
        #expect(d.audio([Int16](repeating: 0, count: 16000)).isEmpty, "a second of silence")
        let start = d.audio(Self.loud(100))
        guard case .began(let preRoll)? = start.first else { Issue.record("\(start)"); return }
        #expect(preRoll.count == UtteranceDetector.preRollSamples, "bounded to 300 ms")
        #expect(d.audio(Self.loud(500)) == [.audio(Self.loud(500))])
        #expect(d.audio([Int16](repeating: 0, count: 16 * 150)).count == 1, "150 ms of silence: still speaking")
        let end = d.audio([Int16](repeating: 0, count: 16 * 100))
        #expect(end.count == 2 && end.last.map { if case .ended(_, false) = $0 { true } else { false } } == true, "\(end.last as Any)")
    }

    @Test func pushToTalkCountsOnlyAudioBetweenTheMarkers() {
        var s = Setup(model: "models/gemini-x")
        s.realtimeInputConfig = RealtimeInputConfig(automaticActivityDetection: .init(disabled: true))
        var d = UtteranceDetector(setup: s, maxUtterance: .seconds(30))
        #expect(!d.isAutomatic)
        #expect(d.audio(Self.loud(200)).isEmpty)
        #expect(d.activityEnd().isEmpty, "an end with no start")
        #expect(d.activityStart() == [.began(preRoll: [])])
        _ = d.audio([Int16](repeating: 0, count: 8000))
        #expect(d.activityEnd() == [.ended(seconds: 0.5, cut: false)], "silence counts too: the user decides")
    }
}
