import Foundation
import LiveProtocol
import Speech

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
/// (`key="two words"` for spaces); numbers and true/false keep their type. When one matching
/// name ends with another ("time get current time", "get current time"), only the longer is called.
public enum OfflineAgent {
    /// Functions the turn calls, with their arguments, in declaration order.
    public static func matchTools(_ text: String, declarations: [FunctionDeclaration]) -> [(FunctionDeclaration, JSONValue)] {
        let words = normalize(text)
        let args = arguments(in: text)
        let place = weatherPlace(in: text)
        func withPlace(_ d: FunctionDeclaration) -> JSONValue {
            var a = args
            if let place, d.name.lowercased().contains("weather"), a[placeParameter(of: d)] == nil {
                a[placeParameter(of: d)] = .string(place)
            }
            return .object(a)
        }
        let named: [(FunctionDeclaration, String)] = declarations.compactMap { d in
            let name = normalize(d.name)
            guard !name.isEmpty, (" " + words + " ").contains(" " + name + " ") else { return nil }
            return (d, name)
        }
        // A prefixed name wins over the name it ends with: "time get current time" calls
        // `time_get_current_time` (an MCP tool prefixed because a built-in has its name), not also
        // `get_current_time`.
        var out: [(FunctionDeclaration, JSONValue)] = named.filter { d, name in
            !named.contains { $0.1 != name && $0.1.hasSuffix(" " + name) }
        }.map { ($0.0, withPlace($0.0)) }
        // "what is the weather in Paris" calls a declared weather function with the place.
        if out.isEmpty, place != nil, let d = declarations.first(where: { $0.name.lowercased().contains("weather") }) {
            out.append((d, withPlace(d)))
        }
        return out
    }

    /// "Paris" from "what is the weather (like) in paris".
    static func weatherPlace(in text: String) -> String? {
        let lower = normalize(text)
        guard let w = lower.range(of: "weather"), let r = lower.range(of: " in ", range: w.upperBound..<lower.endIndex) else { return nil }
        let place = lower[r.upperBound...].split(separator: " ").prefix(3).map { $0.prefix(1).uppercased() + $0.dropFirst() }
        return place.isEmpty ? nil : place.joined(separator: " ")
    }

    /// The parameter a place goes into: `location`, `city` or `place` when declared, else the
    /// first string parameter, else `location`.
    static func placeParameter(of d: FunctionDeclaration) -> String {
        let props = (d.parameters ?? d.parametersJsonSchema)?["properties"]
        guard case .object(let o)? = props else { return "location" }
        for k in ["location", "city", "place"] where o[k] != nil { return k }
        return o.keys.sorted().first { o[$0]?["type"]?.stringValue?.lowercased() == "string" } ?? "location"
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

    // MARK: what it understands

    static let greetings = ["hello", "hi", "hey", "hello there", "good morning", "good afternoon", "good evening"]
    // Small slots on purpose: every alternative is one more way to mishear (README "Emulator speech").
    static let names = ["alice", "bob", "carol", "david", "emma", "frank", "grace", "henry", "jack", "kate",
                        "lucy", "mary", "paul", "peter", "sam", "tom"]
    static let cities = ["berlin", "london", "madrid", "paris", "rome", "sydney", "tokyo", "vienna"]
    static let repeatWords = ["a", "and", "blue", "cat", "day", "dog", "good", "green", "happy", "house", "i", "is",
                              "it", "like", "love", "my", "nice", "red", "sky", "sun", "the", "this", "tree",
                              "very", "you"]
    static let nameQuestions = ["what is my name", "whats my name", "do you know my name", "tell me my name"]

    /// The phrases the recogniser listens for in a session with these declared functions
    /// (their names, underscores read as spaces, are phrases too).
    ///
    /// With Google Search declared, "search for <topic>" and "look up <topic>" (the offline index's
    /// topics) are phrases too; once an image has arrived, so is "what do you see". Sessions without
    /// them keep the grammar the accuracy figures were measured with.
    public static func grammar(declarations: [FunctionDeclaration], search: Bool = false, images: Bool = false) -> PhraseGrammar {
        var phrases = greetings + ["what time is it", "what is the time", "what can you do", "help",
                                   "my name is <name>", "hello my name is <name>", "what is my name",
                                   "do you know my name", "tell me my name",
                                   "repeat after me <word>+", "what is the weather in <city>",
                                   "what is the weather like in <city>"]
        phrases += declarations.map { normalize($0.name) }
        if search { phrases += ["search for <topic>", "look up <topic>"] }
        if images { phrases += ["what do you see"] }
        var slots = ["name": names, "city": cities, "word": repeatWords]
        if search { slots["topic"] = OfflineSearch.topics }
        return PhraseGrammar(phrases: phrases, slots: slots)
    }

    /// Said to "what can you do".
    public static func capabilities(declarations: [FunctionDeclaration]) -> String {
        var s = "You can say hello, ask what time it is, tell me your name and later ask if I know it, "
            + "say repeat after me followed by some words, or ask what the weather is in a city."
        let tools = declarations.map { normalize($0.name) }
        if !tools.isEmpty { s += " You can also name a tool: " + tools.joined(separator: ", ") + "." }
        return s
    }

    // MARK: replies

    /// The reply to a user turn, given what came before and the results of tools it called.
    /// Rules, first match wins (README "Offline agent"): my name is …; what is my name; sound
    /// without words ("[speech 1.2 s]"); tool results; greetings; what time is it; what can you
    /// do; repeat after me …; the weather without a weather tool; anything else → "I heard: …".
    public static func reply(to text: String, history: [HistoryEntry], toolResults: [(String, JSONValue)] = [],
                             startedInBackground: [String] = [], declarations: [FunctionDeclaration] = [],
                             now: Date = Date(), timeZone: TimeZone = .current) -> String {
        var parts: [String] = []
        let lower = normalize(text)
        let padded = " " + lower + " "
        if let name = statedName(in: text) {
            parts.append("Nice to meet you, \(name).")
        } else if nameQuestions.contains(where: { lower.contains($0) }) {
            if let name = history.reversed().lazy.filter({ $0.role == .user }).compactMap({ statedName(in: $0.text) }).first {
                parts.append("Your name is \(name).")
            } else {
                parts.append("You have not told me your name yet.")
            }
        } else if text.hasPrefix("[speech ") {
            parts.append("I heard \(text.dropFirst(8).dropLast()) of speech.")
        } else if toolResults.isEmpty && startedInBackground.isEmpty {
            if greetings.contains(where: { lower == $0 || lower.hasPrefix($0 + " ") }) {
                parts.append("Hello! I am the offline emulator. How can I help?")
            } else if padded.contains(" what time is it ") || padded.contains(" what is the time ") {
                let f = DateFormatter()
                f.locale = Locale(identifier: "en_US_POSIX")
                f.timeZone = timeZone
                f.dateFormat = "h:mm a"
                parts.append("It is \(f.string(from: now)).")
            } else if padded.contains(" what can you do ") || lower == "help" {
                parts.append(capabilities(declarations: declarations))
            } else if let r = lower.range(of: "repeat after me") {
                let rest = lower[r.upperBound...].trimmingCharacters(in: .whitespaces)
                parts.append(rest.isEmpty ? "Say repeat after me, then the words." : rest.prefix(1).uppercased() + rest.dropFirst() + ".")
            } else if padded.contains(" weather ") {
                parts.append("I cannot look up the weather: this session declares no weather tool.")
            } else {
                parts.append("I heard: \(text.trimmingCharacters(in: .whitespaces))")
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
            .split(separator: " ").prefix(3).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: " ")
        return name.isEmpty ? nil : name
    }
}
