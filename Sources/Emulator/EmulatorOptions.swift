// Emulator — `livetalk serve`: an offline stand-in for the Gemini Live API that speaks the same
// wire protocol (PROTOCOL.md). Owns the Hummingbird server, one `EmulatorBrain` per connection,
// the resumption store, ephemeral tokens and fault injection. Never imports UI or audio devices.
import Foundation

/// Everything `livetalk serve` can be told.
public struct EmulatorOptions: Sendable {
    public var host: String = "127.0.0.1"
    /// 0 picks a free port (`EmulatorServer.start` returns the one chosen).
    public var port: Int = 0
    public var tlsCertFile: String?
    public var tlsKeyFile: String?
    /// When set, developer and Vertex paths need this key (header, `?key=` or Bearer).
    public var requireKey: String?
    public var connectionLifetime: Duration = .seconds(600)
    public var goAwayBefore: Duration = .seconds(60)
    /// How the emulator speaks and listens.
    public var speech: EmulatorSpeech = .espeak
    /// Length of one audio chunk of a reply.
    public var chunkMilliseconds: Int = 40
    /// Speed of the tone voice (`--speech tones`), characters per second.
    public var charactersPerSecond: Double = 16
    public var faults = FaultPlan()

    // MARK: limits (issue 9). Each bound says what happens when it is reached.

    /// Most WebSocket sessions at once. Connection N+1 is upgraded and closed at once with 1013
    /// ("try again later") and a reason; sessions already open carry on. Raw TCP connections
    /// (handshakes, token requests) may exceed it by `tcpSlack`; beyond that the oldest one that
    /// has not upgraded is closed to make room (all sessions: the new connection is closed on accept).
    public var maxConnections: Int = 64
    /// A connection that has not sent `setup` this long after it opened is closed: 1008 with a
    /// reason once upgraded, a plain close before (a socket that never finishes its HTTP upgrade).
    public var idleTimeout: Duration = .seconds(10)
    /// How long a TCP connection may take to finish its HTTP request or WebSocket upgrade before
    /// it is closed; nil means `idleTimeout`. Separate so a test can give a slow handshake (a
    /// loaded machine) room while it checks the short setup deadline that starts after it.
    public var handshakeTimeout: Duration?
    /// Longest text taken from one `realtimeInput.text` or `clientContent` turn, in characters;
    /// the rest is dropped (counted in `Stats.textTruncations`). Replies are capped the same way.
    public var maxTextCharacters: Int = 2000
    /// Resumption snapshots kept at most (least recently used evicted, counted); only the latest
    /// handle of each session is kept.
    public var maxSnapshots: Int = 1000
    /// A resumption handle older than this no longer resumes ("session not found").
    public var resumptionTTL: Duration = .seconds(2 * 3600)
    /// Ephemeral tokens kept at most; minting beyond it (after purging expired ones) answers 429.
    public var maxTokens: Int = 1000
    /// Utterances recognised by pocketsphinx at once across the server (two decoders each, about
    /// 121 MB). An utterance beyond it is transcribed as "[speech N s]" (counted).
    public var maxListeners: Int = EmulatorOptions.defaultMaxListeners
    /// Longest utterance: at this length the emulator ends it as if silence followed (VAD) or as
    /// if `activityEnd` came (push-to-talk); further audio until the next start is ignored.
    public var maxUtterance: Duration = .seconds(30)
    /// History entries a session keeps (oldest dropped); bounds snapshots and replies.
    public var maxHistoryEntries: Int = 200
    /// Browser origins allowed to open a WebSocket besides loopback ones (`http://localhost:…`,
    /// `http://127.0.0.1:…`, `http://[::1]:…`). A request without `Origin` (any non-browser
    /// client) is always allowed; any other origin gets HTTP 403.
    public var allowedOrigins: Set<String> = []

    public init() {}

    /// Slack for TCP connections over `maxConnections` (see there).
    public static let tcpSlack = 16

    /// Default `maxListeners`: 4 per core (at least 4, at most 64). One utterance costs about 0.2
    /// of a core per second of speech (two pocketsphinx decoders), and `livetalk-bench emulator`
    /// held 8 speaking sessions in real time on a quiet 2-core machine: more listeners than that
    /// would slow every utterance down instead of turning the extra ones into "[speech N s]".
    public static let defaultMaxListeners = min(64, max(4, 4 * ProcessInfo.processInfo.activeProcessorCount))
}

/// Faults to inject for tests. Each fires once per server (the first connection that reaches it),
/// so a resumed connection then works normally.
public struct FaultPlan: Sendable, Hashable {
    /// Drop the TCP connection (no close frame) this long after `setupComplete`.
    public var dropAfter: Duration?
    /// Drop the connection in the middle of the Nth reply of the server (1-based).
    public var dropMidReply: Int?
    /// Stop sending for this long in the middle of the first reply.
    public var stall: Duration?
    /// Send a frame that is not JSON right after `setupComplete`.
    public var garbageFrame = false
    /// Send a top-level message nobody knows right after `setupComplete`.
    public var unknownMessage = false
    /// Send one message of about this many bytes right after `setupComplete`.
    public var oversizeFrameBytes: Int?
    /// Close with this code (and reason) `closeAfter` after `setupComplete`.
    public var closeCode: UInt16?
    public var closeReason: String = "Internal error encountered."
    public var closeAfter: Duration = .zero

    public init() {}

    public var isEmpty: Bool { self == FaultPlan() }
}

/// `espeak`: espeak-ng speaks the replies and pocketsphinx transcribes the user's speech.
/// `tones`: a tone per word and "[speech 1.2 s]" for any sound (no speech libraries used).
public enum EmulatorSpeech: String, Sendable, CaseIterable {
    case espeak
    case tones
}
