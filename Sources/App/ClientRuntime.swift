import AudioCore
import Emulator
import Foundation
import LiveProtocol
import LiveSession
import Logging
import TerminalUI

/// The edges a client run uses. The `livetalk` target injects the real ones (WebSocket,
/// PulseAudio, curses, stdin); tests inject a recording terminal, scripted lines, a null device.
public struct ClientEdges: Sendable {
    /// The transport for these deadlines and CA file.
    public var transport: @Sendable (_ deadlines: Deadlines, _ caFile: String?) -> any Transport
    /// Opens the audio device (or says why there is none).
    public var openAudio: @Sendable (_ plan: AudioPlan, _ capture: Bool) -> AudioOpening
    /// Opens the full screen; a thrown error's description says why not (line mode is used instead).
    public var openTerminal: @Sendable () throws -> any TerminalBackend
    /// Line mode's input.
    public var lines: @Sendable () -> AsyncStream<String>
    /// Line mode's output and the CLI's messages.
    public var out: @Sendable (String) -> Void
    public var err: @Sendable (String) -> Void
    /// SIGINT/SIGTERM/SIGHUP, finalisers and the exit of last resort.
    public var shutdown: Shutdown
    /// Runs the config's MCP servers (nil: none can run; their tools are not declared).
    public var toolServers: @Sendable (_ servers: [MCPServerConfig]) -> (any ToolServers)?
    /// Reads an image file and makes the JPEG frame to send (`/image`, the `o` key); the real one
    /// is ImageMagick's (`Imaging`). The default refuses, saying so.
    public var prepareImage: @Sendable (_ path: String) throws -> PreparedImage = { _ in
        throw ImageUnavailable()
    }

    public init(transport: @escaping @Sendable (Deadlines, String?) -> any Transport,
                openAudio: @escaping @Sendable (AudioPlan, Bool) -> AudioOpening = { _, _ in AudioOpening() },
                openTerminal: @escaping @Sendable () throws -> any TerminalBackend,
                lines: @escaping @Sendable () -> AsyncStream<String> = standardInputLines,
                out: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) },
                err: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) },
                shutdown: Shutdown = .shared,
                toolServers: @escaping @Sendable ([MCPServerConfig]) -> (any ToolServers)? = { _ in nil }) {
        self.toolServers = toolServers
        self.transport = transport
        self.openAudio = openAudio
        self.openTerminal = openTerminal
        self.lines = lines
        self.out = out
        self.err = err
        self.shutdown = shutdown
    }
}

/// An opened audio device, its news (lost / back), or why there is none.
public struct AudioOpening: Sendable {
    public var device: (any AudioDevice)?
    public var news: AsyncStream<Notice>?
    public var offReason: String?
    /// Echo cancellation / noise suppression fed by the device's playback (nil: off).
    public var processor: (any MicProcessor)?
    public init(device: (any AudioDevice)? = nil, news: AsyncStream<Notice>? = nil, offReason: String? = nil,
                processor: (any MicProcessor)? = nil) {
        self.device = device
        self.news = news
        self.offReason = offReason
        self.processor = processor
    }
}

/// The one client runtime, for both faces. It prepares what the plan names (files, theme,
/// emulator, session, audio), then runs one loop: every input becomes an `AppEvent`, `update`
/// turns it into effects, the runtime carries them out and the face shows the model. It ends
/// in one order whatever ended it: the terminal first, then audio, the session, the files.
public final class ClientRuntime: Sendable {
    let plan: ClientPlan
    let edges: ClientEdges

    /// App events waiting for the loop at most; more are dropped and counted (`droppedEvents`).
    public static let maxQueuedEvents = 50_000
    /// Line-mode lines waiting for their turn at most; more are dropped and counted.
    public static let maxPendingLines = 1_000
    /// Line mode: how long the conversation must be quiet before the next line is sent (a
    /// NON_BLOCKING tool's result may start a turn of its own).
    public static let quietBeforeNextLine: Duration = .milliseconds(600)

    let dropped = Counter()
    public var droppedEvents: Int { dropped.value }

    public init(plan: ClientPlan, edges: ClientEdges) {
        self.plan = plan
        self.edges = edges
    }

    // MARK: preparing

    /// Everything opened before the loop starts; closed in `finish`.
    final class Opened: @unchecked Sendable {
        var transcript: TranscriptWriter?
        var outputWav: WAVWriter?
        var inputWav: [Int16] = []
        let recording = RecordingSlot()
        var emulator: EmbeddedEmulator?
        var terminal: (any TerminalBackend)?
        var theme: Theme = .monochrome
        var system: String?
        var notices: [ClientNotice] = []
    }

    /// Runs the client to its end and returns the exit status. Problems found before the
    /// conversation starts are printed on stderr, worded by `ClientWording`.
    public func run() async -> Int32 {
        let opened = Opened()
        do throws(ClientProblem) {
            try await prepare(opened)
        } catch {
            opened.terminal?.stop()
            opened.transcript?.close()
            opened.outputWav?.close()
            opened.emulator?.stop()
            edges.err("livetalk: " + ClientWording.problem(error))
            return error.exitStatus
        }
        return await converse(opened)
    }

    private func prepare(_ o: Opened) async throws(ClientProblem) {
        o.notices = plan.notices
        // Files first: a bad one stops the run before anything is on screen.
        switch plan.system {
        case .none: o.system = nil
        case .text(let t): o.system = t
        case .file(let path):
            guard let d = FileManager.default.contents(atPath: path), let s = String(data: d, encoding: .utf8) else {
                throw .unreadable(flag: "--system @", path: path)
            }
            o.system = s.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let ca = plan.settings.caFile, !FileManager.default.isReadableFile(atPath: ca) {
            throw .unreadable(flag: "--ca-file", path: ca)
        }
        if let path = plan.writers.inputWav {
            guard FileManager.default.isReadableFile(atPath: path) else { throw .unreadable(flag: "--input-wav", path: path) }
            do { o.inputWav = try WAVFile.read(path: path).mono(at: 16000) } catch {
                throw .badWAV(flag: "--input-wav", path: path, reason: "\(error)")
            }
        }
        if case .screen(let name) = plan.face {
            do { o.theme = try ThemeLoader.resolve(name) } catch { throw .theme(error) }
        }
        if let path = plan.writers.transcript {
            do { o.transcript = try TranscriptWriter(path: path) } catch {
                throw .unwritable(flag: "--transcript", path: path, reason: error.reason)
            }
        }
        if let path = plan.writers.outputWav {
            do { o.outputWav = try WAVWriter(path: path, sampleRate: 24000) } catch {
                throw .unwritable(flag: "--output-wav", path: path, reason: "\(error)")
            }
        }
        if let folder = plan.writers.record {
            let path = folder.isEmpty ? SessionRecording.defaultFolder(base: plan.recordingsFolder) : folder
            do { o.recording.set(try SessionRecording(folder: path, title: Self.title(plan, pushToTalk: plan.settings.pushToTalk))) } catch {
                throw .unwritable(flag: "--record", path: error.path, reason: error.reason)
            }
        }
        if case .embeddedEmulator = plan.target {
            do { o.emulator = try await EmbeddedEmulator.start() } catch {
                throw .emulatorFailed(reason: "\(error)")
            }
        }
        if case .screen = plan.face {
            do {
                let t = try edges.openTerminal()
                if t.colors < 8 { o.theme = (try? ThemeLoader.resolve("monochrome")) ?? .monochrome }
                o.terminal = t
            } catch {
                o.notices.append(.screenUnavailable(reason: "\(error)"))
            }
        }
    }

    /// The recording's title line.
    static func title(_ plan: ClientPlan, pushToTalk: Bool) -> String {
        "Model `\(plan.settings.model)`, \(pushToTalk ? "push-to-talk" : "voice detection")."
    }

    // MARK: the conversation

    private func converse(_ o: Opened) async -> Int32 {
        let logger = Logger(label: "livetalk")
        let endpoint: Endpoint
        let kind: String
        switch plan.target {
        case .endpoint(let e): (endpoint, kind) = (e, e.kind.rawValue)
        case .embeddedEmulator(let version):
            guard let emulator = o.emulator, let e = try? emulator.endpoint(apiVersion: version) else {
                o.terminal?.stop()
                edges.err("livetalk: " + ClientWording.problem(.emulatorFailed(reason: "no endpoint")))
                return ExitStatus.startFailed
            }
            (endpoint, kind) = (e, "emulator")
            logger.info("no API key set: using the embedded emulator at \(emulator.url)")
        }
        logger.info("endpoint \(endpoint.redactedDescription) model \(plan.settings.model)")
        let conversation = Conversation(plan: plan, edges: edges, opened: o, endpoint: endpoint, endpointKind: kind, dropped: dropped)
        return await conversation.run()
    }
}

/// Line mode's pacing, as a value: lines wait until the model has answered the one before.
struct Loop {
    let replyTimeout: Duration
    var pending: [String] = []
    var inputEnded = false
    var wavState: WavState

    enum WavState { case none, waiting, streamed }
    enum Next: Equatable { case wait, line(LineInput), done, noReply, ended }

    init(plan: ClientPlan, inputWav: [Int16]) {
        replyTimeout = plan.replyTimeout
        wavState = inputWav.isEmpty ? .none : .waiting
    }

    mutating func enqueue(_ line: String, dropped: Counter) {
        guard pending.count < ClientRuntime.maxPendingLines else { dropped.add(); return }
        pending.append(line)
    }

    /// True once, when the input WAV should start streaming (the session is live).
    mutating func wavDue(model m: AppModel) -> Bool {
        guard wavState == .waiting, m.state.isLive else { return false }
        wavState = .streamed
        return true
    }

    mutating func next(model m: AppModel) -> Next {
        if m.sessionOver { return .ended }
        let answered = m.answeredAll
        if !answered, let last = m.lastSessionEvent, m.now.timeIntervalSince(last) > replyTimeout.seconds { return .noReply }
        if wavState == .waiting { return .wait }
        let quiet = m.lastSessionEvent.map { m.now.timeIntervalSince($0) >= ClientRuntime.quietBeforeNextLine.seconds } ?? true
        if let head = pending.first {
            let input = SlashCommands.parse(head, talking: m.talking)
            // Ending a push-to-talk turn never waits; everything else waits for the answer before it.
            if input != .command(.endTalk) {
                guard answered, quiet, !m.awaitingConnection else { return .wait }
                if case .command(.send) = input, !m.state.isLive { return .wait }
                if case .command(.image(_?)) = input, !m.state.isLive { return .wait }   // an image too waits for the session
            }
            pending.removeFirst()
            return .line(input)
        }
        if inputEnded, answered, quiet { return .done }
        return .wait
    }
}

/// The recording in progress, if any: shared by the loop, the event pump and the audio threads.
final class RecordingSlot: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var recording: SessionRecording?
    var current: SessionRecording? { lock.withLock { recording } }
    func set(_ r: SessionRecording) { lock.withLock { recording = r } }
    func take() -> SessionRecording? { lock.withLock { defer { recording = nil }; return recording } }
    /// For the signal finaliser: finishes without taking (idempotent).
    func finish() { current?.finish() }
}

/// Forwards to a bounded stream, counting what did not fit.
struct EventSink: Sendable {
    let put: @Sendable (AppEvent) -> Void
    init(_ put: @escaping @Sendable (AppEvent) -> Void) { self.put = put }
    func yield(_ e: AppEvent) { put(e) }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}

/// Lines of standard input as an async stream, read on their own thread.
@Sendable public func standardInputLines() -> AsyncStream<String> {
    AsyncStream { cont in
        let t = Thread {
            while let line = readLine(strippingNewline: true) { cont.yield(line) }
            cont.finish()
        }
        t.start()
    }
}
