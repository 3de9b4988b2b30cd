// livetalk-bench — one subcommand per bench, one file per bench; each prints one `name value unit`
// line per figure (the names README and scripts quote). Build with -c release for real figures:
//
//   swift build -c release && .build/release/livetalk-bench [all] [--seconds 30]
//   livetalk-bench decode | launch | stream | ui | emulator | audio     (the parts of `all`, in its order)
//   livetalk-bench soak [--minutes 60] [--speedup 15] [--bound 15]     (not part of `all`; exits 2 when a goal is missed)
//   livetalk-bench echo [--replies 20] [--bargeins 20]                 (not part of `all`; needs the test PulseAudio daemon)
//   livetalk-bench asr [--repeats 2]                                   (not part of `all`: the recognition matrix across voices)
import ArgumentParser
import Foundation

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "livetalk-bench",
        abstract: "livetalk's benchmarks: one `name value unit` line per figure (build with -c release).",
        discussion: """
            With no subcommand, `all` runs. livetalk serve runs in its own process wherever the client's \
            CPU is measured. `audio` needs a PulseAudio server with the sinks voice_out and mic_feed \
            (eval "$(scripts/pulse-start)"); `ui` needs tmux.
            """,
        subcommands: [AllBenches.self, DecodeBench.self, LaunchBench.self, StreamBench.self, UIBench.self,
                      EmulatorBench.self, ASRBench.self, AudioBench.self, EchoBench.self, SoakBench.self],
        defaultSubcommand: AllBenches.self)
}

/// Every bench but the soak, in this order: decode, launch, stream, ui, emulator, audio.
struct AllBenches: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all", abstract: "decode, launch, stream, ui, emulator and audio, in that order (the default).")

    @Option(help: "Seconds measured by stream (per client) and ui (per figure, at most 15).") var seconds: Double = 30
    @Option(help: "Trials for emulator (default 10) and audio (default 20).") var trials: Int?
    @Option(help: "Most sessions tried at once by emulator.") var maxSessions = 64
    @Option(help: "Python with google-genai for the stream baseline (default: .venv/bin/python of the checkout).")
    var python: String?

    func validate() throws {
        guard seconds >= 1, seconds <= 3600 else { throw ValidationError("--seconds must be from 1 to 3600") }
    }

    func run() async throws {
        try benchDecode()
        try benchLaunch(runs: 10)
        try benchStream(seconds: seconds, python: python, baseline: true)
        try await benchUI(seconds: min(seconds, 15))
        try await benchEmulator(trials: trials ?? 10, maxSessions: maxSessions)
        _ = try await benchToneSessions(maxSessions: 600)
        try await benchAudio(trials: trials ?? 20)
    }
}
