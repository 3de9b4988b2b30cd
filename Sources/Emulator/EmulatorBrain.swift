import AudioCore
import Foundation
import Imaging
import LiveProtocol
import Speech

/// Where a brain's output goes: a WebSocket in the server, a collector in tests.
public protocol EmulatorOutput: Sendable {
    func send(_ data: Data, asText: Bool) async
    func close(code: UInt16, reason: String) async
    /// Ends the connection with no close frame (the client sees 1006).
    func drop() async
}

/// How the client authenticated, decided from the upgrade request.
public enum EmulatorAuth: Sendable, Hashable {
    case ok
    case missing
    case wrongKey
    case token(String)
}

/// One emulated Live session on one connection: client messages in, server messages out.
/// Replies are generated in a task that is cancelled on barge-in; every send checks that its
/// replyEpoch is still current, so nothing of an interrupted turn leaks out after `interrupted`.
public actor EmulatorBrain {
    private let options: EmulatorOptions
    private let shared: EmulatorState
    private let output: any EmulatorOutput
    private let auth: EmulatorAuth
    private let isVertex: Bool
    private let apiVersion: String

    private var setup: Setup?
    private var session = 0
    private var handleCounter = 0
    private var history: [HistoryEntry] = []
    /// The last image received (`realtimeInput.video`), in pixels ((0, 0): unreadable), and
    /// whether a turn has mentioned it yet.
    private var lastImage: (width: Int, height: Int)?
    private var imageUnseen = false
    /// Index of the last client message processed on this connection (`setup` is 0).
    private var messageIndex = -1
    private var closed = false
    private var textFrameSent = false

    // Generation.
    private var replyEpoch = 0
    private var generating = false
    private var replyTask: Task<Void, Never>?
    /// Inputs that arrived during a reply under NO_INTERRUPTION, or results waiting for idle,
    /// each with the index of the client message that brought it.
    private var queued: [(input: PendingInput, index: Int)] = []
    /// Index of the client message whose turn is running: its input is in `history`, its answer
    /// is not. A handle covers no message from here on (see `coveredIndex`).
    private var answering: Int?

    // Tools.
    private struct PendingCall {
        var name: String
        var blocking: Bool
        var replyEpoch: Int
        var waiter: CheckedContinuation<JSONValue?, Never>?
        /// A BLOCKING call's response that came before its turn started waiting for it (the
        /// client can answer while the turn is still sending the call out).
        var response: JSONValue?
    }
    private var pendingCalls: [String: PendingCall] = [:]

    // Audio input.
    private var vad: EnergyVAD?
    private var activityOpen = false
    private var utteranceSamples = 0
    /// The last 300 ms before speech starts: the VAD commits a start after the first voiced frames.
    private var preRoll: [Int16] = []
    private static let preRollSamples = 4800
    /// The utterance being recognised, and the task relaying its partial words in order.
    private struct Hearing {
        let listener: Listener
        let partials: AsyncStream<String>.Continuation
        let relay: Task<Void, Never>
    }
    private var hearing: Hearing?
    /// This utterance holds one of the server's listener slots (R8); given back exactly once.
    private var holdsListenerSlot = false

    private var grammar = PhraseGrammar(phrases: [])
    private var voice = VoiceMap.voice(name: nil, languageCode: nil)
    private var timers: [Task<Void, Never>] = []

    enum PendingInput: Sendable {
        case user(String)
        case toolResult(name: String, result: JSONValue)
    }

    public init(options: EmulatorOptions, shared: EmulatorState, output: any EmulatorOutput,
                auth: EmulatorAuth = .ok, isVertex: Bool = false, apiVersion: String = "v1beta") {
        self.options = options
        self.shared = shared
        self.output = output
        self.auth = auth
        self.isVertex = isVertex
        self.apiVersion = apiVersion
    }

    public var isClosed: Bool { closed }

    /// R6: closes the connection with 1008 when `setup` has not arrived within `timeout`.
    public func armSetupDeadline(_ timeout: Duration) {
        timers.append(Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.setupDeadlinePassed(timeout)
        })
    }

    private func setupDeadlinePassed(_ timeout: Duration) async {
        guard setup == nil, !closed else { return }
        await shared.count { $0.idleCloses += 1 }
        await close(1008, "no setup message within \(EmulatorState.seconds(timeout).formatted()) s")
    }

    /// R7: user text is capped at `maxTextCharacters` (counted); the cut is silent to the client.
    private func capped(_ text: String) async -> String {
        let limit = max(1, options.maxTextCharacters)
        guard let end = text.index(text.startIndex, offsetBy: limit, limitedBy: text.endIndex), end < text.endIndex else {
            return text
        }
        await shared.count { $0.textTruncations += 1 }
        return String(text[..<end])
    }

    /// `capped` with no suspension point (the count is made later), for `startTurn`.
    private func cappedNow(_ text: String) -> String {
        let limit = max(1, options.maxTextCharacters)
        guard let end = text.index(text.startIndex, offsetBy: limit, limitedBy: text.endIndex), end < text.endIndex else {
            return text
        }
        Task { [shared] in await shared.count { $0.textTruncations += 1 } }
        return String(text[..<end])
    }

    /// Appends to the history, dropping the oldest entries over `maxHistoryEntries` (counted).
    private func remember(_ e: HistoryEntry) {
        history.append(e)
        let excess = history.count - max(1, options.maxHistoryEntries)
        if excess > 0 {
            history.removeFirst(excess)
            let n = excess
            Task { [shared] in await shared.count { $0.historyDropped += n } }
        }
    }

    // MARK: input

    /// One whole client message (text or binary frame).
    public func receive(_ data: Data) async {
        guard !closed else { return }
        await shared.count { $0.clientMessages += 1 }
        let message: ClientMessage
        do {
            message = try LiveCoder.decodeClient(data, mode: .tolerant)
        } catch {
            await close(1007, "Request contains an invalid argument.")
            return
        }
        messageIndex += 1
        guard let setup else {
            guard case .setup(let s) = message else {
                await close(1007, "Request contains an invalid argument.")
                return
            }
            await start(s)
            return
        }
        switch message {
        case .setup:
            await close(1007, "Request contains an invalid argument.")
        case .clientContent(let c):
            let turns = c.turns ?? []
            // The last user turn of a completed clientContent is the turn to answer; the rest is history.
            let answerIndex = c.turnComplete == true ? turns.lastIndex(where: { $0.role != "model" }) : nil
            for (i, t) in turns.enumerated() where i != answerIndex && !t.text.isEmpty {
                remember(HistoryEntry(t.role == "model" ? .model : .user, await capped(t.text)))
            }
            if c.turnComplete == true {
                let text = await capped(answerIndex.map { turns[$0].text } ?? "")
                await userInput(text.isEmpty ? "(continue)" : text, index: messageIndex)
            }
        case .realtimeInput(let r):
            await realtime(r, setup: setup)
        case .toolResponse(let r):
            await toolResponse(r)
        case .contextUpdate(let u):
            var s = setup
            if let si = u.systemInstruction { s.systemInstruction = si }
            if let t = u.tools { s.tools = t.tools }
            self.setup = s
            grammar = phraseGrammar(for: s)
        case .unknown:
            break   // a message from a newer client: ignored, as the real service ignores unknown fields
        }
    }

    /// The connection ended: stop generating; keep the resumption store as it is.
    public func connectionClosed() {
        closed = true
        dropHearing()
        replyTask?.cancel()
        for t in timers { t.cancel() }
        for (_, call) in pendingCalls { call.waiter?.resume(returning: nil) }
        pendingCalls.removeAll()
    }

    // MARK: setup

    private func start(_ requested: Setup) async {
        var s = requested
        switch auth {
        case .ok: break
        case .missing:
            await close(1008, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
            return
        case .wrongKey:
            await close(1008, "API key not valid. Please pass a valid API key.")
            return
        case .token(let name):
            switch await shared.useToken(name, resuming: s.sessionResumption?.handle != nil) {
            case .ok(let constraint?):
                s.model = constraint.model.isEmpty ? s.model : constraint.model
                if let g = constraint.generationConfig { s.generationConfig = g }
                if let r = constraint.sessionResumption, s.sessionResumption == nil { s.sessionResumption = r }
            case .ok(nil): break
            case .unknown:
                await close(1007, "API key not valid. Please pass a valid API key.")
                return
            case .expired:
                await close(1007, "API key expired. Please renew the API key.")
                return
            case .used:
                await close(1008, "The ephemeral token has no uses left.")
                return
            }
        }
        let id = s.model.split(separator: "/").last.map(String.init) ?? ""
        guard id.hasPrefix("gemini") else {
            await close(1008, "models/\(id) is not found for API version \(apiVersion), or is not supported for bidiGenerateContent. Call ListModels to see the list of available models and their supported methods.")
            return
        }
        if let handle = s.sessionResumption?.handle {
            guard let snap = await shared.snapshot(for: handle) else {
                await close(1008, "BidiGenerateContent session not found")
                return
            }
            history = snap.history
            session = snap.session
            for (id, name) in snap.openCalls {
                pendingCalls[id] = PendingCall(name: name, blocking: false, replyEpoch: 0)
            }
            await shared.count { $0.resumes += 1 }
        } else {
            session = await shared.newSessionNumber()
        }
        await shared.count { $0.setups += 1 }
        setup = s
        grammar = phraseGrammar(for: s)
        let speech = s.generationConfig?.speechConfig
        voice = VoiceMap.voice(name: speech?.voiceName, languageCode: speech?.languageCode)
        if s.automaticActivityDetection {
            let aad = s.realtimeInputConfig?.automaticActivityDetection
            vad = EnergyVAD(highStartSensitivity: aad?.startOfSpeechSensitivity != .low,
                            highEndSensitivity: aad?.endOfSpeechSensitivity != .low,
                            prefixPaddingMs: aad?.prefixPaddingMs, silenceDurationMs: aad?.silenceDurationMs)
        }
        await emit(ServerMessage(.setupComplete(SetupComplete(sessionId: isVertex ? "emu-session-\(session)" : nil))))
        await issueHandle()
        armLifetime()
        await injectStartFaults()
    }

    private func armLifetime() {
        let lifetime = options.connectionLifetime
        let before = min(options.goAwayBefore, lifetime)
        timers.append(Task { [weak self] in
            try? await Task.sleep(for: lifetime - before)
            await self?.sendGoAway(timeLeft: before)
            try? await Task.sleep(for: before)
            await self?.lifetimeOver()
        })
    }

    private func sendGoAway(timeLeft: Duration) async {
        guard !closed else { return }
        let secs = timeLeft.seconds
        await emit(ServerMessage(.goAway(GoAway(timeLeft: ProtoDuration(seconds: secs)))))
        await shared.count { $0.goAwaysSent += 1 }
    }

    private func lifetimeOver() async {
        guard !closed else { return }
        await shared.count { $0.lifetimeCloses += 1 }
        await close(1008, "The operation was aborted.")
    }

    private func injectStartFaults() async {
        let f = options.faults
        if f.garbageFrame, await shared.fireOnce("garbageFrame") {
            await output.send(Data("this is not JSON \u{1}\u{2}".utf8), asText: false)
        }
        if f.unknownMessage, await shared.fireOnce("unknownMessage") {
            await output.send(Data(#"{"futureMessage":{"detail":"from a newer server"}}"#.utf8), asText: false)
        }
        if let n = f.oversizeFrameBytes, await shared.fireOnce("oversizeFrame") {
            let text = String(repeating: "x", count: n)
            await emit(.serverContent(ServerContent(outputTranscription: Transcription(text: text))))
        }
        if let after = f.dropAfter, await shared.fireOnce("dropAfter") {
            timers.append(Task { [weak self] in
                try? await Task.sleep(for: after)
                await self?.dropNow()
            })
        }
        if let code = f.closeCode, await shared.fireOnce("closeCode") {
            let reason = f.closeReason
            timers.append(Task { [weak self] in
                try? await Task.sleep(for: f.closeAfter)
                await self?.close(code, reason)
            })
        }
    }

    private func dropNow() async {
        guard !closed else { return }
        closed = true
        replyTask?.cancel()
        await output.drop()
    }

    // MARK: realtime input

    private func realtime(_ r: RealtimeInput, setup: Setup) async {
        if let video = r.video {
            // An image is context for the next turn (issue 12): its size is read from its header.
            let first = lastImage == nil
            lastImage = JPEGFrame.size(of: video.data).map { ($0.width, $0.height) } ?? (0, 0)
            imageUnseen = true
            if first { grammar = phraseGrammar(for: setup) }   // "what do you see" can now be heard
        }
        if let text = r.text {
            await userInput(await capped(text), index: messageIndex)
        }
        if r.activityStart != nil || r.activityEnd != nil {
            guard !setup.automaticActivityDetection else {
                await close(1007, "Request contains an invalid argument.")
                return
            }
            if r.activityStart != nil {
                activityOpen = true
                utteranceSamples = 0
                await beginHearing()
                await bargeIn()
            }
            if r.activityEnd != nil {
                if activityOpen {
                    activityOpen = false
                    await utteranceEnded(seconds: Double(utteranceSamples) / 16000)
                }
            }
        }
        if let blob = r.audioBlob {
            // R4: the rate decides how much the resampler allocates; outside 8–48 kHz it is refused.
            guard let rate = Self.audioRate(mimeType: blob.mimeType) else {
                await shared.count { $0.badAudioRates += 1 }
                await close(1007, "audio mimeType \(blob.mimeType ?? ""): the rate must be 8000-48000 Hz")
                return
            }
            var samples = PCM.samples(blob.data)
            if rate != 16000 { samples = Resampler.resample(samples, from: rate, to: 16000) }
            let maxSamples = Self.samples(options.maxUtterance)
            if var v = vad {
                if let hearing {
                    hearing.listener.feed(samples)
                } else {
                    preRoll.append(contentsOf: samples)
                    if preRoll.count > Self.preRollSamples { preRoll.removeFirst(preRoll.count - Self.preRollSamples) }
                }
                let events = v.process(samples)
                if v.inSpeech { utteranceSamples += samples.count }
                vad = v
                for e in events { await vadEvent(e) }   // a start resets `utteranceSamples`
                // R8: an utterance that never ends (noise, a stuck microphone) is ended at `maxUtterance`.
                if var v = vad, v.inSpeech, utteranceSamples >= maxSamples {
                    let cut = v.endUtterance()
                    vad = v
                    await shared.count { $0.utterancesCut += 1 }
                    for e in cut { await vadEvent(e) }
                }
            } else if activityOpen {
                utteranceSamples += samples.count
                hearing?.listener.feed(samples)
                if utteranceSamples >= maxSamples {
                    activityOpen = false   // the rest, until the next activityStart, is ignored
                    await shared.count { $0.utterancesCut += 1 }
                    await utteranceEnded(seconds: Double(utteranceSamples) / 16000)
                }
            }
        }
        if r.audioStreamEnd == true, var v = vad {
            let events = v.flush()
            vad = v
            for e in events { await vadEvent(e) }
        }
    }

    /// The sample rate of an audio blob: 16 kHz when the mimeType names none, nil (refused) when
    /// it names one outside 8,000–48,000 Hz or one that is not a number.
    static func audioRate(mimeType: String?) -> Int? {
        guard let m = mimeType, let r = m.range(of: "rate=") else { return 16000 }
        let digits = m[r.upperBound...].prefix { $0.isNumber }
        guard digits.count <= 6, let rate = Int(digits), (8000...48000).contains(rate) else { return nil }
        return rate
    }

    static func samples(_ d: Duration) -> Int {
        let s = EmulatorState.seconds(d)
        return s.isFinite ? Int(min(max(s, 0.1), 3600) * 16000) : 3600 * 16000
    }

    private func vadEvent(_ e: EnergyVAD.Event) async {
        switch e {
        case .speechStarted:
            utteranceSamples = 0
            await beginHearing()
            hearing?.listener.feed(preRoll)
            preRoll = []
            await bargeIn()
        case .speechEnded(let seconds):
            await utteranceEnded(seconds: seconds)
        }
    }

    /// Starts recognising an utterance (pocketsphinx; nothing with `--speech tones`, nor when all
    /// of the server's `maxListeners` are busy: the utterance is then "[speech N s]").
    private func beginHearing() async {
        dropHearing()
        guard options.speech == .espeak else { return }
        guard await shared.acquireListener() else { return }
        holdsListenerSlot = true
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let listener = Listener(grammar: grammar) { continuation.yield($0) }
        let relay = Task { [weak self] in
            for await piece in stream { await self?.partialInput(piece) }
        }
        hearing = Hearing(listener: listener, partials: continuation, relay: relay)
    }

    private func dropHearing() {
        releaseListenerSlot()
        guard let h = hearing else { return }
        hearing = nil
        h.listener.cancel()
        h.partials.finish()
        h.relay.cancel()
    }

    private func releaseListenerSlot() {
        guard holdsListenerSlot else { return }
        holdsListenerSlot = false
        Task { [shared] in await shared.releaseListener() }
    }

    private func partialInput(_ piece: String) async {
        guard setup?.inputAudioTranscription != nil else { return }
        await emit(.serverContent(ServerContent(inputTranscription: Transcription(text: piece))))
    }

    /// The utterance ended: its words (or, when none were recognised, "[speech 1.2 s]") are the
    /// user's turn; the rest of the input transcription goes out, marked finished.
    private func utteranceEnded(seconds: Double) async {
        var text = String(format: "[speech %.1f s]", seconds)
        var lastPiece = text
        if let h = hearing {
            hearing = nil
            let (recognition, remainder) = await h.listener.finish()
            releaseListenerSlot()
            h.partials.finish()
            await h.relay.value   // every partial is out before the final piece
            if !recognition.text.isEmpty {
                text = recognition.text
                lastPiece = remainder
            }
            await shared.count { $0.utterancesRecognised += recognition.text.isEmpty ? 0 : 1 }
        }
        if setup?.inputAudioTranscription != nil {
            await emit(.serverContent(ServerContent(inputTranscription: Transcription(text: lastPiece, finished: true))))
        }
        await userInput(text, index: messageIndex)
    }

    // MARK: turns

    private var interruptsAllowed: Bool { setup?.realtimeInputConfig?.activityHandling != .noInterruption }

    /// User activity began: cut the current reply off (unless NO_INTERRUPTION).
    private func bargeIn() async {
        guard generating, interruptsAllowed else { return }
        await interruptGeneration()
    }

    /// Cuts the running turn off; its input counts as dealt with. `next` is the index of the
    /// message whose input starts the next turn at once: the handle issued here does not cover it.
    private func interruptGeneration(next: Int? = nil) async {
        guard generating else { return }
        let cutEpoch = replyEpoch
        replyEpoch += 1
        generating = false
        answering = nil
        replyTask?.cancel()
        replyTask = nil
        await emit(.serverContent(ServerContent(interrupted: true)))
        let cancelled = pendingCalls.filter { $0.value.replyEpoch == cutEpoch }.map(\.key).sorted()
        if !cancelled.isEmpty {
            for id in cancelled { pendingCalls.removeValue(forKey: id)?.waiter?.resume(returning: nil) }
            await emit(ServerMessage(.toolCallCancellation(ToolCallCancellation(ids: cancelled))))
            await shared.count { $0.cancellationsSent += 1 }
        }
        await emit(.serverContent(ServerContent(turnComplete: true)))
        await issueHandle(next: next)
    }

    /// A user turn, brought by client message `index`.
    private func userInput(_ text: String, index: Int) async {
        if generating {
            if interruptsAllowed {
                await interruptGeneration(next: index)
            } else {
                queued.append((.user(text), index))
                return
            }
        }
        startTurn(.user(text), index: index)
    }

    /// The input goes into the history now, on the actor, so every snapshot from here on holds
    /// it; its answer is generated in a task that a barge-in cancels.
    private func startTurn(_ input: PendingInput, index: Int) {
        switch input {
        case .user(let text): remember(HistoryEntry(.user, text))
        case .toolResult(let name, let result):
            remember(HistoryEntry(.tool, cappedNow(OfflineAgent.toolSentence(name: name, result: result))))
        }
        replyEpoch += 1
        generating = true
        answering = index
        let g = replyEpoch
        replyTask = Task { [weak self] in await self?.runTurn(input, replyEpoch: g) }
    }

    private func runTurn(_ input: PendingInput, replyEpoch g: Int) async {
        guard let setup, g == replyEpoch else { return }
        if setup.sessionResumption != nil {
            await emit(ServerMessage(.sessionResumptionUpdate(SessionResumptionUpdate(resumable: false))), replyEpoch: g)
        }
        var reply: String
        var grounding: GroundingMetadata?
        if setup.generationConfig?.thinkingConfig?.includeThoughts == true {
            // includeThoughts: a short thought summary first (a `thought: true` part, never spoken).
            await emit(.serverContent(ServerContent(modelTurn: Content(role: "model", parts: [
                Part(text: Self.thought(about: input), thought: true),
            ]))), replyEpoch: g)
        }
        switch input {
        case .user(let text):
            if setup.tools?.contains(where: { $0.googleSearch != nil }) == true, let q = OfflineSearch.query(in: text) {
                let found = OfflineSearch.answer(String(q.prefix(200)))
                reply = found.reply
                grounding = found.grounding
                break
            }
            let matches = OfflineAgent.matchTools(text, declarations: setup.functionDeclarations)
            var results: [(String, JSONValue)] = []
            var background: [String] = []
            if !matches.isEmpty {
                var calls: [FunctionCall] = []
                var ids: [(String, FunctionDeclaration)] = []
                for (decl, args) in matches {
                    let id = "function-call-\(session)-\(await shared.nextCallNumber())"
                    calls.append(FunctionCall(id: id, name: decl.name, args: args))
                    ids.append((id, decl))
                }
                // A turn cut off meanwhile registers nothing: its calls would wait for ever.
                guard g == replyEpoch, !closed else { return }
                for (id, decl) in ids {
                    pendingCalls[id] = PendingCall(name: decl.name, blocking: !decl.isNonBlocking, replyEpoch: g)
                }
                await emit(ServerMessage(.toolCall(ToolCall(functionCalls: calls))), replyEpoch: g)
                let n = calls.count
                await shared.count { $0.toolCallsSent += n }
                for (id, decl) in ids {
                    if decl.isNonBlocking {
                        background.append(decl.name)
                    } else {
                        let result = await waitForResponse(id)
                        guard g == replyEpoch, let result else { return }
                        results.append((decl.name, result))
                        remember(HistoryEntry(.tool, await capped(OfflineAgent.toolSentence(name: decl.name, result: result))))
                    }
                }
            }
            reply = OfflineAgent.reply(to: text, history: history.dropLast(), toolResults: results,
                                       startedInBackground: background, declarations: setup.functionDeclarations)
        case .toolResult(let name, let result):
            reply = OfflineAgent.toolSentence(name: name, result: result)
        }
        guard g == replyEpoch else { return }
        if case .user(let text) = input { reply = seeing(text, reply: reply) }
        reply = await cappedReply(reply)
        let replyNumber = await shared.nextReplyNumber()
        guard await speak(reply, replyEpoch: g, replyNumber: replyNumber) else { return }
        if let grounding {
            await emit(.serverContent(ServerContent(groundingMetadata: grounding)), replyEpoch: g)
        }
        remember(HistoryEntry(.model, reply))
        await emit(.serverContent(ServerContent(generationComplete: true)), replyEpoch: g)
        let usage = UsageMetadata(promptTokenCount: history.reduce(0) { $0 + $1.text.count / 4 },
                                  responseTokenCount: max(1, reply.count / 4),
                                  totalTokenCount: nil)
        var u = usage
        u.totalTokenCount = (u.promptTokenCount ?? 0) + (u.responseTokenCount ?? 0)
        if isVertex {
            u.candidatesTokenCount = u.responseTokenCount
            u.responseTokenCount = nil
        }
        let asText = !textFrameSent   // one turnComplete per session goes out as a text frame, as Google may
        textFrameSent = true
        await emit(ServerMessage.serverContent(ServerContent(turnComplete: true), usage: u), replyEpoch: g, asText: asText)
        guard g == replyEpoch else { return }
        generating = false
        answering = nil
        replyTask = nil
        await issueHandle()
        await drainQueue()
    }

    /// The phrases the recogniser listens for in this session.
    private func phraseGrammar(for s: Setup) -> PhraseGrammar {
        OfflineAgent.grammar(declarations: s.functionDeclarations,
                             search: s.tools?.contains { $0.googleSearch != nil } == true, images: lastImage != nil)
    }

    /// The first turn after an image says what it sees: "I see an image of 640×480 pixels."; so
    /// does "what do you see" at any time.
    private func seeing(_ text: String, reply: String) -> String {
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

    private func drainQueue() async {
        guard !generating, !queued.isEmpty else { return }
        let next = queued.removeFirst()
        startTurn(next.input, index: next.index)
    }

    private func waitForResponse(_ id: String) async -> JSONValue? {
        if let early = pendingCalls[id]?.response {
            pendingCalls.removeValue(forKey: id)
            return early
        }
        return await withCheckedContinuation { c in
            if pendingCalls[id] != nil { pendingCalls[id]!.waiter = c } else { c.resume(returning: nil) }
        }
    }

    /// Streams `text` as paced audio (AUDIO modality) or text parts (TEXT), with transcription.
    /// Returns false when cut off.
    private func speak(_ text: String, replyEpoch g: Int, replyNumber: Int) async -> Bool {
        guard let setup else { return false }
        let textMode = setup.generationConfig?.responseModalities?.contains(.text) == true
            && setup.generationConfig?.responseModalities?.contains(.audio) != true
        let words = text.split(separator: " ").map(String.init)
        if textMode {
            for (i, w) in words.enumerated() {
                guard g == replyEpoch else { return false }
                let piece = (i == 0 ? "" : " ") + w
                await emit(.serverContent(ServerContent(modelTurn: Content(role: "model", parts: [Part(text: piece)]))),
                           replyEpoch: g)
                try? await Task.sleep(for: .milliseconds(15))
            }
            return g == replyEpoch
        }
        // R7: the reply is synthesised a piece (a sentence, or at most `pieceCharacters`) at a
        // time, the next piece while the current one streams, so one long reply never holds the
        // process-wide espeak-ng queue (other connections' replies interleave) nor this actor.
        let pieces = Self.speechPieces(text)
        guard !pieces.isEmpty else { return g == replyEpoch }
        let voice = self.voice
        let speech = options.speech
        let cps = options.charactersPerSecond
        func synthesize(_ piece: String) -> Task<SpokenText, Never> {
            Task.detached(priority: .medium) {
                if speech == .espeak, let s = try? await Synthesizer.shared.speak(piece, voice: voice, rate: 24000) { return s }
                return PlaceholderVoice.render(piece, rate: 24000, charactersPerSecond: cps)
            }
        }
        let wantTranscript = setup.outputAudioTranscription != nil
        let chunk = max(1, 24000 * options.chunkMilliseconds / 1000)
        let clock = ContinuousClock()
        var start: ContinuousClock.Instant?
        var samplesSent = 0
        var upcoming: Task<SpokenText, Never>? = synthesize(pieces[0])
        defer { upcoming?.cancel() }
        for (p, _) in pieces.enumerated() {
            guard let current = upcoming else { break }
            let voiced = await current.value
            upcoming = p + 1 < pieces.count ? synthesize(pieces[p + 1]) : nil
            guard g == replyEpoch, !closed else { return false }
            let audio = voiced.samples
            var spokenWords = voiced.words
            if p > 0, !spokenWords.isEmpty { spokenWords[0].text = " " + spokenWords[0].text }
            let chunkCount = (audio.count + chunk - 1) / chunk
            // Faults fire in the middle of the first piece (the whole reply when it is one piece).
            let dropAt = p == 0 && options.faults.dropMidReply == replyNumber ? max(1, chunkCount / 2) : nil
            let stallAt = p == 0 && options.faults.stall != nil ? max(1, chunkCount / 2) : nil
            var wordIndex = 0
            if start == nil { start = clock.now }
            for i in 0..<chunkCount {
                guard g == replyEpoch, !closed else { return false }
                if i == dropAt, await shared.fireOnce("dropMidReply") {
                    await dropNow()
                    return false
                }
                if i == stallAt, let stall = options.faults.stall, await shared.fireOnce("stall") {
                    try? await Task.sleep(for: stall)
                }
                let c = Array(audio[(i * chunk)..<min((i + 1) * chunk, audio.count)])
                await emit(.serverContent(ServerContent(modelTurn: Content(parts: [
                    Part(inlineData: Blob(mimeType: Blob.pcm24kMime, data: PCM.data(c))),
                ]))), replyEpoch: g)
                if wantTranscript {
                    // The words whose sound starts in this chunk (the last chunk carries any rest).
                    let end = i == chunkCount - 1 ? Int.max : (i + 1) * chunk
                    let due = spokenWords[wordIndex...].prefix { $0.startSample < end }.count
                    if due > 0 {
                        let piece = spokenWords[wordIndex..<(wordIndex + due)].map(\.text).joined()
                        await emit(.serverContent(ServerContent(outputTranscription: Transcription(text: piece))), replyEpoch: g)
                        wordIndex += due
                    }
                }
                samplesSent += c.count
                if let start {
                    try? await Task.sleep(until: start + .microseconds(Int64(samplesSent) * 1_000_000 / 24000), clock: clock)
                }
            }
            if wantTranscript, wordIndex < spokenWords.count {
                // A piece with no audio still says its words.
                let rest = spokenWords[wordIndex...].map(\.text).joined()
                await emit(.serverContent(ServerContent(outputTranscription: Transcription(text: rest))), replyEpoch: g)
            }
        }
        return g == replyEpoch
    }

    /// Longest piece of a reply synthesised at once (see `speak`).
    static let pieceCharacters = 240

    /// A reply cut into pieces for synthesis: whole sentences, packed up to `pieceCharacters`;
    /// a longer sentence is cut between words (a longer word on its own). Joined with single
    /// spaces, the pieces are the reply's words joined with single spaces.
    static func speechPieces(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        for word in text.split(whereSeparator: { $0.isWhitespace }) {
            if !current.isEmpty, current.count + 1 + word.count > pieceCharacters {
                pieces.append(current)
                current = ""
            }
            current += (current.isEmpty ? "" : " ") + word
            if let last = word.last, ".!?".contains(last), current.count >= pieceCharacters / 4 {
                pieces.append(current)
                current = ""
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// R7: a reply longer than `maxTextCharacters` is cut at a word boundary and ends with "…" (counted).
    private func cappedReply(_ reply: String) async -> String {
        let limit = max(1, options.maxTextCharacters)
        guard let end = reply.index(reply.startIndex, offsetBy: limit, limitedBy: reply.endIndex), end < reply.endIndex else {
            return reply
        }
        await shared.count { $0.replyTruncations += 1 }
        var cut = reply[..<end]
        if let space = cut.lastIndex(where: { $0.isWhitespace }), space > cut.startIndex { cut = cut[..<space] }
        return cut + "…"
    }

    private func toolResponse(_ r: ToolResponse) async {
        for fr in r.functionResponses {
            guard let id = fr.id, let call = pendingCalls[id] else {
                await shared.count { $0.lateToolResponses += 1 }
                continue
            }
            let result = fr.response ?? .null
            if call.blocking {
                if let waiter = call.waiter {
                    pendingCalls.removeValue(forKey: id)
                    waiter.resume(returning: result)
                } else if call.response == nil {
                    pendingCalls[id]?.response = result   // taken by `waitForResponse`
                } else {
                    await shared.count { $0.lateToolResponses += 1 }   // answered twice
                }
                continue
            }
            if fr.willContinue != true { pendingCalls.removeValue(forKey: id) }
            let name = fr.name ?? call.name
            switch fr.scheduling ?? .whenIdle {
            case .silent:
                remember(HistoryEntry(.tool, await capped(OfflineAgent.toolSentence(name: name, result: result))))
            case .interrupt:
                if generating { await interruptGeneration(next: messageIndex) }
                startTurn(.toolResult(name: name, result: result), index: messageIndex)
            default:   // WHEN_IDLE
                if generating { queued.append((.toolResult(name: name, result: result), messageIndex)) } else {
                    startTurn(.toolResult(name: name, result: result), index: messageIndex)
                }
            }
        }
    }

    // MARK: output

    /// The last client message a handle issued now may cover. A handle resumes the conversation
    /// as it stands: an input whose answer is still to come (its turn running, queued, or
    /// `next`, about to start) is not part of that state, so the handle must not cover it — a
    /// client that resumes sends it again. Audio and activity markers need nothing more.
    private func coveredIndex(next: Int?) -> Int {
        let open = [answering, next].compactMap { $0 } + queued.map(\.index)
        return min(messageIndex, (open.min() ?? Int.max) - 1)
    }

    private func issueHandle(next: Int? = nil) async {
        guard let setup, setup.sessionResumption != nil, !closed else { return }
        handleCounter += 1
        let handle = "emu-h-\(session)-\(handleCounter)-\(UInt32.random(in: 0...UInt32.max))"
        var snap = EmulatorState.Snapshot(history: history, session: session, createdAt: Date())
        snap.openCalls = pendingCalls.filter { !$0.value.blocking }.mapValues(\.name)
        await shared.store(handle: handle, snapshot: snap)
        var u = SessionResumptionUpdate(newHandle: handle, resumable: true)
        u.lastConsumedClientMessageIndex = String(coveredIndex(next: next))
        await emit(ServerMessage(.sessionResumptionUpdate(u)))
    }

    private func emit(_ m: ServerMessage, replyEpoch g: Int? = nil, asText: Bool = false) async {
        guard !closed else { return }
        if let g, g != replyEpoch { return }
        guard let data = try? LiveCoder.encode(m) else { return }
        await output.send(data, asText: asText)
    }

    private func close(_ code: UInt16, _ reason: String) async {
        guard !closed else { return }
        closed = true
        replyTask?.cancel()
        var r = reason
        while r.utf8.count > 123 { r.removeLast() }
        await output.close(code: code, reason: r)
    }
}

/// The voice of `--speech tones` (and the fallback when espeak-ng cannot start): one pitched,
/// enveloped burst per word, pauses between words — audible and as long as the text would take to say.
public enum PlaceholderVoice {
    public static func render(_ text: String, rate: Int, charactersPerSecond: Double) -> SpokenText {
        var out: [Int16] = []
        var words: [SpokenWord] = []
        let pitches: [Double] = [220, 247, 262, 294, 330]
        for (i, word) in text.split(separator: " ").enumerated() {
            words.append(SpokenWord(text: (i == 0 ? "" : " ") + word, startSample: out.count))
            let seconds = max(0.12, Double(word.count) / charactersPerSecond)
            out += ToneGenerator.syllable(frequency: pitches[(i + word.count) % pitches.count], seconds: seconds, rate: rate)
            out += [Int16](repeating: 0, count: Int(Double(rate) / charactersPerSecond))
        }
        return SpokenText(samples: out, rate: rate, words: words)
    }
}
