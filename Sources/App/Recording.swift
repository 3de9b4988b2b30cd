import AudioCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LiveProtocol
import LiveSession
import TerminalUI

/// One recording of a session (`R`, `/record`, `--record [DIR]`): a folder holding
/// - `conversation.jsonl`: every session event, one JSON object per line (as `--transcript`);
/// - `conversation.md`: a readable transcript with times, interrupted turns, tool calls and errors;
/// - `audio.wav`: stereo 24 kHz, the microphone on the left and the model on the right, on one clock,
///   so a barge-in sounds as it happened.
///
/// The folder is created 0700 and every file 0600. Audio is placed by the recording's clock:
/// what is not yet due stays in memory (at most `maxScheduledSeconds` of model audio, the rest
/// dropped and counted) and is written as time passes; a purge drops model audio that was never
/// played. Every method is thread-safe; `finish` is idempotent (a signal finaliser may call it).
public final class SessionRecording: @unchecked Sendable {
    public static let rate = 24_000
    /// Model audio ahead of the clock kept at most (as the playback queue).
    public static let maxScheduledSeconds = 120

    public let folder: String
    private let jsonl: TranscriptWriter
    private let markdown: Int32
    private let wav: WAVWriter
    private let started = ContinuousClock.now
    private let lock = NSLock()
    // Guarded by `lock`:
    private var written = 0
    private var left: [Int16] = []
    private var right: [Int16] = []
    private var finished = false
    private var markdownOpen = true
    private var toolArgs: [String: String] = [:]
    private var droppedModelSamples = 0

    /// Creates `folder` (and its parents) and the three files in it.
    public init(folder: String, title: String) throws(RecordingError) {
        self.folder = folder
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw RecordingError(path: folder, reason: "cannot create the folder (\(Self.reason(error)))")
        }
        do {
            jsonl = try TranscriptWriter(path: folder + "/conversation.jsonl")
            markdown = try PrivateFile.open(folder + "/conversation.md", .truncate)
        } catch {
            throw RecordingError(path: error.path, reason: error.reason)
        }
        do { wav = try WAVWriter(path: folder + "/audio.wav", sampleRate: Self.rate, channels: 2) } catch {
            Glibc.close(markdown)
            throw RecordingError(path: folder + "/audio.wav", reason: "\(error)")
        }
        let date = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(secondsFromGMT: 0) ?? .current,
                                               formatOptions: [.withInternetDateTime])
        writeMarkdown("# livetalk conversation, \(date)\n\n\(title)\n\nTimes are from the start of the recording. "
                      + "`audio.wav`: microphone left, model right.\n\n")
    }

    static func reason(_ error: any Error) -> String {
        (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
    }

    /// The default folder for a recording started at `date`: `<base>/<YYYY-MM-DD_HH-MM-SS>`, made
    /// unique with a suffix when that exists.
    public static func defaultFolder(base: String, date: Date = Date(), exists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy-MM-dd_HH-mm-ss"
        let stem = base + "/" + f.string(from: date)
        var path = stem
        var n = 2
        while exists(path) { path = "\(stem)-\(n)"; n += 1 }
        return path
    }

    /// Seconds since the recording started.
    public var elapsed: Duration { ContinuousClock.now - started }

    private func nowFrame() -> Int { Int(elapsed.seconds * Double(Self.rate)) }

    /// A session event: into the JSON lines, the readable transcript and (model audio) the right channel.
    public func record(_ e: SessionEvent) {
        jsonl.write(e)
        switch e {
        case .audio(let data, let rate, _):
            var s = PCM.samples(data)
            if rate != Self.rate { s = Resampler.resample(s, from: rate, to: Self.rate) }
            model(s)
        case .purge:
            lock.withLock {
                // Model audio not yet due was never played: a barge-in cuts it here.
                let due = max(0, nowFrame() - written)
                if right.count > due { right.removeSubrange(due...) }
            }
        default: break
        }
        if let line = markdownLine(e) { writeMarkdown(line) }
        flush()
    }

    /// A turn's latency, into the JSON lines.
    public func record(_ latency: TurnLatency) { jsonl.write(latency) }

    /// Microphone samples at `rate` (16 kHz from the device or an input WAV), as they are captured.
    public func microphone(_ samples: [Int16], rate: Int) {
        guard !samples.isEmpty else { return }
        let s = rate == Self.rate ? samples : Resampler.resample(samples, from: rate, to: Self.rate)
        lock.withLock {
            guard !finished else { return }
            // The chunk ends now: place it there, never over what is already there.
            let at = max(written + left.count, nowFrame() - s.count) - written
            if at > left.count { left.append(contentsOf: repeatElement(0, count: at - left.count)) }
            left.append(contentsOf: s)
        }
        flush()
    }

    private func model(_ s: [Int16]) {
        lock.withLock {
            guard !finished else { return }
            let at = max(right.count, nowFrame() - written)
            if at > right.count { right.append(contentsOf: repeatElement(0, count: at - right.count)) }
            let room = Self.maxScheduledSeconds * Self.rate - right.count
            if room < s.count { droppedModelSamples += s.count - max(0, room) }
            right.append(contentsOf: s.prefix(max(0, room)))
        }
    }

    /// Writes the audio that is due (silence where nobody spoke). The runtime calls it on its tick.
    public func flush() {
        lock.withLock { writeDue(upTo: nowFrame()) }
    }

    /// Guarded by `lock`.
    private func writeDue(upTo frame: Int) {
        guard !finished else { return }
        let n = frame - written
        guard n > 0 else { return }
        var pcm = Data(count: n * 4)
        pcm.withUnsafeMutableBytes { raw in
            let out = raw.bindMemory(to: Int16.self)
            for i in 0..<n {
                out[2 * i] = i < left.count ? left[i].littleEndian : 0
                out[2 * i + 1] = i < right.count ? right[i].littleEndian : 0
            }
        }
        left.removeFirst(min(n, left.count))
        right.removeFirst(min(n, right.count))
        written = frame
        wav.append(pcm)
    }

    /// Writes what is due, closes every file (headers correct) and returns the audio's length in seconds.
    @discardableResult
    public func finish() -> Double {
        let (seconds, dropped): (Double, Int) = lock.withLock {
            if !finished { writeDue(upTo: nowFrame()) }
            finished = true
            return (Double(written) / Double(Self.rate), droppedModelSamples)
        }
        if dropped > 0 { writeMarkdown("\n_(\(dropped) model audio samples beyond \(Self.maxScheduledSeconds) s ahead were not recorded)_\n") }
        writeMarkdown(String(format: "\n---\nRecording ended at %@ (%.1f s of audio).\n", Self.clock(seconds), seconds))
        lock.withLock {
            if markdownOpen { Glibc.close(markdown); markdownOpen = false }
        }
        jsonl.close()
        wav.close()
        return seconds
    }

    private func writeMarkdown(_ s: String) {
        lock.withLock {
            guard markdownOpen else { return }
            if !PrivateFile.write(markdown, Data(s.utf8)) { Glibc.close(markdown); markdownOpen = false }
        }
    }

    /// `mm:ss.s` since the start.
    static func clock(_ seconds: Double) -> String {
        let m = Int(seconds) / 60
        return String(format: "%02d:%04.1f", m, seconds - Double(m * 60))
    }

    private func markdownLine(_ e: SessionEvent) -> String? {
        let t = "`\(Self.clock(elapsed.seconds))`"
        func md(_ s: String, _ limit: Int = 4_000) -> String {
            Wording.clean(s, limit: limit).replacingOccurrences(of: "|", with: "\\|")
        }
        switch e {
        case .turn(let turn):
            let who = turn.role == .user ? "**You**" : "**Model**"
            let cut = turn.interrupted ? " _(interrupted)_" : ""
            let sources = turn.citations.map { "\n   \(md(Wording.citation($0), 500))" }.joined()
            return "\(t) \(who): \(md(turn.text, 32_000))\(cut)\(sources)\n\n"
        case .tool(let a):
            switch a {
            case .started(let id, let name, let args, let nb):
                lock.withLock {
                    if toolArgs.count > 256 { toolArgs.removeAll() }
                    toolArgs[id] = args?.description ?? "{}"
                }
                return "\(t) tool call `\(md(name, 200))`\(nb ? " (background)" : "") with `\(md(args?.description ?? "{}"))`\n\n"
            case .finished(let id, let name, let result, let d):
                let args = lock.withLock { toolArgs.removeValue(forKey: id) } ?? "{}"
                return "\(t) tool `\(md(name, 200))` `\(md(args, 500))` done in \(Wording.duration(d)) → `\(md(result.description))`\n\n"
            case .failed(let id, let name, let err, let d):
                _ = lock.withLock { toolArgs.removeValue(forKey: id) }
                return "\(t) tool `\(md(name, 200))` **failed** in \(Wording.duration(d)): \(md(err))\n\n"
            case .cancelled(let id, let name, let d):
                _ = lock.withLock { toolArgs.removeValue(forKey: id) }
                return "\(t) tool `\(md(name, 200))` cancelled after \(Wording.duration(d))\n\n"
            }
        case .state(let s, _):
            if case .closed(let f?) = s {
                return "\(t) **error**: \(md(f.headline)) — \(md(Wording.hint(f, face: .line)))\n\n"
            }
            if case .connecting = s { return "\(t) _\(md(s.description, 200))_\n\n" }
            if s == .connected || s == .disconnected { return "\(t) _\(md(s.description, 200))_\n\n" }
            return nil
        case .purge: return "\(t) _the user interrupted the model_\n\n"
        case .warning, .inputDropped: return Wording.warning(e).map { "\(t) warning: \(md($0))\n\n" }
        case .goAway(let left): return "\(t) _\(Wording.goAway(left))_\n\n"
        default: return nil
        }
    }
}

public struct RecordingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}
