import Foundation

/// How a WebSocket close code is handled (PROTOCOL.md §6).
public enum CloseClass: Equatable, Sendable {
    /// Reconnect (with the resumption handle) after a back-off.
    case retryable
    /// Stop; show the headline and hint.
    case fatal
}

/// A session that cannot go on, as facts: a short headline (no flags, no keys), what kind of
/// failure it is, and whether reconnecting gave up. Each face words the hint (TerminalUI's
/// `Wording`): the screen names keys, line mode names commands and flags.
public struct SessionFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// 1008 "models/… is not found for API version …".
        case modelNotFound(apiVersion: String, model: String)
        /// The resumption handle was refused ("session not found").
        case handleExpired
        case keyRefused
        case locationUnsupported
        /// activityStart/End sent while the server's activity detection is on.
        case activityWithServerVAD
        /// 1007: a message the server calls invalid.
        case invalidMessage
        /// 1008 for another reason.
        case sessionRefused
        case messageTooLarge
        /// Another fatal close code.
        case closed
        /// A retryable close (the socket dropped, 1011, 1013 …), with the server's reason.
        case connectionLost(detail: String)
        case unreachable(host: String)
        case upgradeRefused
        case tls
        case timedOut
        case configuration
    }

    public var code: UInt16?
    public var headline: String
    public var reason: Reason
    /// Reconnecting gave up after this many attempts (the headline says so too).
    public var gaveUpAfter: Int?

    public init(code: UInt16?, headline: String, reason: Reason, gaveUpAfter: Int? = nil) {
        self.code = code
        self.headline = headline
        self.reason = reason
        self.gaveUpAfter = gaveUpAfter
    }

    public var description: String { headline }
}

public enum CloseCodes {
    public static let normal: UInt16 = 1000
    public static let abnormal: UInt16 = 1006

    public static func classify(_ code: UInt16) -> CloseClass {
        switch code {
        case 1002, 1003, 1007, 1008, 1009, 1010: .fatal
        default: .retryable   // 1000 from the server, 1001, 1006, 1011–1014, private codes
        }
    }

    /// Classifies a fatal close. The server's reason is only known as text, so this is the one
    /// place that reads it (the Live API sends no structured error on close).
    public static func failure(code: UInt16, reason: String, apiVersion: String, model: String) -> SessionFailure {
        let r = reason.lowercased()
        let short = reason.isEmpty ? "" : ": \(reason.prefix(90))"
        if r.contains("not found for api version") || (r.contains("models/") && r.contains("not found")) {
            return SessionFailure(code: code, headline: "model not found for \(apiVersion)",
                                  reason: .modelNotFound(apiVersion: apiVersion, model: model))
        }
        if r.contains("session not found") {
            return SessionFailure(code: code, headline: "the resumption handle is no longer valid", reason: .handleExpired)
        }
        if r.contains("api key") || r.contains("unregistered callers") || r.contains("permission") {
            return SessionFailure(code: code, headline: "the server refused the API key\(short)", reason: .keyRefused)
        }
        if r.contains("location is not supported") {
            return SessionFailure(code: code, headline: "the API is not available from this location", reason: .locationUnsupported)
        }
        if r.contains("activity") && r.contains("automatic") {
            return SessionFailure(code: code, headline: "push-to-talk messages sent while server VAD is on",
                                  reason: .activityWithServerVAD)
        }
        switch code {
        case 1007:
            return SessionFailure(code: code, headline: "the server rejected a message as invalid\(short)", reason: .invalidMessage)
        case 1008:
            return SessionFailure(code: code, headline: "the server refused the session\(short)", reason: .sessionRefused)
        case 1009:
            return SessionFailure(code: code, headline: "a message was too large for the server", reason: .messageTooLarge)
        default:
            return SessionFailure(code: code, headline: "connection closed with code \(code)\(short)", reason: .closed)
        }
    }
}

/// Exponential back-off with jitter, capped, with a maximum number of attempts.
public struct ReconnectPolicy: Sendable, Hashable {
    public var initialDelay: Duration
    public var maxDelay: Duration
    public var maxAttempts: Int
    /// Fraction of the delay that is randomised (0 = none, 0.5 = ±25 %… see `delay`).
    public var jitter: Double

    public init(initialDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(8),
                maxAttempts: Int = 8, jitter: Double = 0.3) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.maxAttempts = maxAttempts
        self.jitter = jitter
    }

    /// The delay before `attempt` (1-based); `random` in [0, 1) makes the jitter deterministic in tests.
    public func delay(attempt: Int, random: Double) -> Duration {
        let base = initialDelay * Int(1 << min(max(attempt - 1, 0), 20))
        let capped = min(base, maxDelay)
        let factor = 1 - jitter + jitter * random   // in [1 - jitter, 1)
        return capped * factor
    }
}
