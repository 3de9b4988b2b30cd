import Foundation

/// How a WebSocket close code is handled (PROTOCOL.md §6).
public enum CloseClass: Equatable, Sendable {
    /// Reconnect (with the resumption handle) after a back-off.
    case retryable
    /// Stop; show the headline and hint.
    case fatal
}

/// A session that cannot go on, worded for the user: one headline, one hint. Detail goes to the log.
public struct SessionFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// What the user can do in the client about a failure; each face words it (a key, a command).
    public enum Remedy: Sendable, Hashable {
        /// Start a fresh session (nothing resumed).
        case newSession
        /// Try to connect again.
        case reconnect
    }

    public var code: UInt16?
    public var headline: String
    /// What to check outside the client (flags, keys, network); may be empty.
    public var hint: String
    public var remedy: Remedy?

    public init(code: UInt16?, headline: String, hint: String, remedy: Remedy? = nil) {
        self.code = code
        self.headline = headline
        self.hint = hint
        self.remedy = remedy
    }

    public var description: String { hint.isEmpty ? headline : "\(headline) — \(hint)" }
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

    /// Words a fatal close for the user. `apiVersion` and `model` make the hint concrete.
    public static func failure(code: UInt16, reason: String, apiVersion: String, model: String) -> SessionFailure {
        let r = reason.lowercased()
        let short = reason.isEmpty ? "" : ": \(reason.prefix(90))"
        if r.contains("not found for api version") || (r.contains("models/") && r.contains("not found")) {
            return SessionFailure(code: code, headline: "model not found for \(apiVersion)",
                                  hint: "try --api-version v1alpha or another --model (now \(model))")
        }
        if r.contains("session not found") {
            return SessionFailure(code: code, headline: "the resumption handle is no longer valid",
                                  hint: "", remedy: .newSession)
        }
        if r.contains("api key") || r.contains("unregistered callers") || r.contains("permission") {
            return SessionFailure(code: code, headline: "the server refused the API key\(short)",
                                  hint: "check GEMINI_API_KEY / GOOGLE_API_KEY or the config file's api_key")
        }
        if r.contains("location is not supported") {
            return SessionFailure(code: code, headline: "the API is not available from this location",
                                  hint: "use Vertex AI (--vertex --project P --location L) or the emulator")
        }
        if r.contains("activity") && r.contains("automatic") {
            return SessionFailure(code: code, headline: "push-to-talk messages sent while server VAD is on",
                                  hint: "use --ptt to disable automatic activity detection")
        }
        switch code {
        case 1007:
            return SessionFailure(code: code, headline: "the server rejected a message as invalid\(short)",
                                  hint: "check --model, --api-version and the setup options in the config")
        case 1008:
            return SessionFailure(code: code, headline: "the server refused the session\(short)",
                                  hint: "check the key, --model and --api-version")
        case 1009:
            return SessionFailure(code: code, headline: "a message was too large for the server", hint: "")
        default:
            return SessionFailure(code: code, headline: "connection closed with code \(code)\(short)", hint: "")
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
