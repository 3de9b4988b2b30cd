// livetalk-bench stream — the CPU the client spends on real-time full-duplex streaming, beside the
// official Python SDK doing the same work.
//
//   livetalk-bench stream [--seconds 30] [--python PATH] [--no-baseline]
//
// The client is the real one: the `livetalk` binary in line mode with no audio device
// (`--no-tui --audio null`), its microphone a WAV (`--input-wav`, sent as livetalk's microphone path
// sends it: 20 ms of 16 kHz PCM per message, in real time, through the same `Session.sendAudio`).
// Its CPU is read from /proc/PID/stat, so everything the process does counts: the session, the
// WebSocket transport, the event pump, the line face, logging to its log file. The baseline is
// `scripts/bench_python_sdk_stream.py` (google-genai, run with the checkout's .venv) sending the
// same WAV the same way; its CPU is read from /proc as well. Both talk, one after the other, to one
// `livetalk serve --speech tones` in its own process through a relay of this bench that counts
// the WebSocket messages, payload bytes and PCM of each direction, so the output shows that both
// did the same work. Neither pays for TLS (plain ws://); see the script for the SDK side of that.
//
// The WAV: every 3 s, 0.4 s of tone (heard by the emulator's VAD as speech) in faint noise. After
// 0.5 s of silence the emulator answers "I heard 0.4 s of speech." in 24 kHz tones, 40 ms per
// message, paced in real time, with transcriptions; the answer ends before the next tone, so no
// turn is interrupted. The window starts 1 s after the session is set up and lasts `--seconds`.
import ArgumentParser
import AudioCore
import Foundation
import LiveProtocol
#if canImport(Glibc)
import Glibc
#endif

struct StreamBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Client CPU for real-time full-duplex streaming against livetalk serve, beside the Python SDK's.",
        discussion: """
            Runs `livetalk --no-tui --audio null --input-wav F` against `livetalk serve --speech tones` (its own \
            process), then the google-genai SDK (scripts/bench_python_sdk_stream.py with the checkout's .venv) \
            doing the same; both CPUs from /proc. Without the venv or the SDK the baseline is skipped and said so.
            """)

    @Option(help: "Seconds measured per client.") var seconds: Double = 30
    @Option(help: "Python with google-genai for the baseline (default: .venv/bin/python of the checkout).")
    var python: String?
    @Flag(help: "Measure livetalk only.") var noBaseline = false
    @Option(help: "The livetalk binary to measure (default: the one next to the bench), e.g. another build to compare.")
    var livetalk: String?

    func validate() throws {
        guard seconds >= 1, seconds <= 3600 else { throw ValidationError("--seconds must be from 1 to 3600") }
    }

    func run() throws {
        try benchStream(seconds: seconds, python: python, baseline: !noBaseline, client: livetalk.map { URL(fileURLWithPath: $0) })
    }
}

/// What one client did and cost in the window.
struct StreamRun {
    var cpuSeconds: Double
    var wallSeconds: Double
    var sent: WireCount
    var received: WireCount
    var cpuPercent: Double { cpuSeconds / wallSeconds * 100 }
}

/// Settling time between `setupComplete` and the window: start-up work (loading, the first
/// allocations, Python's imports are before it anyway) stays out of the figure.
let streamSettle = 1.0

func benchStream(seconds: Double, python: String?, baseline: Bool, client livetalk: URL? = nil) throws {
    let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("livetalk-bench-stream-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let wav = dir.appendingPathComponent("mic.wav")
    try WAVFile.encode(WAVAudio(sampleRate: 16000, samples: streamMicFeed(seconds: streamSettle + seconds + 15))).write(to: wav)

    let (serve, servePort) = try startEmulator(["--speech", "tones"])
    defer { stopProcess(serve) }
    let counter = WireCounter()
    let relay = try DropRelay(targetPort: servePort, tap: counter)
    defer { relay.stop() }
    let endpoint = "ws://127.0.0.1:\(relay.port)"
    note(String(format: "stream: %.0f s of full duplex per client against livetalk serve --speech tones (pid %d), "
                + "counted by the bench's relay; CPU from /proc/PID/stat", seconds, serve.processIdentifier))

    // The client.
    var env = ProcessInfo.processInfo.environment
    env["GEMINI_API_KEY"] = nil
    env["GOOGLE_API_KEY"] = nil
    env["XDG_CONFIG_HOME"] = dir.appendingPathComponent("config").path   // no user config file
    env["XDG_STATE_HOME"] = dir.appendingPathComponent("state").path
    let client = try measureStreamClient(
        executable: try livetalk ?? sibling("livetalk"),
        arguments: ["--no-tui", "--audio", "null", "--input-wav", wav.path, "--endpoint", endpoint,
                    "--log-file", dir.appendingPathComponent("livetalk.log").path],
        environment: env, ready: "[state] CONNECTED", name: "livetalk", seconds: seconds, counter: counter)

    // The baseline.
    var sdk: StreamRun?
    var skipped: String?
    if !baseline {
        skipped = "--no-baseline"
    } else {
        switch findPythonSDK(python) {
        case .failure(let why): skipped = why.description
        case .success(let (py, script)):
            sdk = try measureStreamClient(
                executable: py, arguments: [script.path, "--endpoint", endpoint, "--wav", wav.path],
                environment: env, ready: "connected", name: "python SDK", seconds: seconds, counter: counter)
        }
    }

    let c = client
    report("stream.seconds", c.wallSeconds, "s")
    report("stream.client_cpu_percent_one_core", c.cpuPercent, "%")
    report("stream.client_cpu_s_per_min", c.cpuSeconds / c.wallSeconds * 60, "s/min")
    report("stream.mic_audio_sent_s", Double(c.sent.audioBytes) / 32000, "s")
    report("stream.model_audio_received_s", Double(c.received.audioBytes) / 48000, "s")
    reportWork("stream.client", c)
    if let s = sdk {
        report("stream.python_sdk_cpu_percent_one_core", s.cpuPercent, "%")
        report("stream.cpu_ratio_vs_python_sdk", c.cpuPercent / s.cpuPercent, "x")
        reportWork("stream.python_sdk", s)
        note("side by side        livetalk   python SDK")
        let rows: [(String, (StreamRun) -> String)] = [
            ("CPU % of one core", { String(format: "%.2f", $0.cpuPercent) }),
            ("messages sent", { "\($0.sent.messages)" }),
            ("bytes sent", { "\($0.sent.payloadBytes)" }),
            ("mic audio sent s", { String(format: "%.2f", Double($0.sent.audioBytes) / 32000) }),
            ("messages received", { "\($0.received.messages)" }),
            ("bytes received", { "\($0.received.payloadBytes)" }),
            ("model audio recv s", { String(format: "%.2f", Double($0.received.audioBytes) / 48000) }),
        ]
        for (label, f) in rows {
            note(label.padding(toLength: 20, withPad: " ", startingAt: 0) + f(c).padding(toLength: 11, withPad: " ", startingAt: 0) + f(s))
        }
    } else {
        note("python SDK baseline skipped: \(skipped ?? "?")")
        FileHandle.standardError.write(Data("livetalk-bench stream: the Python SDK baseline was skipped: \(skipped ?? "?")\n".utf8))
    }
}

private func reportWork(_ prefix: String, _ r: StreamRun) {
    report("\(prefix).messages_sent", Double(r.sent.messages), "count")
    report("\(prefix).bytes_sent", Double(r.sent.payloadBytes), "bytes")
    report("\(prefix).mic_audio_sent_s", Double(r.sent.audioBytes) / 32000, "s")
    report("\(prefix).messages_received", Double(r.received.messages), "count")
    report("\(prefix).bytes_received", Double(r.received.payloadBytes), "bytes")
    report("\(prefix).model_audio_received_s", Double(r.received.audioBytes) / 48000, "s")
}

/// 16 kHz: every 3 s, 0.5 s of faint noise, 0.4 s of a 300 Hz tone at -10 dBFS, 2.1 s of faint noise.
func streamMicFeed(seconds: Double) -> [Int16] {
    let tone = ToneGenerator.sine(frequency: 300, seconds: 0.4, rate: 16000, amplitude: 0.3)
    var out: [Int16] = []
    out.reserveCapacity(Int(seconds * 16000) + 48000)
    var seed: UInt32 = 12345
    func noise(_ n: Int) {
        for _ in 0..<n {
            seed = seed &* 1_103_515_245 &+ 12345
            out.append(Int16(Int(seed >> 16) % 61 - 30))
        }
    }
    while Double(out.count) < seconds * 16000 {
        noise(8000)
        out += tone
        noise(16000 * 3 - 8000 - tone.count)
    }
    return out
}

enum PythonSDKMissing: Error, CustomStringConvertible {
    case noCheckout, noPython(String), noScript(String), noSDK(String)
    var description: String {
        switch self {
        case .noCheckout: "no checkout found above the bench executable"
        case .noPython(let p): "no Python at \(p) (python3 -m venv .venv && .venv/bin/pip install -r Tests/python/requirements.txt -c Tests/python/constraints.txt)"
        case .noScript(let p): "no \(p)"
        case .noSDK(let p): "\(p) cannot import google.genai"
        }
    }
}

/// The venv's Python (or `--python`) and the baseline script, if google-genai imports.
func findPythonSDK(_ python: String?) -> Result<(URL, URL), PythonSDKMissing> {
    guard let root = checkoutRoot() else { return .failure(.noCheckout) }
    let py = python.map { URL(fileURLWithPath: $0) } ?? root.appendingPathComponent(".venv/bin/python")
    let script = root.appendingPathComponent("scripts/bench_python_sdk_stream.py")
    guard FileManager.default.isExecutableFile(atPath: py.path) else { return .failure(.noPython(py.path)) }
    guard FileManager.default.fileExists(atPath: script.path) else { return .failure(.noScript(script.path)) }
    let check = Process()
    check.executableURL = py
    check.arguments = ["-c", "import google.genai"]
    check.standardOutput = FileHandle.nullDevice
    check.standardError = FileHandle.nullDevice
    do { try check.run() } catch { return .failure(.noPython(py.path)) }
    check.waitUntilExit()
    guard check.terminationStatus == 0 else { return .failure(.noSDK(py.path)) }
    return .success((py, script))
}

/// Starts a client, waits until it prints `ready` (its session is set up), lets it settle, then
/// measures `seconds` of its CPU and of the relay's counts; ends it with stdin closed and SIGTERM.
func measureStreamClient(executable: URL, arguments: [String], environment: [String: String], ready: String,
                         name: String, seconds: Double, counter: WireCounter) throws -> StreamRun {
    let p = Process()
    p.executableURL = executable
    p.arguments = arguments
    p.environment = environment
    let input = Pipe(), output = Pipe(), errors = Pipe()
    p.standardInput = input
    p.standardOutput = output
    p.standardError = errors
    try p.run()
    BenchChildren.shared.track(p)
    let out = PipeReader(output.fileHandleForReading), err = PipeReader(errors.fileHandleForReading, limit: 64 << 10)
    func fail(_ what: String) -> BenchError {
        stopProcess(p, bound: 5)
        let tail = (err.value + out.value).split(separator: "\n").suffix(8).joined(separator: "\n  ")
        return BenchError("\(name): \(what)\n  \(tail)")
    }
    guard out.wait(for: ready, timeout: 60) else { throw fail("no \"\(ready)\" within 60 s") }
    Thread.sleep(forTimeInterval: streamSettle)
    guard p.isRunning else { throw fail("exited before the window") }
    let clock = ContinuousClock()
    let (cpu0, wire0, t0) = (processCPU(p), counter.snapshot(), clock.now)
    Thread.sleep(forTimeInterval: seconds)
    let (cpu1, wire1, t1) = (processCPU(p), counter.snapshot(), clock.now)
    guard p.isRunning, cpu0.isFinite, cpu1.isFinite else { throw fail("exited during the window") }
    try? input.fileHandleForWriting.close()
    stopProcess(p, bound: 5)
    _ = out.waitEnd(timeout: 5)
    return StreamRun(cpuSeconds: cpu1 - cpu0, wallSeconds: (t1 - t0).seconds,
                     sent: wire1.toServer - wire0.toServer, received: wire1.toClient - wire0.toClient)
}

// MARK: counting what crosses the relay

/// WebSocket traffic of one direction: data messages, their payload bytes (after unmasking,
/// before any decoding) and the PCM their `"data"` base64 strings carry.
struct WireCount: Sendable {
    var messages = 0
    var payloadBytes = 0
    var audioBytes = 0
    var controlFrames = 0

    static func - (a: WireCount, b: WireCount) -> WireCount {
        WireCount(messages: a.messages - b.messages, payloadBytes: a.payloadBytes - b.payloadBytes,
                  audioBytes: a.audioBytes - b.audioBytes, controlFrames: a.controlFrames - b.controlFrames)
    }
}

/// Totals over every relayed connection, by direction.
final class WireCounter: RelayTap, @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var up = WireCount(), down = WireCount()

    func sink(connection: Int, direction: RelayDirection) -> any RelaySink { FrameCounter(direction: direction, counter: self) }

    func add(_ direction: RelayDirection, _ change: (inout WireCount) -> Void) {
        lock.withLock {
            switch direction {
            case .toServer: change(&up)
            case .toClient: change(&down)
            }
        }
    }

    func snapshot() -> (toServer: WireCount, toClient: WireCount) { lock.withLock { (up, down) } }
}

/// Reads one direction of a WebSocket connection: skips the HTTP upgrade, then parses frames
/// (RFC 6455 §5.2), unmasking client frames. Only ever called on its pump thread.
final class FrameCounter: RelaySink, @unchecked Sendable {
    private let direction: RelayDirection
    private let counter: WireCounter
    private var inHTTP = true
    private var httpTail: UInt32 = 0
    private var header: [UInt8] = []
    private var payloadLeft = 0
    private var inPayload = false
    private var mask: [UInt8] = []
    private var maskIndex = 0
    /// The frame being read: a control frame (ping, pong, close), and the last of its message.
    private var control = false
    private var fin = false
    /// The data message being assembled (continuation frames appended), capped.
    private var message: [UInt8] = []
    private var messageBytes = 0
    private static let keep = 4 << 20

    init(direction: RelayDirection, counter: WireCounter) {
        self.direction = direction
        self.counter = counter
    }

    func bytes(_ chunk: UnsafeRawBufferPointer) {
        var i = 0
        let n = chunk.count
        while i < n {
            if inHTTP {
                httpTail = (httpTail << 8) | UInt32(chunk[i])
                i += 1
                if httpTail == 0x0D0A_0D0A { inHTTP = false }
            } else if inPayload {
                let take = min(payloadLeft, n - i)
                if !control {
                    for j in 0..<take {
                        var b = chunk[i + j]
                        if !mask.isEmpty {
                            b ^= mask[maskIndex & 3]
                            maskIndex += 1
                        }
                        if message.count < Self.keep { message.append(b) }
                    }
                    messageBytes += take
                }
                payloadLeft -= take
                i += take
                if payloadLeft == 0 { frameEnded() }
            } else {
                header.append(chunk[i])
                i += 1
                headerProgress()
            }
        }
    }

    /// Once the header is whole: its fields, and straight to the end of an empty frame.
    private func headerProgress() {
        guard header.count >= 2 else { return }
        let masked = header[1] & 0x80 != 0
        let len7 = Int(header[1] & 0x7F)
        let extra = len7 == 126 ? 2 : (len7 == 127 ? 8 : 0)
        let total = 2 + extra + (masked ? 4 : 0)
        guard header.count == total else { return }
        var length = len7
        if extra > 0 {
            length = 0
            for k in 0..<extra { length = length << 8 | Int(header[2 + k]) }
        }
        fin = header[0] & 0x80 != 0
        control = header[0] & 0x0F >= 8
        mask = masked ? Array(header[(2 + extra)...]) : []
        maskIndex = 0
        payloadLeft = length
        header.removeAll(keepingCapacity: true)
        inPayload = true
        if length == 0 { frameEnded() }
    }

    private func frameEnded() {
        inPayload = false
        if control {
            counter.add(direction) { $0.controlFrames += 1 }
            return
        }
        guard fin else { return }
        let audio = Self.base64DataBytes(message)
        let size = messageBytes
        counter.add(direction) {
            $0.messages += 1
            $0.payloadBytes += size
            $0.audioBytes += audio
        }
        message.removeAll(keepingCapacity: true)
        messageBytes = 0
    }

    /// Decoded length of every `"data": "<base64>"` string in a JSON message.
    static func base64DataBytes(_ json: [UInt8]) -> Int {
        let key: [UInt8] = Array("\"data\"".utf8)
        var total = 0
        var i = 0
        let n = json.count
        while i + key.count < n {
            guard json[i] == key[0], Array(json[i..<(i + key.count)]) == key else { i += 1; continue }
            var j = i + key.count
            while j < n, json[j] == 0x20 { j += 1 }
            guard j < n, json[j] == UInt8(ascii: ":") else { i += 1; continue }
            j += 1
            while j < n, json[j] == 0x20 { j += 1 }
            guard j < n, json[j] == UInt8(ascii: "\"") else { i += 1; continue }
            j += 1
            let start = j
            while j < n, json[j] != UInt8(ascii: "\"") { j += 1 }
            var chars = j - start
            var pad = 0
            while chars > 0, json[start + chars - 1] == UInt8(ascii: "=") { chars -= 1; pad += 1 }
            total += (chars + pad) / 4 * 3 - pad + (pad == 0 ? (chars % 4) * 3 / 4 : 0)
            i = j + 1
        }
        return total
    }
}
