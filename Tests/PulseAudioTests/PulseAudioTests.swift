import AudioCore
import Foundation
import Testing
@testable import PulseAudio

/// Real PulseAudio: `scripts/test` starts a private daemon (scripts/pulse-start) with null sinks
/// `voice_out` (speaker) and `mic_feed` (microphone feed) and sets PULSE_SERVER.
enum PulseEnv {
    static var available: Bool { ProcessInfo.processInfo.environment["PULSE_SERVER"] != nil }
    static var required: Bool { ProcessInfo.processInfo.environment["LIVETALK_REQUIRE_PULSE"] == "1" }
}

/// Frequency of a clean tone from its zero crossings.
func frequency(_ s: ArraySlice<Int16>, rate: Int) -> Double {
    var crossings = 0
    var prev = s.first ?? 0
    for v in s.dropFirst() {
        if (prev < 0) != (v < 0) { crossings += 1 }
        prev = v
    }
    return Double(crossings) / 2 / (Double(s.count) / Double(rate))
}

/// The samples of the first loud stretch (RMS over 10 ms above -40 dBFS), trimmed by `margin` seconds each side.
func loudStretch(_ s: [Int16], rate: Int, margin: Double = 0.1) -> ArraySlice<Int16>? {
    let frame = rate / 100
    var start: Int?
    var end = 0
    var i = 0
    while i + frame <= s.count {
        if Level.measure(s[i..<(i + frame)]).rmsDBFS > -40 {
            if start == nil { start = i }
            end = i + frame
        } else if start != nil, i - end > rate / 10 {
            break
        }
        i += frame
    }
    guard let start else { return nil }
    let m = Int(margin * Double(rate))
    guard end - start > 2 * m + frame else { return nil }
    return s[(start + m)..<(end - m)]
}

/// Polls `cond` (blocking) until it holds or `seconds` pass; records an issue naming `what` on timeout.
func waitUntil(_ what: String, _ seconds: Double = 20, sourceLocation: SourceLocation = #_sourceLocation, _ cond: () -> Bool) {
    let deadline = Date(timeIntervalSinceNow: seconds)
    while !cond() {
        guard Date() < deadline else {
            Issue.record("timed out after \(seconds) s waiting for \(what)", sourceLocation: sourceLocation)
            return
        }
        Thread.sleep(forTimeInterval: 0.01)
    }
}

/// Every test against a real daemon, one at a time (`.serialized` applies to the nested suites):
/// they measure real-time audio, and their blocking waits would otherwise starve the two-thread
/// cooperative pool of a 2-core machine, so that another suite's stream consumers never run.
@Suite(.serialized, .enabled(if: PulseEnv.available))
struct RealDaemonTests {}

extension RealDaemonTests {
    @Suite(.timeLimit(.minutes(2)))
    struct PulseAudioDeviceTests {
        @Test func toneThroughPlaybackReachesTheSinkMonitor() throws {
            let rec = try PulseRecorder(source: "voice_out.monitor")
            var o = PulseOptions()
            o.speaker = "voice_out"
            o.captureEnabled = false
            let dev = try PulseAudioDevice(options: o)
            defer { dev.stop() }
            dev.play(turn: 1, samples: ToneGenerator.sine(frequency: 440, seconds: 1.0, rate: 24000, amplitude: 0.5))
            dev.endTurn(1)
            // Played = written minus what the device still holds (a few ms remain reported when idle).
            // The latency is sampled while the tone plays: once the stream has run dry it may be 0.
            var latencySeen = 0
            waitUntil("23,500 of 24,000 samples played") {
                latencySeen = max(latencySeen, dev.stats().playbackLatencyMicros)
                return dev.playedSamples(turn: 1) >= 23500
            }
            #expect(dev.playedSamples(turn: 1) <= 24000)
            Thread.sleep(forTimeInterval: 0.3)
            dev.stop()
            rec.stop()
            let tone = try #require(loudStretch(rec.snapshot(), rate: 16000))
            #expect(abs(frequency(tone, rate: 16000) - 440) < 5)
            #expect(abs(Level.measure(tone).rmsDBFS - -9.03) < 1.5)   // amplitude 0.5 sine
            #expect(Double(tone.count) / 16000 > 0.6)
            #expect(latencySeen > 0, "no playback latency was reported while the tone played")
        }

        @Test func wavPlayedIntoTheMicSinkArrivesThroughCapture() async throws {
            let path = NSTemporaryDirectory() + "lt-mic-\(UUID().uuidString).wav"
            try WAVFile.encode(WAVAudio(sampleRate: 22050, samples: ToneGenerator.sine(frequency: 660, seconds: 1.0, rate: 22050, amplitude: 0.25)))
                .write(to: URL(fileURLWithPath: path))
            var o = PulseOptions()
            o.mic = "mic_feed.monitor"
            o.playbackEnabled = false
            let dev = try PulseAudioDevice(options: o)
            defer { dev.stop() }
            let feeder = Thread {
                let wav = try! WAVFile.read(path: path)
                let p = try! PulsePlayer(sink: "mic_feed", rate: wav.sampleRate)
                try! p.write(wav.samples)
                p.drain()
            }
            feeder.start()
            var got: [Int16] = []
            for await chunk in dev.capture {
                #expect(chunk.samples.count == 320)   // 20 ms at 16 kHz
                got += chunk.samples
                if got.count >= 16000 * 2 { break }
            }
            dev.stop()
            let tone = try #require(loudStretch(got, rate: 16000))
            #expect(abs(frequency(tone, rate: 16000) - 660) < 6)
            #expect(abs(Level.measure(tone).rmsDBFS - -15.05) < 1.5)   // amplitude 0.25 sine
            #expect(dev.levels().mic.heldPeakDBFS > -20)
        }

        @Test func purgeLetsAtMostTwoChunksOfStaleAudioThrough() throws {
            let rec = try PulseRecorder(source: "voice_out.monitor")
            var o = PulseOptions()
            o.speaker = "voice_out"
            o.captureEnabled = false
            let dev = try PulseAudioDevice(options: o)
            defer { dev.stop() }
            dev.play(turn: 7, samples: ToneGenerator.sine(frequency: 500, seconds: 3.0, rate: 24000, amplitude: 0.5))
            waitUntil("half a second of the tone played") { dev.playedSamples(turn: 7) >= 12000 }   // half a second heard
            let at = rec.count
            dev.purge(turn: 7)
            dev.play(turn: 7, samples: ToneGenerator.sine(frequency: 500, seconds: 1.0, rate: 24000))   // late chunk of the purged turn
            Thread.sleep(forTimeInterval: 0.6)
            dev.stop()
            rec.stop()
            let after = rec.snapshot()[at...]
            let loud = after.filter { abs(Int($0)) > 500 }.count
            let staleMs = Double(loud) / 16
            #expect(staleMs <= 40, "stale audio after purge: \(staleMs) ms")
            #expect(dev.stats().purges == 1)
        }

        /// Local barge-in (issue 11 item 4): a duck lowers what is heard by ≥ 20 dB within one small
        /// write (what the device held is written again, quieter), and unduck brings it back.
        @Test func duckLowersTheSpeakerAtOnceAndUnduckRestoresIt() throws {
            let rec = try PulseRecorder(source: "voice_out.monitor")
            var o = PulseOptions()
            o.speaker = "voice_out"
            o.captureEnabled = false
            let dev = try PulseAudioDevice(options: o)
            defer { dev.stop() }
            dev.play(turn: 3, samples: ToneGenerator.sine(frequency: 500, seconds: 3.0, rate: 24000, amplitude: 0.5))
            waitUntil("half a second of the tone played") { dev.playedSamples(turn: 3) >= 12000 }
            let at = rec.count
            #expect(dev.duck(gainDB: -24))
            Thread.sleep(forTimeInterval: 0.5)
            let mid = rec.count
            dev.unduck()
            Thread.sleep(forTimeInterval: 0.4)
            rec.stop()
            let all = rec.snapshot()
            func rms(_ s: ArraySlice<Int16>) -> Double {
                let e = s.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, s.count))
                return 10 * log10(max(e, 1e-9) / (32768.0 * 32768.0))
            }
            let before = rms(all[(at - 3200)..<at])
            // From 60 ms after the duck (the monitor's own delay and one write) to the unduck.
            let ducked = rms(all[(at + 960)..<mid])
            let back = rms(all[(mid + 3200)..<min(all.count, mid + 4800)])
            #expect(before - ducked >= 20, "before \(before) dBFS, ducked \(ducked) dBFS")
            #expect(abs(back - before) < 3, "before \(before) dBFS, after unduck \(back) dBFS")
            #expect(dev.stats().ducks == 1)
        }

        @Test func devicesByNameAndUnknownNames() throws {
            var o = PulseOptions()
            o.speaker = "no_such_sink"
            o.captureEnabled = false
            #expect(throws: PulseError(kind: .noSuchDevice, message: "no PulseAudio sink named \"no_such_sink\": see `livetalk devices`")) {
                _ = try PulseAudioDevice(options: o)
            }
            let (sources, sinks) = try PulseDeviceList.list()
            #expect(sinks.contains { $0.name == "voice_out" && $0.isDefault && $0.description == "VoiceOut" })
            #expect(sources.contains { $0.name == "mic_feed.monitor" && $0.isMonitor && $0.isDefault })
        }
    }
}

struct PulseAudioErrorTests {
    @Test func noServerIsOneClearLine() {
        var o = PulseOptions()
        o.server = "unix:/nonexistent/livetalk/native"
        #expect(throws: PulseError(kind: .noServer,
                                   message: "no PulseAudio server at unix:/nonexistent/livetalk/native: start one, or use --audio wav|null")) {
            _ = try PulseAudioDevice(options: o)
        }
    }

    @Test func theDaemonIsThereWhenRequired() {
        if PulseEnv.required { #expect(PulseEnv.available, "LIVETALK_REQUIRE_PULSE=1 but PULSE_SERVER is not set") }
    }
}

/// A private PulseAudio daemon the test can kill and restart (the shared one must stay up).
final class PrivateDaemon {
    let dir: String
    var process: Process?
    var server: String { "unix:\(dir)/native" }

    init() throws {
        dir = NSTemporaryDirectory() + "lt-pa-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
        load-module module-native-protocol-unix auth-anonymous=1 socket=\(dir)/native
        load-module module-null-sink sink_name=lost_sink rate=48000 channels=2
        """.write(toFile: dir + "/test.pa", atomically: true, encoding: .utf8)
    }

    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/pulseaudio")
        p.arguments = ["--daemonize=no", "--exit-idle-time=-1", "--system=false", "--realtime=no", "--high-priority=no",
                       "--disallow-exit", "-n", "-F", dir + "/test.pa", "--log-target=file:\(dir)/pa.log"]
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = dir
        env["XDG_RUNTIME_DIR"] = dir
        env["PULSE_SERVER"] = nil
        p.environment = env
        try p.run()
        process = p
        // Ready when a stream can be opened (libpulse itself, no pactl: waiting on a child process
        // from an async test hangs in Foundation on Linux).
        let deadline = Date() + 10
        while (try? PulsePlayer(sink: "lost_sink", rate: 24000, server: server)) == nil {
            guard Date() < deadline else { throw DaemonError(message: "the private pulseaudio did not answer within 10 s; see \(dir)/pa.log") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// SIGKILL, then waits (at most 10 s) until the process is dead, and removes its pid file: a daemon
    /// started while the old one is still a zombie refuses to run ("Daemon already running").
    func kill() {
        guard let p = process else { return }
        let pid = p.processIdentifier
        Foundation.kill(pid, SIGKILL)   // Foundation reaps it
        process = nil
        let deadline = Date() + 10
        while Foundation.kill(pid, 0) == 0, !isZombie(pid), Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        // Its pid file would name the zombie until Foundation reaps it.
        try? FileManager.default.removeItem(atPath: dir + "/pulse/pid")
    }

    /// Dead but not yet reaped (state Z in /proc/PID/stat).
    private func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}

struct DaemonError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension RealDaemonTests {
    @Suite
    struct PulseDeviceLossTests {
        @Test(.timeLimit(.minutes(1)))
        func aServerThatGoesAwayIsReportedAndRetried() async throws {
            let daemon = try PrivateDaemon()
            try daemon.start()
            defer { daemon.kill() }
            var o = PulseOptions()
            o.server = daemon.server
            o.speaker = "lost_sink"
            o.captureEnabled = false
            let dev = try PulseAudioDevice(options: o)
            defer { dev.stop() }
            dev.play(turn: 1, samples: ToneGenerator.sine(frequency: 440, seconds: 20, rate: 24000))
            try await Task.sleep(for: .milliseconds(300))
            daemon.kill()
            var seen: [DeviceEvent] = []
            for await e in dev.events {
                seen.append(e)
                if case .lost = e { try daemon.start() }
                if case .recovered = e { break }
            }
            #expect(seen.count == 2)
            guard case .lost(let why)? = seen.first else { Issue.record("\(seen)"); return }
            #expect(why.hasPrefix("speaker:"))
            #expect(seen.last == .recovered("speaker"))
        }
    }
}
