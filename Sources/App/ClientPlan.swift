import Foundation
import LiveProtocol
import LiveSession

/// What the command line said, as plain values (nil: not given). The `livetalk` target fills it
/// from its flags; `ClientPlan.make` merges it with the environment and the config file.
public struct ClientFlags: Sendable {
    public var endpoint: String?
    public var apiVersion: String?
    public var model: String?
    public var voice: String?
    public var system: String?
    /// nil: the config file's `mode` (or voice detection).
    public var pushToTalk: Bool?
    public var text = false
    public var transcript: String?
    public var inputWav: String?
    public var outputWav: String?
    /// `--record [DIR]`: "" records to the default folder.
    public var record: String?
    public var vertex = false
    public var project: String?
    public var location: String?
    public var caFile: String?
    public var logFile: String?
    public var logLevel: String?
    public var noTUI = false
    public var audio: AudioChoice = .auto
    public var mic: String?
    public var speaker: String?
    public var playbackBufferMs = 50
    /// `--aec on|off`; nil: on with PulseAudio, off with `--audio wav|null`.
    public var echoCancellation: Bool?
    public var noiseSuppression = false
    /// `--local-bargein on|off`; nil: on when echo cancellation runs.
    public var localBargeIn: Bool?
    public var theme: String?
    public var trustEndpoint = false
    public var connectTimeout: Double?
    public var setupTimeout: Double?
    public var closeTimeout: Double?
    public var pingInterval: Double?
    public var inactivityTimeout: Double?
    public var replyTimeout: Double?
    /// `--yes-tools`: line mode runs MCP tool calls the allow-list does not cover (else refused).
    public var yesTools = false
    /// Seconds the start waits for the MCP servers to list their tools (default 15).
    public var mcpStartTimeout: Double?
    /// Session settings given as flags, by knob name (`temperature` for `--temperature`), as text.
    public var knobs: [String: String] = [:]
    public init() {}
}

/// What the terminal and process look like (facts the plan needs, gathered by the caller).
public struct ClientSurroundings: Sendable {
    /// stdin and stdout are both terminals.
    public var interactive: Bool
    public var environment: [String: String]
    public init(interactive: Bool, environment: [String: String]) {
        self.interactive = interactive
        self.environment = environment
    }
}

/// Why a client run cannot start: a fact with its data. `ClientWording` words it for the CLI.
public enum ClientProblem: Error, Sendable, Equatable {
    case config(ConfigError)
    case flag(name: String, value: String, expected: String)
    case endpoint(EndpointError)
    case plaintextKey(endpoint: String, host: String)
    case vertexNeedsProject
    case vertexNeedsToken
    case unreadable(flag: String, path: String)
    case badWAV(flag: String, path: String, reason: String)
    case unwritable(flag: String, path: String, reason: String)
    case theme(ThemeError)
    case emulatorFailed(reason: String)

    /// The process exit status for this problem.
    public var exitStatus: Int32 {
        switch self {
        case .emulatorFailed: ExitStatus.startFailed
        default: ExitStatus.usage
        }
    }
}

/// Something to tell the user at start that does not stop the run.
public enum ClientNotice: Sendable, Equatable {
    case keyWithheld(host: String)
    case embeddedEmulator
    case configWarning(String)
    case screenUnavailable(reason: String)
    case audioOff(reason: String)
    case logOff(reason: String)
}

/// Where the conversation goes: a real endpoint, or the emulator started in process.
public enum ClientTarget: Sendable, Equatable {
    case endpoint(Endpoint)
    case embeddedEmulator(apiVersion: String)
}

public enum FaceChoice: Sendable, Equatable {
    case line
    /// The full screen, with the theme's name or path ("monochrome" under NO_COLOR).
    case screen(theme: String)
}

public enum SystemText: Sendable, Equatable {
    case none
    case text(String)
    /// `--system @FILE`: read when the run starts.
    case file(String)
}

/// The audio side of a run.
public struct AudioPlan: Sendable, Equatable {
    public var choice: AudioChoice = .auto
    public var mic: String?
    public var speaker: String?
    public var playbackBufferMs = 50
    /// Cancel the speaker's echo in the microphone, in process (issue 11).
    public var echoCancellation = false
    public var noiseSuppression = false
    /// Duck the speaker when the user starts to speak over the model (issue 11): nil = when the
    /// echo canceller runs (without it the model's own echo would duck it).
    public var localBargeIn: Bool?
    public init() {}
}

/// The MCP servers of a run and how their calls are allowed.
public struct ToolPlan: Sendable, Equatable {
    public var servers: [MCPServerConfig] = []
    /// Line mode runs calls outside the allow-list instead of refusing them.
    public var yesTools = false
    /// How long the start waits for the servers to list their tools before connecting.
    public var startDeadline: Duration = .seconds(15)
    public init(servers: [MCPServerConfig] = [], yesTools: Bool = false) {
        self.servers = servers
        self.yesTools = yesTools
    }
}

/// Files the run writes or reads besides the conversation.
public struct WriterPlan: Sendable, Equatable {
    public var transcript: String?
    public var inputWav: String?
    public var outputWav: String?
    /// Record from the start into this folder ("" = the default folder), or nil.
    public var record: String?
    public init() {}
}

/// Everything one client run needs, decided before anything runs: a pure value, made from
/// flags, environment and config file (flags > environment > file) with no I/O.
public struct ClientPlan: Sendable, Equatable {
    public var target: ClientTarget
    public var settings: ClientSettings
    public var system: SystemText
    public var face: FaceChoice
    public var audio: AudioPlan
    public var writers: WriterPlan
    public var deadlines: Deadlines
    /// Line mode: with a reply awaited, this long with no event ends the wait (exit 1).
    public var replyTimeout: Duration
    public var notices: [ClientNotice]
    public var logFile: String?
    public var logLevel: String
    /// `$XDG_DATA_HOME/livetalk/recordings` (or `~/.local/share/…`).
    public var recordingsFolder: String
    /// MCP servers and who decides on their calls (issue 12).
    public var tools = ToolPlan()

    public var apiVersion: String { settings.apiVersion ?? Endpoint.defaultAPIVersion }

    /// The plan, or the first problem found.
    public static func make(flags f: ClientFlags, file: FileConfig, surroundings: ClientSurroundings)
        -> Result<ClientPlan, ClientProblem>
    {
        do throws(ClientProblem) {
            return .success(try build(f, file, surroundings))
        } catch {
            return .failure(error)
        }
    }

    /// Flag values that are wrong whatever else is set (the CLI checks them before anything runs).
    public static func check(_ f: ClientFlags) -> ClientProblem? {
        guard (10...1000).contains(f.playbackBufferMs) else {
            return .flag(name: "--playback-buffer-ms", value: "\(f.playbackBufferMs)", expected: "10–1000")
        }
        if let l = f.logLevel, !Self.logLevels.contains(l) {
            return .flag(name: "--log-level", value: l, expected: "one of \(Self.logLevels.joined(separator: ", "))")
        }
        if let e = f.endpoint {
            do { _ = try Endpoint.custom(e, apiKey: nil) } catch { return .endpoint(error) }
        }
        if case .failure(let p) = SessionKnobs.make(flags: f.knobs, file: FileConfig()) { return p }
        for (flag, v) in [("--connect-timeout", f.connectTimeout), ("--setup-timeout", f.setupTimeout),
                          ("--close-timeout", f.closeTimeout), ("--ping-interval", f.pingInterval),
                          ("--inactivity-timeout", f.inactivityTimeout), ("--reply-timeout", f.replyTimeout),
                          ("--mcp-start-timeout", f.mcpStartTimeout)] {
            if let v, !(v.isFinite && v >= 0.05 && v <= 86_400) {
                return .flag(name: flag, value: "\(v)", expected: "a number of seconds from 0.05 to 86400")
            }
        }
        return nil
    }

    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    private static func build(_ f: ClientFlags, _ file: FileConfig, _ env: ClientSurroundings) throws(ClientProblem) -> ClientPlan {
        if let p = check(f) { throw p }
        let environment = env.environment
        var s = ClientSettings()
        s.model = f.model ?? file.model ?? s.model
        s.voice = f.voice ?? file.voice ?? s.voice
        s.apiVersion = f.apiVersion ?? file.apiVersion
        s.endpoint = f.endpoint ?? file.endpoint
        s.pushToTalk = f.pushToTalk ?? (file.mode == "ptt")
        s.textModality = f.text
        s.caFile = f.caFile ?? file.caFile
        s.vertex = f.vertex
        s.project = f.project
        s.location = f.location
        s.trustEndpoint = f.trustEndpoint
        switch SessionKnobs.make(flags: f.knobs, file: file) {
        case .success(let k): s.knobs = k
        case .failure(let p): throw p
        }

        var notices: [ClientNotice] = file.warnings.map { .configWarning($0) }
        let credential = Settings.credential(environment: environment, file: file)
        let target: ClientTarget
        do {
            let (endpoint, withheld) = try Settings.endpoint(settings: s, credential: credential, environment: environment, file: file)
            notices += withheld.map { .keyWithheld(host: $0) }
            if let endpoint {
                target = .endpoint(endpoint)
            } else {
                target = .embeddedEmulator(apiVersion: s.apiVersion ?? Endpoint.defaultAPIVersion)
                notices.append(.embeddedEmulator)
            }
        }

        let systemValue = f.system ?? file.system
        let system: SystemText = switch systemValue {
        case nil: .none
        case let v? where v.hasPrefix("@"): .file(String(v.dropFirst()))
        case let v?: .text(v)
        }

        let face: FaceChoice
        if f.noTUI || !env.interactive {
            face = .line
        } else if environment["NO_COLOR"].map({ !$0.isEmpty }) == true {
            face = .screen(theme: "monochrome")
        } else {
            face = .screen(theme: f.theme ?? file.theme ?? "dark")
        }

        var audio = AudioPlan()
        audio.choice = f.audio
        audio.mic = f.mic
        audio.speaker = f.speaker
        audio.playbackBufferMs = f.playbackBufferMs
        audio.echoCancellation = f.echoCancellation ?? (f.audio == .auto || f.audio == .pulse)
        audio.noiseSuppression = f.noiseSuppression
        audio.localBargeIn = f.localBargeIn

        var writers = WriterPlan()
        writers.transcript = f.transcript
        writers.inputWav = f.inputWav
        writers.outputWav = f.outputWav
        writers.record = f.record

        var d = Deadlines()
        d.connect = duration(f.connectTimeout, d.connect)
        d.setup = duration(f.setupTimeout, d.setup)
        d.close = duration(f.closeTimeout, d.close)
        d.pingInterval = duration(f.pingInterval, d.pingInterval)
        d.inactivity = duration(f.inactivityTimeout, d.inactivity)

        var plan = ClientPlan(
            target: target, settings: s, system: system, face: face, audio: audio, writers: writers, deadlines: d,
            replyTimeout: duration(f.replyTimeout, .seconds(30)), notices: notices,
            logFile: f.logFile ?? file.logFile, logLevel: f.logLevel ?? file.logLevel ?? "info",
            recordingsFolder: XDG.dataHome(environment) + "/livetalk/recordings")
        plan.tools = ToolPlan(servers: file.mcp, yesTools: f.yesTools)
        plan.tools.startDeadline = duration(f.mcpStartTimeout, plan.tools.startDeadline)
        return plan
    }

    static func duration(_ seconds: Double?, _ fallback: Duration) -> Duration {
        guard let seconds, seconds.isFinite, seconds > 0 else { return fallback }
        return .seconds(clamping: seconds)
    }
}

/// The XDG base directories (one place; they were computed three times).
public enum XDG {
    static func base(_ environment: [String: String], _ variable: String, _ fallback: String) -> String {
        if let v = environment[variable], !v.isEmpty { return v }
        return (environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()) + "/" + fallback
    }
    public static func configHome(_ environment: [String: String]) -> String { base(environment, "XDG_CONFIG_HOME", ".config") }
    public static func stateHome(_ environment: [String: String]) -> String { base(environment, "XDG_STATE_HOME", ".local/state") }
    public static func dataHome(_ environment: [String: String]) -> String { base(environment, "XDG_DATA_HOME", ".local/share") }
}
