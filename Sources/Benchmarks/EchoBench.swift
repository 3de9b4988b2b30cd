// livetalk-bench echo: hands-free on speakers (issue 11), on the test PulseAudio daemon's echo path
// (scripts/echo-path: the speaker's monitor looped into the microphone feed, 50 ms later, 6 dB down).
import AudioCore
import ArgumentParser
import EchoCancel
import Foundation
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
    @Option(help: "Echo path delay, ms.") var delayMs = 50
    @Option(help: "Echo path gain, dB.") var gainDB = -6

    func validate() throws {
        guard (1...200).contains(replies), (0...200).contains(bargeins) else { throw ValidationError("--replies 1…200, --bargeins 0…200") }
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
        let (erle, residual, cpu) = try await measureReduction(speech: speech)
        report("echo.erle_db.aec_on", erle, "dB")
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
            let (detected, heard) = try bargeIns(port: port, wav: user, count: bargeins)
            report("echo.bargein_detected.aec_on", Double(detected), "of \(bargeins)")
            report("echo.bargein_words_recognised.aec_on", Double(heard), "of \(bargeins)")
            _ = sh("\(echoPath) off")
            let (_, heardWithout) = try bargeIns(port: port, wav: user, count: bargeins)
            report("echo.bargein_words_recognised.no_echo_path", Double(heardWithout), "of \(bargeins)")
        }
    }

    /// Plays `speech` on voice_out while the microphone (mic_feed.monitor, which hears it through the
    /// echo path) goes through a `WebRTCMicProcessor`. Returns the canceller's echo reduction after the
    /// first 2 s (convergence), the level left after the residual echo gate, and its CPU fraction.
    func measureReduction(speech: [Int16]) async throws -> (Double, Double, Double) {
        let processor = try WebRTCMicProcessor(echoCancellation: true, noiseSuppression: false)
        var o = PulseOptions()
        (o.speaker, o.mic) = ("voice_out", "mic_feed.monitor")
        o.playbackTap = { processor.played($0, rate: 24000) }
        let device = try PulseAudioDevice(options: o)
        let seconds = Double(speech.count) / 24000
        let result = Totals()
        let started = ContinuousClock.now
        let player = Task {
            try? await Task.sleep(for: .milliseconds(500))
            device.play(turn: 1, samples: speech)
            device.endTurn(1)
        }
        // Bounded: stopping the device ends its capture stream.
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(seconds + 12))
            device.stop()
        }
        var delaySet = false
        for await chunk in device.capture {
            if !delaySet, device.stats().playbackLatencyMicros > 0 {
                processor.setDelay(ms: device.stats().playbackLatencyMicros / 1000 + 20)
                delaySet = true
            }
            let (cancelled, out) = processor.process(chunk.samples)
            let elapsed = ContinuousClock.now - started
            if elapsed > .milliseconds(2500) { result.add(raw: chunk.samples, cancelled: cancelled, out: out) }
            if elapsed > .seconds(seconds + 1) { break }
        }
        watchdog.cancel()
        player.cancel()
        device.stop()
        return (result.reductionDB, result.outDBFS, processor.cost.cpuFraction)
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

    /// The user speaks over a reply (espeak-ng into mic_feed): the reply is cut (detected) and the
    /// words are recognised.
    func bargeIns(port: Int, wav: String, count: Int) throws -> (Int, Int) {
        let (p, stdin, r) = try client(port: port, aec: "on")
        defer { stopProcess(p) }
        var (detected, heard) = (0, 0)
        for _ in 0..<count {
            let (models, yous) = (lines(r, "model>").count, lines(r, "you>").count)
            stdin.write(Data("what can you do\n".utf8))
            Thread.sleep(forTimeInterval: 3)   // the reply is playing
            _ = sh("paplay -d mic_feed \(wav)")
            settle(r)
            let newModels = lines(r, "model>").dropFirst(models), newYous = lines(r, "you>").dropFirst(yous)
            if newModels.first?.contains("[interrupted]") == true { detected += 1 }
            if newYous.contains(where: { $0.contains("what time is it") }) { heard += 1 }
        }
        return (detected, heard)
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
