import Foundation
import Imaging
import LiveProtocol

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

/// One emulated Live session on one connection: the thin actor around a `TurnMachine`. It feeds
/// the machine client frames, timer firings and the answers of the speech engines and the
/// server's shared state, each with the connection's clock value, and carries out the actions
/// in the order the machine gives them: sends, timers (`Task.sleep`), the setup's checks
/// (`SetupAdmission`), recognition (`SpeechListening`) and the spoken reply (`ReplyStreamer`
/// over `SpeechSynthesizing`). A reply's messages go out only while its turn is current, so
/// nothing of an interrupted turn leaks out after `interrupted`.
public actor EmulatorBrain {
    private let options: EmulatorOptions
    private let shared: EmulatorState
    private let output: any EmulatorOutput
    private let auth: EmulatorAuth
    private let apiVersion: String
    private let engines: SpeechEngines
    private var machine: TurnMachine
    private let clock = ContinuousClock()
    private let opened: ContinuousClock.Instant
    /// Every timer the machine started; all are cancelled when the connection ends.
    private var timers: [Task<Void, Never>] = []
    /// The reply being spoken.
    private var speaking: (turn: Int, task: Task<Void, Never>)?
    /// The utterance being recognised, and the task relaying its partial words in order.
    private struct Hearing {
        let id: Int
        let utterance: any HeardUtterance
        let partials: AsyncStream<String>.Continuation
        let relay: Task<Void, Never>
    }
    private var hearing: Hearing?

    public init(options: EmulatorOptions, shared: EmulatorState, output: any EmulatorOutput,
                auth: EmulatorAuth = .ok, isVertex: Bool = false, apiVersion: String = "v1beta",
                engines: SpeechEngines? = nil) {
        self.options = options
        self.shared = shared
        self.output = output
        self.auth = auth
        self.apiVersion = apiVersion
        self.engines = engines ?? .forOptions(options, shared: shared)
        self.machine = TurnMachine(options: options, isVertex: isVertex, startedAt: Date(), seed: UInt64.random(in: 0...UInt64.max),
                                   imageSize: { JPEGFrame.size(of: $0).map { ($0.width, $0.height) } })
        self.opened = clock.now
    }

    public var isClosed: Bool { machine.isClosed }

    /// R6: closes the connection with 1008 when `setup` has not arrived within `timeout`.
    public func armSetupDeadline(_ timeout: Duration) async {
        await handle(.opened(setupTimeout: timeout))
    }

    /// One whole client message (text or binary frame). Returns once the machine's actions for
    /// it are carried out (a spoken reply goes on in its own task).
    public func receive(_ data: Data) async {
        guard !machine.isClosed else { return }
        await handle(.received(data))
    }

    /// The connection ended: stop generating and hearing; keep the resumption store as it is.
    public func connectionClosed() async {
        await handle(.connectionClosed)
        for t in timers { t.cancel() }
        timers.removeAll()
        speaking?.task.cancel()
        speaking = nil
        stopHearing()
    }

    // MARK: carrying out actions

    private var now: Duration { clock.now - opened }

    /// Feeds one event and carries out its actions in order; an action answered by an event
    /// (`admit`, `finishHearing`, …) has that event's actions carried out next.
    private func handle(_ event: TurnMachine.Event) async {
        var pending = machine.handle(event, at: now)
        var i = 0
        while i < pending.count {
            if let answer = await perform(pending[i]) {
                pending.insert(contentsOf: machine.handle(answer, at: now), at: i + 1)
            }
            i += 1
        }
    }

    private func perform(_ action: TurnMachine.Action) async -> TurnMachine.Event? {
        switch action {
        case .send(let m, let asText):
            guard let data = try? LiveCoder.encode(m) else { return nil }
            await output.send(data, asText: asText)
        case .sendRaw(let data):
            await output.send(data, asText: false)
        case .admit(let setup):
            return await SetupAdmission.check(setup, auth: auth, apiVersion: apiVersion, shared: shared)
        case .fireStartFaults(let planned):
            var fired: Set<TurnMachine.StartFault> = []
            for f in planned where await shared.fireOnce(f.rawValue) { fired.insert(f) }
            return .startFaults(fired)
        case .reserveCallNumbers(let count, let turn):
            var numbers: [Int] = []
            for _ in 0..<count { numbers.append(await shared.nextCallNumber()) }
            return .callNumbers(numbers, turn: turn)
        case .storeSnapshot(let handle, let history, let session, let openCalls):
            var snap = EmulatorState.Snapshot(history: history, session: session, createdAt: Date())
            snap.openCalls = openCalls
            await shared.store(handle: handle, snapshot: snap)
        case .listen(let id, let context):
            await startHearing(id, context)
        case .hear(let id, let samples):
            if let h = hearing, h.id == id { h.utterance.feed(samples) }
        case .finishHearing(let id, let seconds):
            return await finishHearing(id, seconds: seconds)
        case .stopHearing(let id):
            if hearing?.id == id { stopHearing() }
        case .speak(let reply):
            startSpeaking(reply)
        case .stopSpeaking(let turn):
            if let s = speaking, s.turn == turn {
                s.task.cancel()
                speaking = nil
            }
        case .startTimer(let id, let at):
            let deadline = opened + at
            let clock = self.clock
            timers.append(Task { [weak self] in
                do { try await Task.sleep(until: deadline, clock: clock) } catch { return }
                await self?.handle(.timerFired(id))
            })
        case .tally(let t):
            await shared.count { Self.apply(t, to: &$0) }
        case .close(let code, let reason):
            speaking?.task.cancel()
            speaking = nil
            await output.close(code: code, reason: reason)
        case .drop:
            speaking?.task.cancel()
            speaking = nil
            await output.drop()
        }
        return nil
    }

    // MARK: speech

    private func startHearing(_ id: Int, _ context: TurnMachine.ListenContext) async {
        stopHearing()
        let (stream, continuation) = AsyncStream<String>.makeStream()
        guard let utterance = await engines.listener.begin(context, onPartial: { continuation.yield($0) }) else {
            continuation.finish()
            return
        }
        // A newer utterance may have begun while this one waited for a slot.
        guard machine.hearing == id, !machine.isClosed else {
            utterance.cancel()
            continuation.finish()
            return
        }
        let relay = Task { [weak self] in
            for await piece in stream { await self?.handle(.partialHeard(piece, utterance: id)) }
        }
        hearing = Hearing(id: id, utterance: utterance, partials: continuation, relay: relay)
    }

    private func stopHearing() {
        guard let h = hearing else { return }
        hearing = nil
        h.utterance.cancel()
        h.partials.finish()
        h.relay.cancel()
    }

    private func finishHearing(_ id: Int, seconds: Double) async -> TurnMachine.Event {
        guard let h = hearing, h.id == id else {
            return .heard(.init(utterance: id, text: nil, remainder: "", seconds: seconds))
        }
        hearing = nil
        let (text, remainder) = await h.utterance.finish()
        h.partials.finish()
        await h.relay.value   // every partial is out before the final piece
        return .heard(.init(utterance: id, text: text, remainder: remainder, seconds: seconds))
    }

    private func startSpeaking(_ reply: TurnMachine.Reply) {
        speaking?.task.cancel()
        let streamer = ReplyStreamer(synthesizer: engines.synthesizer, chunkMilliseconds: options.chunkMilliseconds,
                                     faults: options.faults, shared: shared)
        let shared = self.shared
        let task = Task { [weak self] in
            let number = await shared.nextReplyNumber()
            let done = await streamer.stream(reply, replyNumber: number,
                                             send: { [weak self] m in await self?.sendSpoken(m, turn: reply.turn) ?? false },
                                             drop: { [weak self] in await self?.handle(.dropNow) })
            if done { await self?.spokenToTheEnd(reply.turn) }
        }
        speaking = (reply.turn, task)
    }

    /// A message of the reply of `turn`, sent only while that turn is current.
    private func sendSpoken(_ m: ServerMessage, turn: Int) async -> Bool {
        guard machine.isCurrent(turn: turn), let data = try? LiveCoder.encode(m) else { return false }
        await output.send(data, asText: false)
        return machine.isCurrent(turn: turn)
    }

    private func spokenToTheEnd(_ turn: Int) async {
        if speaking?.turn == turn { speaking = nil }
        await handle(.spoken(turn: turn))
    }

    // MARK: bookkeeping

    static func apply(_ t: TurnMachine.Tally, to s: inout EmulatorState.Stats) {
        switch t {
        case .clientMessage: s.clientMessages += 1
        case .setup: s.setups += 1
        case .resume: s.resumes += 1
        case .idleClose: s.idleCloses += 1
        case .goAwaySent: s.goAwaysSent += 1
        case .lifetimeClose: s.lifetimeCloses += 1
        case .badAudioRate: s.badAudioRates += 1
        case .textTruncation: s.textTruncations += 1
        case .replyTruncation: s.replyTruncations += 1
        case .utteranceCut: s.utterancesCut += 1
        case .cancellationSent: s.cancellationsSent += 1
        case .lateToolResponse: s.lateToolResponses += 1
        case .queueOverflow: s.queueOverflows += 1
        case .historyDropped(let n): s.historyDropped += n
        case .toolCallsSent(let n): s.toolCallsSent += n
        }
    }
}
