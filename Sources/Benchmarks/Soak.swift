// livetalk-bench soak — an accelerated long conversation against `livetalk serve` in its own process
// (issue 9 item 6). The client side (Session over WebSocketTransport, the built-in tools, a
// continuous microphone feed) runs in this process, so RSS is the client's.
//
//   livetalk-bench soak [--minutes 60] [--speedup 15] [--bound 15]
//
// Wall time ≈ minutes × 60 / speedup (+ start and drain). The microphone is fed `speedup` times
// faster than real time; the emulator paces its replies in real time, so the number of turns is
// set by wall time. Between the client and the emulator sits a TCP relay of this bench: cutting it
// is a real connection drop (no close frame, the client sees 1006) with the emulator's resumption
// store intact, which `--fault-drop-after-ms` (once per server) and restarting the emulator (the
// store is lost, so a resume is refused as fatal) cannot give.
import AudioCore
import Foundation
import LiveProtocol
import LiveSession
import WebSocketTransport
#if canImport(Glibc)
import Glibc
#endif

// MARK: options

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

    init(_ args: [String]) throws {
        func value(_ name: String) throws -> Double? {
            guard let i = args.firstIndex(of: name) else { return nil }
            guard i + 1 < args.count, let v = Double(args[i + 1]), v > 0, v.isFinite else {
                throw BenchError("\(name) needs a positive number")
            }
            return v
        }
        minutes = try value("--minutes") ?? minutes
        speedup = try value("--speedup") ?? speedup
        bound = try value("--bound") ?? bound
        reconnects = !args.contains("--no-reconnects")
        verbose = args.contains("--verbose")
    }
}

func wallSeconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

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

func note(_ s: String) {
    print("# \(s)")
    fflush(nil)
}

// MARK: the emulator process

/// A line of a pipe, read on a thread so the wait for it can be bounded.
final class FirstLine: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""   // guarded by lock
    private var done = false
    let ready = DispatchSemaphore(value: 0)

    /// Reads `handle` until a newline (then signals) and keeps draining it until EOF, so a chatty
    /// child never blocks on a full pipe.
    func start(_ handle: FileHandle) {
        Thread { [self] in
            while true {
                let d = handle.availableData
                if d.isEmpty { break }
                lock.lock()
                let signal = !done
                if !done {
                    text += String(decoding: d, as: UTF8.self)
                    if text.contains("\n") { done = true } else if text.utf8.count > 4096 { done = true }
                }
                let finished = done
                lock.unlock()
                if signal && finished { ready.signal() }
            }
            lock.lock()
            let signal = !done
            done = true
            lock.unlock()
            if signal { ready.signal() }
        }.start()
    }

    var value: String {
        lock.lock()
        defer { lock.unlock() }
        return text
    }
}

/// `livetalk serve --speech tones` next to this executable; returns it and its port.
func startSoakEmulator(lifetime: Double, goAwayBefore: Double, bound: Double) throws -> (Process, Int) {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    let bin = dir.appendingPathComponent("livetalk")
    guard FileManager.default.isExecutableFile(atPath: bin.path) else {
        throw BenchError("no livetalk next to the bench (\(bin.path)): swift build --product livetalk")
    }
    let p = Process()
    p.executableURL = bin
    p.arguments = ["serve", "--port", "0", "--speech", "tones", "--log-level", "error",
                   "--connection-lifetime", String(format: "%.3f", lifetime),
                   "--go-away-before", String(format: "%.3f", goAwayBefore)]
    let out = Pipe()
    p.standardOutput = out
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let line = FirstLine()
    line.start(out.fileHandleForReading)
    if line.ready.wait(timeout: .now() + bound * 2) == .timedOut {
        p.terminate()
        throw BenchError("livetalk serve printed no \"listening on\" line within \(Int(bound * 2)) s")
    }
    let text = line.value
    guard let r = text.range(of: #"listening on wss?://[^\s:]+:(\d+)"#, options: .regularExpression),
          let colon = text[r].lastIndex(of: ":"), let port = Int(text[r][text.index(after: colon)...]) else {
        p.terminate()
        throw BenchError("livetalk serve did not start: \(text.isEmpty ? "(no output)" : text)")
    }
    return (p, port)
}

func stopProcess(_ p: Process, bound: Double) {
    guard p.isRunning else { return }
    p.terminate()
    let deadline = Date() + bound
    while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if p.isRunning {
        note("livetalk serve (pid \(p.processIdentifier)) did not exit within \(Int(bound)) s of SIGTERM; sending SIGKILL")
        kill(p.processIdentifier, SIGKILL)
    }
}

// MARK: a TCP relay that can drop every connection at once

/// 127.0.0.1:port → 127.0.0.1:target, two blocking pump threads per connection. `cut()` shuts
/// every relayed connection down: the client gets a FIN with no WebSocket close frame (1006),
/// the emulator sees its socket end and keeps the session's resumption snapshot.
final class DropRelay: @unchecked Sendable {
    let port: Int
    private let listenFD: Int32
    private let target: Int
    private let lock = NSLock()
    // Guarded by lock.
    private var pairs: [Int: (client: Int32, server: Int32, finished: Int)] = [:]
    private var nextId = 0
    private var stopped = false
    private var acceptedCount = 0

    init(targetPort: Int) throws {
        target = targetPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("relay: socket() failed: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw BenchError("relay: bind/listen failed: errno \(errno)")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        listenFD = fd
        Thread { [self] in acceptLoop() }.start()
    }

    static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }

    var accepted: Int {
        lock.lock()
        defer { lock.unlock() }
        return acceptedCount
    }

    private func acceptLoop() {
        while true {
            let c = accept(listenFD, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                return   // closed by stop()
            }
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = Self.loopback(port: target)
            let ok = s >= 0 && withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
            guard ok else {
                close(c)
                if s >= 0 { close(s) }
                continue
            }
            var one: Int32 = 1
            setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            lock.lock()
            if stopped {
                lock.unlock()
                close(c)
                close(s)
                return
            }
            nextId += 1
            acceptedCount += 1
            let id = nextId
            pairs[id] = (c, s, 0)
            lock.unlock()
            Thread { [self] in pump(from: c, to: s, id: id) }.start()
            Thread { [self] in pump(from: s, to: c, id: id) }.start()
        }
    }

    private func pump(from: Int32, to: Int32, id: Int) {
        let size = 64 << 10
        let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buf.deallocate() }
        copying: while true {
            let n = read(from, buf, size)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var off = 0
            while off < n {
                let w = send(to, buf + off, n - off, Int32(MSG_NOSIGNAL))
                if w < 0 && errno == EINTR { continue }
                if w <= 0 { break copying }
                off += w
            }
        }
        shutdown(from, Int32(SHUT_RDWR))
        shutdown(to, Int32(SHUT_RDWR))
        lock.lock()
        var closeBoth = false
        if var p = pairs[id] {
            p.finished += 1
            if p.finished == 2 {
                pairs[id] = nil
                closeBoth = true
            } else {
                pairs[id] = p
            }
        }
        lock.unlock()
        if closeBoth {
            close(from)
            close(to)
        }
    }

    /// Drops every relayed connection now; returns how many there were.
    @discardableResult func cut() -> Int {
        lock.lock()
        defer { lock.unlock() }
        for (_, p) in pairs where p.finished == 0 {
            shutdown(p.client, Int32(SHUT_RDWR))
            shutdown(p.server, Int32(SHUT_RDWR))
        }
        return pairs.values.filter { $0.finished == 0 }.count
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
        cut()
    }
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

    private func at() -> String { String(format: "t=%.1fs", wallSeconds(ContinuousClock.now - start)) }

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
                echoDelays.append(wallSeconds(now - sent))
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
            let due = Int(wallSeconds(clock.now - start) * 50 * speedup)
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

func benchSoak(_ args: [String]) async throws -> Bool {
    let o = try SoakOptions(args)
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

    let (serve, servePort) = try startSoakEmulator(lifetime: lifetime, goAwayBefore: goAwayBefore, bound: o.bound)
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
        let t = String(format: "t=%.1fs", wallSeconds(clock.now - probe.start))
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
            pts.append((wallSeconds(clock.now - probe.start), residentMB()))
            await probe.tick()
            try? await Task.sleep(for: .milliseconds(500))
        }
        return pts
    }

    let rssStart = residentMB()
    let cpu0 = cpuSeconds(), serveCPU0 = processCPU(String(serve.processIdentifier))
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
    while wallSeconds(clock.now - runStart) < wall {
        let elapsed = wallSeconds(clock.now - runStart)
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
    let runWall = wallSeconds(clock.now - runStart)

    // Drain: every nonce typed must come back (a reply in flight gets its bound).
    _ = await wait("the last replies (\(await probe.pendingNonces.count) nonce(s) outstanding)", { await probe.snap.pendingNonces == 0 })
    await probe.tick()
    let rssEnd = residentMB()
    let cpu = cpuSeconds() - cpu0, serveCPU = processCPU(String(serve.processIdentifier)) - serveCPU0
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
