// livetalk-bench emulator — `livetalk serve` (espeak-ng + pocketsphinx) in its own process: end of
// user speech → first reply audio byte, and how many sessions it holds talking at once in real time.
import ArgumentParser
import AudioCore
import Foundation
import LiveProtocol
import LiveSession
import Speech
import WebSocketTransport

struct EmulatorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emulator",
        abstract: "livetalk serve: end of speech → first reply audio, and concurrent real-time sessions held.")

    @Option(help: "Turns measured per mode.") var trials = 10
    @Option(help: "Most speaking sessions tried at once (espeak-ng + pocketsphinx).") var maxSessions = 64
    @Option(help: "Most tone sessions tried at once (--speech tones).") var maxToneSessions = 600
    @Flag(help: "Only the --speech tones ramp.") var tonesOnly = false
    @Flag(help: "Skip the --speech tones ramp.") var noTones = false

    func run() async throws {
        if !tonesOnly { try await benchEmulator(trials: trials, maxSessions: maxSessions) }
        if !noTones { _ = try await benchToneSessions(maxSessions: maxToneSessions) }
    }
}

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
        return SpeechTurn(latency: (first - endOfSpeech).seconds, replySeconds: Double(await probe.audioBytes) / 48000,
                          arrivalSeconds: (last - first).seconds, heard: await probe.input)
    }

    func close() async {
        await session.quit()
        consumer.cancel()
    }
}

/// End of user speech → first reply audio, and concurrent real-time sessions, against
/// `livetalk serve` (espeak-ng + pocketsphinx) in its own process.
func benchEmulator(trials: Int, maxSessions: Int) async throws {
    // Enough listeners and connections for the ramp: the defaults (4 utterances recognised at
    // once) would turn most utterances of a big ramp into "[speech N s]".
    let (serve, port) = try startEmulator(["--max-listeners", String(maxSessions), "--max-connections", String(maxSessions + 16)])
    defer { stopProcess(serve) }
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
    let idleMB = residentMB(serve.processIdentifier)
    while n <= maxSessions {
        let clients = try (0..<n).map { _ in try SpeakingClient(port: port, pushToTalk: false) }
        for c in clients { try await c.connect() }
        let count = n
        let cpu0 = processCPU(serve), own0 = cpuSeconds(), wall0 = ContinuousClock.now
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
        let rss = residentMB(serve.processIdentifier)
        let wall = (ContinuousClock.now - wall0).seconds
        let serverCPU = (processCPU(serve) - cpu0) / wall * 100, ownCPU = (cpuSeconds() - own0) / wall * 100
        for c in clients { await c.close() }
        let worstLatency = turns.map(\.latency).max() ?? 0
        let worstStretch = turns.map { $0.arrivalSeconds / max(0.001, $0.replySeconds - 0.04) }.max() ?? 0
        let heard = turns.filter { $0.heard == "what time is it" }.count
        let behind = turns.contains { $0.arrivalSeconds > ($0.replySeconds - 0.04) * 1.05 + 0.1 } || worstLatency > 1.0
        print(String(format: "# %3d sessions: worst end→first audio %6.0f ms, worst arrival/length %.3f, heard right %d of %d, server CPU %3.0f %%, bench CPU %3.0f %%, server RSS %.0f MB (%.0f idle), load average %.1f%@",
                     n, worstLatency * 1000, worstStretch, heard, n, serverCPU, ownCPU, rss, idleMB, loadAverage(), behind ? "  ← behind real time" : ""))
        if behind { break }
        held = n
        n = n < 4 ? n * 2 : n + 4
    }
    report("emulator.realtime_sessions_held.speech", Double(held), "sessions")
}
