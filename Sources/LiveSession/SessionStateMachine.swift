import Foundation

/// The connection states the user sees. Reconnecting shows as `.connecting` with an attempt count.
public enum SessionState: Hashable, Sendable, CustomStringConvertible {
    /// No socket and none wanted (start, or after the user disconnected).
    case disconnected
    /// Opening a socket or waiting for `setupComplete`; `attempt` 0 is a first connect.
    case connecting(attempt: Int)
    /// Setup complete; input flows.
    case connected
    /// The model's turn was cut off by the user; back to `.connected` at `turnComplete`.
    case interrupted
    /// We sent a close and wait for the socket to end.
    case closing
    /// Finished: `nil` after a clean quit, else the reason it could not go on.
    case closed(SessionFailure?)

    public var name: String {
        switch self {
        case .disconnected: "DISCONNECTED"
        case .connecting: "CONNECTING"
        case .connected: "CONNECTED"
        case .interrupted: "INTERRUPTED"
        case .closing: "CLOSING"
        case .closed: "CLOSED"
        }
    }

    public var description: String {
        switch self {
        case .connecting(let a) where a > 0: "CONNECTING (attempt \(a))"
        case .closed(let f?): "CLOSED: \(f)"
        default: name
        }
    }

    public var isLive: Bool { self == .connected || self == .interrupted }
}

/// Connection life-cycle as a plain struct: events in, actions out (STYLE.md 1–2).
/// The `Session` actor owns one and carries out the actions; tests drive it with no socket.
public struct SessionStateMachine: Sendable {
    /// Why we are closing, which decides what happens when the socket ends.
    public enum CloseIntent: Hashable, Sendable {
        case userDisconnect
        case reset
        case goAwayReconnect
        case quit
    }

    public enum Action: Hashable, Sendable {
        case openSocket(attempt: Int)
        case sendSetup(resumeWith: String?)
        /// Deliver input held while offline (after `setupComplete`).
        case flushPending
        case closeSocket(code: UInt16)
        case reconnect(after: Duration, attempt: Int)
        /// Stop playback of `turn` now, before anything else in the message is handled.
        case purgePlayback(turn: Int)
        /// Arm a timer; when it fires call `goAwayDeadlineReached()`.
        case armGoAwayDeadline(after: Duration)
        /// The session ended with a failure that needs the user.
        case fail(SessionFailure)
        /// Input that was not confirmed by a resumable handle must be forgotten (fresh session).
        case dropUnconfirmed
    }

    public private(set) var state: SessionState = .disconnected
    /// The latest handle that came with `resumable: true`.
    public private(set) var resumptionHandle: String?
    public private(set) var closeIntent: CloseIntent?
    public private(set) var goAwayPending = false
    public private(set) var modelTurnActive = false
    public private(set) var pendingToolCalls = 0
    public private(set) var attempt = 0
    /// The back-off whose timer may open the next socket; any other timer is stale (R22).
    public private(set) var armedAttempt: Int?
    /// Whether any connection of this session reached `setupComplete`; a session that never
    /// connected gives up sooner (a typo in --endpoint should not cost half a minute).
    public private(set) var everConnected = false
    public static let firstConnectAttempts = 3
    public var policy: ReconnectPolicy
    /// Safety margin before a goAway deadline at which we reconnect even mid-turn.
    public var goAwayMargin: Duration
    public var apiVersion: String
    public var model: String

    public init(policy: ReconnectPolicy = .init(), goAwayMargin: Duration = .milliseconds(750),
                apiVersion: String = "v1beta", model: String = "") {
        self.policy = policy
        self.goAwayMargin = goAwayMargin
        self.apiVersion = apiVersion
        self.model = model
    }

    // MARK: commands

    public mutating func connectRequested() -> [Action] {
        switch state {
        case .disconnected, .closed:
            attempt = 0
            armedAttempt = nil
            closeIntent = nil
            goAwayPending = false
            state = .connecting(attempt: 0)
            return [.openSocket(attempt: 0)]
        case .connecting, .connected, .interrupted, .closing:
            return []   // already on the way; tolerated so a double key press is harmless
        }
    }

    public mutating func disconnectRequested() -> [Action] { close(intent: .userDisconnect) }

    /// Reconnect now with the resumption handle (a new setup, e.g. PTT ↔ VAD, takes effect).
    public mutating func reconnectRequested() -> [Action] {
        switch state {
        case .connected, .interrupted, .connecting: return close(intent: .goAwayReconnect)
        case .disconnected, .closed: return connectRequested()
        case .closing: return []
        }
    }

    public mutating func quitRequested() -> [Action] {
        switch state {
        case .closed:
            return []   // keep the failure, if any: it is why we are quitting
        case .disconnected:
            state = .closed(nil)
            return []
        default:
            return close(intent: .quit)
        }
    }

    /// A fresh session: forget the handle and everything unconfirmed, then connect anew.
    public mutating func resetRequested() -> [Action] {
        resumptionHandle = nil
        modelTurnActive = false
        switch state {
        case .connected, .interrupted, .connecting:
            return [.dropUnconfirmed] + close(intent: .reset)
        case .closing:
            closeIntent = .reset
            return [.dropUnconfirmed]
        case .disconnected, .closed:
            return [.dropUnconfirmed] + connectRequested()
        }
    }

    private mutating func close(intent: CloseIntent) -> [Action] {
        armedAttempt = nil
        switch state {
        case .connected, .interrupted, .connecting:
            state = .closing
            closeIntent = intent
            return [.closeSocket(code: CloseCodes.normal)]
        case .closing:
            // Already closing: a stronger intent wins (quit over disconnect over reset over goAway):
            // `d` pressed while a reset is still closing the old socket stays disconnected.
            if intent == .quit || closeIntent == .goAwayReconnect || (intent == .userDisconnect && closeIntent == .reset) {
                closeIntent = intent
            }
            return []
        case .disconnected, .closed:
            return []
        }
    }

    // MARK: transport events

    public mutating func socketOpened() -> [Action] {
        switch state {
        case .connecting:
            return [.sendSetup(resumeWith: resumptionHandle)]
        case .closing:
            return [.closeSocket(code: CloseCodes.normal)]   // user gave up while the socket was opening
        case .connected, .interrupted, .disconnected, .closed:
            // Unreachable through `Session` (a generation guard drops stale sockets); never a
            // trap: a stray socket is simply not used.
            return []
        }
    }

    public mutating func setupCompleted() -> [Action] {
        guard case .connecting = state else { return [] }   // late setupComplete after a close: ignore
        state = .connected
        attempt = 0
        everConnected = true
        goAwayPending = false
        modelTurnActive = false
        return [.flushPending]
    }

    /// The socket could not be opened (refused, DNS, TLS, upgrade refused).
    public mutating func connectFailed(failure: SessionFailure, retryable: Bool, random: Double) -> [Action] {
        if case .closing = state { return socketClosed(code: CloseCodes.abnormal, reason: "", random: random) }
        guard retryable else {
            state = .closed(failure)
            return [.fail(failure)]
        }
        return retry(lastFailure: failure, random: random)
    }

    public mutating func socketClosed(code: UInt16, reason: String, random: Double) -> [Action] {
        pendingToolCalls = 0
        modelTurnActive = false
        switch state {
        case .closing:
            let intent = closeIntent
            closeIntent = nil
            switch intent {
            case .userDisconnect?, nil:
                state = .disconnected
                return []
            case .quit?:
                state = .closed(nil)
                return []
            case .reset?:
                state = .connecting(attempt: 0)
                attempt = 0
                return [.openSocket(attempt: 0)]
            case .goAwayReconnect?:
                goAwayPending = false
                state = .connecting(attempt: 0)
                attempt = 0
                return [.openSocket(attempt: 0)]
            }
        case .connected, .interrupted, .connecting:
            if CloseCodes.classify(code) == .fatal {
                let f = CloseCodes.failure(code: code, reason: reason, apiVersion: apiVersion, model: model)
                state = .closed(f)
                return [.fail(f)]
            }
            let headline = code == CloseCodes.abnormal ? "connection lost" : "connection closed (\(code))"
            return retry(lastFailure: SessionFailure(code: code, headline: headline, reason: .connectionLost(detail: reason)),
                         random: random)
        case .disconnected, .closed:
            return []   // a late close of an abandoned socket
        }
    }

    private mutating func retry(lastFailure: SessionFailure, random: Double) -> [Action] {
        attempt += 1
        let limit = everConnected ? policy.maxAttempts : min(policy.maxAttempts, Self.firstConnectAttempts)
        if attempt > limit {
            let f = SessionFailure(code: lastFailure.code,
                                   headline: "gave up after \(limit) reconnect attempts: \(lastFailure.headline)",
                                   reason: lastFailure.reason, gaveUpAfter: limit)
            state = .closed(f)
            return [.fail(f)]
        }
        state = .connecting(attempt: attempt)
        armedAttempt = attempt
        return [.reconnect(after: policy.delay(attempt: attempt, random: random), attempt: attempt)]
    }

    /// The back-off timer fired. Only the armed one opens a socket, once.
    public mutating func reconnectTimerFired(attempt: Int) -> [Action] {
        guard case .connecting(let a) = state, a == attempt, armedAttempt == attempt else { return [] }   // superseded
        armedAttempt = nil
        return [.openSocket(attempt: attempt)]
    }

    // MARK: server messages

    public mutating func receivedResumptionUpdate(handle: String?, resumable: Bool) -> [Action] {
        // After a reset the old socket may still deliver a handle: it belongs to the old session.
        guard closeIntent != .reset else { return [] }
        if resumable, let handle, !handle.isEmpty { resumptionHandle = handle }
        return []
    }

    /// Reconnect now if at a safe point, else when the turn ends or just before the deadline.
    public mutating func receivedGoAway(timeLeft: Duration) -> [Action] {
        guard state.isLive else { return [] }
        goAwayPending = true
        if atSafePoint { return close(intent: .goAwayReconnect) }
        return [.armGoAwayDeadline(after: max(.zero, timeLeft - goAwayMargin))]
    }

    public mutating func goAwayDeadlineReached() -> [Action] {
        guard goAwayPending, state.isLive else { return [] }
        return close(intent: .goAwayReconnect)
    }

    public mutating func modelOutputStarted() { modelTurnActive = true }

    public mutating func interrupted(turn: Int) -> [Action] {
        guard state.isLive else { return [] }
        state = .interrupted
        return [.purgePlayback(turn: turn)]
    }

    public mutating func turnCompleted() -> [Action] {
        modelTurnActive = false
        if state == .interrupted { state = .connected }
        if goAwayPending, atSafePoint, state.isLive { return close(intent: .goAwayReconnect) }
        return []
    }

    public mutating func toolCallsStarted(_ n: Int) { pendingToolCalls += n }

    public mutating func toolCallsEnded(_ n: Int) -> [Action] {
        pendingToolCalls = max(0, pendingToolCalls - n)
        if goAwayPending, atSafePoint, state.isLive { return close(intent: .goAwayReconnect) }
        return []
    }

    public var atSafePoint: Bool { !modelTurnActive && pendingToolCalls == 0 }
}
