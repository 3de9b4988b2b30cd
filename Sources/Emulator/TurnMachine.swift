import AudioCore
import Foundation
import LiveProtocol

/// One emulated Live session's logic as a plain struct: events in, actions out (STYLE.md 1),
/// like the client's `SessionStateMachine`. `EmulatorBrain` owns one per connection and carries
/// out its actions (sends, timers, speech engines, the server's shared state); tests drive it
/// with a manual clock and no socket (`TurnMachineTests`).
///
/// It owns the setup's acceptance state, turn-taking (client content, text, and utterances
/// found by its `UtteranceDetector`: push-to-talk activity or the energy VAD, the maximum
/// utterance), barge-in, the running turn
/// (tool calls and their responses, the reply being spoken), the queue of inputs held under
/// NO_INTERRUPTION, resumption handles, goAway and the connection's lifetime, and the fault
/// plan's timing. It does no I/O, starts no task and reads no clock: time comes in as `now` with
/// each event, and a timer is an action (`startTimer`) whose firing is an event (`timerFired`).
/// It does not import Speech: recognition and synthesis are actions carried out by the
/// engines behind `SpeechListening` and `SpeechSynthesizing`.
///
/// Turns are numbered (`turn`): every action about a turn names it, and the answer to it
/// (`spoken`, `callNumbers`) is ignored once that turn was cut off, so nothing of an
/// interrupted turn leaks out after `interrupted`.
public struct TurnMachine: Sendable {
    // The vocabulary (Event, Action, TimerID, StartFault, Tally, Admission, Heard, ListenContext,
    // Reply, Phase) is in TurnMachineVocabulary.swift.

    /// An input that starts a turn.
    enum PendingInput: Sendable {
        case user(String)
        case toolResult(name: String, result: JSONValue)
    }

    // MARK: state

    public let options: EmulatorOptions
    public let isVertex: Bool
    private let startedAt: Date
    /// Reads an image's size from its bytes (JPEG header); nil when unreadable.
    private let imageSize: @Sendable (Data) -> (width: Int, height: Int)?

    public private(set) var phase: Phase = .awaitingSetup
    public private(set) var setup: Setup?
    public private(set) var session = 0
    public private(set) var history: [HistoryEntry] = []
    /// Index of the last client message processed on this connection (`setup` is 0).
    public private(set) var messageIndex = -1
    private var now: Duration = .zero
    private var out: [Action] = []
    private var setupTimeout: Duration = .zero
    private var handleCounter = 0
    /// Random part of handles (SplitMix64): handles of a resumed session never collide.
    private var random: UInt64
    private var textFrameSent = false
    /// The last image received (`realtimeInput.video`), in pixels ((0, 0): unreadable), and
    /// whether a turn has mentioned it yet.
    private var lastImage: (width: Int, height: Int)?
    private var imageUnseen = false

    // Generation.
    /// The number of the newest turn (the running one, if any).
    public private(set) var turnNumber = 0
    /// The running turn: its input is in `history`, its answer is not.
    private var turn: Turn?
    /// Inputs that arrived during a reply under NO_INTERRUPTION, or results waiting for idle,
    /// each with the index of the client message that brought it, answered in order. Bound:
    /// `maxQueuedInputs` entries, each capped at `maxTextCharacters`; one more closes the
    /// connection with 1008 and a reason (counted), rather than drop an input the client sent.
    private var queued: [(input: PendingInput, index: Int)] = []
    public static let maxQueuedInputs = 64

    private struct Turn: Sendable {
        var number: Int
        /// The client message that brought the input; a handle covers no message from here on.
        var index: Int
        var input: PendingInput
        var stage: Stage
    }

    private enum Stage: Sendable {
        /// The turn calls these functions and waits for their ids.
        case numbering([(FunctionDeclaration, JSONValue)])
        /// BLOCKING calls still to answer, in order; results so far; NON_BLOCKING calls started.
        case awaitingResults(waiting: [(id: String, name: String)], results: [(String, JSONValue)], background: [String])
        /// The reply is being spoken.
        case speaking(reply: String, grounding: GroundingMetadata?)
    }

    // Tools.
    private struct PendingCall: Sendable {
        var name: String
        var blocking: Bool
        var turn: Int
        /// A BLOCKING call's response that came before its turn took it.
        var response: JSONValue?
    }
    /// Calls awaiting a response, by id; bounded by the calls the turns made.
    private var pendingCalls: [String: PendingCall] = [:]

    // Audio input.
    /// Where utterances start and end (set up with the setup).
    private var detector: UtteranceDetector?
    private var utteranceCounter = 0
    /// The utterance being recognised.
    public private(set) var hearing: Int?

    /// `startedAt` is the wall-clock time at clock value zero (the offline agent tells the time
    /// of day from it); `seed` makes the handles' random part; `imageSize` reads an image's size.
    public init(options: EmulatorOptions, isVertex: Bool = false, startedAt: Date, seed: UInt64,
                imageSize: @escaping @Sendable (Data) -> (width: Int, height: Int)?) {
        self.options = options
        self.startedAt = startedAt
        self.isVertex = isVertex
        self.random = seed
        self.imageSize = imageSize
    }

    public var isClosed: Bool { phase == .closed }
    /// Whether `turn` is still the running turn (its messages may go out).
    public func isCurrent(turn n: Int) -> Bool { phase != .closed && turn?.number == n }
    /// Whether a turn is running.
    public var generating: Bool { turn != nil }
    /// What the recogniser listens for now.
    public var listenContext: ListenContext {
        ListenContext(declarations: setup?.functionDeclarations ?? [],
                      search: setup?.tools?.contains { $0.googleSearch != nil } == true, images: lastImage != nil)
    }

    // MARK: handling

    /// Handles one event at clock value `now` (any monotonic clock, the same for every event of a connection).
    public mutating func handle(_ event: Event, at now: Duration) -> [Action] {
        self.now = max(self.now, now)
        out = []
        switch event {
        case .opened(let timeout):
            setupTimeout = timeout
            out.append(.startTimer(.setupDeadline, at: self.now + timeout))
        case .received(let data): receive(data)
        case .admitted(let a): admitted(a)
        case .refused(let code, let reason): close(code, reason)
        case .startFaults(let fired): startFaults(fired)
        case .callNumbers(let numbers, let n): callNumbers(numbers, turn: n)
        case .partialHeard(let piece, _):
            guard phase == .live, setup?.inputAudioTranscription != nil else { break }
            send(.serverContent(ServerContent(inputTranscription: Transcription(text: piece))))
        case .heard(let h):
            guard phase == .live else { break }
            finishUtterance(text: h.text, remainder: h.remainder, seconds: h.seconds)
        case .spoken(let n): spoken(turn: n)
        case .timerFired(let id): timerFired(id)
        case .dropNow:
            guard phase != .closed else { break }
            phase = .closed
            out.append(.drop)
        case .connectionClosed:
            phase = .closed
            if let h = hearing { out.append(.stopHearing(utterance: h)) }
            hearing = nil
            if let t = turn { out.append(.stopSpeaking(turn: t.number)) }
            turn = nil
            pendingCalls.removeAll()
            queued.removeAll()
        }
        defer { out = [] }
        return out
    }

    // MARK: client messages

    private mutating func receive(_ data: Data) {
        guard phase != .closed else { return }
        out.append(.tally(.clientMessage))
        let message: ClientMessage
        do {
            message = try LiveCoder.decodeClient(data, mode: .tolerant)
        } catch {
            return close(1007, "Request contains an invalid argument.")
        }
        messageIndex += 1
        guard phase == .live, let setup else {
            // The first message must be `setup`; nothing may come while it is being checked
            // (the connection hands over one message at a time, so that cannot happen).
            guard phase == .awaitingSetup, case .setup(let s) = message else {
                return close(1007, "Request contains an invalid argument.")
            }
            phase = .admitting
            out.append(.admit(s))
            return
        }
        switch message {
        case .setup:
            close(1007, "Request contains an invalid argument.")
        case .clientContent(let c):
            let turns = c.turns ?? []
            // The last user turn of a completed clientContent is the turn to answer; the rest is history.
            let answerIndex = c.turnComplete == true ? turns.lastIndex(where: { $0.role != "model" }) : nil
            for (i, t) in turns.enumerated() where i != answerIndex && !t.text.isEmpty {
                remember(HistoryEntry(t.role == "model" ? .model : .user, capped(t.text)))
            }
            if c.turnComplete == true {
                let text = capped(answerIndex.map { turns[$0].text } ?? "")
                userInput(text.isEmpty ? "(continue)" : text, index: messageIndex)
            }
        case .realtimeInput(let r):
            realtime(r, setup: setup)
        case .toolResponse(let r):
            toolResponse(r)
        case .contextUpdate(let u):
            var s = setup
            if let si = u.systemInstruction { s.systemInstruction = si }
            if let t = u.tools { s.tools = t.tools }
            self.setup = s
        case .unknown:
            break   // a message from a newer client: ignored, as the real service ignores unknown fields
        }
    }

    // MARK: setup, lifetime, faults

    private mutating func admitted(_ a: Admission) {
        guard phase == .admitting else { return }
        history = a.history
        session = a.session
        for (id, name) in a.openCalls {
            pendingCalls[id] = PendingCall(name: name, blocking: false, turn: 0)
        }
        if a.resumed { out.append(.tally(.resume)) }
        out.append(.tally(.setup))
        let s = a.setup
        setup = s
        detector = UtteranceDetector(setup: s, maxUtterance: options.maxUtterance)
        phase = .live
        send(ServerMessage(.setupComplete(SetupComplete(sessionId: isVertex ? "emu-session-\(session)" : nil))))
        issueHandle()
        // The lifetime: a goAway `goAwayBefore` ahead of its end, then a close.
        let lifetime = options.connectionLifetime
        let before = min(options.goAwayBefore, lifetime)
        out.append(.startTimer(.goAway, at: now + lifetime - before))
        out.append(.startTimer(.lifetimeEnd, at: now + lifetime))
        let f = options.faults
        var planned: [StartFault] = []
        if f.garbageFrame { planned.append(.garbageFrame) }
        if f.unknownMessage { planned.append(.unknownMessage) }
        if f.oversizeFrameBytes != nil { planned.append(.oversizeFrame) }
        if f.dropAfter != nil { planned.append(.dropAfter) }
        if f.closeCode != nil { planned.append(.closeCode) }
        if !planned.isEmpty { out.append(.fireStartFaults(planned)) }
    }

    private mutating func startFaults(_ fired: Set<StartFault>) {
        guard phase == .live else { return }
        let f = options.faults
        if fired.contains(.garbageFrame) { out.append(.sendRaw(Data("this is not JSON \u{1}\u{2}".utf8))) }
        if fired.contains(.unknownMessage) {
            out.append(.sendRaw(Data(#"{"futureMessage":{"detail":"from a newer server"}}"#.utf8)))
        }
        if fired.contains(.oversizeFrame), let n = f.oversizeFrameBytes {
            send(.serverContent(ServerContent(outputTranscription: Transcription(text: String(repeating: "x", count: n)))))
        }
        if fired.contains(.dropAfter), let after = f.dropAfter { out.append(.startTimer(.dropFault, at: now + after)) }
        if fired.contains(.closeCode), f.closeCode != nil { out.append(.startTimer(.closeFault, at: now + f.closeAfter)) }
    }

    private mutating func timerFired(_ id: TimerID) {
        guard phase != .closed else { return }
        switch id {
        case .setupDeadline:
            guard phase != .live else { return }
            out.append(.tally(.idleClose))
            close(1008, "no setup message within \(setupTimeout.seconds.formatted()) s")
        case .goAway:
            guard phase == .live else { return }
            let before = min(options.goAwayBefore, options.connectionLifetime)
            send(ServerMessage(.goAway(GoAway(timeLeft: ProtoDuration(seconds: before.seconds)))))
            out.append(.tally(.goAwaySent))
        case .lifetimeEnd:
            out.append(.tally(.lifetimeClose))
            close(1008, "The operation was aborted.")
        case .dropFault:
            phase = .closed
            out.append(.drop)
        case .closeFault:
            if let code = options.faults.closeCode { close(code, options.faults.closeReason) }
        }
    }

    // MARK: realtime input

    private mutating func realtime(_ r: RealtimeInput, setup: Setup) {
        if let video = r.video {
            // An image is context for the next turn (issue 12): its size is read from its header.
            lastImage = imageSize(video.data) ?? (0, 0)
            imageUnseen = true
        }
        if let text = r.text {
            userInput(capped(text), index: messageIndex)
        }
        guard let automatic = detector?.isAutomatic else { return }
        if r.activityStart != nil || r.activityEnd != nil {
            guard !automatic else {
                return close(1007, "Request contains an invalid argument.")
            }
            if r.activityStart != nil { detect { $0.activityStart() } }
            if r.activityEnd != nil { detect { $0.activityEnd() } }
        }
        if let blob = r.audioBlob {
            // R4: the rate decides how much the resampler allocates; outside 8–48 kHz it is refused.
            guard let rate = Self.audioRate(mimeType: blob.mimeType) else {
                out.append(.tally(.badAudioRate))
                return close(1007, "audio mimeType \(blob.mimeType ?? ""): the rate must be 8000-48000 Hz")
            }
            var samples = PCM.samples(blob.data)
            if rate != 16000 { samples = Resampler.resample(samples, from: rate, to: 16000) }
            detect { $0.audio(samples) }
        }
        if r.audioStreamEnd == true { detect { $0.streamEnd() } }
    }

    /// Runs the utterance detector and acts on what it found.
    private mutating func detect(_ step: (inout UtteranceDetector) -> [UtteranceDetector.Output]) {
        guard var d = detector else { return }
        let found = step(&d)
        detector = d
        for o in found { utterance(o) }
    }

    /// What the detector found: an utterance begins (it is heard, and cuts a reply off), goes
    /// on, or ends.
    private mutating func utterance(_ o: UtteranceDetector.Output) {
        switch o {
        case .began(let preRoll):
            beginHearing()
            if let h = hearing, !preRoll.isEmpty { out.append(.hear(utterance: h, preRoll)) }
            bargeIn()
        case .audio(let samples):
            if let h = hearing { out.append(.hear(utterance: h, samples)) }
        case .ended(let seconds, let cut):
            if cut { out.append(.tally(.utteranceCut)) }
            utteranceEnded(seconds: seconds)
        }
    }

    /// The sample rate of an audio blob: 16 kHz when the mimeType names none, nil (refused) when
    /// it names one outside 8,000–48,000 Hz or one that is not a number.
    public static func audioRate(mimeType: String?) -> Int? {
        guard let m = mimeType, let r = m.range(of: "rate=") else { return 16000 }
        let digits = m[r.upperBound...].prefix { $0.isNumber }
        guard digits.count <= 6, let rate = Int(digits), (8000...48000).contains(rate) else { return nil }
        return rate
    }

    /// Starts recognising an utterance (none with `--speech tones`: the utterance is then "[speech N s]").
    private mutating func beginHearing() {
        dropHearing()
        guard options.speech == .espeak else { return }
        utteranceCounter += 1
        hearing = utteranceCounter
        out.append(.listen(utterance: utteranceCounter, listenContext))
    }

    private mutating func dropHearing() {
        guard let h = hearing else { return }
        hearing = nil
        out.append(.stopHearing(utterance: h))
    }

    /// The utterance ended: it is recognised (`finishHearing` → `heard`), or is "[speech N s]".
    private mutating func utteranceEnded(seconds: Double) {
        if let h = hearing {
            hearing = nil
            out.append(.finishHearing(utterance: h, seconds: seconds))
        } else {
            finishUtterance(text: nil, remainder: "", seconds: seconds)
        }
    }

    /// The utterance's words (or, when none were recognised, "[speech 1.2 s]") are the user's
    /// turn; the rest of the input transcription goes out, marked finished.
    private mutating func finishUtterance(text recognised: String?, remainder: String, seconds: Double) {
        var text = String(format: "[speech %.1f s]", seconds)
        var lastPiece = text
        if let recognised, !recognised.isEmpty {
            text = recognised
            lastPiece = remainder
        }
        if setup?.inputAudioTranscription != nil {
            send(.serverContent(ServerContent(inputTranscription: Transcription(text: lastPiece, finished: true))))
        }
        userInput(text, index: messageIndex)
    }

    // MARK: turns

    private var interruptsAllowed: Bool { setup?.realtimeInputConfig?.activityHandling != .noInterruption }

    /// User activity began: cut the current reply off (unless NO_INTERRUPTION).
    private mutating func bargeIn() {
        guard generating, interruptsAllowed else { return }
        interruptGeneration()
    }

    /// Cuts the running turn off; its input counts as dealt with. `next` is the index of the
    /// message whose input starts the next turn at once: the handle issued here does not cover it.
    private mutating func interruptGeneration(next: Int? = nil) {
        guard let cut = turn else { return }
        turn = nil
        out.append(.stopSpeaking(turn: cut.number))
        send(.serverContent(ServerContent(interrupted: true)))
        let cancelled = pendingCalls.filter { $0.value.turn == cut.number }.map(\.key).sorted()
        if !cancelled.isEmpty {
            for id in cancelled { pendingCalls.removeValue(forKey: id) }
            send(ServerMessage(.toolCallCancellation(ToolCallCancellation(ids: cancelled))))
            out.append(.tally(.cancellationSent))
        }
        send(.serverContent(ServerContent(turnComplete: true)))
        issueHandle(next: next)
    }

    /// A user turn, brought by client message `index`.
    private mutating func userInput(_ text: String, index: Int) {
        if generating {
            guard interruptsAllowed else {
                enqueue(.user(text), index: index)
                return
            }
            interruptGeneration(next: index)
        }
        startTurn(.user(text), index: index)
    }

    /// The input goes into the history now, so every snapshot from here on holds it.
    /// Wall-clock time now.
    private var wallClock: Date { startedAt.addingTimeInterval(now.seconds) }

    private mutating func startTurn(_ input: PendingInput, index: Int) {
        switch input {
        case .user(let text): remember(HistoryEntry(.user, text))
        case .toolResult(let name, let result):
            remember(HistoryEntry(.tool, capped(OfflineAgent.toolSentence(name: name, result: result))))
        }
        turnNumber += 1
        let n = turnNumber
        turn = Turn(number: n, index: index, input: input, stage: .speaking(reply: "", grounding: nil))
        guard let setup else { return }
        if setup.sessionResumption != nil {
            send(ServerMessage(.sessionResumptionUpdate(SessionResumptionUpdate(resumable: false))))
        }
        if setup.generationConfig?.thinkingConfig?.includeThoughts == true {
            // includeThoughts: a short thought summary first (a `thought: true` part, never spoken).
            send(.serverContent(ServerContent(modelTurn: Content(role: "model", parts: [
                Part(text: Self.thought(about: input), thought: true),
            ]))))
        }
        switch input {
        case .user(let text):
            if setup.tools?.contains(where: { $0.googleSearch != nil }) == true, let q = OfflineSearch.query(in: text) {
                let found = OfflineSearch.answer(String(q.prefix(200)))
                return reply(found.reply, grounding: found.grounding)
            }
            let matches = OfflineAgent.matchTools(text, declarations: setup.functionDeclarations)
            if !matches.isEmpty {
                turn?.stage = .numbering(matches)
                out.append(.reserveCallNumbers(count: matches.count, turn: n))
                return
            }
            reply(OfflineAgent.reply(to: text, history: history.dropLast(), toolResults: [], startedInBackground: [],
                                     declarations: setup.functionDeclarations, now: wallClock), grounding: nil)
        case .toolResult(let name, let result):
            reply(OfflineAgent.toolSentence(name: name, result: result), grounding: nil)
        }
    }

    /// The turn's calls are numbered: they go out, and the turn waits for the BLOCKING ones.
    private mutating func callNumbers(_ numbers: [Int], turn n: Int) {
        guard isCurrent(turn: n), case .numbering(let matches)? = turn?.stage, numbers.count == matches.count else { return }
        var calls: [FunctionCall] = []
        var waiting: [(id: String, name: String)] = []
        var background: [String] = []
        for ((decl, args), number) in zip(matches, numbers) {
            let id = "function-call-\(session)-\(number)"
            calls.append(FunctionCall(id: id, name: decl.name, args: args))
            pendingCalls[id] = PendingCall(name: decl.name, blocking: !decl.isNonBlocking, turn: n)
            if decl.isNonBlocking { background.append(decl.name) } else { waiting.append((id, decl.name)) }
        }
        send(ServerMessage(.toolCall(ToolCall(functionCalls: calls))))
        out.append(.tally(.toolCallsSent(calls.count)))
        turn?.stage = .awaitingResults(waiting: waiting, results: [], background: background)
        takeResults()
    }

    /// Takes the responses the running turn waits for, in order; once all are in, it replies.
    private mutating func takeResults() {
        guard let t = turn, case .awaitingResults(var waiting, var results, let background) = t.stage,
              case .user(let text) = t.input, let setup else { return }
        while let next = waiting.first, let result = pendingCalls[next.id]?.response {
            pendingCalls.removeValue(forKey: next.id)
            waiting.removeFirst()
            results.append((next.name, result))
            remember(HistoryEntry(.tool, capped(OfflineAgent.toolSentence(name: next.name, result: result))))
        }
        guard waiting.isEmpty else {
            turn?.stage = .awaitingResults(waiting: waiting, results: results, background: background)
            return
        }
        reply(OfflineAgent.reply(to: text, history: history.dropLast(), toolResults: results,
                                 startedInBackground: background, declarations: setup.functionDeclarations,
                                 now: wallClock), grounding: nil)
    }

    /// The running turn's reply is known: it is spoken.
    private mutating func reply(_ text: String, grounding: GroundingMetadata?) {
        guard let t = turn, let setup else { return }
        var reply = text
        if case .user(let said) = t.input { reply = seeing(said, reply: reply) }
        reply = cappedReply(reply)
        turn?.stage = .speaking(reply: reply, grounding: grounding)
        let modalities = setup.generationConfig?.responseModalities
        let speech = setup.generationConfig?.speechConfig
        out.append(.speak(Reply(turn: t.number, text: reply,
                                asText: modalities?.contains(.text) == true && modalities?.contains(.audio) != true,
                                transcribe: setup.outputAudioTranscription != nil,
                                voiceName: speech?.voiceName, languageCode: speech?.languageCode)))
    }

    /// The reply is out: the turn completes, a handle covers it, and the next queued input starts.
    private mutating func spoken(turn n: Int) {
        guard isCurrent(turn: n), case .speaking(let reply, let grounding)? = turn?.stage else { return }
        if let grounding {
            send(.serverContent(ServerContent(groundingMetadata: grounding)))
        }
        remember(HistoryEntry(.model, reply))
        send(.serverContent(ServerContent(generationComplete: true)))
        var u = UsageMetadata(promptTokenCount: history.reduce(0) { $0 + $1.text.count / 4 },
                              responseTokenCount: max(1, reply.count / 4), totalTokenCount: nil)
        u.totalTokenCount = (u.promptTokenCount ?? 0) + (u.responseTokenCount ?? 0)
        if isVertex {
            u.candidatesTokenCount = u.responseTokenCount
            u.responseTokenCount = nil
        }
        let asText = !textFrameSent   // one turnComplete per session goes out as a text frame, as Google may
        textFrameSent = true
        send(ServerMessage.serverContent(ServerContent(turnComplete: true), usage: u), asText: asText)
        turn = nil
        issueHandle()
        drainQueue()
    }

    /// Holds an input until the reply ends; over `maxQueuedInputs`, closes 1008 (counted).
    private mutating func enqueue(_ input: PendingInput, index: Int) {
        guard queued.count < Self.maxQueuedInputs else {
            out.append(.tally(.queueOverflow))
            close(1008, "more than \(Self.maxQueuedInputs) inputs waiting for the reply to end (NO_INTERRUPTION or WHEN_IDLE); send fewer at once")
            return
        }
        queued.append((input, index))
    }

    private mutating func drainQueue() {
        guard !generating, !queued.isEmpty else { return }
        let next = queued.removeFirst()
        startTurn(next.input, index: next.index)
    }

    /// The first turn after an image says what it sees: "I see an image of 640×480 pixels."; so
    /// does "what do you see" at any time.
    private mutating func seeing(_ text: String, reply: String) -> String {
        let asked = OfflineAgent.normalize(text).contains("what do you see")
        defer { imageUnseen = false }
        guard let image = lastImage else { return asked ? "I see nothing: no image has been sent." : reply }
        guard asked || imageUnseen else { return reply }
        let seen = image.width > 0 ? "I see an image of \(image.width)×\(image.height) pixels." : "I see an image I cannot read."
        return asked ? seen : seen + " " + reply
    }

    /// The emulator's thought summary for a turn (sent when the setup asks for thoughts).
    static func thought(about input: PendingInput) -> String {
        switch input {
        case .user(let text): "Thinking: the user said \"\(text.prefix(120))\"; finding the offline rule that answers it."
        case .toolResult(let name, _): "Thinking: the \(name) result came back; putting it into words."
        }
    }

    // MARK: tools

    private mutating func toolResponse(_ r: ToolResponse) {
        for fr in r.functionResponses {
            guard let id = fr.id, let call = pendingCalls[id] else {
                out.append(.tally(.lateToolResponse))
                continue
            }
            let result = fr.response ?? .null
            if call.blocking {
                guard call.response == nil else {
                    out.append(.tally(.lateToolResponse))   // answered twice
                    continue
                }
                pendingCalls[id]?.response = result
                takeResults()
                continue
            }
            if fr.willContinue != true { pendingCalls.removeValue(forKey: id) }
            let name = fr.name ?? call.name
            switch fr.scheduling ?? .whenIdle {
            case .silent:
                remember(HistoryEntry(.tool, capped(OfflineAgent.toolSentence(name: name, result: result))))
            case .interrupt:
                if generating { interruptGeneration(next: messageIndex) }
                startTurn(.toolResult(name: name, result: result), index: messageIndex)
            default:   // WHEN_IDLE
                if generating { enqueue(.toolResult(name: name, result: result), index: messageIndex) } else {
                    startTurn(.toolResult(name: name, result: result), index: messageIndex)
                }
            }
        }
    }

    // MARK: resumption

    /// The last client message a handle issued now may cover. A handle resumes the conversation
    /// as it stands: an input whose answer is still to come (its turn running, queued, or
    /// `next`, about to start) is not part of that state, so the handle must not cover it — a
    /// client that resumes sends it again. Audio and activity markers need nothing more.
    private func coveredIndex(next: Int?) -> Int {
        let open = [turn?.index, next].compactMap { $0 } + queued.map(\.index)
        return min(messageIndex, (open.min() ?? Int.max) - 1)
    }

    private mutating func issueHandle(next: Int? = nil) {
        guard phase == .live, setup?.sessionResumption != nil else { return }
        handleCounter += 1
        let handle = "emu-h-\(session)-\(handleCounter)-\(UInt32(truncatingIfNeeded: nextRandom() >> 32))"
        out.append(.storeSnapshot(handle: handle, history: history, session: session,
                                  openCalls: pendingCalls.filter { !$0.value.blocking }.mapValues(\.name)))
        var u = SessionResumptionUpdate(newHandle: handle, resumable: true)
        u.lastConsumedClientMessageIndex = String(coveredIndex(next: next))
        send(ServerMessage(.sessionResumptionUpdate(u)))
    }

    /// SplitMix64.
    private mutating func nextRandom() -> UInt64 {
        random &+= 0x9E37_79B9_7F4A_7C15
        var z = random
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    // MARK: bounds and output

    /// R7: user text is capped at `maxTextCharacters` (counted); the cut is silent to the client.
    private mutating func capped(_ text: String) -> String {
        let limit = max(1, options.maxTextCharacters)
        guard let end = text.index(text.startIndex, offsetBy: limit, limitedBy: text.endIndex), end < text.endIndex else {
            return text
        }
        out.append(.tally(.textTruncation))
        return String(text[..<end])
    }

    /// R7: a reply longer than `maxTextCharacters` is cut at a word boundary and ends with "…" (counted).
    private mutating func cappedReply(_ reply: String) -> String {
        let limit = max(1, options.maxTextCharacters)
        guard let end = reply.index(reply.startIndex, offsetBy: limit, limitedBy: reply.endIndex), end < reply.endIndex else {
            return reply
        }
        out.append(.tally(.replyTruncation))
        var cut = reply[..<end]
        if let space = cut.lastIndex(where: { $0.isWhitespace }), space > cut.startIndex { cut = cut[..<space] }
        return cut + "…"
    }

    /// Appends to the history, dropping the oldest entries over `maxHistoryEntries` (counted).
    private mutating func remember(_ e: HistoryEntry) {
        history.append(e)
        let excess = history.count - max(1, options.maxHistoryEntries)
        if excess > 0 {
            history.removeFirst(excess)
            out.append(.tally(.historyDropped(excess)))
        }
    }

    private mutating func send(_ m: ServerMessage, asText: Bool = false) {
        guard phase != .closed else { return }
        out.append(.send(m, asText: asText))
    }

    private mutating func close(_ code: UInt16, _ reason: String) {
        guard phase != .closed else { return }
        phase = .closed
        var r = reason
        while r.utf8.count > 123 { r.removeLast() }
        out.append(.close(code: code, reason: r))
    }
}
