import AudioCore
import Foundation
import LiveProtocol
import LiveSession
import Logging
import TerminalUI

/// One run of the conversation, from connect to the last file closed: the session, the face,
/// the audio bridge, the writers and every task feeding the one event queue. Only the runtime's
/// task touches its mutable state (`model`, `tasks`, `loop`).
final class Conversation {
    let plan: ClientPlan
    let edges: ClientEdges
    let opened: ClientRuntime.Opened
    let session: Session
    let face: any Face
    let bridge: AudioBridge?
    let audio: AudioOpening
    let events: AsyncStream<AppEvent>
    let sink: EventSink
    let dropped: Counter
    var model = AppModel()
    var tasks: [Task<Void, Never>] = []
    var pump: Task<Void, Never>?
    var loop: Loop
    /// When the last image went out (at most one a second).
    var lastImageAt: ContinuousClock.Instant?
    let logger = Logger(label: "livetalk")
    /// The MCP servers of this run (nil: none configured, or no edge to run them).
    let toolServers: (any ToolServers)?
    let builtins: ToolRegistry
    let approvals = ApprovalDesk()
    /// Declares the tools of the servers ready now (`startToolServers`).
    var declareTools: (@Sendable () async -> Void)?

    enum Ending { case quit, signal, sessionEnded, noReply }

    init(plan: ClientPlan, edges: ClientEdges, opened o: ClientRuntime.Opened, endpoint: Endpoint, endpointKind: String,
         dropped: Counter) {
        self.plan = plan
        self.edges = edges
        self.opened = o
        self.dropped = dropped
        face = o.terminal.map { ScreenFace(backend: $0) as any Face } ?? LineFace(edges: edges, endpointKind: endpointKind)
        builtins = ToolRegistry.builtins(timerScheduling: plan.settings.nonBlockingScheduling)
        toolServers = plan.tools.servers.isEmpty ? nil : edges.toolServers(plan.tools.servers)
        session = Session(
            config: SessionConfig(endpoint: endpoint, setup: Settings.setup(plan.settings, endpoint: endpoint, system: o.system),
                                  apiVersion: plan.apiVersion, deadlines: plan.deadlines),
            transport: edges.transport(plan.deadlines, plan.settings.caFile),
            tools: builtins)
        let audio = edges.openAudio(plan.audio, o.inputWav.isEmpty)
        self.audio = audio
        if let why = audio.offReason { o.notices.append(.audioOff(reason: why)) }
        let recording = o.recording
        let session = self.session
        // One bounded queue for everything that happens; what does not fit is dropped and counted.
        let (events, queue) = AsyncStream.makeStream(of: AppEvent.self, bufferingPolicy: .bufferingOldest(ClientRuntime.maxQueuedEvents))
        self.events = events
        let sink = EventSink { e in if case .dropped = queue.yield(e) { dropped.add() } }
        self.sink = sink
        bridge = audio.device.map {
            AudioBridge(session: session, device: $0, mode: plan.settings.pushToTalk ? .pushToTalk : .vad,
                        micTap: { samples in recording.current?.microphone(samples, rate: 16000) },
                        onSpeechEnd: { at in sink.yield(.userInputEnded(at: at)) },
                        processor: audio.processor,
                        localBargeIn: plan.audio.localBargeIn ?? (audio.processor != nil))
        }
        loop = Loop(plan: plan, inputWav: o.inputWav)

        model.face = face.kind
        model.theme = o.theme
        model.modelName = plan.settings.model
        model.endpointKind = endpointKind
        model.pushToTalk = plan.settings.pushToTalk
        model.audioAvailable = bridge != nil
        model.echoCancellation = audio.processor != nil
        model.keyReleases = o.terminal?.keyReleases ?? false
        if face.kind == .screen, let first = o.notices.first(where: { $0.showOnScreen }) {
            model.lastWarning = ClientWording.notice(first)
        }
        if let r = recording.current { model.recording = RecordingMark(folder: r.folder, since: model.now) }
    }

    /// Runs to the end and returns the exit status.
    func run() async -> Int32 {
        for n in opened.notices {
            logger.notice("\(ClientWording.notice(n))")
            if face.kind == .line { edges.err("livetalk: " + ClientWording.notice(n)) }
        }
        // Whatever ends the process early (a second Ctrl-C, a close that hangs) still restores
        // the terminal and leaves every file with a correct header.
        let (terminal, recording, transcript, outputWav) = (opened.terminal, opened.recording, opened.transcript, opened.outputWav)
        let servers = toolServers
        let finalizer = edges.shutdown.addFinalizer {
            servers?.killNow()
            terminal?.stop()
            recording.finish()
            transcript?.close()
            outputWav?.close()
        }
        defer { edges.shutdown.remove(finalizer) }

        startSources()
        if bridge != nil { await bridge?.startMicrophone() }
        // With MCP servers, the first connect waits (in the loop, so q and Ctrl-C still work) until
        // they have listed their tools: `.toolServersStarted`.
        if !startToolServers() { await session.connect() }
        face.present(.tick(model.now), effects: [], model: model)
        let ending = await runLoop()
        return await end(ending)
    }

    /// Starts the MCP servers; their tools are declared before the first connect (bounded by the
    /// plan's start deadline); a server that is ready later, or comes back with other tools after
    /// a restart, is declared at the next reconnect or resume. False when there are none.
    private func startToolServers() -> Bool {
        guard let servers = toolServers else { return false }
        let (sink, session, plan, builtins, approvals) = (self.sink, self.session, self.plan, self.builtins, self.approvals)
        let screen = face.kind == .screen
        let approve: @Sendable (ApprovalRequest) async -> Bool = { req in
            guard screen else { return plan.tools.yesTools }   // line mode: refused unless --yes-tools
            return await approvals.ask(req.id) { sink.yield(.approvalRequested(id: req.id)) }
        }
        let declare: @Sendable ([String: [MCPToolInfo]]) async -> Void = { tools in
            let registry = ToolCatalog.registry(builtins: builtins, configs: plan.tools.servers, tools: tools, servers: servers, approve: approve)
            await session.replaceTools(registry)
            sink.yield(.toolLabels(Dictionary(registry.all.filter { $0.source != nil }.map { ($0.declaration.name, $0.label) },
                                              uniquingKeysWith: { a, _ in a })))
        }
        let news = servers.news
        tasks.append(Task {
            for await n in news {
                switch n {
                case .ready(let server, let count):
                    await declare(await servers.currentTools())
                    sink.yield(.notice(.toolServerReady(server: server, tools: count)))
                case .failed(let server, let reason, let retry):
                    sink.yield(.notice(.toolServerDown(server: server, reason: "could not start: " + reason, retryIn: retry)))
                case .exited(let server, let status, let retry):
                    sink.yield(.notice(.toolServerDown(server: server, reason: "exited (\(status))", retryIn: retry)))
                }
            }
        })
        declareTools = { await declare(await servers.currentTools()) }
        sink.yield(.notice(.toolServersStarting(servers: plan.tools.servers.map(\.name))))
        let deadline = plan.tools.startDeadline
        tasks.append(Task {
            _ = await servers.start(deadline: deadline)
            sink.yield(.toolServersStarted)
        })
        return true
    }

    /// Every input of the loop: the session (through audio and the files first), the face,
    /// the tick clock, levels, audio device news and signals.
    private func startSources() {
        let (sink, session, bridge) = (self.sink, self.session, self.bridge)
        let (recording, transcript, outputWav) = (opened.recording, opened.transcript, opened.outputWav)
        let device = bridge?.device
        // Runs until the session's stream ends, after `quit`, so the last events reach the face and the files.
        pump = Task {
            var started = Set<Int>()   // model turns whose first audio was seen (the last 64)
            for await e in session.events {
                if case .audio(_, _, let turn) = e, !started.contains(turn) {
                    if started.count >= 64, let oldest = started.min() { started.remove(oldest) }
                    started.insert(turn)
                    sink.yield(.modelAudioStarted(turn: turn, at: .now))
                }
                bridge?.handle(e)
                transcript?.write(e)
                recording.current?.record(e)
                if case .audio(let d, _, _) = e { outputWav?.append(d) }
                if case .purge(let turn) = e {
                    sink.yield(.purged(turn: turn, playedSamples: device?.playedSamples(turn: turn)))
                }
                sink.yield(.session(e))
            }
            sink.yield(.sessionEnded)
        }
        tasks += face.start(sink)
        tasks.append(Task {
            while !Task.isCancelled {
                sink.yield(.tick(Date()))
                recording.current?.flush()
                try? await Task.sleep(for: .milliseconds(100))
            }
        })
        if let device, face.kind == .screen {
            let processor = audio.processor
            tasks.append(Task {
                var last: (MeterReading, MeterReading)?
                var lastEcho: Int?
                while !Task.isCancelled {
                    let (mic, spk) = device.levels()
                    if last.map({ $0.0 != mic || $0.1 != spk }) ?? true {
                        sink.yield(.levels(mic: mic, speaker: spk))
                        last = (mic, spk)
                    }
                    let echo = processor?.echoReductionDB.map { Int($0.rounded()) }
                    if echo != lastEcho {
                        sink.yield(.echoReduction(dB: echo))
                        lastEcho = echo
                    }
                    try? await Task.sleep(for: .milliseconds(33))
                }
            })
        }
        if let news = audio.news {
            tasks.append(Task { for await n in news { sink.yield(.notice(n)) } })
        }
        let signals = edges.shutdown.requests
        tasks.append(Task { for await _ in signals { sink.yield(.signal); return } })
    }

    /// One event at a time: update, show, carry out; then what line mode and `--input-wav` need.
    private func runLoop() async -> Ending {
        for await event in events {
            let effects: [Effect]
            switch event {
            case .signal: return .signal
            case .sessionEnded: return .sessionEnded
            case .line(let text):
                loop.enqueue(text, dropped: dropped)
                effects = []
            case .inputEnded:
                loop.inputEnded = true
                effects = []
            case .toolServersStarted:
                await declareTools?()
                await session.connect()
                effects = []
            default:
                effects = update(&model, event)
            }
            face.present(event, effects: effects, model: model)
            if await perform(effects) { return .quit }
            if case .tick = event { await checkAudible() }
            // `--input-wav` (both faces): the file is the microphone once the session is live.
            if loop.wavDue(model: model) {
                model.repliesAwaited += 1
                tasks.append(streamInputWav())
            }
            // Line mode: the next line when its turn has come; the end at EOF once all is answered.
            guard face.kind == .line else { continue }
            switch loop.next(model: model) {
            case .wait: break
            case .line(let input):
                let effects = update(&model, .lineInput(input))
                face.present(.lineInput(input), effects: effects, model: model)
                if await perform(effects) { return .quit }
            case .done: return .quit
            case .noReply:
                face.present(.notice(.noReply(after: plan.replyTimeout)), effects: [], model: model)
                return .noReply
            case .ended: return .sessionEnded
            }
        }
        return .sessionEnded
    }

    /// The end, in one order whatever ended it: the terminal, audio, the session, the files.
    private func end(_ ending: Ending) async -> Int32 {
        for t in tasks { t.cancel() }
        face.stop()
        if ending == .signal || face.kind == .screen {
            bridge?.device.stop()   // the user asked to go: stop speaking now
        } else {
            await bridge?.finish()  // line mode: let the last reply finish playing
        }
        if let s = bridge?.device.stats() {
            // Every bounded audio queue's drops, in the log (a starved microphone consumer shows here).
            let line = "audio at the end: \(s.captureChunks) microphone chunks, \(s.captureDropped) dropped; "
                + "\(s.playbackUnderruns) underruns, \(s.playbackDroppedSamples) samples refused; "
                + "\(s.purges) purges, \(s.ducks) ducks; prebuffer \(s.prebufferMs) ms"
            logger.info("\(line)")
            if let diagnostics = bridge?.processor?.diagnostics, !diagnostics.isEmpty { logger.info("\(diagnostics)") }
        }
        approvals.refuseAll()
        await session.quit()   // bounded by the close deadline
        // The last events (the last turn, CLOSED) reach the face and the files before they close.
        if ending != .sessionEnded {
            let sink = self.sink
            let guardTimer = Task {
                try? await Task.sleep(for: .seconds(3))
                sink.yield(.sessionEnded)   // never wait for ever on a session that does not end its stream
            }
            for await event in events {
                if case .sessionEnded = event { break }
                if case .session = event {
                    let effects = update(&model, event)
                    face.present(event, effects: effects, model: model)
                }
            }
            guardTimer.cancel()
        }
        pump?.cancel()
        await toolServers?.stop()   // no server outlives livetalk
        if let r = opened.recording.take() { r.finish() }
        opened.transcript?.close()
        opened.outputWav?.close()
        opened.emulator?.stop()
        switch ending {
        case .signal: return ExitStatus.interrupted
        case .noReply: return ExitStatus.sessionFailed
        case .sessionEnded, .quit:
            return face.kind == .line && model.lastError != nil ? ExitStatus.sessionFailed : ExitStatus.ok
        }
    }

    /// The turn being measured: has its first sample become audible?
    private func checkAudible() async {
        guard let p = model.latency.pending, let at = bridge?.device.firstAudible(turn: p.turn) else { return }
        let event = AppEvent.modelAudible(turn: p.turn, at: at)
        let effects = update(&model, event)
        face.present(event, effects: effects, model: model)
        _ = await perform(effects)
    }

    /// Carries out effects; true when the run should end.
    private func perform(_ effects: [Effect]) async -> Bool {
        for effect in effects {
            switch effect {
            case .quit: return true
            case .sendText(let t):
                _ = update(&model, .userInputEnded(at: .now))   // Enter: the input is complete
                await session.sendText(t)
            case .startTalking:
                if let bridge { await bridge.pressToTalk() } else { await session.activityStart() }
            case .stopTalking:
                _ = update(&model, .userInputEnded(at: .now))   // the end of a push-to-talk turn
                if let bridge { await bridge.releaseToTalk() } else { await session.activityEnd() }
            case .setMuted(let m): await bridge?.setMuted(m)
            case .switchMode(let ptt):
                await bridge?.setMode(ptt ? .pushToTalk : .vad)
                var setup = await session.setup
                setup.realtimeInputConfig = plan.settings.knobs.realtimeInput(pushToTalk: ptt)
                await session.reconfigure(setup)
            case .reset: await session.reset()
            case .disconnect: await session.disconnect()
            case .connect: await session.connect()
            case .toggleRecording: toggleRecording()
            case .sendImage(let path):
                await sendImage(path)
            case .latency(let t):
                opened.transcript?.write(t)
                opened.recording.current?.record(t)
            case .answerApproval(let id, let allowed):
                approvals.answer(id, allowed)
            case .notice, .showHelp:
                break   // the face words them (`present`)
            }
        }
        return false
    }

    private func toggleRecording() {
        let event: AppEvent
        if let r = opened.recording.take() {
            let seconds = r.finish()
            event = .recordingChanged(nil, notice: .recordingStopped(folder: r.folder, seconds: seconds))
        } else {
            let path = SessionRecording.defaultFolder(base: plan.recordingsFolder)
            do {
                let r = try SessionRecording(folder: path, title: ClientRuntime.title(plan, pushToTalk: model.pushToTalk))
                opened.recording.set(r)
                event = .recordingChanged(RecordingMark(folder: path, since: model.now), notice: .recordingStarted(folder: path))
            } catch {
                event = .notice(.recordingFailed(reason: error.description))
            }
        }
        let more = update(&model, event)
        face.present(event, effects: more, model: model)
    }

    /// `--input-wav`: the file as the microphone, 20 ms at a time in real time (bracketed by
    /// activityStart/activityEnd under push-to-talk), then the end of the audio stream.
    private func streamInputWav() -> Task<Void, Never> {
        let (ptt, samples, session, recording, sink) = (plan.settings.pushToTalk, opened.inputWav, session, opened.recording, sink)
        return Task {
            if ptt { await session.activityStart() }
            await PCM.paced(samples, chunk: 320, every: .milliseconds(20)) { part in
                recording.current?.microphone(part, rate: 16000)
                await session.sendAudio(PCM.data(part))
            }
            sink.yield(.userInputEnded(at: .now))   // the file's end is the end of the input
            if ptt { await session.activityEnd() } else { await session.audioStreamEnd() }
        }
    }
}
