import Foundation
import LiveProtocol
import LiveSession

/// Which face words a fact: hints that name a key are for the screen, hints that name a slash
/// command or a flag are for line mode.
public enum FaceKind: Sendable { case screen, line }

/// Every user-facing wording of session events and notices, for both faces, in one place.
public enum Wording {
    /// Line mode's line for a session event (nil: nothing to print). Peer text is sanitised.
    public static func line(_ e: SessionEvent, endpointKind: String) -> String? {
        switch e {
        case .state(let s, _):
            var line = "[state] \(clean(s.description, limit: 2_000))"
            if s == .connected { line += " (\(endpointKind))" }
            if case .closed(let f?) = s, let remedy = f.remedy { line += " — \(self.remedy(remedy, face: .line))" }
            return line
        case .turn(let t):
            return "\(t.role == .user ? "you" : "model")> \(clean(t.text))\(t.interrupted ? " [interrupted]" : "")"
        case .tool(let a):
            switch a {
            case .started(_, let name, let args, let nb):
                return "[tool] \(clean(name, limit: 200)) running\(nb ? " (background)" : "") \(clean(args?.description ?? "{}", limit: 2_000))"
            case .finished(_, let name, let result, let d):
                return "[tool] \(clean(name, limit: 200)) done in \(duration(d)) → \(clean(result.description, limit: 2_000))"
            case .failed(_, let name, let err, let d):
                return "[tool] \(clean(name, limit: 200)) failed in \(duration(d)): \(clean(err, limit: 2_000))"
            case .cancelled(_, let name, let d):
                return "[tool] \(clean(name, limit: 200)) cancelled after \(duration(d))"
            }
        case .goAway(let left): return "[state] \(goAway(left))"
        case .replayed(let n): return "[state] delivered \(n) held input message(s) after reconnecting"
        case .purge: return "[state] interrupted"
        case .inputDropped, .warning: return warning(e).map { "[warn] \($0)" }
        default: return nil
        }
    }

    /// The warning an event carries, as both faces show it (the screen in its session pane).
    public static func warning(_ e: SessionEvent) -> String? {
        switch e {
        case .warning(let w): clean(w, limit: 2_000)
        case .inputDropped(let n): "input buffer full: dropped \(n) old audio chunk(s)"
        default: nil
        }
    }

    public static func goAway(_ left: Duration) -> String {
        "server will close in \(duration(left)); reconnecting before then"
    }

    /// A notice for `face`, without a tag.
    public static func notice(_ n: Notice, face: FaceKind) -> String {
        switch n {
        case .talkNeedsPushToTalk:
            face == .screen ? "push-to-talk is off: press v to switch to it" : "push-to-talk is off: /mode ptt switches to it"
        case .notConnected:
            face == .screen ? "not connected: press d to connect" : "not connected: /connect first"
        case .unknownCommand(let c): "unknown command \(clean(c, limit: 80)): /help lists them (// sends a literal /)"
        case .badArgument(let c, let v, let expected): "\(c) \(clean(v, limit: 80)): use \(expected)"
        case .recordingStarted(let folder): "recording to \(clean(folder, limit: 500))"
        case .recordingStopped(let folder, let s): "recording stopped (\(String(format: "%.1f", s)) s) in \(clean(folder, limit: 500))"
        case .recordingFailed(let reason): "cannot record: \(clean(reason, limit: 500))"
        case .audioLost(let why):
            "audio lost (\(clean(why, limit: 300))); the conversation goes on in text, retrying every second"
        case .audioBack(let what): "audio: \(clean(what, limit: 300)) is back"
        case .noReply(let after): "no reply from the server within \(duration(after)) of the last input; giving up"
        }
    }

    /// Line mode's tag for a notice.
    public static func tag(_ n: Notice) -> String {
        switch n {
        case .recordingStarted, .recordingStopped: "[record]"
        case .audioLost, .audioBack: "[audio]"
        case .noReply, .recordingFailed, .unknownCommand, .badArgument: "[warn]"
        case .talkNeedsPushToTalk, .notConnected: "[info]"
        }
    }

    /// What the user can do about a failure, in the words of `face`.
    public static func remedy(_ r: SessionFailure.Remedy, face: FaceKind) -> String {
        switch (r, face) {
        case (.newSession, .screen): "press r for a new session"
        case (.newSession, .line): "/reset starts a new session"
        case (.reconnect, .screen): "press d to try again"
        case (.reconnect, .line): "/connect tries again"
        }
    }

    /// A failure's hint for `face`: the core's hint plus the face's remedy.
    public static func hint(_ f: SessionFailure, face: FaceKind) -> String {
        let parts = [f.hint, f.remedy.map { remedy($0, face: face) } ?? ""].filter { !$0.isEmpty }
        return clean(parts.joined(separator: "; "), limit: 500)
    }

    public static func duration(_ d: Duration) -> String {
        let ms = d.milliseconds
        return ms < 1000 ? "\(ms) ms" : String(format: "%.1f s", Double(ms) / 1000)
    }

    /// Everything printed comes from the peer in part: no escape sequences, no control
    /// characters, one line per event, bounded length.
    public static func clean(_ s: String, limit: Int = 32_000) -> String {
        ScreenText.sanitize(s, limit: limit).replacingOccurrences(of: "\n", with: " ")
    }
}
