// livetalk-bench soak — an accelerated long conversation against `livetalk serve` in its own process
// (issue 9 item 6). The client side (Session over WebSocketTransport, the built-in tools, a
// continuous microphone feed) runs in this process, so RSS is the client's.
//
//   livetalk-bench soak [--minutes 60] [--speedup 15] [--bound 15] [--no-reconnects] [--verbose]
//
// Wall time ≈ minutes × 60 / speedup (+ start and drain). The microphone is fed `speedup` times
// faster than real time; the emulator paces its replies in real time, so the number of turns is
// set by wall time. Between the client and the emulator sits a TCP relay of this bench: cutting it
// is a real connection drop (no close frame, the client sees 1006) with the emulator's resumption
// store intact, which `--fault-drop-after-ms` (once per server) and restarting the emulator (the
// store is lost, so a resume is refused as fatal) cannot give.
import ArgumentParser
import AudioCore
import Foundation
import LiveProtocol
import LiveSession
import WebSocketTransport
#if canImport(Glibc)
import Glibc
#endif

// MARK: the command

struct SoakBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "An accelerated long conversation against `livetalk serve --speech tones` (not part of `all`).",
        discussion: "Prints soak.* figures and exits 2 when a goal is missed (RSS growth, stuck states, lost inputs, "
            + "fewer barge-ins, reconnects or tool calls than the targets).")

    @Option(help: "Minutes of conversation.") var minutes: Double = 60
    @Option(help: "How much faster than real time the microphone is fed.") var speedup: Double = 15
    @Option(help: "Seconds after which a state or an open turn counts as stuck; every wait gives up after it.")
    var bound: Double = 15
    @Flag(help: "No drops, goAways or reconfigures: isolates the steady state.") var noReconnects = false
    @Flag(help: "A line per goAway, setupComplete and replay.") var verbose = false

    func validate() throws {
        for (name, v) in [("--minutes", minutes), ("--speedup", speedup), ("--bound", bound)] where !(v > 0 && v.isFinite) {
            throw ValidationError("\(name) needs a positive number")
        }
    }

    func run() async throws {
        let o = SoakOptions(minutes: minutes, speedup: speedup, bound: bound, reconnects: !noReconnects, verbose: verbose)
        let passed = try await benchSoak(o)
        fflush(nil)
        if !passed { throw ExitCode(2) }
    }
}

struct SoakOptions {
    var minutes: Double = 60
    var speedup: Double = 15
    /// A non-CONNECTED state or an open turn longer than this is stuck; every wait gives up after it.
    var bound: Double = 15
    /// Off (`--no-reconnects`): no drops, goAways or reconfigures — isolates the steady state.
    var reconnects = true
    /// `--verbose`: a line per goAway, setupComplete and replay.
    var verbose = false

    var wallSeconds: Double { minutes * 60 / speedup }
}

/// VmRSS of this process in MB (nan when /proc is not there).
func residentMB() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
    return kb / 1024
}

/// Least-squares slope of y over x.
func slope(_ pts: [(Double, Double)]) -> Double {
    guard pts.count >= 2 else { return .nan }
    let n = Double(pts.count)
    let mx = pts.map(\.0).reduce(0, +) / n, my = pts.map(\.1).reduce(0, +) / n
    let sxx = pts.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +)
    let sxy = pts.map { ($0.0 - mx) * ($0.1 - my) }.reduce(0, +)
    return sxx > 0 ? sxy / sxx : .nan
}

// MARK: what the session reports

struct SoakSnapshot {
    var purges = 0
    var turnCompletes = 0
    var interruptedTurns = 0
    var setups = 0
    var goAways = 0
    var toolStarted = 0
    var toolFinished = 0
    var toolFailed = 0
    var toolCancelled = 0
    var modelAudioChunks = 0
    var inputFinished = 0
    var warnings = 0
    var notSentWarnings = 0
    var inputDropped = 0
    var replayed = 0
    var stuckStates = 0
    var stuckTurns = 0
    var failures = 0
    var state: SessionState = .disconnected
    var pendingNonces = 0
}

/// Everything the bench learns from `session.events`. Keeps only counters, the open turn's
/// output transcript (bounded) and the nonces not yet heard back, so it does not grow itself.
actor SoakProbe {
    let bound: Duration
    private(set) var snap = SoakSnapshot()
    /// Since when the session has not been CONNECTED (nil while it is), and whether that episode was counted.
    private var notConnectedSince: ContinuousClock.Instant? = .now
    private var notConnectedCounted = false
    private var lastState = "DISCONNECTED"
    private var turnOpenSince: ContinuousClock.Instant?
    private var turnCounted = false
    private var turnText = ""
    /// Nonces typed and not yet heard in a reply, with when they were sent.
    private var pending: [Int: ContinuousClock.Instant] = [:]
    private var echoDelays: [Double] = []
    private var notes: [String] = []
    private var warningSamples: [String] = []
    let start = ContinuousClock.now

    let verbose: Bool
    init(bound: Duration, verbose: Bool) {
        self.bound = bound
        self.verbose = verbose
    }

    private func at() -> String { String(format: "t=%.1fs", (ContinuousClock.now - start).seconds) }

    func expect(_ nonce: Int) { pending[nonce] = .now; snap.pendingNonces = pending.count }
    func isPending(_ nonce: Int) -> Bool { pending[nonce] != nil }
    var pendingNonces: [Int] { pending.keys.sorted() }
    var echoDelayMedian: Double { median(echoDelays) }
    var echoDelayMax: Double { echoDelays.max() ?? .nan }
    func takeNotes() -> [String] { defer { notes.removeAll() }; return notes }
    var sampleWarnings: [String] { warningSamples }

    func on(_ e: SessionEvent) {
        let now = ContinuousClock.now
        switch e {
        case .state(let s, _):
            if s == .connected {
                tick(now)
                notConnectedSince = nil
                notConnectedCounted = false
            } else if notConnectedSince == nil {
                notConnectedSince = now
            }
            lastState = s.description
            snap.state = s
            if case .closed(let f?) = s {
                snap.failures += 1
                notes.append("\(at()) the session failed: \(f)")
            }
        case .setupComplete:
            snap.setups += 1
            if verbose { notes.append("\(at()) setupComplete") }
        case .goAway:
            snap.goAways += 1
            if verbose { notes.append("\(at()) goAway") }
        case .purge: snap.purges += 1
        case .audio:
            snap.modelAudioChunks += 1
            openTurn(now)
        case .outputTranscript(let t, _):
            openTurn(now)
            heard(t, now)
        case .modelText(let t, _):
            openTurn(now)
            heard(t, now)
        case .turnComplete(_, let interrupted, _):
            snap.turnCompletes += 1
            if interrupted { snap.interruptedTurns += 1 }
            tick(now)
            turnOpenSince = nil
            turnCounted = false
            turnText = ""
        case .inputTranscript(_, let finished):
            if finished { snap.inputFinished += 1 }
        case .tool(let a):
            switch a {
            case .started: snap.toolStarted += 1
            case .finished: snap.toolFinished += 1
            case .failed(_, let name, let error, _):
                snap.toolFailed += 1
                notes.append("\(at()) tool \(name) failed: \(error)")
            case .cancelled: snap.toolCancelled += 1
            }
        case .warning(let w):
            snap.warnings += 1
            if w.contains("not sent") {
                var n = 1
                if let r = w.range(of: #"and (\d+) more"#, options: .regularExpression) {
                    n += Int(w[r].split(separator: " ")[1]) ?? 0
                }
                snap.notSentWarnings += n
            }
            if warningSamples.count < 8 { warningSamples.append(w) }
        case .inputDropped(let n): snap.inputDropped += n
        case .replayed(let n):
            snap.replayed += n
            if verbose { notes.append("\(at()) replayed \(n)") }
        case .ended(let f?): notes.append("\(at()) the session ended: \(f)")
        default: break
        }
    }

    private func openTurn(_ now: ContinuousClock.Instant) {
        if turnOpenSince == nil { turnOpenSince = now }
    }

    /// Finds "note N alpha" in the open turn's transcript; the word after the number makes sure
    /// the number is whole.
    private func heard(_ t: String, _ now: ContinuousClock.Instant) {
        turnText += t
        if turnText.utf8.count > 2000 { turnText = String(turnText.suffix(400)) }
        guard t.contains("alpha"), !pending.isEmpty else { return }
        var rest = Substring(turnText)
        while let r = rest.range(of: "note ") {
            rest = rest[r.upperBound...]
            let digits = rest.prefix { $0.isNumber }
            if let n = Int(digits), rest.dropFirst(digits.count).hasPrefix(" alpha"), let sent = pending.removeValue(forKey: n) {
                echoDelays.append((now - sent).seconds)
                if echoDelays.count > 5000 { echoDelays.removeFirst(1000) }
            }
        }
        snap.pendingNonces = pending.count
    }

    /// Counts an episode (not CONNECTED, or a turn open) once it has lasted longer than `bound`.
    func tick(_ now: ContinuousClock.Instant = .now) {
        if let since = notConnectedSince, !notConnectedCounted, now - since > bound {
            notConnectedCounted = true
            snap.stuckStates += 1
            notes.append("\(at()) STUCK: not CONNECTED (\(lastState)) for more than \(Deadlines.seconds(bound))")
        }
        if let since = turnOpenSince, !turnCounted, now - since > bound {
            turnCounted = true
            snap.stuckTurns += 1
            notes.append("\(at()) STUCK: a turn open for more than \(Deadlines.seconds(bound))")
        }
    }
}

// MARK: the microphone

/// 20 ms chunks of 16 kHz PCM, `speedup` times faster than real time: faint noise (under the
/// emulator's VAD threshold), or a tone while a burst of "speech" is asked for.
actor MicFeed {
    private var burstLeft = 0
    private(set) var sent = 0
    private(set) var skipped = 0
    private var stopped = false

    func burst(chunks: Int) { burstLeft += chunks }
    func stop() { stopped = true }

    func run(session: Session, speedup: Double) async {
        let quiet = PCM.data((0..<320).map { _ in Int16.random(in: -30...30) })
        let loud = PCM.data(ToneGenerator.sine(frequency: 300, seconds: 0.02, rate: 16000, amplitude: 0.3))
        let clock = ContinuousClock()
        let start = clock.now
        var n = 0
        while !stopped {
            let due = Int((clock.now - start).seconds * 50 * speedup)
            if due - n > 250 {
                // Behind by more than 5 s of audio (the machine is busy): skip rather than flood.
                skipped += due - n - 50
                n = due - 50
            }
            while n < due && !stopped {
                let isLoud = burstLeft > 0
                if isLoud { burstLeft -= 1 }
                await session.sendAudio(isLoud ? loud : quiet)
                n += 1
                sent += 1
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

// MARK: the soak

func benchSoak(_ o: SoakOptions) async throws -> Bool {
    let wall = o.wallSeconds
    let bound = Duration.milliseconds(Int(o.bound * 1000))
    // Reconnects: the emulator ends every connection after `lifetime` (goAway `goAwayBefore`
    // earlier); the relay drops all connections every `dropEvery`; in between, a quarter as
    // often, the client reconfigures (reconnects with its handle).
    let lifetime = o.reconnects ? max(4, wall / 20) : 24 * 3600
    let goAwayBefore = min(2.0, lifetime / 3)
    let drops = o.reconnects ? max(1, Int((8 * o.minutes / 60).rounded(.up))) : 0
    let reconfigures = o.reconnects ? max(1, Int((4 * o.minutes / 60).rounded(.up))) : 0
    note(String(format: "soak: %.0f min of conversation at %.0f× = %.0f s wall; goAway every %.1f s of a connection, "
                + "%d relay drops, %d reconfigures; stuck bound %.0f s",
                o.minutes, o.speedup, wall, lifetime - goAwayBefore, drops, reconfigures, o.bound))

    let (serve, servePort) = try startEmulator(["--speech", "tones",
                                                "--connection-lifetime", String(format: "%.3f", lifetime),
                                                "--go-away-before", String(format: "%.3f", goAwayBefore)], bound: o.bound)
    defer { stopProcess(serve, bound: o.bound) }
    let relay = try DropRelay(targetPort: servePort)
    defer { relay.stop() }

    let setup = Setup(model: "models/gemini-soak", generationConfig: GenerationConfig(responseModalities: [.audio]),
                      sessionResumption: .init(), inputAudioTranscription: .init(), outputAudioTranscription: .init())
    let session = Session(config: SessionConfig(endpoint: try Endpoint.custom("ws://127.0.0.1:\(relay.port)", apiKey: nil),
                                                setup: setup),
                          transport: WebSocketTransport(), tools: .builtins())
    let probe = SoakProbe(bound: bound, verbose: o.verbose)
    let consumer = Task { for await e in session.events { await probe.on(e) } }
    let clock = ContinuousClock()
    var waitTimeouts = 0

    /// Polls `cond` every 5 ms for at most `limit` (the stuck bound unless said); says what it
    /// waited for when it gives up.
    func wait(_ what: String, limit: Duration? = nil, _ cond: () async -> Bool) async -> Bool {
        let limit = limit ?? bound
        let deadline = clock.now + limit
        while clock.now < deadline {
            if await cond() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        waitTimeouts += 1
        let t = String(format: "t=%.1fs", (clock.now - probe.start).seconds)
        note("\(t) gave up after \(Deadlines.seconds(limit)) waiting for \(what) (state \(await probe.snap.state))")
        return false
    }

    await session.connect()
    guard await wait("the first connection", { await probe.snap.state == .connected }) else {
        await session.quit()
        consumer.cancel()
        throw BenchError("the session did not connect to the emulator (through the relay) within \(Int(o.bound)) s")
    }

    let mic = MicFeed()
    let micTask = Task { await mic.run(session: session, speedup: o.speedup) }
    let sampler = Task {
        var pts: [(Double, Double)] = []
        while !Task.isCancelled {
            pts.append(((clock.now - probe.start).seconds, residentMB()))
            await probe.tick()
            try? await Task.sleep(for: .milliseconds(500))
        }
        return pts
    }

    let rssStart = residentMB()
    let cpu0 = cpuSeconds(), serveCPU0 = processCPU(serve)
    let runStart = clock.now
    var nonce = 0
    var texts = 0, toolTexts = 0, speechBursts = 0, dropsDone = 0, reconfiguresDone = 0, failuresSeen = 0
    var nextDrop = 1, nextReconfigure = 1
    var unansweredTools = 0, unheardBursts = 0
    // A step's reply normally starts within 1.5 s; a step that gets none moves on after this
    // (counted in soak.wait_timeouts; a nonce is still lost only if never heard by the end).
    let stepWait = min(bound, .seconds(3))
    var step = 0
    // Steps in turn: a typed text with a nonce, a tool request, a burst of speech, a tool request.
    // Each goes in while the previous reply is still playing, so each is a barge-in.
    while (clock.now - runStart).seconds < wall {
        let elapsed = (clock.now - runStart).seconds
        if nextDrop <= drops, elapsed >= wall * (Double(nextDrop) - 0.5) / Double(drops) {
            nextDrop += 1
            if relay.cut() > 0 { dropsDone += 1 }
        }
        if nextReconfigure <= reconfigures, elapsed >= wall * (Double(nextReconfigure) - 0.25) / Double(reconfigures) {
            nextReconfigure += 1
            await session.reconfigure(session.setup)
            reconfiguresDone += 1
        }
        let snap = await probe.snap
        if snap.failures > failuresSeen {
            failuresSeen = snap.failures
            // A failed session keeps its handle; a fresh one (reset) is the user's way on.
            note("the session failed (\(snap.state)); starting a fresh session (reset)")
            await session.reset()
        }
        for line in await probe.takeNotes() { note(line) }

        switch step % 4 {
        case 0:
            nonce += 1
            texts += 1
            let n = nonce
            await probe.expect(n)
            await session.sendText("note \(n) alpha bravo charlie delta echo foxtrot golf hotel")
            _ = await wait("the reply to note \(n)", limit: stepWait, { await !probe.isPending(n) })
        case 1, 3:
            toolTexts += 1
            let before = snap.toolFinished
            await session.sendText("please get current time")
            if await wait("get_current_time to run", limit: stepWait, { await probe.snap.toolFinished > before }) {
                let audio = await probe.snap.modelAudioChunks
                _ = await wait("the reply after get_current_time", limit: stepWait, { await probe.snap.modelAudioChunks > audio })
            } else {
                unansweredTools += 1
            }
        default:
            speechBursts += 1
            let before = snap.inputFinished
            await mic.burst(chunks: 15)   // 300 ms of tone
            if await wait("the end of a burst of speech", limit: stepWait, { await probe.snap.inputFinished > before }) {
                let audio = await probe.snap.modelAudioChunks
                _ = await wait("the reply to a burst of speech", limit: stepWait, { await probe.snap.modelAudioChunks > audio })
            } else {
                unheardBursts += 1
            }
        }
        step += 1
    }
    let runWall = (clock.now - runStart).seconds

    // Drain: every nonce typed must come back (a reply in flight gets its bound).
    _ = await wait("the last replies (\(await probe.pendingNonces.count) nonce(s) outstanding)", { await probe.snap.pendingNonces == 0 })
    await probe.tick()
    let rssEnd = residentMB()
    let cpu = cpuSeconds() - cpu0, serveCPU = processCPU(serve) - serveCPU0
    await mic.stop()
    await micTask.value
    sampler.cancel()
    let samples = await sampler.value
    let final = await probe.snap
    let lost = await probe.pendingNonces
    let counters = await session.counters
    let notes = await probe.takeNotes()
    let warnings = await probe.sampleWarnings

    // quit() has its own close deadline; this bound only catches a quit that never returns.
    let quitter = Task { await session.quit() }
    let quitDeadline = clock.now + bound
    var quitStuck = false
    func isClosed() async -> Bool { if case .closed = await session.state { return true } else { return false } }
    while clock.now < quitDeadline, await !isClosed() { try? await Task.sleep(for: .milliseconds(20)) }
    if await !isClosed() {
        quitStuck = true
        note("quit did not finish within \(Int(o.bound)) s (state \(await session.state))")
    } else {
        await quitter.value
    }
    consumer.cancel()

    for line in notes { note(line) }
    for w in warnings { note("warning: \(w)") }
    if !lost.isEmpty { note("nonces never heard back: \(lost.prefix(20).map(String.init).joined(separator: ", "))") }

    // Growth after warm-up (the first fifth of the run, at least 10 s), per hour of conversation.
    let warmUp = max(10, runWall / 5)
    let late = samples.filter { $0.0 >= warmUp && $0.0 <= runWall }
    let perWallSecond = slope(late)
    let perHour = perWallSecond * 3600 / o.speedup
    let reconnects = final.setups - 1
    let stuck = final.stuckStates + final.stuckTurns + (quitStuck ? 1 : 0)

    report("soak.conversation_minutes", o.minutes * runWall / wall, "min")
    report("soak.wall_s", runWall, "s")
    report("soak.rss_start_mb", rssStart, "MB")
    report("soak.rss_end_mb", rssEnd, "MB")
    report("soak.rss_growth_mb_per_hour", perHour, "MB/h")
    report("soak.stuck_states", Double(stuck), "count")
    report("soak.stuck_states.not_connected", Double(final.stuckStates), "count")
    report("soak.stuck_states.turn_open", Double(final.stuckTurns), "count")
    report("soak.lost_inputs", Double(lost.count), "count")
    report("soak.barge_ins", Double(final.purges), "count")
    report("soak.reconnects", Double(reconnects), "count")
    report("soak.reconnects.relay_drops", Double(dropsDone), "count")
    report("soak.reconnects.go_aways", Double(final.goAways), "count")
    report("soak.reconnects.reconfigures", Double(reconfiguresDone), "count")
    report("soak.tool_calls", Double(final.toolFinished), "count")
    report("soak.tool_calls_cancelled", Double(final.toolCancelled), "count")
    report("soak.tool_calls_failed", Double(final.toolFailed), "count")
    report("soak.audio_chunks_sent", Double(await mic.sent), "count")
    report("soak.audio_chunks_skipped_behind", Double(await mic.skipped), "count")
    report("soak.texts_with_nonce", Double(texts), "count")
    report("soak.tool_requests", Double(toolTexts), "count")
    report("soak.speech_bursts", Double(speechBursts), "count")
    report("soak.tool_requests_never_called", Double(unansweredTools), "count")
    report("soak.speech_bursts_never_transcribed", Double(unheardBursts), "count")
    report("soak.turns_completed", Double(final.turnCompletes), "count")
    report("soak.nonce_echo_s_median", await probe.echoDelayMedian, "s")
    report("soak.nonce_echo_s_max", await probe.echoDelayMax, "s")
    report("soak.model_audio_chunks_received", Double(final.modelAudioChunks), "count")
    report("soak.wait_timeouts", Double(waitTimeouts), "count")
    report("soak.session_failures", Double(final.failures), "count")
    report("soak.replayed_messages", Double(final.replayed), "count")
    report("soak.input_dropped_by_buffer", Double(final.inputDropped), "count")
    report("soak.not_sent_warnings", Double(final.notSentWarnings), "count")
    report("soak.warnings", Double(final.warnings), "count")
    report("soak.counters.bad_messages", Double(counters.badMessages), "count")
    report("soak.counters.audio_chunks_bad_rate", Double(counters.audioChunksBadRate), "count")
    report("soak.counters.outbound_audio_dropped", Double(counters.outboundAudioDropped), "count")
    report("soak.counters.bad_tool_calls", Double(counters.badToolCalls), "count")
    report("soak.client_cpu_percent_one_core", cpu / runWall * 100, "%")
    report("soak.emulator_cpu_percent_one_core", serveCPU / runWall * 100, "%")
    report("soak.relay_connections", Double(relay.accepted), "count")

    // Targets scale with the conversation's length (200 barge-ins, 20 reconnects, 100 tool calls an hour).
    let scale = o.minutes / 60
    var failed: [String] = []
    if stuck > 0 { failed.append("stuck states \(stuck) (goal 0)") }
    if !lost.isEmpty { failed.append("lost inputs \(lost.count) (goal 0)") }
    if final.failures > 0 { failed.append("the session failed \(final.failures) time(s)") }
    if perHour.isFinite, perHour > 5 { failed.append(String(format: "RSS grows %.1f MB/h (goal ≤ 1)", perHour)) }
    if Double(final.purges) < 200 * scale { failed.append("only \(final.purges) barge-ins (target \(Int(200 * scale)))") }
    if Double(reconnects) < 20 * scale { failed.append("only \(reconnects) reconnects (target \(Int(20 * scale)))") }
    if Double(dropsDone + final.goAways) * 2 < Double(reconnects) { failed.append("fewer than half the reconnects were drops or goAways") }
    if Double(final.toolFinished) < 100 * scale { failed.append("only \(final.toolFinished) tool calls (target \(Int(100 * scale)))") }
    if perHour.isFinite, perHour > 1 { note(String(format: "RSS growth %.2f MB/h is over the goal of 1 MB/h", perHour)) }
    if failed.isEmpty {
        note("soak passed")
    } else {
        note("soak FAILED: " + failed.joined(separator: "; "))
    }
    return failed.isEmpty
}
