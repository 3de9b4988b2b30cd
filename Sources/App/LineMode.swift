import AudioCore
import Foundation
import LiveProtocol
import LiveSession
import TerminalUI

/// Exit codes of `livetalk` (also in `livetalk --help`).
public enum ExitStatus {
    public static let ok: Int32 = 0
    /// The session ended with an error (fatal close code, gave up reconnecting).
    public static let sessionFailed: Int32 = 1
    /// Bad flags, config file or input file (ArgumentParser's EX_USAGE).
    public static let usage: Int32 = 64
    /// Could not start (the embedded emulator or a local resource failed).
    public static let startFailed: Int32 = 69
    /// Interrupted by SIGINT/SIGTERM after a clean close.
    public static let interrupted: Int32 = 130
}

public struct LineModeOptions: Sendable {
    public var transcriptPath: String?
    public var inputWav: String?
    public var outputWav: String?
    public var pushToTalk = false
    public var endpointKind: Endpoint.Kind = .emulator
    public var endpointDescription = ""
    /// With replies awaited, this long with no event from the session ends the wait with a
    /// warning and a non-zero exit (a silent `--input-wav`, a server that drops a turn).
    public var replyTimeout: Duration = .seconds(30)
    public init() {}
}

/// Writes a line to stdout immediately (stdout may be a pipe; no buffering surprises).
func say(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }
func sayError(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// Progress of the conversation as line mode needs it (updated by the event task).
actor LineProgress {
    var repliesAwaited = 0
    var turnsCompleted = 0
    var modelActive = false
    var toolsRunning = 0
    var eventsSeen = 0
    var failure: SessionFailure?
    var ended = false
    var live = false
    /// SIGINT/SIGTERM/SIGHUP arrived: stop waiting for anything.
    var interrupted = false

    func expectReply() { repliesAwaited += 1 }
    func interrupt() { interrupted = true }
    var stopping: Bool { interrupted || ended }

    func saw(_ e: SessionEvent) {
        eventsSeen += 1
        switch e {
        case .audio, .outputTranscript, .modelText: modelActive = true
        case .turnComplete:
            modelActive = false
            turnsCompleted += 1
        case .tool(.started): toolsRunning += 1
        case .tool(.finished), .tool(.failed), .tool(.cancelled): toolsRunning = max(0, toolsRunning - 1)
        case .state(let s, _):
            live = s.isLive
            if case .closed(let f) = s {
                failure = failure ?? f
                ended = true
            }
        case .ended: ended = true
        default: break
        }
    }

    var idle: Bool { ended || (turnsCompleted >= repliesAwaited && !modelActive && toolsRunning == 0) }
    var snapshot: (idle: Bool, events: Int) { (idle, eventsSeen) }
}

/// `livetalk --no-tui`: stdin lines are text turns; transcripts, tool activity and state
/// changes are printed as lines. Exits at EOF after the last reply.
public final class LineMode: Sendable {
    let session: Session
    let options: LineModeOptions
    let audio: AudioBridge?

    public init(session: Session, options: LineModeOptions, audio: AudioBridge? = nil) {
        self.session = session
        self.options = options
        self.audio = audio
    }

    /// Runs until EOF (after the last reply), the session ends, or an interrupt arrives on
    /// `interrupts` (SIGINT/SIGTERM/SIGHUP): then it stops at once, closes the session and
    /// finalises the transcript and WAV files, and returns 130.
    public func run(lines: AsyncStream<String>, interrupts: AsyncStream<Int32> = AsyncStream { $0.finish() },
                    shutdown: Shutdown = .shared) async -> Int32 {
        let transcript: TranscriptWriter?
        let recorder: WAVWriter?
        var wavInput: [Int16] = []
        do {
            transcript = try options.transcriptPath.map { (p: String) throws(SettingsError) in try TranscriptWriter(path: p) }
            recorder = try options.outputWav.map { (p: String) throws(SettingsError) in
                do { return try WAVWriter(path: p, sampleRate: 24000) } catch { throw .message("--output-wav \(error)") }
            }
            if let p = options.inputWav { wavInput = try WAVFile.read(path: p).mono(at: 16000) }
        } catch {
            sayError("livetalk: \(error)")
            return ExitStatus.usage
        }
        // If the process must exit before `finish` (a second Ctrl-C, a close that hangs), the
        // files are still closed with correct headers.
        let token = shutdown.addFinalizer {
            transcript?.close()
            recorder?.close()
        }
        defer { shutdown.remove(token) }
        let progress = LineProgress()
        // Stdin lines pass through this stream so an interrupt ends the loop at once, without
        // waiting for the next line.
        let (inputs, inputSink) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingOldest(1000))
        let reader = Task {
            for await line in lines { inputSink.yield(line) }
            inputSink.finish()
        }
        defer { reader.cancel() }
        let interruptWatch = Task {
            for await _ in interrupts {
                await progress.interrupt()
                inputSink.finish()
                return
            }
        }
        defer { interruptWatch.cancel() }
        let kind = options.endpointKind
        let audio = self.audio
        let events = Task {
            var lastState: SessionState?
            for await e in session.events {
                audio?.handle(e)
                transcript?.write(e)
                if case .audio(let d, _, _) = e { recorder?.append(d) }
                await progress.saw(e)
                if case .state(let s, _) = e {
                    if s == lastState { continue }
                    lastState = s
                }
                Self.print(e, endpointKind: kind)
            }
        }
        await session.connect()
        var noReply = false
        if await waitUntilLive(progress) {
            if !wavInput.isEmpty {
                await progress.expectReply()
                await streamMicrophone(wavInput, progress: progress)
                noReply = !(await waitIdle(progress))
            }
            for await line in inputs {
                if noReply { break }
                if await progress.stopping { break }
                let text = line.trimmingCharacters(in: .whitespaces)
                guard !text.isEmpty else { continue }
                if await progress.ended { break }
                await progress.expectReply()
                await session.sendText(text)
                noReply = !(await waitIdle(progress))
            }
            if !noReply { noReply = !(await waitIdle(progress)) }
        }
        if noReply, !(await progress.interrupted) {
            say("[warn] no reply from the server within \(Self.fmt(options.replyTimeout)) of the last input; giving up")
        }
        return await finish(progress, events: events, transcript: transcript, recorder: recorder, noReply: noReply)
    }

    private func finish(_ progress: LineProgress, events: Task<Void, Never>, transcript: TranscriptWriter?,
                        recorder: WAVWriter?, noReply: Bool = false) async -> Int32 {
        let interrupted = await progress.interrupted
        if interrupted {
            audio?.device.stop()   // stop speaking now: the user asked to go
        } else {
            await audio?.finish()
        }
        await session.quit()
        await events.value
        transcript?.close()
        recorder?.close()
        if interrupted { return ExitStatus.interrupted }
        if await progress.failure != nil || noReply { return ExitStatus.sessionFailed }
        return ExitStatus.ok
    }

    private func waitUntilLive(_ p: LineProgress) async -> Bool {
        while true {
            if await p.live { return true }
            if await p.stopping { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until every awaited reply is complete, no tool runs and nothing new happened for a moment
    /// (a NON_BLOCKING tool's result may start a turn of its own). Returns false when nothing at
    /// all happened for `replyTimeout` while a reply was awaited.
    private func waitIdle(_ p: LineProgress) async -> Bool {
        let clock = ContinuousClock()
        var lastChange = clock.now
        var lastSeen = await p.snapshot.events
        while true {
            if await p.stopping { return true }
            let (idle, seen) = await p.snapshot
            if seen != lastSeen {
                lastSeen = seen
                lastChange = clock.now
            }
            if idle {
                try? await Task.sleep(for: .milliseconds(600))
                let after = await p.snapshot
                if after.idle && after.events == seen { return true }
                if await p.ended { return true }
            } else {
                if clock.now - lastChange > options.replyTimeout { return false }
                try? await Task.sleep(for: .milliseconds(25))
            }
        }
    }

    /// Streams 16 kHz samples as the microphone, 20 ms at a time at real-time pace.
    private func streamMicrophone(_ samples: [Int16], progress: LineProgress) async {
        if options.pushToTalk { await session.activityStart() }
        let chunk = 320
        let clock = ContinuousClock()
        let start = clock.now
        var i = 0
        var n = 0
        while i < samples.count {
            if n % 10 == 0, await progress.stopping { return }
            let part = Array(samples[i..<min(i + chunk, samples.count)])
            await session.sendAudio(PCM.data(part))
            i += chunk
            n += 1
            try? await Task.sleep(until: start + .milliseconds(20 * n), clock: clock)
        }
        if options.pushToTalk { await session.activityEnd() } else { await session.audioStreamEnd() }
    }

    /// Everything printed comes from the peer in part: no escape sequences, no control
    /// characters, one line per event, bounded length.
    static func clean(_ s: String, limit: Int = 32_000) -> String {
        ScreenText.sanitize(s, limit: limit).replacingOccurrences(of: "\n", with: " ")
    }

    static func print(_ e: SessionEvent, endpointKind: Endpoint.Kind) {
        switch e {
        case .state(let s, let held):
            var line = "[state] \(clean(s.description, limit: 2_000))"
            if s == .connected { line += " (\(endpointKind.rawValue))" }
            _ = held
            say(line)
        case .turn(let t):
            say("\(t.role == .user ? "you" : "model")> \(clean(t.text))\(t.interrupted ? " [interrupted]" : "")")
        case .tool(let a):
            switch a {
            case .started(_, let name, let args, let nb):
                say("[tool] \(clean(name, limit: 200)) running\(nb ? " (background)" : "") \(clean(args?.description ?? "{}", limit: 2_000))")
            case .finished(_, let name, let result, let d):
                say("[tool] \(clean(name, limit: 200)) done in \(fmt(d)) → \(clean(result.description, limit: 2_000))")
            case .failed(_, let name, let err, let d): say("[tool] \(clean(name, limit: 200)) failed in \(fmt(d)): \(clean(err, limit: 2_000))")
            case .cancelled(_, let name, let d): say("[tool] \(clean(name, limit: 200)) cancelled after \(fmt(d))")
            }
        case .goAway(let left): say("[state] server will close in \(fmt(left)); reconnecting before then")
        case .replayed(let n): say("[state] delivered \(n) held input message(s) after reconnecting")
        case .inputDropped(let n): say("[warn] input buffer full: dropped \(n) old audio chunk(s)")
        case .warning(let w): say("[warn] \(clean(w, limit: 2_000))")
        case .purge: say("[state] interrupted")
        default: break
        }
    }

    static func fmt(_ d: Duration) -> String {
        let ms = TranscriptWriter.ms(d)
        return ms < 1000 ? "\(ms) ms" : String(format: "%.1f s", Double(ms) / 1000)
    }
}

/// Lines of standard input as an async stream, read on their own thread.
public func standardInputLines() -> AsyncStream<String> {
    AsyncStream { cont in
        let t = Thread {
            while let line = readLine(strippingNewline: true) { cont.yield(line) }
            cont.finish()
        }
        t.start()
    }
}
