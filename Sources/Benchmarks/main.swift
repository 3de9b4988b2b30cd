// livetalk-bench — prints one `name value unit` line per figure. Build with -c release for real figures:
//   swift build -c release && .build/release/livetalk-bench [decode|stream|launch|all] [--seconds N]
import App
import Emulator
import Foundation
import LiveProtocol
import LiveSession
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

let args = Array(CommandLine.arguments.dropFirst())
let what = args.first { !$0.hasPrefix("--") && Double($0) == nil } ?? "all"
let seconds = args.firstIndex(of: "--seconds").flatMap { Double(args[$0 + 1]) } ?? 30
do {
    if what == "decode" || what == "all" { try benchDecode() }
    if what == "launch" || what == "all" { try benchLaunch(runs: 10) }
    if what == "stream" || what == "all" { try await benchStream(seconds: seconds) }
} catch {
    FileHandle.standardError.write(Data("livetalk-bench: \(error)\n".utf8))
    exit(1)
}
