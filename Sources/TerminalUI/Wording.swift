import Foundation
import LiveProtocol
import LiveSession

/// Which face words a fact: hints that name a key are for the screen, hints that name a slash
/// command or a flag are for line mode.
public enum FaceKind: Sendable { case screen, line }

/// Every user-facing wording of session events and notices, for both faces, in one place.
public enum Wording {
    /// Line mode's line for a session event (nil: nothing to print). Peer text is sanitised.
    public static func line(_ e: SessionEvent, endpointKind: String, toolLabels: [String: String] = [:]) -> String? {
        switch e {
        case .state(let s, _):
            var line = "[state] \(clean(s.description, limit: 2_000))"
            if s == .connected { line += " (\(endpointKind))" }
            if case .closed(let f?) = s {
                let h = hint(f, face: .line)
                if !h.isEmpty { line += " — \(h)" }
            }
            return line
        case .turn(let t):
            let line = "\(t.role == .user ? "you" : "model")> \(clean(t.text))\(t.interrupted ? " [interrupted]" : "")"
            return ([line] + t.citations.map { "  " + citation($0) }).joined(separator: "\n")
        case .thought(let t, _):
            return "[thought] \(clean(t))"
        case .turnComplete(_, _, let reason?):
            return turnEnded(reason).map { "[warn] \($0)" }
        case .tool(let a):
            func label(_ name: String) -> String { toolLabels[name] ?? name }
            switch a {
            case .started(_, let name, let args, let nb):
                return "[tool] \(clean(label(name), limit: 200)) running\(nb ? " (background)" : "") \(clean(args?.description ?? "{}", limit: 2_000))"
            case .finished(_, let name, let result, let d):
                return "[tool] \(clean(label(name), limit: 200)) done in \(duration(d)) → \(clean(result.description, limit: 2_000))"
            case .failed(_, let name, let err, let d):
                return "[tool] \(clean(label(name), limit: 200)) failed in \(duration(d)): \(clean(err, limit: 2_000))"
            case .cancelled(_, let name, let d):
                return "[tool] \(clean(label(name), limit: 200)) cancelled after \(duration(d))"
            }
        case .goAway(let left): return "[state] \(goAway(left))"
        case .replayed(let n): return "[state] delivered \(n) held input message(s) after reconnecting"
        case .purge: return "[state] interrupted"
        case .inputDropped, .warning: return warning(e).map { "[warn] \($0)" }
        default: return nil
        }
    }

    /// One numbered source under a model turn: `[1] Title — example.org`.
    public static func citation(_ c: Citation) -> String {
        let title = clean(c.title, limit: 200)
        let domain = clean(c.domain, limit: 200)
        return "[\(c.number)] \(title)" + (domain.isEmpty || domain == title ? "" : " — \(domain)")
    }

    /// Why a turn ended early, when the server says it was refused or blocked
    /// (`turnCompleteReason`; nil for a normal end or `NEED_MORE_INPUT`).
    public static func turnEnded(_ reason: String) -> String? {
        guard TurnCompleteReason(rawValue: reason).isBlocked else { return nil }
        return "the model's turn ended early: \(clean(reason, limit: 80))"
    }

    /// The input line's prompt while it asks for an image's path.
    public static let imagePrompt = "image (JPEG or PNG path)> "

    /// What marks a thought in the model pane (the line face tags it `[thought]`).
    public static let thoughtPrefix = "(thinking) "

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
        case .echoCancellerOff(let why):
            face == .screen ? "echo cancellation is off (\(clean(why, limit: 300))): use headphones"
                            : "echo cancellation is off (\(clean(why, limit: 300))): use headphones, or --aec off to silence this"
        case .noReply(let after): "no reply from the server within \(duration(after)) of the last input; giving up"
        case .toolServersStarting(let servers):
            "starting MCP server\(servers.count == 1 ? "" : "s") \(clean(servers.joined(separator: ", "), limit: 300)); "
                + "connecting once \(servers.count == 1 ? "it lists its" : "they list their") tools"
        case .toolServerReady(let server, let n): "MCP server \(clean(server, limit: 64)): \(n) tool\(n == 1 ? "" : "s") ready"
        case .toolServerDown(let server, let reason, let retry):
            "MCP server \(clean(server, limit: 64)) \(clean(reason, limit: 300))"
                + (retry.map { "; restarting in \(duration($0))" } ?? "") + " (its stderr is in the log)"
        // The screen's session pane is narrow: it names the file, not its whole path (a long
        // temporary path pushed the name out of the pane); line mode has room for the path.
        case .imageSent(let path, let w, let h, let bytes):
            "sent \(clean(face == .screen ? fileName(path) : path, limit: 300)) as a \(w)×\(h) JPEG (\(max(1, bytes / 1024)) KB)"
        case .imageFailed(let path, let why):
            face == .screen ? "cannot send \(clean(fileName(path), limit: 300)): \(clean(why, limit: 300)) (o to try another)"
                            : "cannot send \(clean(path, limit: 300)): \(clean(why, limit: 300)); /image PATH takes a JPEG or PNG file"
        }
    }

    /// Line mode's tag for a notice.
    public static func tag(_ n: Notice) -> String {
        switch n {
        case .recordingStarted, .recordingStopped: "[record]"
        case .audioLost, .audioBack, .echoCancellerOff: "[audio]"
        case .noReply, .recordingFailed, .unknownCommand, .badArgument, .imageFailed: "[warn]"
        case .imageSent: "[image]"
        case .talkNeedsPushToTalk, .notConnected: "[info]"
        case .toolServersStarting, .toolServerReady, .toolServerDown: "[mcp]"
        }
    }

    /// What to do about a failure, in the words of `face`: keys on the screen, slash commands
    /// and flags in line mode (the CLI).
    public static func hint(_ f: SessionFailure, face: FaceKind) -> String {
        let screen = face == .screen
        var h: String = switch f.reason {
        case .modelNotFound(_, let model):
            screen ? "try another model or API version (now \(model)): quit with q and start livetalk with them"
                   : "try --api-version v1alpha or another --model (now \(model))"
        case .handleExpired: screen ? "press r for a new session" : "/reset starts a new session"
        case .keyRefused: "check GEMINI_API_KEY / GOOGLE_API_KEY or the config file's api_key"
        case .locationUnsupported:
            screen ? "use Vertex AI or the emulator (quit with q and start livetalk with them)"
                   : "use Vertex AI (--vertex --project P --location L) or the emulator"
        case .activityWithServerVAD: screen ? "press v for push-to-talk" : "/mode ptt switches to push-to-talk (or start with --ptt)"
        case .invalidMessage:
            screen ? "check the model, the API version and the setup options in the config file"
                   : "check --model, --api-version and the setup options in the config"
        case .sessionRefused: screen ? "check the key, the model and the API version" : "check the key, --model and --api-version"
        case .messageTooLarge, .closed, .configuration: ""
        case .connectionLost(let detail): clean(detail, limit: 200)
        case .unreachable:
            screen ? "check the endpoint and the network" : "check --endpoint, or unset it to use the embedded emulator"
        case .upgradeRefused: screen ? "check the endpoint's path and the API version" : "check --endpoint's path and --api-version"
        case .tls: screen ? "for a private CA, start livetalk with its CA file" : "for a private CA pass --ca-file FILE.pem"
        case .timedOut:
            screen ? "check the endpoint and the network (a proxy or captive portal may be holding the connection)"
                   : "check --endpoint and the network (a proxy or captive portal may be holding the connection)"
        }
        if f.gaveUpAfter != nil {
            let again = screen ? "press d to try again" : "/connect tries again"
            h = h.isEmpty ? again : "\(h); \(again)"
        }
        return clean(h, limit: 500)
    }

    /// Line mode's line for a turn's latency.
    public static func latency(_ t: TurnLatency) -> String {
        "turn \(t.turn): first byte \(t.firstByteMs) ms" + (t.audibleMs.map { ", audible \($0) ms" } ?? "")
    }

    /// The session pane's latency lines: the last turn, then p50/p95 over the turns kept.
    public static func latencyLines(_ book: LatencyBook) -> [String] {
        guard let last = book.last else { return [] }
        var out = ["latency: \(last.firstByteMs) ms to first byte" + (last.audibleMs.map { ", \($0) audible" } ?? "")]
        if book.firstByte.count > 1, let p50 = LatencyBook.percentile(book.firstByte, 50), let p95 = LatencyBook.percentile(book.firstByte, 95) {
            var l = "  byte p50 \(p50) p95 \(p95)"
            if let a50 = LatencyBook.percentile(book.audible, 50), let a95 = LatencyBook.percentile(book.audible, 95) {
                l += " · audible p50 \(a50) p95 \(a95)"
            }
            out.append(l)
        }
        return out
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

    /// The session pane's echo line: the canceller's reduction, or where it stands before it has one
    /// (below 1 dB it has not converged, or has diverged after a change of the echo path: "−0 dB"
    /// read as if nothing were cancelled).
    public static func echoReduction(_ db: Int?) -> String {
        guard let db else { return "echo: cancelling" }
        return db >= 1 ? "echo: −\(db) dB" : "echo: converging"
    }

    /// The last component of a path, as the screen names a file.
    static func fileName(_ path: String) -> String {
        let name = path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
        return name.isEmpty ? path : name
    }
}
