import AudioCore
import Foundation
import LiveProtocol
import LiveSession

/// The panes that can have focus (Tab and 1–4).
public enum Pane: Int, CaseIterable, Sendable {
    case user = 1, model = 2, tools = 3, session = 4
    public var title: String {
        switch self {
        case .user: "You"
        case .model: "Model"
        case .tools: "Tools"
        case .session: "Session"
        }
    }
}

/// One entry of a transcript pane.
public struct TranscriptEntry: Sendable, Hashable {
    public var turn: Int
    public var text: String
    /// Still receiving fragments.
    public var live: Bool
    /// Cut off by a barge-in (and trimmed to what was heard).
    public var interrupted: Bool
    /// A thought summary of the model (shown dimmed, never spoken).
    public var thought = false
    /// The turn's numbered sources, worded (`Wording.citation`), shown under it.
    public var citations: [String] = []
}

/// One row of the tools pane.
public struct ToolRow: Sendable, Hashable {
    public enum Status: String, Sendable { case asking, running, done, failed, cancelled }
    public var id: String
    public var name: String
    public var args: String
    public var status: Status
    public var duration: Duration?
    public var detail: String
}

public enum MicState: String, Sendable { case live, muted, talking, off }

/// Everything the screen shows. Only `update` changes it.
public struct AppModel: Sendable {
    public var width = 80
    public var height = 24
    public var now = Date()
    public var theme: Theme = .monochrome

    public var modelName = ""
    public var endpointKind = "emulator"
    public var pushToTalk = false
    public var muted = false
    public var talking = false
    public var audioAvailable = true

    public var state: SessionState = .disconnected
    public var handleHeld = false
    public var connectedSince: Date?
    public var goAwayDeadline: Date?
    public var lastError: SessionFailure?
    public var lastWarning: String?
    public var reconnects = 0
    /// The turn cut off by the last barge-in, and when: INTERRUPTED shows for `interruptedShowSeconds`.
    public var interruptedTurn: Int?
    public var interruptedAt: Date?
    public static let interruptedShowSeconds = 2.0

    /// Bounded (issue 9): at most `maxPaneEntries` each; the oldest go first and are counted in `droppedEntries`.
    public var userEntries: [TranscriptEntry] = []
    public var modelEntries: [TranscriptEntry] = []
    /// Audio samples received per model turn (to trim an interrupted turn to what was heard); the last `turnsKept` turns.
    public var receivedSamples: [Int: Int] = [:]
    /// Bounded: at most `maxToolRows`; the oldest go first and are counted in `droppedToolRows`.
    public var tools: [ToolRow] = []
    /// Transcript entries dropped from the top of a pane (`.user`, `.model`) to stay within `maxPaneEntries`.
    public var droppedEntries: [Pane: Int] = [:]
    public var droppedToolRows = 0
    /// How the tool pane and line mode name a declared function (`server › tool` for MCP tools);
    /// a name not here is shown as it is.
    public var toolLabels: [String: String] = [:]
    /// Tool calls waiting for the user's y/n, oldest first (bounded by `maxToolRows`).
    public var approvals: [String] = []

    /// Scrollback of each transcript pane, in entries (one utterance or reply each).
    public static let maxPaneEntries = 5_000
    /// Rows of the tools pane.
    public static let maxToolRows = 200
    /// The longest text one transcript entry may grow to (fragments beyond it are cut; see `ScreenText`).
    public static let maxEntryCharacters = 20_000
    /// Model turns whose received-sample counts are kept.
    public static let turnsKept = 64

    public var mic = MeterReading.silent
    public var speaker = MeterReading.silent

    /// The text being typed; nil when not typing.
    public var input: String?
    /// What the text being typed is: a message, or the path of an image to send.
    public var inputPurpose: InputPurpose = .message
    public var focus: Pane = .model
    /// Lines scrolled up from the bottom, per pane.
    public var scroll: [Pane: Int] = [:]
    public var showHelp = false
    public var quitting = false
    /// Whether the terminal reports key releases (kitty protocol): Space is then hold-to-talk.
    public var keyReleases = false
    /// Hold-to-talk without key releases: when Space last arrived, and whether its auto-repeat
    /// shows it is being held (a tap toggles instead).
    public var lastSpaceAt: Date?
    public var holdingSpace = false
    /// A Space this soon after the previous one is the terminal's auto-repeat (typical initial
    /// repeat delays are 250–660 ms), so the key is held.
    public static let holdRepeatWindow = 0.8
    /// While held, this long with no repeat (repeats come every 30–50 ms) is the release.
    public static let holdReleaseAfter = 0.3
    /// Echo cancellation: on, and its live echo reduction in dB once measured (the session pane shows it).
    public var echoCancellation = false
    public var echoReductionDB: Int?
    /// Where the time of each turn goes (issue 11): the session pane shows the last turn and p50/p95.
    public var latency = LatencyBook()
    /// Which face shows this model (notices are worded for it).
    public var face: FaceKind = .screen
    /// The recording in progress (status line mark and elapsed time).
    public var recording: RecordingMark?

    /// Conversation progress, for line mode's pacing: text turns sent (and input WAVs streamed)
    /// that expect a reply, turns the model completed, tool calls running.
    public var repliesAwaited = 0
    public var turnsCompleted = 0
    public var toolsRunning = 0
    /// The model is sending a reply (audio, transcript or text) that has not completed.
    public var modelActive = false
    /// When the last session event arrived (by the tick clock).
    public var lastSessionEvent: Date?
    /// The session gave up or ended: nothing more will come.
    public var sessionOver = false
    /// A mode switch, reset or connect is under way: line mode waits for it before the next line.
    public var awaitingConnection = false

    public init() {}

    /// Every reply asked for has come, and nothing is running.
    public var answeredAll: Bool { turnsCompleted >= repliesAwaited && !modelActive && toolsRunning == 0 }

    /// The state to show: INTERRUPTED shows for `interruptedShowSeconds` after a barge-in.
    public var shownState: SessionState {
        if state == .connected, let at = interruptedAt, now.timeIntervalSince(at) < Self.interruptedShowSeconds {
            return .interrupted
        }
        return state
    }

    public var micState: MicState {
        if !audioAvailable { return .off }
        if muted { return .muted }
        if talking { return .talking }
        return .live
    }
}

public enum InputPurpose: Sendable, Equatable { case message, imagePath }

/// Everything that can happen to the UI, merged into one stream by the runtime.
public enum AppEvent: Sendable {
    case session(SessionEvent)
    case key(Key)
    case resize(width: Int, height: Int)
    case tick(Date)
    case levels(mic: MeterReading, speaker: MeterReading)
    /// A barge-in purged `turn` after `playedSamples` of its audio reached the speaker (nil: no speaker).
    case purged(turn: Int, playedSamples: Int?)
    /// Time to draw, if anything changed (the runtime's 30 Hz frame clock).
    case frame
    /// A user command from either face.
    case command(UserCommand)
    /// Line mode: a line whose turn has come, as parsed.
    case lineInput(LineInput)
    /// Line mode: a line read (queued by the runtime until its turn comes).
    case line(String)
    /// Line mode: standard input ended.
    case inputEnded
    /// Something to tell the user (audio lost/back, recording news, …).
    case notice(Notice)
    /// Recording started (with its mark) or stopped (nil), with what to tell the user.
    case recordingChanged(RecordingMark?, notice: Notice)
    /// The declared tools' labels (`server › tool`), when the tools are known or change.
    case toolLabels([String: String])
    /// A tool call waits for the user's yes or no (the screen asks in its tool pane).
    case approvalRequested(id: String)
    /// The MCP servers have listed their tools (or their start deadline passed): time to connect.
    case toolServersStarted
    /// The echo canceller's live echo reduction (nil: not measured or off).
    case echoReduction(dB: Int?)
    /// The user's input ended (local voice detection end, push-to-talk end, Enter).
    case userInputEnded(at: ContinuousClock.Instant)
    /// The first audio of a model turn arrived.
    case modelAudioStarted(turn: Int, at: ContinuousClock.Instant)
    /// The first sample of a model turn became audible.
    case modelAudible(turn: Int, at: ContinuousClock.Instant)
    /// SIGINT/SIGTERM/SIGHUP arrived.
    case signal
    /// The session's event stream ended.
    case sessionEnded

    /// Whether the event can change what is on screen (audio chunks only count samples).
    public var isVisible: Bool {
        switch self {
        case .session(.audio), .session(.usage), .session(.setupComplete), .session(.generationComplete), .frame,
             .line, .inputEnded, .signal, .sessionEnded, .modelAudioStarted, .toolServersStarted: false
        default: true
        }
    }
}

/// What the runtime must do after an update.
public enum Effect: Sendable, Equatable {
    case sendText(String)
    case startTalking
    case stopTalking
    case setMuted(Bool)
    /// Switch PTT ↔ VAD: reconnects with the resumption handle to apply.
    case switchMode(pushToTalk: Bool)
    case reset
    case disconnect
    case connect
    case quit
    /// Start or stop the recording.
    case toggleRecording
    /// Tell the user something (the face words it).
    case notice(Notice)
    /// Show the help (the screen toggles its overlay; line mode prints the commands).
    case showHelp
    /// A turn's latency is known: line mode prints it, the transcript keeps it.
    case latency(TurnLatency)
    /// The user's answer to a tool call that asked (y / n).
    case answerApproval(id: String, allowed: Bool)
    /// Read, re-encode and send this image file (at most one a second).
    case sendImage(path: String)
}

/// A recording in progress, as the status line shows it.
public struct RecordingMark: Sendable, Equatable {
    public var folder: String
    public var since: Date
    public init(folder: String, since: Date) {
        self.folder = folder
        self.since = since
    }
}
