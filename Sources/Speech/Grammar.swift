/// A small phrase grammar, compiled to JSGF for pocketsphinx.
///
/// Phrases are words and slot references: `"my name is <name>"`, `"repeat after me <word>+"`.
/// Words the recogniser's dictionary lacks are dropped (a phrase that needs one is dropped whole,
/// a slot alternative with one is dropped), so a grammar built from user-declared tool names
/// always compiles.
public struct PhraseGrammar: Sendable, Hashable {
    public var phrases: [String]
    public var slots: [String: [String]]

    public init(phrases: [String], slots: [String: [String]] = [:]) {
        self.phrases = phrases
        self.slots = slots
    }

    /// JSGF source, or nil when no phrase survives.
    public func jsgf(isKnown: (String) -> Bool) -> String? {
        func wordsKnown(_ s: String) -> Bool { s.split(separator: " ").allSatisfy { isKnown(String($0)) } }
        var usableSlots: [String: [String]] = [:]
        for (name, alternatives) in slots {
            let ok = Set(alternatives.map { $0.lowercased() }).filter(wordsKnown).sorted()
            if !ok.isEmpty { usableSlots[name] = ok }
        }
        var kept: [String] = []
        var seen = Set<String>()
        for phrase in phrases {
            let tokens = phrase.lowercased().split(separator: " ").map(String.init)
            let ok = !tokens.isEmpty && tokens.allSatisfy { t in
                if t.hasPrefix("<") {
                    let name = t.dropFirst().prefix { $0 != ">" }
                    return usableSlots[String(name)] != nil
                }
                return isKnown(t)
            }
            let line = tokens.joined(separator: " ")
            if ok, seen.insert(line).inserted { kept.append(line) }
        }
        guard !kept.isEmpty else { return nil }
        var out = "#JSGF V1.0;\ngrammar agent;\npublic <utterance> = " + kept.joined(separator: " | ") + " ;\n"
        for name in usableSlots.keys.sorted() {
            out += "<\(name)> = " + usableSlots[name]!.joined(separator: " | ") + " ;\n"
        }
        return out
    }
}
