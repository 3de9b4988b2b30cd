import AudioCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LiveProtocol
import LiveSession
import TerminalUI

/// `--transcript FILE.jsonl`: one JSON object per session event (audio as byte counts, never as data).
/// The file is created 0600 and never written through a symbolic link (R20); a write error (disk
/// full) stops the transcript instead of trapping.
public final class TranscriptWriter: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var open = true
    private let started = Date()

    public init(path: String) throws(PrivateFileError) {
        fd = try PrivateFile.open(path, .truncate)
    }

    deinit { close() }

    public func write(_ event: SessionEvent) {
        guard let object = Self.object(for: event) else { return }
        write(object: object)
    }

    /// A turn's latency (issue 11): `latency_first_byte_ms`, and `latency_audible_ms` when a speaker played it.
    public func write(_ latency: TurnLatency) {
        write(object: ["kind": "latency", "turn": latency.turn, "latency_first_byte_ms": latency.firstByteMs,
                       "latency_audible_ms": latency.audibleMs.map { $0 as Any } ?? NSNull()])
    }

    private func write(object: [String: Any]) {
        var object = object
        let now = Date()
        object["ts"] = ISO8601DateFormatter.string(from: now, timeZone: TimeZone(secondsFromGMT: 0) ?? .current,
                                                   formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        object["t"] = (now.timeIntervalSince(started) * 1000).rounded() / 1000
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        lock.withLock {
            guard open else { return }
            if !PrivateFile.write(fd, data + Data("\n".utf8)) {
                open = false
                Glibc.close(fd)
            }
        }
    }

    public func close() {
        lock.withLock {
            guard open else { return }
            open = false
            Glibc.close(fd)
        }
    }

    static func object(for e: SessionEvent) -> [String: Any]? {
        switch e {
        case .state(let s, let held):
            var o: [String: Any] = ["kind": "state", "state": s.name, "handle_held": held]
            if case .connecting(let a) = s { o["attempt"] = a }
            if case .closed(let f?) = s { o["error"] = f.headline; o["hint"] = Wording.hint(f, face: .line) }
            return o
        case .setupComplete(let id): return ["kind": "setup_complete", "session_id": id ?? NSNull()]
        case .inputTranscript(let t, let fin): return ["kind": "input_transcript", "role": "user", "text": t, "finished": fin]
        case .userText(let t): return ["kind": "user_text", "role": "user", "text": t]
        case .outputTranscript(let t, let turn): return ["kind": "output_transcript", "role": "model", "text": t, "turn": turn]
        case .modelText(let t, let turn): return ["kind": "model_text", "role": "model", "text": t, "turn": turn]
        case .audio(let d, let rate, let turn): return ["kind": "audio", "role": "model", "bytes": d.count, "rate": rate, "turn": turn]
        case .purge(let turn): return ["kind": "purge", "turn": turn]
        case .generationComplete(let turn): return ["kind": "generation_complete", "turn": turn]
        case .turnComplete(let turn, let i, let r):
            return ["kind": "turn_complete", "turn": turn, "interrupted": i, "reason": r ?? NSNull()]
        case .turn(let t):
            var o: [String: Any] = ["kind": "turn", "role": t.role.rawValue, "text": t.text, "turn": t.turn, "interrupted": t.interrupted]
            if !t.citations.isEmpty {
                o["citations"] = t.citations.map { ["n": $0.number, "title": $0.title, "domain": $0.domain, "uri": $0.uri] as [String: Any] }
            }
            return o
        case .tool(let a):
            switch a {
            case .started(let id, let name, let args, let nb):
                return ["kind": "tool", "status": "started", "id": id, "name": name, "args": args?.description ?? "{}", "non_blocking": nb]
            case .finished(let id, let name, let result, let d):
                return ["kind": "tool", "status": "finished", "id": id, "name": name, "result": result.description, "ms": ms(d)]
            case .failed(let id, let name, let err, let d):
                return ["kind": "tool", "status": "failed", "id": id, "name": name, "error": err, "ms": ms(d)]
            case .cancelled(let id, let name, let d):
                return ["kind": "tool", "status": "cancelled", "id": id, "name": name, "ms": ms(d)]
            }
        case .usage(let u):
            var o: [String: Any] = ["kind": "usage", "prompt_tokens": u.promptTokenCount ?? 0, "response_tokens": u.responseTokens ?? 0,
                                    "total_tokens": u.totalTokenCount ?? 0]
            if let t = u.thoughtsTokenCount { o["thoughts_tokens"] = t }
            if let t = u.serviceTier { o["service_tier"] = t }
            if let t = u.trafficType { o["traffic_type"] = t }
            return o
        case .goAway(let left): return ["kind": "go_away", "time_left_ms": ms(left)]
        case .grounding(let g): return ["kind": "grounding", "queries": g.webSearchQueries ?? []]
        case .thought(let t, let turn): return ["kind": "thought", "role": "model", "text": t, "turn": turn]
        case .voiceActivity(let v): return ["kind": "voice_activity", "type": v]
        case .replayed(let n): return ["kind": "replayed", "count": n]
        case .inputDropped(let n): return ["kind": "input_dropped", "count": n]
        case .warning(let w): return ["kind": "warning", "text": w]
        case .ended(let f): return ["kind": "ended", "error": f?.headline ?? NSNull()]
        }
    }

    static func ms(_ d: Duration) -> Int { d.milliseconds }
}
