// livetalk-bench — prints one `name value unit` line per figure. Build with -c release for real figures:
//   swift build -c release && .build/release/livetalk-bench [decode|launch|stream|ui|audio|emulator|all] [--seconds N]
//   livetalk-bench soak [--minutes 60] [--speedup 15] [--bound 15]   (not part of `all`; exits 2 when a goal is missed, see Soak.swift)
import App
import AudioCore
import PulseAudio
import Emulator
import Foundation
import LiveProtocol
import LiveSession
import Speech
import WebSocketTransport

func report(_ name: String, _ value: Double, _ unit: String) {
    print("\(name) \(String(format: "%.3f", value)) \(unit)")
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}

func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}

/// serverContent audio messages (40 ms of 24 kHz PCM, as the emulator sends) decoded per second.
func benchDecode() throws {
    let pcm = Data((0..<1920).map { UInt8(truncatingIfNeeded: $0 &* 7) })
    let msg = ServerMessage.serverContent(ServerContent(modelTurn: Content(parts: [Part(inlineData: Blob(mimeType: Blob.pcm24kMime, data: pcm))])))
    let data = try LiveCoder.encode(msg)
    var rates: [Double] = []
    for _ in 0..<5 {
        let n = 20_000
        let t0 = ContinuousClock.now
        var bytes = 0
        for _ in 0..<n {
            let m = try LiveCoder.decodeServer(data)
            if case .serverContent(let c) = m.payload { bytes += c.modelTurn?.parts?.first?.inlineData?.data.count ?? 0 }
        }
        let dt = ContinuousClock.now - t0
        let secs = Double(dt.components.seconds) + Double(dt.components.attoseconds) / 1e18
        rates.append(Double(n) / secs)
        precondition(bytes == n * 1920)
    }
    let r = median(rates)
    report("decode.audio_messages_per_s", r, "msg/s")
    report("decode.wire_MB_per_s", r * Double(data.count) / 1e6, "MB/s")
    report("decode.pcm_MB_per_s", r * 1920 / 1e6, "MB/s")
}

/// The emulator runs as its own process so only the client's CPU is counted.
func startServe() throws -> (Process, Int) {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let p = Process()
    p.executableURL = dir.appendingPathComponent("livetalk")
    p.arguments = ["serve", "--port", "0", "--log-level", "error"]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    var line = Data()
    while !line.contains(0x0A) { line.append(out.fileHandleForReading.availableData) }
    let text = String(decoding: line, as: UTF8.self)
    guard let r = text.range(of: #":(\d+)\n"#, options: .regularExpression),
          let port = Int(text[r].dropFirst().dropLast()) else { throw BenchError("serve did not start: \(text)") }
    return (p, port)
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Client CPU per minute of full duplex: mic audio up in real time, model audio down.
func benchStream(seconds: Double) async throws {
    let (serve, port) = try startServe()
    defer { serve.terminate() }
    let setup = Setup(model: "models/gemini-bench", generationConfig: GenerationConfig(responseModalities: [.audio]),
                      realtimeInputConfig: RealtimeInputConfig(activityHandling: .noInterruption),
                      sessionResumption: .init(), inputAudioTranscription: .init(), outputAudioTranscription: .init())
    let session = Session(config: SessionConfig(endpoint: try Endpoint.custom("ws://127.0.0.1:\(port)", apiKey: nil), setup: setup),
                          transport: WebSocketTransport(), tools: .builtins())
    let received = Counter()
    let consumer = Task {
        for await e in session.events {
            if case .audio(let d, _, _) = e { await received.add(d.count) }
            if case .turnComplete = e { await received.turn() }
        }
    }
    await session.connect()
    while await session.state != .connected { try await Task.sleep(for: .milliseconds(10)) }
    let cpu0 = cpuSeconds()
    let clock = ContinuousClock()
    let start = clock.now
    let chunk = Data(count: 640)   // 20 ms of 16 kHz silence (VAD stays quiet; replies come from text)
    var n = 0
    var lastTurns = -1
    while true {
        let elapsed = clock.now - start
        if elapsed > .milliseconds(Int(seconds * 1000)) { break }
        await session.sendAudio(chunk)
        let turns = await received.turns
        if turns != lastTurns {
            lastTurns = turns
            await session.sendText("please keep talking to me about the weather and the sea for a while longer")
        }
        n += 1
        try await Task.sleep(until: start + .milliseconds(20 * n), clock: clock)
    }
    let cpu = cpuSeconds() - cpu0
    await session.quit()
    await consumer.value
    let bytes = await received.bytes
    report("stream.client_cpu_s_per_min", cpu / seconds * 60, "s/min")
    report("stream.client_cpu_percent_one_core", cpu / seconds * 100, "%")
    report("stream.model_audio_received_s", Double(bytes) / 48000, "s")
    report("stream.mic_audio_sent_s", Double(n) * 0.02, "s")
}

actor Counter {
    var bytes = 0
    var turns = 0
    func add(_ n: Int) { bytes += n }
    func turn() { turns += 1 }
}

/// `livetalk --no-tui` start → "[state] CONNECTED" against the embedded emulator.
func benchLaunch(runs: Int) throws {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var times: [Double] = []
    for _ in 0..<runs {
        let p = Process()
        p.executableURL = dir.appendingPathComponent("livetalk")
        p.arguments = ["--no-tui", "--log-file", "/dev/null"]
        var env = ProcessInfo.processInfo.environment
        env["GEMINI_API_KEY"] = nil
        env["GOOGLE_API_KEY"] = nil
        p.environment = env
        let out = Pipe()
        let input = Pipe()
        p.standardOutput = out
        p.standardInput = input
        p.standardError = FileHandle.nullDevice
        let t0 = ContinuousClock.now
        try p.run()
        var text = ""
        while !text.contains("[state] CONNECTED") {
            let d = out.fileHandleForReading.availableData
            if d.isEmpty { break }
            text += String(decoding: d, as: UTF8.self)
        }
        let dt = ContinuousClock.now - t0
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        times.append(Double(dt.components.seconds) * 1000 + Double(dt.components.attoseconds) / 1e15)
    }
    report("launch.to_connected_ms_median", median(times), "ms")
    report("launch.to_connected_ms_max", times.max() ?? .nan, "ms")
}

// MARK: audio (needs a PulseAudio server with sinks voice_out and mic_feed: eval "$(scripts/pulse-start)")

/// Loud samples (|x| > 500) in `s`, as milliseconds at 16 kHz.
func loudMs(_ s: ArraySlice<Int16>) -> Double { Double(s.filter { abs(Int($0)) > 500 }.count) / 16 }

/// livetalk's path: a purge drops the queue, flushes the device, and later chunks of the turn are ignored.
func staleAfterPurgeLivetalk(trials: Int) throws -> [Double] {
    var o = PulseOptions()
    o.speaker = "voice_out"
    o.captureEnabled = false
    let dev = try PulseAudioDevice(options: o)
    defer { dev.stop() }
    var out: [Double] = []
    for t in 1...trials {
        let rec = try PulseRecorder(source: "voice_out.monitor")
        dev.play(turn: t, samples: ToneGenerator.sine(frequency: 500, seconds: 2, rate: 24000, amplitude: 0.5))
        let deadline = Date() + 5
        while dev.playedSamples(turn: t) < 7200 && Date() < deadline { Thread.sleep(forTimeInterval: 0.002) }
        let at = rec.count
        dev.purge(turn: t)
        Thread.sleep(forTimeInterval: 0.4)
        rec.stop()
        out.append(loudMs(rec.snapshot()[at...]))
    }
    return out
}

/// The seeds' pattern, rebuilt: an unbounded application queue drained by blocking 64 ms writes to a
/// stream with the server's default buffering. The reply arrives in a burst (as the service sends it).
/// `clearQueue` false: the seeds do nothing on barge-in, so the queued answer plays out (ghost audio);
/// true: a kinder variant that clears its queue but neither flushes the device nor writes small chunks.
func staleAfterPurgeBaseline(trials: Int, clearQueue: Bool) throws -> [Double] {
    var out: [Double] = []
    for _ in 1...trials {
        let rec = try PulseRecorder(source: "voice_out.monitor")
        let queue = BaselineQueue()
        let tone = ToneGenerator.sine(frequency: 500, seconds: 2, rate: 24000, amplitude: 0.5)
        for i in stride(from: 0, to: tone.count, by: 1536) { queue.push(Array(tone[i..<min(i + 1536, tone.count)])) }
        let done = DispatchSemaphore(value: 0)
        let writer = Thread {
            // The stream lives on the writer thread, as pa_simple streams must.
            if let player = try? PulsePlayer(sink: "voice_out", rate: 24000, targetLatencyMs: 0, fragmentMs: 64) {
                while let chunk = queue.pop() { try? player.write(chunk) }
                player.drain()
            }
            done.signal()
        }
        let started = Date()
        writer.start()
        while Date().timeIntervalSince(started) < 0.3 { Thread.sleep(forTimeInterval: 0.002) }
        let at = rec.count
        if clearQueue { queue.clear() }   // what the server holds keeps playing either way
        queue.close()   // no more chunks will arrive; the writer ends when its queue is empty
        _ = done.wait(timeout: .now() + 10)
        Thread.sleep(forTimeInterval: 0.2)
        rec.stop()
        let all = rec.snapshot()
        if ProcessInfo.processInfo.environment["BENCH_DEBUG"] != nil {
            print("debug baseline: at \(at) total \(all.count) loud-before \(loudMs(all[..<at])) loud-after \(loudMs(all[at...]))")
        }
        out.append(loudMs(all[at...]))
    }
    return out
}

final class BaselineQueue: @unchecked Sendable {
    private let cond = NSCondition()
    /// Guarded by `cond`.
    private var items: [[Int16]] = []
    private var closed = false
    func push(_ c: [Int16]) { cond.lock(); items.append(c); cond.unlock(); cond.signal() }
    func clear() { cond.lock(); items.removeAll(); cond.unlock() }
    func close() { cond.lock(); closed = true; cond.unlock(); cond.broadcast() }
    func pop() -> [Int16]? {
        cond.lock(); defer { cond.unlock() }
        while items.isEmpty && !closed { _ = cond.wait(until: Date() + 0.05) }
        return items.isEmpty ? nil : items.removeFirst()
    }
}

func benchAudio(trials: Int) async throws {
    let ours = try staleAfterPurgeLivetalk(trials: trials)
    let base = try staleAfterPurgeBaseline(trials: trials, clearQueue: false)
    let cleared = try staleAfterPurgeBaseline(trials: trials, clearQueue: true)
    report("audio.stale_after_purge_ms.livetalk_median", median(ours), "ms")
    report("audio.stale_after_purge_ms.livetalk_max", ours.max() ?? .nan, "ms")
    report("audio.stale_after_purge_ms.seeds_pattern_median", median(base), "ms")
    report("audio.stale_after_purge_ms.seeds_pattern_max", base.max() ?? .nan, "ms")
    report("audio.stale_after_purge_ms.seeds_queue_cleared_no_flush_median", median(cleared), "ms")
    report("audio.stale_after_purge_ms.seeds_queue_cleared_no_flush_max", cleared.max() ?? .nan, "ms")

    // Full duplex for 10 s: capture 16 kHz 20 ms reads + playback 24 kHz ≤20 ms writes; hand-off latency per chunk.
    var o = PulseOptions()
    o.speaker = "voice_out"
    o.mic = "mic_feed.monitor"
    let dev = try PulseAudioDevice(options: o)
    let tone = ToneGenerator.sine(frequency: 300, seconds: 11, rate: 24000, amplitude: 0.3)
    let cpu0 = cpuSeconds()
    dev.play(turn: 1, samples: tone)
    var handoffs: [Double] = []
    var latencies: [Double] = []
    let t0 = ContinuousClock.now
    for await chunk in dev.capture {
        let d = ContinuousClock.now - chunk.capturedAt
        handoffs.append(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000)
        if handoffs.count % 25 == 0 { latencies.append(Double(dev.stats().playbackLatencyMicros) / 1000) }
        if ContinuousClock.now - t0 > .seconds(10) { break }
    }
    let cpu = cpuSeconds() - cpu0
    dev.stop()
    report("audio.playback_device_latency_ms_median", median(latencies), "ms")
    report("audio.capture_to_session_handoff_ms_median", median(handoffs), "ms")
    report("audio.capture_to_session_handoff_ms_p99", handoffs.sorted()[Int(Double(handoffs.count) * 0.99)], "ms")
    report("audio.full_duplex_cpu_percent_one_core", cpu / 10 * 100, "%")
    report("audio.trials", Double(trials), "count")
}

// MARK: ui (needs tmux and, for the streaming figure, a PulseAudio server with voice_out and mic_feed)

@discardableResult
func sh(_ command: String) -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try? p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// utime + stime of a process, seconds.
func processCPU(_ pid: String) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return .nan }
    let f = stat[stat.index(after: close)...].split(separator: " ")
    // fields after the command: state(0) … utime(11) stime(12)
    return (Double(f[11]) ?? 0 + 0) / 100 + (Double(f[12]) ?? 0) / 100
}

/// Starts the full-screen client in tmux; returns the session name and the client's pid.
func startUI(audioArgs: String) async throws -> (String, String) {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let bin = dir.appendingPathComponent("livetalk").path
    let name = "lt-bench-\(UInt32.random(in: 0...UInt32.max))"
    let pulse = ProcessInfo.processInfo.environment["PULSE_SERVER"]
    let env = "env -u GEMINI_API_KEY -u GOOGLE_API_KEY LANG=C.UTF-8" + (pulse.map { " PULSE_SERVER=\($0)" } ?? "")
    sh("tmux new-session -d -s \(name) -x 100 -y 30 'exec \(env) \(bin) --log-file /dev/null \(audioArgs)'")
    let pid = sh("tmux list-panes -t \(name) -F '#{pane_pid}'")
    for _ in 0..<100 where !sh("tmux capture-pane -p -t \(name)").contains("● CONNECTED") {
        try await Task.sleep(for: .milliseconds(100))
    }
    try await Task.sleep(for: .seconds(1))
    return (name, pid)
}

func benchUI(seconds: Double) async throws {
    // The embedded emulator runs inside the client process, so its work is counted too.
    let (quiet, quietPid) = try await startUI(audioArgs: "--audio null")
    var c0 = processCPU(quietPid)
    try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
    report("ui.idle_no_audio_cpu_percent_one_core", (processCPU(quietPid) - c0) / seconds * 100, "%")
    sh("tmux kill-session -t \(quiet)")
    let pulse = ProcessInfo.processInfo.environment["PULSE_SERVER"]
    guard pulse != nil else {
        FileHandle.standardError.write(Data("livetalk-bench ui: no PULSE_SERVER, streaming figure skipped\n".utf8))
        return
    }
    // From here the emulator runs as its own process, so only the client is measured.
    let (serve, port) = try startServe()
    defer { serve.terminate() }
    let (name, pid) = try await startUI(audioArgs: "--mic mic_feed.monitor --speaker voice_out --endpoint ws://127.0.0.1:\(port)")
    defer { sh("tmux kill-session -t \(name)") }
    c0 = processCPU(pid)
    try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
    report("ui.idle_mic_streaming_cpu_percent_one_core", (processCPU(pid) - c0) / seconds * 100, "%")
    // Quiet noise (≈ -55 dBFS) into the mic: streamed up, moves the meter, stays under the VAD threshold.
    let noise = (0..<(16000 * Int(seconds + 10))).map { _ in Int16.random(in: -60...60) }
    let wav = NSTemporaryDirectory() + "lt-noise.wav"
    try WAVFile.encode(WAVAudio(sampleRate: 16000, samples: noise)).write(to: URL(fileURLWithPath: wav))
    sh("(paplay -d mic_feed \(wav) >/dev/null 2>&1 &)")
    let story = String(repeating: "the sea and the ships and the stars ", count: Int(seconds * 16 / 36) + 4)
    sh("tmux send-keys -t \(name) i && tmux send-keys -t \(name) -l '\(story)' && tmux send-keys -t \(name) Enter")
    try await Task.sleep(for: .seconds(1))
    c0 = processCPU(pid)
    try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
    report("ui.streaming_cpu_percent_one_core", (processCPU(pid) - c0) / seconds * 100, "%")
    sh("pkill -f 'paplay -d mic_feed \(wav)'")
}

// MARK: emulator speech

/// What one bench session saw of the current turn.
actor TurnProbe {
    var firstAudio: ContinuousClock.Instant?
    var lastAudio: ContinuousClock.Instant?
    var audioBytes = 0
    var completed = 0
    var input = ""
    func reset() { firstAudio = nil; lastAudio = nil; audioBytes = 0; input = "" }
    func on(_ e: SessionEvent) {
        switch e {
        case .audio(let d, _, _):
            let now = ContinuousClock.now
            if firstAudio == nil { firstAudio = now }
            lastAudio = now
            audioBytes += d.count
        case .turnComplete: completed += 1
        case .inputTranscript(let t, _): input += t
        default: break
        }
    }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

struct SpeechTurn {
    /// End of the user's speech (activityEnd, or the last voiced chunk under VAD) → first reply audio.
    var latency: Double
    /// Reply audio length and the wall time its chunks took to arrive (first to last).
    var replySeconds: Double
    var arrivalSeconds: Double
    var heard: String
}

/// A client that speaks `speech` (16 kHz) in real time and waits for the whole reply.
final class SpeakingClient: Sendable {
    let session: Session
    let probe = TurnProbe()
    let consumer: Task<Void, Never>

    init(port: Int, pushToTalk: Bool) throws {
        let setup = Setup(model: "models/gemini-bench", generationConfig: GenerationConfig(responseModalities: [.audio]),
                          realtimeInputConfig: pushToTalk ? RealtimeInputConfig(automaticActivityDetection: .init(disabled: true)) : nil,
                          inputAudioTranscription: .init(), outputAudioTranscription: .init())
        session = Session(config: SessionConfig(endpoint: try Endpoint.custom("ws://127.0.0.1:\(port)", apiKey: nil), setup: setup),
                          transport: WebSocketTransport(), tools: ToolRegistry())
        let s = session, p = probe
        consumer = Task { for await e in s.events { await p.on(e) } }
    }

    func connect() async throws {
        await session.connect()
        for _ in 0..<1000 where await session.state != .connected { try await Task.sleep(for: .milliseconds(10)) }
        guard await session.state == .connected else { throw BenchError("a bench session did not connect") }
    }

    func turn(_ speech: [Int16], pushToTalk: Bool) async throws -> SpeechTurn {
        await probe.reset()
        let done = await probe.completed
        let clock = ContinuousClock()
        let lead = [Int16](repeating: 0, count: 4800), tail = [Int16](repeating: 0, count: 16000 * 8 / 10)
        let all = pushToTalk ? speech : lead + speech + tail
        let speechEndChunk = pushToTalk ? Int.max : (lead.count + speech.count + 319) / 320
        if pushToTalk { await session.activityStart() }
        let start = clock.now
        var endOfSpeech = start
        for (i, from) in stride(from: 0, to: all.count, by: 320).enumerated() {
            await session.sendAudio(PCM.data(Array(all[from..<min(from + 320, all.count)])))
            if i + 1 == speechEndChunk { endOfSpeech = clock.now }
            try await Task.sleep(until: start + .milliseconds(20 * (i + 1)), clock: clock)
        }
        if pushToTalk {
            endOfSpeech = clock.now
            await session.activityEnd()
        }
        for _ in 0..<6000 where await probe.completed == done { try await Task.sleep(for: .milliseconds(5)) }
        guard let first = await probe.firstAudio, let last = await probe.lastAudio else {
            throw BenchError("no reply audio")
        }
        return SpeechTurn(latency: seconds(first - endOfSpeech), replySeconds: Double(await probe.audioBytes) / 48000,
                          arrivalSeconds: seconds(last - first), heard: await probe.input)
    }

    func close() async {
        await session.quit()
        consumer.cancel()
    }
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
}

/// End of user speech → first reply audio, and concurrent real-time sessions, against
/// `livetalk serve` (espeak-ng + pocketsphinx) in its own process.
func benchEmulator(trials: Int, maxSessions: Int) async throws {
    let (serve, port) = try startServe()
    defer { serve.terminate() }
    let question = try await Synthesizer.shared.speak("what time is it", voice: EspeakVoice(name: "en-us", rate: 150), rate: 16000).samples
    print("# question: \"what time is it\", \(String(format: "%.2f", Double(question.count) / 16000)) s of espeak-ng speech, sent in real time (20 ms chunks)")

    for ptt in [true, false] {
        let c = try SpeakingClient(port: port, pushToTalk: ptt)
        try await c.connect()
        _ = try await c.turn(question, pushToTalk: ptt)   // warm-up: decoders and voice loaded
        var lat: [Double] = []
        var heard = ""
        for _ in 0..<trials {
            let t = try await c.turn(question, pushToTalk: ptt)
            lat.append(t.latency * 1000)
            heard = t.heard
        }
        await c.close()
        let name = ptt ? "emulator.ptt_activity_end_to_first_audio" : "emulator.vad_last_speech_to_first_audio"
        report(name + "_median_ms", median(lat), "ms")
        report(name + "_p90_ms", percentile(lat, 0.9), "ms")
        if !ptt {
            // Under server VAD the emulator must first wait out the silence (500 ms by default).
            report("emulator.vad_processing_after_silence_median_ms", median(lat) - 500, "ms")
        }
        print("# heard: \"\(heard)\"")
    }

    // Concurrency: N sessions each speak and hear a reply at once (starts spread over 1 s); each
    // session talks twice and the second turn is measured, once the emulator has seen the load.
    // Behind real time: a reply's audio takes > 5 % (+100 ms) longer to arrive than it lasts,
    // or a first reply byte comes > 1 s after the end of speech.
    var held = 0
    var n = 1
    while n <= maxSessions {
        let clients = try (0..<n).map { _ in try SpeakingClient(port: port, pushToTalk: false) }
        for c in clients { try await c.connect() }
        let count = n
        let turns = try await withThrowingTaskGroup(of: SpeechTurn.self) { g in
            for (i, c) in clients.enumerated() {
                g.addTask {
                    try await Task.sleep(for: .milliseconds(1000 * i / count))
                    _ = try await c.turn(question, pushToTalk: false)   // warm-up: the pool learns the load
                    return try await c.turn(question, pushToTalk: false)
                }
            }
            return try await g.reduce(into: [SpeechTurn]()) { $0.append($1) }
        }
        for c in clients { await c.close() }
        let worstLatency = turns.map(\.latency).max() ?? 0
        let worstStretch = turns.map { $0.arrivalSeconds / max(0.001, $0.replySeconds - 0.04) }.max() ?? 0
        let allHeard = turns.allSatisfy { $0.heard == "what time is it" }
        let behind = turns.contains { $0.arrivalSeconds > ($0.replySeconds - 0.04) * 1.05 + 0.1 } || worstLatency > 1.0
        print(String(format: "# %3d sessions: worst end→first audio %6.0f ms, worst arrival/length %.3f, all heard: %@%@",
                     n, worstLatency * 1000, worstStretch, allHeard ? "yes" : "no", behind ? "  ← behind real time" : ""))
        if behind { break }
        held = n
        n = n < 4 ? n * 2 : n + 4
    }
    report("emulator.realtime_sessions_held", Double(held), "sessions")
}

let args = Array(CommandLine.arguments.dropFirst())
let what = args.first { !$0.hasPrefix("--") && Double($0) == nil } ?? "all"
let seconds = args.firstIndex(of: "--seconds").flatMap { Double(args[$0 + 1]) } ?? 30
do {
    if what == "soak" {
        let passed = try await benchSoak(args)
        fflush(nil)
        if !passed { exit(2) }
    }
    if what == "decode" || what == "all" { try benchDecode() }
    if what == "launch" || what == "all" { try benchLaunch(runs: 10) }
    if what == "stream" || what == "all" { try await benchStream(seconds: seconds) }
    if what == "ui" || what == "all" { try await benchUI(seconds: min(seconds, 15)) }
    if what == "emulator" || what == "all" {
        let trials = args.firstIndex(of: "--trials").flatMap { Int(args[$0 + 1]) } ?? 10
        let maxSessions = args.firstIndex(of: "--max-sessions").flatMap { Int(args[$0 + 1]) } ?? 64
        try await benchEmulator(trials: trials, maxSessions: maxSessions)
    }
    if what == "audio" || what == "all" {
        let trials = args.firstIndex(of: "--trials").flatMap { Int(args[$0 + 1]) } ?? 20
        try await benchAudio(trials: trials)
    }
} catch {
    FileHandle.standardError.write(Data("livetalk-bench: \(error)\n".utf8))
    exit(1)
}
