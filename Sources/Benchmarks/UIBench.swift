// livetalk-bench ui — the full-screen client in tmux: its CPU idle, with the mic streaming, and
// with audio both ways. Needs tmux and, for the streaming figures, a PulseAudio server with
// voice_out and mic_feed.
import ArgumentParser
import AudioCore
import Foundation

struct UIBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui", abstract: "CPU of the full-screen client in tmux: idle, mic streaming, audio both ways (needs tmux).")

    @Option(help: "Seconds per figure (at most 15 are used).") var seconds: Double = 30

    func run() async throws { try await benchUI(seconds: min(seconds, 15)) }
}

/// Starts the full-screen client in tmux; returns the session name and the client's pid.
func startUI(audioArgs: String) async throws -> (String, String) {
    let bin = try sibling("livetalk").path
    let name = "lt-bench-\(UInt32.random(in: 0...UInt32.max))"
    let pulse = ProcessInfo.processInfo.environment["PULSE_SERVER"]
    let env = "env -u GEMINI_API_KEY -u GOOGLE_API_KEY LANG=C.UTF-8" + (pulse.map { " PULSE_SERVER=\($0)" } ?? "")
    // Not through `sh`: with no tmux server running, this starts one, and `Process` would wait for it.
    shDetached("tmux new-session -d -s \(name) -x 100 -y 30 'exec \(env) \(bin) --log-file /dev/null \(audioArgs)'")
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
    let (serve, port) = try startEmulator()
    defer { stopProcess(serve) }
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
