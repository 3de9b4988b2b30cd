// livetalk-bench echo: hands-free on speakers (issue 11), on the test PulseAudio daemon's echo path
// (scripts/echo-path: the speaker's monitor looped into the microphone feed, 50 ms later, 6 dB down).
import AudioCore
import ArgumentParser
import EchoCancel
import Foundation
import LiveProtocol
import PulseAudio

struct EchoBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Echo cancellation on the echo path: echo reduction, self-interruptions, barge-ins, CPU (AEC on vs off).",
        discussion: """
            Needs the test PulseAudio daemon (eval "$(scripts/pulse-start)"), pactl and espeak-ng; turns the \
            echo path on for its run and off after. The client is the livetalk binary in line mode against \
            livetalk serve (speech) in its own process, as a user runs it: --mic mic_feed.monitor \
            --speaker voice_out, voice detection on.
            """)

    @Option(help: "Spoken replies per mode for the self-interruption count.") var replies = 20
    @Option(help: "Barge-ins spoken over a reply (with AEC on; and the same without the echo path).") var bargeins = 20
    @Option(help: "Replies played for the echo reduction figure (median and worst are printed).") var erleRuns = 5
    @Option(help: "Echo path delay, ms.") var delayMs = 50
    @Option(help: "Echo path gain, dB.") var gainDB = -6

    func validate() throws {
        guard (1...200).contains(replies), (0...200).contains(bargeins), (1...50).contains(erleRuns) else {
            throw ValidationError("--replies 1…200, --bargeins 0…200, --erle-runs 1…50")
        }
        guard (0...500).contains(delayMs), (-40...0).contains(gainDB) else { throw ValidationError("--delay-ms 0…500, --gain-db -40…0") }
    }

    func run() async throws {
        guard ProcessInfo.processInfo.environment["PULSE_SERVER"] != nil else {
            throw BenchError("echo needs the test PulseAudio daemon: eval \"$(scripts/pulse-start)\" first")
        }
        guard let root = checkoutRoot() else { throw BenchError("echo: cannot find the checkout (for scripts/echo-path)") }
        let echoPath = root.appendingPathComponent("scripts/echo-path").path
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("livetalk-echo-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let reply = work.appendingPathComponent("reply.wav").path
        let user = work.appendingPathComponent("user.wav").path
        _ = sh("espeak-ng -v en-us -s 160 -w \(reply) 'You can say hello, ask what time it is, tell me your name and later ask if I know it, or ask what the weather is in a city.'")
        _ = sh("espeak-ng -v en-us+f2 -s 160 -w \(user) 'what time is it'")

        _ = sh("\(echoPath) off")
        _ = sh("\(echoPath) on \(delayMs) \(gainDB)")
        defer { _ = sh("\(echoPath) off") }
        note("echo path: voice_out.monitor → mic_feed, \(delayMs) ms, \(gainDB) dB")

        // 1. Echo reduction and CPU, in process: the model's voice on the speaker, the microphone
        //    through the same processor the client uses.
        let speech = try WAVFile.read(path: reply).mono(at: 24000)
        // The canceller's convergence varies from run to run (with the scheduling of the audio
        // threads): the median and the worst of `erleRuns`.
        // Each run is a fresh canceller that hears the reply twice, 1 s apart, as a conversation's
        // first two replies: the first includes the convergence and the delay measurement, the
        // second is what the rest of a conversation gets.
        var runs: [(first: Double, second: Double, residual: Double, cpu: Double)] = []
        for _ in 0..<erleRuns { runs.append(try await measureReduction(speech: speech)) }
        let erle = median(runs.map(\.first)), residual = runs.map(\.residual).max() ?? .nan, cpu = median(runs.map(\.cpu))
        report("echo.erle_db.aec_on", erle, "dB (first reply from 2 s into it, median of \(erleRuns))")
        report("echo.erle_db.aec_on_worst", runs.map(\.first).min() ?? .nan, "dB")
        report("echo.erle_db.aec_on_second_reply", median(runs.map(\.second)), "dB (median; worst \(String(format: "%.1f", runs.map(\.second).min() ?? .nan)))")
        report("echo.erle_db.aec_off", 0, "dB")
        report("echo.residual_after_gate_dbfs", residual, "dBFS")
        report("echo.cpu_percent_one_core", cpu * 100, "%")

        // 2. Self-interruptions over spoken replies, AEC on and off; 3. barge-ins by voice.
        let (server, port) = try startEmulator()
        defer { stopProcess(server) }
        for aec in ["on", "off"] {
            let n = try selfInterruptions(port: port, aec: aec, replies: replies)
            report("echo.self_interruptions.aec_\(aec)", Double(n), "of \(replies)")
        }
        if bargeins > 0 {
            let voice = try WAVFile.read(path: user).mono(at: 16000)
            let (detected, heard, ducks) = try bargeIns(port: port, voice: voice, count: bargeins)
            report("echo.bargein_detected.aec_on", Double(detected), "of \(bargeins)")
            report("echo.bargein_words_recognised.aec_on", Double(heard), "of \(bargeins)")
            report("echo.speech_onset_to_ducked_ms_median", median(ducks), "ms (\(ducks.count) of \(bargeins) measured)")
            report("echo.speech_onset_to_ducked_ms_max", ducks.max() ?? .nan, "ms")
            _ = sh("\(echoPath) off")
            let (_, heardWithout, _) = try bargeIns(port: port, voice: voice, count: bargeins)
            report("echo.bargein_words_recognised.no_echo_path", Double(heardWithout), "of \(bargeins)")
        }
    }

    /// Plays `speech` twice on voice_out, 1 s apart, while the microphone (mic_feed.monitor, which
    /// hears it through the echo path) goes through one `WebRTCMicProcessor`. Returns the canceller's
    /// echo reduction over the first reply from 2 s into it (convergence) and over the whole second,
    /// the level left after the residual echo gate, and its CPU fraction.
    func measureReduction(speech: [Int16]) async throws -> (first: Double, second: Double, residual: Double, cpu: Double) {
        let processor = try WebRTCMicProcessor(echoCancellation: true, noiseSuppression: false)
        var o = PulseOptions()
        (o.speaker, o.mic) = ("voice_out", "mic_feed.monitor")
        let started = ContinuousClock.now
        o.playbackTap = { processor.played($0, rate: 24000) }
        let device = try PulseAudioDevice(options: o)
        let seconds = Double(speech.count) / 24000
        let (first, second) = (Totals(), Totals())
        let secondStartsAt = Duration.seconds(0.5 + seconds + 1)
        let player = Task {
            try? await Task.sleep(for: .milliseconds(500))
            device.play(turn: 1, samples: speech)
            device.endTurn(1)
            try? await Task.sleep(until: started + secondStartsAt)
            device.play(turn: 2, samples: speech)
            device.endTurn(2)
        }
        // Bounded: stopping the device ends its capture stream.
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(2 * seconds + 14))
            device.stop()
        }
        var delaySet = false
        for await chunk in device.capture {
            if !delaySet, device.stats().playbackLatencyMicros > 0 {
                processor.setDelay(ms: device.stats().playbackLatencyMicros / 1000 + 20)
                delaySet = true
            }
            let (cancelled, out) = processor.process(chunk.samples, capturedAt: chunk.capturedAt)
            let elapsed = ContinuousClock.now - started
            if elapsed > secondStartsAt {
                second.add(raw: chunk.samples, cancelled: cancelled, out: out)
            } else if elapsed > .milliseconds(2500) {
                first.add(raw: chunk.samples, cancelled: cancelled, out: out)
            }
            if elapsed > secondStartsAt + .seconds(seconds + 0.5) { break }
        }
        watchdog.cancel()
        player.cancel()
        device.stop()
        let d = processor.echoDelay
        note("echo delay: playback latency + 20 said \(d.latencyMs.map { "\($0) ms" } ?? "nothing"), "
             + "measured from the audio \(d.measuredMs.map { "\($0) ms" } ?? "nothing") (\(d.estimates) estimates, \(d.refusals) refused)")
        return (first.reductionDB, second.reductionDB, max(first.outDBFS, second.outDBFS), processor.cost.cpuFraction)
    }

    /// A livetalk client in line mode, its stdin and its output.
    func client(port: Int, aec: String) throws -> (Process, FileHandle, PipeReader) {
        let p = Process()
        p.executableURL = try sibling("livetalk")
        p.arguments = ["--no-tui", "--endpoint", "ws://127.0.0.1:\(port)", "--mic", "mic_feed.monitor",
                       "--speaker", "voice_out", "--aec", aec, "--log-file", "/dev/null"]
        var env = ProcessInfo.processInfo.environment
        (env["GEMINI_API_KEY"], env["GOOGLE_API_KEY"]) = (nil, nil)
        p.environment = env
        let input = Pipe(), output = Pipe()
        (p.standardInput, p.standardOutput, p.standardError) = (input, output, FileHandle.nullDevice)
        try p.run()
        BenchChildren.shared.track(p)
        let reader = PipeReader(output.fileHandleForReading)
        guard reader.wait(for: "[state] CONNECTED", timeout: 30) else {
            stopProcess(p)
            throw BenchError("livetalk did not connect to the emulator within 30 s: \(reader.value.suffix(500))")
        }
        Thread.sleep(forTimeInterval: 1)   // the microphone stream is open
        return (p, input.fileHandleForWriting, reader)
    }

    /// Lines of the client's output that start with `prefix`.
    func lines(_ r: PipeReader, _ prefix: String) -> [Substring] {
        r.value.split(separator: "\n").filter { $0.hasPrefix(prefix) }
    }

    /// Waits until the output stops growing for `quiet` seconds (at most `bound`).
    func settle(_ r: PipeReader, quiet: Double = 2.5, bound: Double = 40) {
        let deadline = Date() + bound
        var last = r.value.count, since = Date()
        while Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            let now = r.value.count
            if now != last { (last, since) = (now, Date()) } else if Date().timeIntervalSince(since) >= quiet { return }
        }
    }

    /// Typed questions answered aloud on the echo path: a reply that was cut, or any turn the
    /// echo started, is a self-interruption.
    func selfInterruptions(port: Int, aec: String, replies: Int) throws -> Int {
        let (p, stdin, r) = try client(port: port, aec: aec)
        defer { stopProcess(p) }
        var interrupted = 0
        for _ in 0..<replies {
            let (models, yous) = (lines(r, "model>").count, lines(r, "you>").count)
            stdin.write(Data("what can you do\n".utf8))
            let deadline = Date() + 30
            while lines(r, "model>").count == models && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
            settle(r)
            let newModels = lines(r, "model>").dropFirst(models), newYous = lines(r, "you>").dropFirst(yous)
            if newModels.contains(where: { $0.contains("[interrupted]") }) || newYous.count > 1 { interrupted += 1 }
        }
        return interrupted
    }

    /// The user speaks over a reply (espeak-ng's recording played into mic_feed): the reply is cut
    /// (detected), the words are recognised, and the speaker's output (voice_out.monitor) drops by
    /// 20 dB or more after the user's first word (the local duck, or the purge if it came first):
    /// returns those times, speech onset → ducked output.
    func bargeIns(port: Int, voice: [Int16], count: Int) throws -> (Int, Int, [Double]) {
        let (p, stdin, r) = try client(port: port, aec: "on")
        defer { stopProcess(p) }
        var (detected, heard, ducks) = (0, 0, [Double]())
        for i in 0..<count {
            let (models, yous) = (lines(r, "model>").count, lines(r, "you>").count)
            stdin.write(Data("what can you do\n".utf8))
            let speaker = try PulseRecorder(source: "voice_out.monitor", rate: 16000)
            Thread.sleep(forTimeInterval: 3)   // the reply is playing
            let onset = try speak(voice)
            settle(r)
            let (n, latency) = speaker.countAndLatencyMs()
            let observedAt = ContinuousClock.now
            speaker.stop()
            if let onset, let ms = Self.duckDelay(speaker.snapshot().prefix(n), observedAt: observedAt,
                                                  latencyMs: latency, onset: onset) {
                ducks.append(ms)
            }
            let newModels = lines(r, "model>").dropFirst(models), newYous = lines(r, "you>").dropFirst(yous)
            if newModels.first?.contains("[interrupted]") == true { detected += 1 }
            if newYous.contains(where: { $0.contains("what time is it") }) {
                heard += 1
            } else {
                note("barge-in \(i + 1): not recognised; heard \(newYous.isEmpty ? "nothing" : newYous.joined(separator: " | "))")
            }
        }
        return (detected, heard, ducks)
    }

    /// Plays 16 kHz `voice` into mic_feed in 10 ms writes; returns when its first loud sample
    /// (|x| > 1000) was heard: after the write that carried it, that sample is the stream's latency
    /// less what followed it in the write away.
    func speak(_ voice: [Int16]) throws -> ContinuousClock.Instant? {
        let player = try PulsePlayer(sink: "mic_feed", rate: 16000, targetLatencyMs: 20, fragmentMs: 10)
        let first = voice.firstIndex { abs(Int($0)) > 1000 }
        var onset: ContinuousClock.Instant?
        for start in stride(from: 0, to: voice.count, by: 160) {
            let end = min(start + 160, voice.count)
            try player.write(Array(voice[start..<end]))
            if onset == nil, let f = first, f < end {
                let latencyMs = Double(player.latencyMicros() ?? 0) / 1000
                onset = .now + .microseconds(Int((latencyMs - Double(end - 1 - f) / 16) * 1000))
            }
        }
        player.drain()
        return onset
    }

    /// Milliseconds from `onset` to the first 10 ms of `recorded` (voice_out.monitor at 16 kHz, whose
    /// last sample was `latencyMs` old at `observedAt`) that is 20 dB or more below the 300 ms before
    /// the onset and stays so for 100 ms; nil when the speaker never dropped (or was already silent).
    static func duckDelay(_ recorded: ArraySlice<Int16>, observedAt: ContinuousClock.Instant, latencyMs: Double,
                          onset: ContinuousClock.Instant) -> Double? {
        let samples = Array(recorded)
        let endMs = -latencyMs   // the last sample's time relative to observedAt
        let onsetMs = (onset - observedAt).seconds * 1000
        let onsetIndex = samples.count + Int((onsetMs - endMs) * 16)
        guard onsetIndex - 4800 >= 0, onsetIndex < samples.count else { return nil }
        let before = EchoGate.dBFS(samples[(onsetIndex - 4800)..<onsetIndex])
        guard before > -50 else { return nil }
        var i = onsetIndex
        while i + 1600 <= samples.count {
            let quiet = stride(from: i, to: i + 1600, by: 160).allSatisfy { EchoGate.dBFS(samples[$0..<($0 + 160)]) < before - 20 }
            if quiet { return Double(i - onsetIndex) / 16 }
            i += 160
        }
        return nil
    }
}

/// Energy sums of the microphone before and after processing, over 10 ms frames in which the echo
/// is present (the raw microphone above -50 dBFS: the model speaking, not its pauses).
final class Totals: @unchecked Sendable {
    private let lock = NSLock()
    private var rawEnergy = 0.0, cancelledEnergy = 0.0, outEnergy = 0.0, samples = 0
    func add(raw: [Int16], cancelled: [Int16], out: [Int16]) {
        lock.withLock {
            var i = 0
            while i + 160 <= raw.count, i + 160 <= cancelled.count {
                var r = 0.0, c = 0.0
                for k in i..<(i + 160) { r += Double(raw[k]) * Double(raw[k]); c += Double(cancelled[k]) * Double(cancelled[k]) }
                if r / 160 > 32768.0 * 32768.0 * 1e-5 { (rawEnergy, cancelledEnergy, samples) = (rawEnergy + r, cancelledEnergy + c, samples + 160) }
                i += 160
            }
            for x in out { outEnergy += Double(x) * Double(x) }
        }
    }
    /// Echo return loss enhancement of the canceller alone, dB.
    var reductionDB: Double { lock.withLock { cancelledEnergy > 0 ? 10 * log10(rawEnergy / cancelledEnergy) : .infinity } }
    /// What is left after the gate, over the whole reply, dBFS.
    var outDBFS: Double {
        lock.withLock { samples > 0 && outEnergy > 0 ? 10 * log10(outEnergy / Double(samples) / (32768.0 * 32768.0)) : -.infinity }
    }
}
