import Foundation

/// An espeak-ng voice: a language voice plus a variant (`en-us+m3`), speed and pitch.
public struct EspeakVoice: Sendable, Hashable, CustomStringConvertible {
    /// espeak-ng voice name: language, optionally `+variant`.
    public var name: String
    /// Words per minute (espeak-ng: 80…450, default 175).
    public var rate: Int
    /// 0…100, default 50.
    public var pitch: Int

    public init(name: String, rate: Int = 165, pitch: Int = 50) {
        self.name = name
        self.rate = rate
        self.pitch = pitch
    }

    public var description: String { "\(name) \(rate) wpm pitch \(pitch)" }
}

/// How the setup's `speechConfig` maps to espeak-ng (README "Emulator voices").
///
/// * Language: `languageCode` `en-US` (or none) → `en-us`, `en-GB` → `en-gb`, any other code →
///   its language part (`de-DE` → `de`); espeak-ng falls back to `en-us` for a language it lacks.
/// * Voice: the eight classic Live voices have fixed variants; any other Gemini voice name is
///   put on a female or male variant by a stable hash of its name; no voice name → Puck.
public enum VoiceMap {
    public static let defaultVoiceName = "Puck"

    /// Classic Gemini Live voices → espeak-ng variant, speed, pitch.
    public static let classic: [String: (variant: String, rate: Int, pitch: Int)] = [
        "Puck": ("m3", 165, 50),
        "Charon": ("m1", 150, 38),
        "Kore": ("f2", 160, 55),
        "Fenrir": ("m4", 180, 48),
        "Aoede": ("f3", 165, 60),
        "Leda": ("f4", 172, 66),
        "Orus": ("m2", 155, 42),
        "Zephyr": ("f1", 170, 58),
    ]

    /// The newer Gemini voices that sound female; every other unknown name gets a male variant.
    static let female: Set<String> = [
        "Autonoe", "Callirrhoe", "Despina", "Erinome", "Laomedeia", "Achernar", "Gacrux",
        "Pulcherrima", "Vindemiatrix", "Sulafat",
    ]

    public static func voice(name: String?, languageCode: String?) -> EspeakVoice {
        let language = espeakLanguage(languageCode)
        let key = (name?.isEmpty == false ? name! : defaultVoiceName)
        if let v = classic.first(where: { $0.key.caseInsensitiveCompare(key) == .orderedSame })?.value {
            return EspeakVoice(name: "\(language)+\(v.variant)", rate: v.rate, pitch: v.pitch)
        }
        // Stable hash (not Swift's seeded Hasher): the same name always sounds the same.
        let h = key.lowercased().unicodeScalars.reduce(UInt32(2166136261)) { ($0 ^ $1.value) &* 16777619 }
        let isFemale = female.contains { $0.caseInsensitiveCompare(key) == .orderedSame }
        let variant = isFemale ? "f\(Int(h % 5) + 1)" : "m\(Int(h % 7) + 1)"
        return EspeakVoice(name: "\(language)+\(variant)", rate: 155 + Int(h % 20), pitch: 40 + Int(h % 25))
    }

    public static func espeakLanguage(_ code: String?) -> String {
        guard let code, !code.isEmpty else { return "en-us" }
        let lower = code.lowercased().replacingOccurrences(of: "_", with: "-")
        if lower == "en-us" || lower == "en-gb" { return lower }
        if lower.hasPrefix("en-") { return "en-us" }
        return String(lower.split(separator: "-").first ?? "en")
    }
}
