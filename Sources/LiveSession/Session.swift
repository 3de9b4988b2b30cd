import Foundation
import LiveProtocol

/// How to open and run a session.
public struct SessionConfig: Sendable {
    public var endpoint: Endpoint
    /// The setup to send; `sessionResumption` is managed by the session (handles on by default).
    public var setup: Setup
    public var apiVersion: String
    public var policy: ReconnectPolicy
    public var goAwayMargin: Duration
    public var maxInboundBytes: Int
    /// Send typed text as `clientContent` (turnComplete) instead of `realtimeInput.text`.
    public var textAsClientContent: Bool
    public var requestResumptionHandles: Bool
    /// Connect, setup, close, ping and inactivity deadlines.
    public var deadlines: Deadlines
    /// Messages waiting to be written on the socket before new microphone audio is dropped
    /// (200 × 20 ms = 4 s of audio). Text and tool responses are never dropped here.
    public var maxSendBacklog: Int

    public init(endpoint: Endpoint, setup: Setup, apiVersion: String = Endpoint.defaultAPIVersion,
                policy: ReconnectPolicy = .init(), goAwayMargin: Duration = .milliseconds(750),
                maxInboundBytes: Int = LiveCoder.defaultMaxMessageBytes, textAsClientContent: Bool = false,
                requestResumptionHandles: Bool = true, deadlines: Deadlines = .defaults, maxSendBacklog: Int = 200) {
        self.deadlines = deadlines
        self.maxSendBacklog = maxSendBacklog
        self.endpoint = endpoint
        self.setup = setup
        self.apiVersion = apiVersion
        self.policy = policy
        self.goAwayMargin = goAwayMargin
        self.maxInboundBytes = maxInboundBytes
        self.textAsClientContent = textAsClientContent
        self.requestResumptionHandles = requestResumptionHandles
    }
}

/// Owns one conversation with the Live API across reconnects: carries out the actions of its
/// `SessionStateMachine` over a `Transport`, runs tools, assembles transcripts, tags audio with
/// turn ids, and holds input while reconnecting. Everything it learns goes out on `events`.
public actor Session {
    public nonisolated let events: AsyncStream<SessionEvent>
    private let continuation: AsyncStream<SessionEvent>.Continuation

    private var config: SessionConfig
    private let transport: any Transport
    private var tools: ToolRegistry
    private var machine: SessionStateMachine
    private var random = SystemRandomNumberGenerator()

    // Connection bookkeeping (actor-isolated).
    private var connection: (any TransportConnection)?
    /// Bumped for every socket; events of older sockets are ignored.
    private var generation = 0
    private var connectInFlight = false
    /// The task opening the current socket (cancelled when the user gives up or a deadline passes).
    private var connectTask: Task<Void, Never>?
    /// The pending back-off timer; a new one (or a manual connect) cancels it.
    private var reconnectTask: Task<Void, Never>?
    /// Index of the last message sent on this connection (`setup` is 0).
    private var sentIndex = 0
    /// `sentIndex` at the last `turnComplete`: what the server has certainly answered.
    private var answeredIndex = 0
    private var buffer: InputBuffer
    private var lastReportedDrops = 0
    private var lastDropReport: ContinuousClock.Instant?
    private var warnings = WarningLimiter()
    /// Counters of everything the session refused or dropped (also in the README).
    public private(set) var counters = SessionCounters()

    // Turns.
    private var turn = 1
    /// The turn whose remaining output is discarded after `interrupted`.
    private var purgedTurn: Int?
    private var modelSpeaking = false
    private var transcript = TranscriptAssembler()
    private var lastStateSent: (SessionState, Bool)?

    // Tools.
    private struct RunningCall {
        var task: Task<Void, Never>
        var name: String
        var started: ContinuousClock.Instant
        /// The id the server gave (nil when it gave none: the response then carries none either).
        var wireId: String?
    }
    private var calls: [String: RunningCall] = [:]
    /// Ids cancelled by the server in this turn (a late result is then not sent); cleared at turn end.
    private var cancelledCalls: Set<String> = []
    /// Function calls whose arguments are still streaming in (Vertex `partialArgs`).
    private var streamedCalls = StreamedCalls()
    private var localCallIds = 0
    /// Tool calls running at once at most; more are answered with an error at once.
    public static let maxConcurrentToolCalls = 32
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []

    public init(config: SessionConfig, transport: any Transport, tools: ToolRegistry = ToolRegistry(),
                bufferCapacity: Int = 3000) {
        self.config = config
        self.transport = transport
        self.tools = tools
        self.buffer = InputBuffer(capacity: bufferCapacity)
        self.machine = SessionStateMachine(policy: config.policy, goAwayMargin: config.goAwayMargin,
                                           apiVersion: config.apiVersion, model: config.setup.model)
        (events, continuation) = AsyncStream.makeStream(of: SessionEvent.self,
                                                        bufferingPolicy: .bufferingOldest(Self.maxQueuedEvents))
    }

    // MARK: commands

    public var state: SessionState { machine.state }
    public var resumptionHandle: String? { machine.resumptionHandle }

    public func connect() { perform(machine.connectRequested()) }

    /// Applies a new setup (e.g. push-to-talk ↔ voice detection) by reconnecting with the handle.
    public func reconfigure(_ setup: Setup) {
        config.setup = setup
        perform(machine.reconnectRequested())
    }

    public var setup: Setup { config.setup }

    /// Replaces the tools (an MCP server came back with another list): they are declared in the
    /// next `setup`, i.e. at the next reconnect or resume; calls already running finish as they are.
    public func replaceTools(_ registry: ToolRegistry) { tools = registry }

    /// Close with 1000 and stay disconnected until `connect()`.
    public func disconnect() { perform(machine.disconnectRequested()) }

    /// A fresh session without a handle.
    public func reset() {
        transcript.reset()
        perform(machine.resetRequested())
    }

    /// Close with 1000 and end the event stream once the socket is gone. Returns within the
    /// close deadline (2 s by default) plus a little, whatever the peer does: a socket still
    /// opening is abandoned, and a close handshake that does not finish in time is cut.
    public func quit() async {
        cancelAllCalls()
        perform(machine.quitRequested())
        if case .closed = machine.state {} else {
            let gen = generation
            let grace = config.deadlines.close + .milliseconds(500)
            let timer = Task { [weak self] in
                try? await Task.sleep(for: grace)
                if !Task.isCancelled { await self?.forceClosed(reason: "close handshake timed out", generation: gen) }
            }
            await withCheckedContinuation { closeWaiters.append($0) }
            timer.cancel()
        }
        cancelAllCalls()
        reconnectTask?.cancel()
        connectTask?.cancel()
        emit(.ended(nil))
        continuation.finish()
    }

    /// The socket did not close in time (or is stuck opening): drop it and carry on as if it had
    /// closed. Any late event of that socket is ignored (new generation).
    private func forceClosed(reason: String, generation gen: Int) {
        guard gen == generation else { return }
        if case .closed = machine.state { return }
        let c = connection
        connection = nil
        connectInFlight = false
        connectTask?.cancel()
        generation += 1
        c?.abort()
        perform(machine.socketClosed(code: CloseCodes.abnormal, reason: reason, random: nextRandom()))
    }

    /// 16 kHz PCM16 mono from the microphone.
    public func sendAudio(_ pcm: Data) { send(.realtimeInput(.audio(pcm16k: pcm))) }
    public func sendImage(jpeg: Data) { send(.realtimeInput(.image(jpeg: jpeg))) }
    public func activityStart() { send(.realtimeInput(.activityStart)) }
    public func activityEnd() { send(.realtimeInput(.activityEnd)) }
    public func audioStreamEnd() { send(.realtimeInput(.audioStreamEnd)) }

    /// A typed message: a whole user turn.
    public func sendText(_ text: String) {
        emit(.userText(text))
        emit(.turn(TranscriptTurn(role: .user, text: text, turn: turn)))
        if config.textAsClientContent {
            send(.clientContent(ClientContent(turns: [.user(text)], turnComplete: true)))
        } else {
            send(.realtimeInput(.text(text)))
        }
    }

    public func sendToolResponse(_ r: ToolResponse) { send(.toolResponse(r)) }

    /// Sends now if a connection is ready, holds it while (re)connecting, drops it otherwise.
    public func send(_ message: ClientMessage) {
        if machine.state.isLive, let connection {
            if InputBuffer.isAudio(message), connection.backlog >= config.maxSendBacklog {
                // The socket cannot keep up (a stalled peer or a slow link): new microphone audio
                // goes, text and tool responses never do.
                counters.outboundAudioDropped += 1
                warn(.sendBacklog, "the connection is not keeping up: dropped microphone audio (\(counters.outboundAudioDropped) chunks so far)")
                return
            }
            let data: Data
            do { data = try LiveCoder.encode(message) } catch {
                warn(.encode, "could not encode \(message.kind): \(error)")
                return
            }
            if connection.send(data) {
                sentIndex += 1
                buffer.sent(message, index: sentIndex)
                reportDrops()
                return
            }
        }
        switch machine.state {
        case .connecting, .connected, .interrupted:
            buffer.hold(message)
            reportDrops()
        case .closing where machine.closeIntent == .goAwayReconnect || machine.closeIntent == .reset:
            buffer.hold(message)
            reportDrops()
        default:
            if case .realtimeInput(let r) = message, r.audioBlob != nil { return }   // mic while offline: silence
            if case .realtimeInput(let r) = message, r.text == nil { return }         // activity markers too
            warn(.notConnected, "not connected: \(message.kind) not sent")
        }
    }

    /// Reports input the buffer dropped for space: at most once every 2 s, with the total since
    /// the last report (50 chunks a second must not become 50 warnings a second).
    private func reportDrops() {
        guard buffer.dropped != lastReportedDrops else { return }
        let now = ContinuousClock.now
        if let last = lastDropReport, now - last < .seconds(2) { return }
        lastDropReport = now
        emit(.inputDropped(count: buffer.dropped - lastReportedDrops))
        lastReportedDrops = buffer.dropped
    }

    /// A warning, at most one per kind every 2 s; the next one says how many were held back.
    private func warn(_ kind: WarningLimiter.Kind, _ text: String) {
        if let line = warnings.admit(kind, text, now: .now) { emit(.warning(line)) }
    }

    // MARK: actions

    private func perform(_ actions: [SessionStateMachine.Action]) {
        for action in actions {
            switch action {
            case .openSocket(let attempt):
                open(attempt: attempt)
            case .sendSetup(let handle):
                sendSetup(handle: handle)
            case .flushPending:
                let replay = buffer.takeForReplay()
                for m in replay { send(m) }
                if !replay.isEmpty { emit(.replayed(count: replay.count)) }
            case .closeSocket(let code):
                reconnectTask?.cancel()
                reconnectTask = nil
                if let connection {
                    Task { await connection.close(code: code, reason: "") }
                    // The close handshake has a deadline: a peer that never answers is cut off.
                    let gen = generation
                    let grace = config.deadlines.close + .milliseconds(250)
                    Task { [weak self] in
                        try? await Task.sleep(for: grace)
                        await self?.forceClosed(reason: "close handshake timed out", generation: gen)
                    }
                } else {
                    // Nothing open: a socket still opening is abandoned (a peer that never
                    // answers must not hold up quit); waiting out a back-off is closed already.
                    if connectInFlight {
                        connectTask?.cancel()
                        connectTask = nil
                        connectInFlight = false
                        generation += 1
                    }
                    perform(machine.socketClosed(code: code, reason: "", random: nextRandom()))
                }
            case .reconnect(let delay, let attempt):
                reconnectTask?.cancel()
                reconnectTask = Task { [weak self] in
                    try? await Task.sleep(for: delay)
                    if Task.isCancelled { return }
                    await self?.reconnectTimerFired(attempt: attempt)
                }
            case .purgePlayback(let t):
                emit(.purge(turn: t))
            case .armGoAwayDeadline(let after):
                let gen = generation
                Task { [weak self] in
                    try? await Task.sleep(for: after)
                    await self?.goAwayDeadline(generation: gen)
                }
            case .fail:
                cancelAllCalls()
            case .dropUnconfirmed:
                buffer.dropUnconfirmed()
                cancelAllCalls()
                turn += 1
                purgedTurn = nil
                modelSpeaking = false
            }
        }
        reportState()
    }

    private func reportState() {
        let now = (machine.state, machine.resumptionHandle != nil)
        if let last = lastStateSent, last.0 == now.0, last.1 == now.1 { return }
        lastStateSent = now
        emit(.state(now.0, handleHeld: now.1))
        if case .closed = now.0 {
            for w in closeWaiters { w.resume() }
            closeWaiters.removeAll()
        }
        if now.0 == .disconnected, !closeWaiters.isEmpty {
            for w in closeWaiters { w.resume() }
            closeWaiters.removeAll()
        }
    }

    private func nextRandom() -> Double { Double.random(in: 0..<1, using: &random) }

    private func open(attempt: Int) {
        reconnectTask?.cancel()
        reconnectTask = nil
        connectTask?.cancel()
        if let old = connection {
            // Never orphan an open socket (R22): close it; its events are ignored from now on.
            connection = nil
            Task { await old.close(code: CloseCodes.normal, reason: "") }
        }
        generation += 1
        let gen = generation
        connectInFlight = true
        let endpoint = config.endpoint
        let transport = self.transport
        let deadline = config.deadlines.connect
        connectTask = Task { [weak self] in
            // The transport has its own connect deadline; this one also covers transports that
            // do not (and a connect that ignores cancellation).
            let timer = Task { [weak self] in
                try? await Task.sleep(for: deadline + .milliseconds(500))
                if !Task.isCancelled {
                    await self?.connectFailed(.timedOut(step: "connect", after: deadline), generation: gen)
                }
            }
            defer { timer.cancel() }
            do throws(TransportError) {
                let c = try await transport.connect(to: endpoint)
                await self?.opened(c, generation: gen)
            } catch {
                await self?.connectFailed(error, generation: gen)
            }
        }
    }

    private func opened(_ c: any TransportConnection, generation gen: Int) async {
        guard gen == generation, connectInFlight else {
            await c.close(code: CloseCodes.normal, reason: "")
            return
        }
        connectInFlight = false
        connectTask = nil
        connection = c
        sentIndex = 0
        answeredIndex = 0
        Task { [weak self] in
            for await item in c.inbound {
                await self?.inbound(item, generation: gen)
            }
        }
        perform(machine.socketOpened())
    }

    private func connectFailed(_ error: TransportError, generation gen: Int) {
        guard gen == generation, connectInFlight else { return }
        connectInFlight = false
        connectTask?.cancel()
        connectTask = nil
        generation += 1   // a connect that completes after its deadline is closed, not used
        perform(machine.connectFailed(failure: error.failure, retryable: error.retryable, random: nextRandom()))
    }

    /// No `setupComplete` within the setup deadline: a retryable failure, like a refused connect.
    private func setupDeadline(generation gen: Int) {
        guard gen == generation, case .connecting = machine.state, let c = connection else { return }
        connection = nil
        generation += 1
        c.abort()
        let e = TransportError.timedOut(step: "setup", after: config.deadlines.setup)
        perform(machine.connectFailed(failure: e.failure, retryable: true, random: nextRandom()))
    }

    private func reconnectTimerFired(attempt: Int) { perform(machine.reconnectTimerFired(attempt: attempt)) }

    private func goAwayDeadline(generation gen: Int) {
        guard gen == generation else { return }
        perform(machine.goAwayDeadlineReached())
    }

    private func sendSetup(handle: String?) {
        var setup = config.setup
        if config.requestResumptionHandles || handle != nil {
            var r = setup.sessionResumption ?? SessionResumptionConfig()
            r.handle = handle
            setup.sessionResumption = r
        }
        setup.tools = Self.mergedTools(setup.tools, registry: tools)
        guard let connection, let data = try? LiveCoder.encode(ClientMessage.setup(setup)) else { return }
        connection.send(data)
        let gen = generation
        let deadline = config.deadlines.setup
        Task { [weak self] in
            try? await Task.sleep(for: deadline)
            await self?.setupDeadline(generation: gen)
        }
    }

    /// The setup as the first connection sends it: resumption asked for, the registry's tools
    /// added (`livetalk info --setup` prints this).
    public static func wireSetup(_ setup: Setup, tools: ToolRegistry, requestResumptionHandles: Bool = true) -> Setup {
        var setup = setup
        if requestResumptionHandles, setup.sessionResumption == nil { setup.sessionResumption = SessionResumptionConfig() }
        setup.tools = mergedTools(setup.tools, registry: tools)
        return setup
    }

    /// The registry's functions are declared alongside whatever tools the config lists.
    static func mergedTools(_ configured: [Tool]?, registry tools: ToolRegistry) -> [Tool]? {
        let decls = tools.declarations
        if decls.isEmpty { return configured }
        var out = configured ?? []
        let existing = Set(out.flatMap { $0.functionDeclarations ?? [] }.map(\.name))
        let missing = decls.filter { !existing.contains($0.name) }
        if !missing.isEmpty { out.append(Tool(functionDeclarations: missing)) }
        return out
    }

    // MARK: inbound

    private func inbound(_ item: TransportInbound, generation gen: Int) {
        guard gen == generation else { return }
        switch item {
        case .text(let s): decodeAndHandle(Data(s.utf8))
        case .binary(let d): decodeAndHandle(d)
        case .closed(let code, let reason):
            connection = nil
            connectInFlight = false
            if modelSpeaking { finishOpenTurn(interrupted: true, atTurnComplete: false) }
            perform(machine.socketClosed(code: code, reason: reason, random: nextRandom()))
        }
    }

    private func decodeAndHandle(_ data: Data) {
        let message: ServerMessage
        do {
            message = try LiveCoder.decodeServer(data, mode: .strict, maxBytes: config.maxInboundBytes)
        } catch {
            counters.badMessages += 1
            let kind: WarningLimiter.Kind = if case LiveProtocolError.oversize = error { .oversizeMessage } else { .badMessage }
            warn(kind, "ignored a bad message from the server: \(Self.short("\(error)"))")
            return
        }
        handle(message)
    }

    private func handle(_ message: ServerMessage) {
        switch message.payload {
        case .setupComplete(let s):
            emit(.setupComplete(sessionId: s.sessionId))
            perform(machine.setupCompleted())
        case .serverContent(let c):
            handle(c)
        case .toolCall(let call):
            startCalls(streamedCalls.take(call.functionCalls))   // streamed arguments wait for their last piece
        case .toolCallCancellation(let c):
            for id in c.ids { cancelCall(id) }
        case .goAway(let g):
            let left = min(g.timeLeft?.duration ?? .seconds(5), .seconds(86_400))
            emit(.goAway(timeLeft: left))
            perform(machine.receivedGoAway(timeLeft: left))
        case .sessionResumptionUpdate(let u):
            if u.resumable == true, u.newHandle?.isEmpty == false {
                buffer.confirm(upTo: u.lastConsumedClientMessageIndex.flatMap { Int($0) }, answeredUpTo: answeredIndex)
            }
            perform(machine.receivedResumptionUpdate(handle: u.newHandle, resumable: u.resumable == true))
        case .voiceActivity(let v):
            emit(.voiceActivity(v.type ?? "?"))
        case .voiceActivityDetectionSignal(let v):
            emit(.voiceActivity(v.vadSignalType ?? "?"))
        case .usageOnly:
            break
        case .unknown(let keys):
            counters.badMessages += 1
            warn(.unknownMessage, "ignored an unknown server message (\(Self.short(keys.prefix(5).joined(separator: ", "))))")
        }
        if let u = message.usageMetadata { emit(.usage(u)) }
    }

    /// Order matters: a purge goes out before anything else in the same message.
    private func handle(_ c: ServerContent) {
        if c.interrupted == true {
            purgedTurn = turn
            perform(machine.interrupted(turn: turn))
        }
        if let t = c.inputTranscription?.text, !t.isEmpty || c.inputTranscription?.finished == true {
            transcript.userFragment(t)
            emit(.inputTranscript(t, finished: c.inputTranscription?.finished == true))
        }
        let live = purgedTurn != turn
        if live, let parts = c.modelTurn?.parts {
            for p in parts {
                if p.thought == true {
                    if let text = p.text, !text.isEmpty { emit(.thought(text, turn: turn)) }
                    continue
                }
                if let blob = p.inlineData, blob.mimeType?.hasPrefix("audio/") ?? true {
                    guard let rate = Self.playableRate(blob) else {
                        counters.audioChunksBadRate += 1
                        warn(.badAudioRate, "dropped model audio with an unplayable rate (\(Self.short(blob.mimeType ?? "?"))); "
                             + "\(counters.audioChunksBadRate) chunk(s) so far")
                        continue
                    }
                    modelStarted()
                    emit(.audio(blob.data, sampleRate: rate, turn: turn))
                } else if let text = p.text {
                    modelStarted()
                    transcript.modelTextPart(text)
                    emit(.modelText(text, turn: turn))
                }
            }
        }
        if live, let t = c.outputTranscription?.text, !t.isEmpty {
            modelStarted()
            transcript.modelTranscript(t)
            emit(.outputTranscript(t, turn: turn))
        }
        if let g = c.groundingMetadata {
            transcript.grounding(g)
            emit(.grounding(g))
        }
        if c.generationComplete == true { emit(.generationComplete(turn: turn)) }
        if c.turnComplete == true {
            cancelledCalls.removeAll()
            let interrupted = purgedTurn == turn
            // An interrupted turn did not answer what interrupted it: that input stays
            // unconfirmed until a later turn completes.
            if !interrupted { answeredIndex = sentIndex }
            finishOpenTurn(interrupted: interrupted, reason: c.turnCompleteReason?.rawValue, atTurnComplete: true)
            perform(machine.turnCompleted())
        }
    }

    private func modelStarted() {
        guard !modelSpeaking else { return }
        modelSpeaking = true
        machine.modelOutputStarted()
        if let u = transcript.takeUser(turn: turn) { emit(.turn(u)) }
    }

    /// Ends the current turn (at `turnComplete`, or when the socket drops mid-turn).
    private func finishOpenTurn(interrupted: Bool, reason: String? = nil, atTurnComplete: Bool) {
        if let u = transcript.takeUser(turn: turn) { emit(.turn(u)) }
        if let m = transcript.takeModel(turn: turn, interrupted: interrupted) { emit(.turn(m)) }
        if atTurnComplete || modelSpeaking {
            emit(.turnComplete(turn: turn, interrupted: interrupted, reason: reason))
            turn += 1
        }
        purgedTurn = nil
        modelSpeaking = false
    }

    // MARK: tools

    private func startCalls(_ functionCalls: [FunctionCall]) {
        for call in functionCalls {
            let id: String
            if let given = call.id, !given.isEmpty {
                guard calls[given] == nil else {
                    // The same id twice: one response would be lost and the count never return to 0.
                    counters.badToolCalls += 1
                    warn(.badToolCall, "ignored a second tool call with the id \(Self.short(given))")
                    continue
                }
                id = given
            } else {
                localCallIds += 1
                id = "local-\(localCallIds)"
            }
            guard calls.count < Self.maxConcurrentToolCalls else {
                counters.badToolCalls += 1
                warn(.badToolCall, "refused a tool call: \(Self.maxConcurrentToolCalls) are already running")
                send(.toolResponse(ToolResponse(functionResponses: [
                    FunctionResponse(id: call.id, name: call.name,
                                     response: ["error": .string("too many tool calls at once; try again")]),
                ])))
                continue
            }
            machine.toolCallsStarted(1)
            let def = tools[call.name]
            emit(.tool(.started(id: id, name: call.name, args: call.args,
                                              nonBlocking: def?.declaration.isNonBlocking ?? false)))
            let started = ContinuousClock.now
            let args = call.args
            let name = call.name
            let task = Task { [weak self] in
                let result: Result<JSONValue, any Error>
                if let def {
                    do { result = .success(try await def.invoke(ToolInvocation(id: id, args: args))) } catch { result = .failure(error) }
                } else {
                    result = .failure(ToolFailure("unknown function \(name)"))
                }
                await self?.callEnded(id: id, name: name, result: result)
            }
            calls[id] = RunningCall(task: task, name: name, started: started, wireId: call.id)
        }
    }

    private func callEnded(id: String, name: String, result: Result<JSONValue, any Error>) {
        guard let call = calls.removeValue(forKey: id), !cancelledCalls.contains(id) else { return }
        let duration = ContinuousClock.now - call.started
        let def = tools[name]
        let scheduling = def?.declaration.isNonBlocking == true ? def?.scheduling : nil
        let response: JSONValue
        switch result {
        case .success(let v):
            response = v
            emit(.tool(.finished(id: id, name: name, result: v, duration: duration)))
        case .failure(let e):
            let text = (e as? ToolFailure)?.message ?? "\(e)"
            response = ["error": .string(text)]
            emit(.tool(.failed(id: id, name: name, error: text, duration: duration)))
        }
        send(.toolResponse(ToolResponse(functionResponses: [
            FunctionResponse(id: call.wireId, name: name, response: response, scheduling: scheduling),
        ])))
        perform(machine.toolCallsEnded(1))
    }

    private func cancelCall(_ id: String) {
        if cancelledCalls.count < 1000 { cancelledCalls.insert(id) }
        guard let call = calls.removeValue(forKey: id) else { return }
        call.task.cancel()
        emit(.tool(.cancelled(id: id, name: call.name, duration: ContinuousClock.now - call.started)))
        perform(machine.toolCallsEnded(1))
    }

    private func cancelAllCalls() {
        for id in Array(calls.keys) { cancelCall(id) }
    }

    // MARK: events

    /// Events waiting for the consumer at most (minutes of audio chunks: only a consumer that
    /// stopped reading reaches it). Beyond it new events are dropped and counted.
    public static let maxQueuedEvents = 20_000

    private func emit(_ e: SessionEvent) {
        if case .dropped = continuation.yield(e) { counters.eventsDropped += 1 }
    }

    // MARK: validation

    /// Audio rates the client plays: 8–48 kHz. Anything else (or a rate that does not parse) is
    /// dropped: `rate=1` would make the resampler allocate gigabytes.
    public static let playableRates = 8000...48000

    static func playableRate(_ blob: Blob) -> Int? {
        guard let rate = blob.sampleRate else {
            let declared = blob.mimeType?.contains("rate=") ?? false
            return declared ? nil : 24000
        }
        return playableRates.contains(rate) ? rate : nil
    }

    static func short(_ s: String) -> String { s.count > 160 ? String(s.prefix(157)) + "…" : s }
}

/// What the session refused or dropped, for the README's "Limits and guarantees" and the soak bench.
public struct SessionCounters: Sendable, Hashable {
    public var badMessages = 0
    public var audioChunksBadRate = 0
    public var outboundAudioDropped = 0
    public var badToolCalls = 0
    public var eventsDropped = 0
    public init() {}
}

/// One warning per kind every `interval`; the next one that passes says how many were held back.
struct WarningLimiter: Sendable {
    enum Kind: Hashable, Sendable { case badMessage, oversizeMessage, unknownMessage, badAudioRate, sendBacklog, badToolCall, encode, notConnected }
    var interval: Duration = .seconds(2)
    private var last: [Kind: ContinuousClock.Instant] = [:]
    private var held: [Kind: Int] = [:]

    mutating func admit(_ kind: Kind, _ text: String, now: ContinuousClock.Instant) -> String? {
        if let t = last[kind], now - t < interval {
            held[kind, default: 0] += 1
            return nil
        }
        last[kind] = now
        let n = held.removeValue(forKey: kind) ?? 0
        return n > 0 ? "\(text) (and \(n) more like it)" : text
    }
}
