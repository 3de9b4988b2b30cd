// Emulator — `livetalk serve`: an offline stand-in for the Gemini Live API that speaks the same
// wire protocol (PROTOCOL.md). Owns the Hummingbird server, one `EmulatorBrain` per connection,
// the resumption store, ephemeral tokens and fault injection. Never imports UI or audio devices.
import Foundation

/// Everything `livetalk serve` can be told.
public struct EmulatorOptions: Sendable {
    public var host: String = "127.0.0.1"
    /// 0 picks a free port (see `EmulatorServer.port`).
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

    public init() {}
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
