import Foundation
import LiveProtocol

/// One remembered turn of an emulated conversation.
public struct HistoryEntry: Sendable, Hashable {
    public enum Role: String, Sendable { case user, model, tool }
    public var role: Role
    public var text: String
    public init(_ role: Role, _ text: String) {
        self.role = role
        self.text = text
    }
}

/// The emulator's rule-based "model": what it says to a user turn, and which declared
/// functions a turn calls. Pure.
///
/// Tool rule (also in `livetalk serve --help`): a turn calls a declared function when its words
/// contain the function's name, with underscores read as spaces ("get current time" calls
/// `get_current_time`). Arguments come from `key=value` words in the same turn
/// (`key="two words"` for spaces); numbers and true/false keep their type.
public enum OfflineAgent {
    /// Functions the turn calls, with their arguments, in declaration order.
    public static func matchTools(_ text: String, declarations: [FunctionDeclaration]) -> [(FunctionDeclaration, JSONValue)] {
        let words = normalize(text)
        let args = arguments(in: text)
        return declarations.compactMap { d in
            let name = normalize(d.name)
            guard !name.isEmpty, (" " + words + " ").contains(" " + name + " ") else { return nil }
            return (d, .object(args))
        }
    }

    /// `key=value` and `key="quoted value"` words.
    public static func arguments(in text: String) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        let pattern = #"([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|'([^']*)'|([^\s,;]+))"#
        guard let re = try? NSRegularExpression(pattern: pattern) else { return out }
        let ns = text as NSString
        for m in re.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            let key = ns.substring(with: m.range(at: 1))
            if m.range(at: 2).location != NSNotFound {
                out[key] = .string(ns.substring(with: m.range(at: 2)))
            } else if m.range(at: 3).location != NSNotFound {
                out[key] = .string(ns.substring(with: m.range(at: 3)))
            } else {
                var v = ns.substring(with: m.range(at: 4))
                while let last = v.last, ".!?".contains(last) { v.removeLast() }
                out[key] = .scalar(parsing: v)
            }
        }
        return out
    }

    /// Lower-case words without punctuation or `key=value` words; underscores become spaces.
    static func normalize(_ s: String) -> String {
        let kept = s.split(separator: " ").filter { !$0.contains("=") }.joined(separator: " ")
        let mapped = kept.lowercased().map { ch -> Character in
            ch == "_" ? " " : (ch.isLetter || ch.isNumber || ch == " " ? ch : " ")
        }
        return String(mapped).split(separator: " ").joined(separator: " ")
    }

    /// The reply to a user turn, given what came before and the results of tools it called.
    public static func reply(to text: String, history: [HistoryEntry], toolResults: [(String, JSONValue)] = [],
                             startedInBackground: [String] = []) -> String {
        var parts: [String] = []
        let lower = normalize(text)
        if let name = statedName(in: text) {
            parts.append("Nice to meet you, \(name).")
        } else if lower.contains("what is my name") || lower.contains("whats my name") {
            if let name = history.reversed().lazy.filter({ $0.role == .user }).compactMap({ statedName(in: $0.text) }).first {
                parts.append("Your name is \(name).")
            } else {
                parts.append("You have not told me your name yet.")
            }
        } else if text.hasPrefix("[speech ") {
            parts.append("I heard \(text.dropFirst(8).dropLast()) of speech.")
        } else if toolResults.isEmpty && startedInBackground.isEmpty {
            if ["hello", "hi", "hey"].contains(where: { lower.hasPrefix($0) }) {
                parts.append("Hello! This is the livetalk emulator.")
            } else {
                parts.append("You said: \(text.trimmingCharacters(in: .whitespaces))")
            }
        }
        for (name, result) in toolResults { parts.append(toolSentence(name: name, result: result)) }
        for name in startedInBackground {
            parts.append("I started \(name.replacingOccurrences(of: "_", with: " ")) in the background.")
        }
        return parts.joined(separator: " ")
    }

    /// "The get_weather result: sky clear, temperature_c 21."
    public static func toolSentence(name: String, result: JSONValue) -> String {
        if let err = result["error"]?.stringValue { return "\(name) failed: \(err)." }
        return "The \(name) result: \(describe(result))."
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .object(let o):
            return o.keys.sorted().map { "\($0) \(describe(o[$0]!))" }.joined(separator: ", ")
        case .array(let a): return a.map(describe).joined(separator: ", ")
        case .string(let s): return s
        case .null: return "nothing"
        default: return v.description
        }
    }

    static func statedName(in text: String) -> String? {
        let lower = text.lowercased()
        guard let r = lower.range(of: "my name is ") else { return nil }
        let rest = text[r.upperBound...]
        let name = rest.prefix { $0.isLetter || $0 == " " || $0 == "-" || $0 == "'" }
            .split(separator: " ").prefix(3).joined(separator: " ")
        return name.isEmpty ? nil : name
    }
}
