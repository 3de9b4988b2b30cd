// livetalk-bench launch — `livetalk --no-tui` start → CONNECTED against the embedded emulator.
import ArgumentParser
import Foundation
import LiveProtocol

struct LaunchBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch", abstract: "livetalk --no-tui start → [state] CONNECTED against the embedded emulator (median of N runs).")

    @Option(help: "Launches measured.") var runs = 10

    func run() throws { try benchLaunch(runs: runs) }
}

/// `livetalk --no-tui` start → "[state] CONNECTED" against the embedded emulator.
func benchLaunch(runs: Int) throws {
    let livetalk = try sibling("livetalk")
    var times: [Double] = []
    for _ in 0..<runs {
        let p = Process()
        p.executableURL = livetalk
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
        let dt = (ContinuousClock.now - t0).seconds
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        times.append(dt * 1000)
    }
    report("launch.to_connected_ms_median", median(times), "ms")
    report("launch.to_connected_ms_max", times.max() ?? .nan, "ms")
}
