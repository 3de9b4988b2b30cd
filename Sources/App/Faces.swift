import Foundation
import LiveSession
import TerminalUI
import LiveProtocol

/// How the user sees and drives the conversation. Both faces reduce into the same `AppModel`
/// through `update`; a face only turns its input into events and shows the model.
protocol Face: Sendable {
    var kind: FaceKind { get }
    /// Starts delivering the user's input into `sink`; the tasks are cancelled at the end.
    func start(_ sink: EventSink) -> [Task<Void, Never>]
    /// After each update: the event, the effects it produced and the model as it now is.
    func present(_ event: AppEvent, effects: [Effect], model: AppModel)
    /// Gives the terminal back. Idempotent.
    func stop()
}

/// The full screen over a `TerminalBackend`: keys in, `render(model)` out, at most 30 frames a
/// second and only when something changed; a key is answered at once.
final class ScreenFace: Face, @unchecked Sendable {
    let backend: any TerminalBackend
    let kind = FaceKind.screen
    private let lock = NSLock()
    /// Guarded by `lock`: something visible changed since the last frame.
    private var dirty = true

    init(backend: any TerminalBackend) { self.backend = backend }

    func start(_ sink: EventSink) -> [Task<Void, Never>] {
        let input = backend.input
        // The frame clock hands over through a one-slot stream: a busy loop never builds up frames.
        let (frames, frameSink) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        return [
            Task {
                for await i in input {
                    switch i {
                    case .key(let k): sink.yield(.key(k))
                    case .resize(let w, let h): sink.yield(.resize(width: w, height: h))
                    }
                }
            },
            Task {
                while !Task.isCancelled {
                    frameSink.yield(())
                    try? await Task.sleep(for: .milliseconds(33))
                }
            },
            Task { for await _ in frames { sink.yield(.frame) } },
        ]
    }

    func present(_ event: AppEvent, effects: [Effect], model: AppModel) {
        switch event {
        case .frame:
            let draw = lock.withLock { defer { dirty = false }; return dirty }
            if draw { backend.show(render(model)) }
        case .key:
            backend.show(render(model))
            lock.withLock { dirty = false }
        default:
            if event.isVisible { lock.withLock { dirty = true } }
        }
    }

    func stop() { backend.stop() }
}

/// Line mode: stdin lines in (text turns and slash commands), one printed line per event out.
final class LineFace: Face, @unchecked Sendable {
    let kind = FaceKind.line
    private let edges: ClientEdges
    private let endpointKind: String
    private let lock = NSLock()
    /// Guarded by `lock`: the last state printed (a repeated state is not printed again).
    private var lastState: SessionState?

    init(edges: ClientEdges, endpointKind: String) {
        self.edges = edges
        self.endpointKind = endpointKind
    }

    func start(_ sink: EventSink) -> [Task<Void, Never>] {
        let lines = edges.lines()
        return [Task {
            for await line in lines { sink.yield(.line(line)) }
            sink.yield(.inputEnded)
        }]
    }

    func present(_ event: AppEvent, effects: [Effect], model: AppModel) {
        switch event {
        case .session(let e):
            if case .state(let s, _) = e {
                let repeated = lock.withLock { defer { lastState = s }; return lastState == s }
                if repeated { return }
            }
            if let line = Wording.line(e, endpointKind: endpointKind, toolLabels: model.toolLabels) { edges.out(line) }
        case .notice(let n), .recordingChanged(_, let n):
            edges.out("\(Wording.tag(n)) \(Wording.notice(n, face: .line))")
        default: break
        }
        for effect in effects {
            switch effect {
            case .notice(let n): edges.out("\(Wording.tag(n)) \(Wording.notice(n, face: .line))")
            case .showHelp: for l in SlashCommands.helpLines { edges.out("[help] \(l)") }
            case .latency(let t): edges.out("[latency] \(Wording.latency(t))")
            default: break
            }
        }
    }

    func stop() {}
}

/// How the CLI words the runtime's facts (problems before the start, notices at the start).
public enum ClientWording {
    public static func problem(_ p: ClientProblem) -> String {
        switch p {
        case .config(let e): "\(e)"
        case .flag(let name, let value, let expected): "\(name) \(value): use \(expected)"
        case .endpoint(let e): e.description
        case .plaintextKey(let endpoint, let host):
            "--endpoint \(endpoint) is plaintext ws:// to \(host): refusing to send your API key or token "
                + "where anyone on the path can read it; use wss://, or unset GEMINI_API_KEY/GOOGLE_API_KEY to connect without it"
        case .vertexNeedsProject: "--vertex needs --project PROJECT (or [vertex] project in the config file)"
        case .vertexNeedsToken:
            "--vertex needs an OAuth access token in GOOGLE_OAUTH_ACCESS_TOKEN (e.g. from `gcloud auth print-access-token`) "
                + "or [vertex] access_token in the config file"
        case .unreadable(let flag, let path): flag.hasSuffix("@") ? "\(flag)\(path): cannot read the file" : "\(flag) \(path): no such readable file"
        case .badWAV(let flag, let path, let reason): "\(flag) \(path): \(reason)"
        case .unwritable(let flag, let path, let reason): "\(flag) \(path): cannot create the file (\(reason))"
        case .theme(let e): "theme \(e)"
        case .emulatorFailed(let reason): "cannot start the embedded emulator: \(reason)"
        }
    }

    public static func notice(_ n: ClientNotice) -> String {
        switch n {
        case .keyWithheld(let host): "not sending your API key or token to \(host) (not a Google host); pass --trust-endpoint to send it"
        case .embeddedEmulator: "no API key set (GEMINI_API_KEY / GOOGLE_API_KEY): talking to the embedded emulator"
        case .configWarning(let w): "warning: \(w)"
        case .screenUnavailable(let reason): "full screen unavailable (\(reason)); using line mode"
        case .audioOff(let reason): "\(reason); continuing in text"
        case .logOff(let reason): "warning: \(reason); logging is off"
        }
    }
}

extension ClientNotice {
    /// Worth the screen's session pane at start (the embedded emulator is on the status line already).
    var showOnScreen: Bool {
        switch self {
        case .embeddedEmulator: false
        default: true
        }
    }
}
