import Foundation
import LiveProtocol

/// The vocabulary of `TurnMachine`: what goes in (`Event`), what comes out (`Action`), and the
/// values they carry. An action answered by an event says so (`admit` → `admitted`/`refused`).
extension TurnMachine {
    public enum Event: Sendable {
        /// The connection is open: `setup` must come within `setupTimeout` (R6).
        case opened(setupTimeout: Duration)
        /// One whole client frame (text or binary).
        case received(Data)
        /// The answer to `admit`: the setup passed the key, token, model and handle checks.
        case admitted(Admission)
        /// The answer to `admit`: the setup is refused; the connection closes with this code.
        case refused(code: UInt16, reason: String)
        /// The answer to `fireStartFaults`: the faults that fire on this connection (each fires
        /// once per server).
        case startFaults(Set<StartFault>)
        /// The answer to `reserveCallNumbers`: server-wide call numbers for the turn's calls.
        case callNumbers([Int], turn: Int)
        /// Words the recogniser is sure of so far in an utterance.
        case partialHeard(String, utterance: Int)
        /// The answer to `finishHearing`.
        case heard(Heard)
        /// The reply of `turn` has been spoken to its end.
        case spoken(turn: Int)
        case timerFired(TimerID)
        /// A fault (`dropMidReply`) ends the connection with no close frame now.
        case dropNow
        /// The peer went away; nothing more is sent.
        case connectionClosed
    }

    public enum Action: Sendable, Hashable {
        /// Send one server message (`asText`: as a text frame, as Google sometimes does).
        case send(ServerMessage, asText: Bool)
        /// Send bytes as they are (faults: a garbage frame, a message from a newer server).
        case sendRaw(Data)
        /// Check the setup's key, token, model and resumption handle; answer `admitted` or `refused`.
        case admit(Setup)
        /// Ask which of these once-per-server faults fire; answer `startFaults`.
        case fireStartFaults([StartFault])
        /// Take `count` server-wide call numbers (never reused, not even after a resume); answer `callNumbers`.
        case reserveCallNumbers(count: Int, turn: Int)
        /// Keep the conversation as it stands under a new handle (the resumption store).
        case storeSnapshot(handle: String, history: [HistoryEntry], session: Int, openCalls: [String: String])
        /// Start recognising utterance `utterance` with the phrases of `context`.
        case listen(utterance: Int, ListenContext)
        /// 16 kHz audio of the utterance, in order.
        case hear(utterance: Int, [Int16])
        /// The utterance ended after `seconds` of speech; answer `heard`.
        case finishHearing(utterance: Int, seconds: Double)
        /// Drop the utterance (a newer one began, or the connection ended).
        case stopHearing(utterance: Int)
        /// Speak the reply of a turn (synthesis and pacing); answer `spoken` when it is all out.
        case speak(Reply)
        /// Stop speaking the reply of `turn` (barge-in, or the connection ended).
        case stopSpeaking(turn: Int)
        /// Fire `timerFired(id)` when the clock reaches `at`.
        case startTimer(TimerID, at: Duration)
        /// Count something in the server's stats.
        case tally(Tally)
        /// Close with a close frame; `reason` is at most 123 bytes.
        case close(code: UInt16, reason: String)
        /// End the connection with no close frame (the client sees 1006).
        case drop
    }

    public enum TimerID: Sendable, Hashable {
        /// R6: `setup` has not come.
        case setupDeadline
        /// `goAwayBefore` before the end of the connection's lifetime.
        case goAway
        /// The connection's lifetime is over.
        case lifetimeEnd
        /// Faults: drop the connection / close it with the planned code.
        case dropFault
        case closeFault
    }

    /// Faults that fire once per server, when a session starts (the raw value is the name in
    /// `Stats.faultsFired`).
    public enum StartFault: String, Sendable, Hashable, CaseIterable {
        case garbageFrame, unknownMessage, oversizeFrame, dropAfter, closeCode
    }

    /// What the machine counts in `EmulatorState.Stats`.
    public enum Tally: Sendable, Hashable {
        case clientMessage, setup, resume, idleClose, goAwaySent, lifetimeClose, badAudioRate
        case textTruncation, replyTruncation, utteranceCut, cancellationSent, lateToolResponse, queueOverflow
        case historyDropped(Int)
        case toolCallsSent(Int)
    }

    /// An admitted setup: the session's setup (an ephemeral token's constraints applied), its
    /// number, and what a resumption handle brought back.
    public struct Admission: Sendable {
        public var setup: Setup
        public var session: Int
        public var resumed: Bool
        public var history: [HistoryEntry]
        /// NON_BLOCKING calls still awaiting their response (id → name).
        public var openCalls: [String: String]
        public init(setup: Setup, session: Int, resumed: Bool = false, history: [HistoryEntry] = [], openCalls: [String: String] = [:]) {
            self.setup = setup
            self.session = session
            self.resumed = resumed
            self.history = history
            self.openCalls = openCalls
        }
    }

    /// A recognised utterance: `text` nil or empty when no words were found (then the turn is
    /// "[speech 1.2 s]"); `remainder` is what the final input transcription adds to the partials.
    public struct Heard: Sendable {
        public var utterance: Int
        public var text: String?
        public var remainder: String
        public var seconds: Double
        public init(utterance: Int, text: String?, remainder: String, seconds: Double) {
            self.utterance = utterance
            self.text = text
            self.remainder = remainder
            self.seconds = seconds
        }
    }

    /// What the recogniser listens for in this session (the engine turns it into a grammar).
    public struct ListenContext: Sendable, Hashable {
        public var declarations: [FunctionDeclaration]
        public var search: Bool
        public var images: Bool
    }

    /// A reply to speak.
    public struct Reply: Sendable, Hashable {
        public var turn: Int
        public var text: String
        /// TEXT modality: the words go out as text parts, with no audio.
        public var asText: Bool
        /// Whether `outputTranscription` goes with the audio.
        public var transcribe: Bool
        public var voiceName: String?
        public var languageCode: String?
    }

    /// Where the connection is.
    public enum Phase: Sendable, Hashable {
        /// Waiting for the first client message, which must be `setup`.
        case awaitingSetup
        /// `setup` came; the connection checks its key, token, model and handle (`admit`).
        case admitting
        /// `setupComplete` is out; input flows.
        case live
        /// Closed, dropped, or the peer went away: nothing more is sent.
        case closed
    }
}
