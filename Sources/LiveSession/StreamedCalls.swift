import Foundation
import LiveProtocol

/// Function calls whose arguments arrive in pieces (Vertex: `functionCalls[].partialArgs` with
/// `willContinue`), put back together before they run. A call passes through unchanged when it
/// is not streamed. Pure; the session feeds it every `toolCall`.
///
/// A piece sets the value at its `jsonPath` (`$.city`, `$.trip.from`); a string piece whose
/// previous piece at the same path said `willContinue` is appended to it. The call is complete
/// when a chunk for its id arrives without `willContinue`.
public struct StreamedCalls: Sendable {
    /// Calls being assembled at once at most; a new one beyond it is dropped and counted.
    public static let maxPending = 32
    /// Characters of string arguments per call at most; more are cut and counted.
    public static let maxArgumentCharacters = 256 * 1024

    struct Pending: Sendable {
        var name: String
        var args: [String: JSONValue] = [:]
        var continuing: Set<String> = []
        var characters = 0
    }

    private var pending: [String: Pending] = [:]
    /// Streamed calls dropped (over `maxPending`) and argument characters cut.
    public private(set) var droppedCalls = 0
    public private(set) var cutCharacters = 0

    public init() {}

    public var assembling: Int { pending.count }

    /// The calls ready to run, in order.
    public mutating func take(_ calls: [FunctionCall]) -> [FunctionCall] {
        var ready: [FunctionCall] = []
        for call in calls {
            let key = call.id ?? ""
            let streamed = call.partialArgs != nil || call.willContinue == true || pending[key] != nil
            guard streamed else { ready.append(call); continue }
            var p: Pending
            if let existing = pending[key] {
                p = existing
            } else {
                guard pending.count < Self.maxPending else { droppedCalls += 1; continue }
                p = Pending(name: call.name)
            }
            if !call.name.isEmpty { p.name = call.name }
            if case .object(let o)? = call.args { p.args.merge(o) { _, new in new } }
            for piece in call.partialArgs ?? [] { apply(piece, to: &p) }
            if call.willContinue == true {
                pending[key] = p
            } else {
                pending[key] = nil
                ready.append(FunctionCall(id: call.id, name: p.name, args: .object(p.args)))
            }
        }
        return ready
    }

    /// Forget calls being assembled (a new connection or an interruption).
    public mutating func reset() { pending.removeAll() }

    private mutating func apply(_ piece: PartialArg, to p: inout Pending) {
        let path = Self.components(piece.jsonPath ?? "")
        guard !path.isEmpty else { return }
        let joined = path.joined(separator: ".")
        let value: JSONValue
        if let s = piece.stringValue {
            let room = max(0, Self.maxArgumentCharacters - p.characters)
            let kept = String(s.prefix(room))
            cutCharacters += s.count - kept.count
            p.characters += kept.count
            if p.continuing.contains(joined), case .string(let before)? = Self.get(p.args, path) {
                value = .string(before + kept)
            } else {
                value = .string(kept)
            }
        } else if let n = piece.numberValue {
            value = n.rounded() == n && abs(n) < 1e15 ? .int(Int(n)) : .double(n)
        } else if let b = piece.boolValue {
            value = .bool(b)
        } else {
            value = .null
        }
        if piece.willContinue == true { p.continuing.insert(joined) } else { p.continuing.remove(joined) }
        Self.set(&p.args, path, value)
    }

    /// `$.a.b` → ["a", "b"]; `$['a']` forms are read as plain keys.
    static func components(_ path: String) -> [String] {
        var s = Substring(path)
        if s.hasPrefix("$") { s = s.dropFirst() }
        return s.split(separator: ".").map {
            $0.replacingOccurrences(of: "['", with: "").replacingOccurrences(of: "']", with: "")
        }.filter { !$0.isEmpty }.prefix(16).map { $0 }
    }

    static func get(_ o: [String: JSONValue], _ path: [String]) -> JSONValue? {
        guard let first = path.first else { return nil }
        if path.count == 1 { return o[first] }
        guard case .object(let inner)? = o[first] else { return nil }
        return get(inner, Array(path.dropFirst()))
    }

    static func set(_ o: inout [String: JSONValue], _ path: [String], _ value: JSONValue) {
        guard let first = path.first else { return }
        if path.count == 1 { o[first] = value; return }
        var inner: [String: JSONValue] = if case .object(let i)? = o[first] { i } else { [:] }
        set(&inner, Array(path.dropFirst()), value)
        o[first] = .object(inner)
    }
}
