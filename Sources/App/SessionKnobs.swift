import Foundation
import LiveProtocol

/// Every session setting of the Live API setup that livetalk exposes (issue 12): voice activity
/// detection, context window compression, affective dialog, proactive audio, thinking,
/// transcription languages, media resolution, the `generationConfig` numbers, Google Search.
/// nil means "not set": the field is left out of the setup and the server's default applies.
public struct SessionKnobs: Sendable, Equatable {
    public var search = false
    public var vadStartSensitivity: StartSensitivity?
    public var vadEndSensitivity: EndSensitivity?
    public var vadPrefixPaddingMs: Int?
    public var vadSilenceMs: Int?
    /// `activityHandling`: true START_OF_ACTIVITY_INTERRUPTS, false NO_INTERRUPTION.
    public var bargeIn: Bool?
    public var turnCoverage: TurnCoverage?
    /// Context window compression is on unless switched off.
    public var compression = true
    public var compressionTriggerTokens: Int?
    public var compressionTargetTokens: Int?
    public var affectiveDialog: Bool?
    public var proactiveAudio: Bool?
    public var thinkingLevel: String?
    public var thinkingBudget: Int?
    public var includeThoughts: Bool?
    public var inputLanguages: [String]?
    public var outputLanguages: [String]?
    public var speechLanguage: String?
    public var mediaResolution: MediaResolution?
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var maxOutputTokens: Int?
    public var seed: Int?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?

    public init() {}
}

/// One knob: its flag (`--NAME`), its config key (`NAME` with `_` for `-`), what it takes, and
/// how a value is read. The README's "Session settings" table lists the same knobs.
public struct Knob: Sendable {
    public let name: String
    /// The value's shape, as error messages and help show it ("high|low", "0–2", …).
    public let expected: String
    public let help: String
    /// What happens when it is not set.
    public let defaultText: String
    /// Sets the knob from its text, or returns false when the text is not a valid value.
    let set: @Sendable (inout SessionKnobs, String) -> Bool

    public var flag: String { "--" + name }
    public var configKey: String { name.replacingOccurrences(of: "-", with: "_") }
}

extension SessionKnobs {
    /// Every knob, in the order the README and `--help` list them.
    public static let knobs: [Knob] = [
        Knob(name: "search", expected: "on|off", help: "Declare Google Search (googleSearch); sources are listed under the reply.",
             defaultText: "off") { k, v in onOff(v).map { k.search = $0 } != nil },
        Knob(name: "vad-start-sensitivity", expected: "high|low", help: "Voice detection: how readily speech is taken to start.",
             defaultText: "server default (high)") { k, v in
            pick(v, ["high": StartSensitivity.high, "low": .low]).map { k.vadStartSensitivity = $0 } != nil
        },
        Knob(name: "vad-end-sensitivity", expected: "high|low", help: "Voice detection: how readily a pause is taken as the end.",
             defaultText: "server default (high)") { k, v in
            pick(v, ["high": EndSensitivity.high, "low": .low]).map { k.vadEndSensitivity = $0 } != nil
        },
        Knob(name: "vad-prefix-padding-ms", expected: "0–10000 (milliseconds)",
             help: "Voice detection: speech needed before a start is committed (ms).", defaultText: "server default") { k, v in
            int(v, 0...10_000).map { k.vadPrefixPaddingMs = $0 } != nil
        },
        Knob(name: "vad-silence-ms", expected: "0–10000 (milliseconds)",
             help: "Voice detection: silence that ends the turn (ms).", defaultText: "server default") { k, v in
            int(v, 0...10_000).map { k.vadSilenceMs = $0 } != nil
        },
        Knob(name: "barge-in", expected: "on|off",
             help: "Speaking over the model interrupts it (on: START_OF_ACTIVITY_INTERRUPTS, off: NO_INTERRUPTION).",
             defaultText: "server default (on)") { k, v in onOff(v).map { k.bargeIn = $0 } != nil },
        Knob(name: "turn-coverage", expected: "activity|all-input|audio-activity-and-all-video",
             help: "What input a user turn includes.", defaultText: "server default") { k, v in
            pick(v, ["activity": TurnCoverage.onlyActivity, "all-input": .allInput,
                     "audio-activity-and-all-video": .audioActivityAndAllVideo]).map { k.turnCoverage = $0 } != nil
        },
        Knob(name: "compression", expected: "on|off",
             help: "Context window compression (sliding window), so a session can outlast the context window.",
             defaultText: "on") { k, v in onOff(v).map { k.compression = $0 } != nil },
        Knob(name: "compression-trigger-tokens", expected: "1000–2000000 (tokens)",
             help: "Compress when the context reaches this many tokens.", defaultText: "server default") { k, v in
            int(v, 1_000...2_000_000).map { k.compressionTriggerTokens = $0 } != nil
        },
        Knob(name: "compression-target-tokens", expected: "1000–2000000 (tokens), below the trigger",
             help: "Compress down to this many tokens.", defaultText: "server default") { k, v in
            int(v, 1_000...2_000_000).map { k.compressionTargetTokens = $0 } != nil
        },
        Knob(name: "affective-dialog", expected: "on|off", help: "Let the model adapt its tone to the user's (enableAffectiveDialog).",
             defaultText: "server default (off)") { k, v in onOff(v).map { k.affectiveDialog = $0 } != nil },
        Knob(name: "proactive-audio", expected: "on|off", help: "Let the model stay silent when input is not meant for it.",
             defaultText: "server default (off)") { k, v in onOff(v).map { k.proactiveAudio = $0 } != nil },
        Knob(name: "thinking-level", expected: "minimal|low|medium|high|xhigh",
             help: "Thinking for models that take a level (Gemini 3.x); not with --thinking-budget.",
             defaultText: "model default") { k, v in
            pick(v, ["minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "XHIGH"])
                .map { k.thinkingLevel = $0 } != nil
        },
        Knob(name: "thinking-budget", expected: "-1 (dynamic), 0 (off) or 1–32768 (tokens)",
             help: "Thinking tokens for models that take a budget (Gemini 2.5); not with --thinking-level.",
             defaultText: "model default") { k, v in int(v, -1...32_768).map { k.thinkingBudget = $0 } != nil },
        Knob(name: "include-thoughts", expected: "on|off",
             help: "Ask for thought summaries: shown dimmed in the model pane ([thought] in line mode), never spoken.",
             defaultText: "off") { k, v in onOff(v).map { k.includeThoughts = $0 } != nil },
        Knob(name: "input-language", expected: "language codes such as en-US or en-US,de-DE",
             help: "Languages of the user's speech, for its transcription (languageCodes).", defaultText: "automatic") { k, v in
            languages(v).map { k.inputLanguages = $0 } != nil
        },
        Knob(name: "output-language", expected: "language codes such as en-US or en-US,de-DE",
             help: "Languages of the model's speech, for its transcription (languageCodes).", defaultText: "automatic") { k, v in
            languages(v).map { k.outputLanguages = $0 } != nil
        },
        Knob(name: "speech-language", expected: "one language code such as en-US",
             help: "The language the model speaks (speechConfig.languageCode).", defaultText: "automatic") { k, v in
            guard let l = languages(v), l.count == 1 else { return false }
            k.speechLanguage = l[0]
            return true
        },
        Knob(name: "media-resolution", expected: "low|medium|high", help: "Resolution the model sees images at.",
             defaultText: "server default") { k, v in
            pick(v, ["low": MediaResolution.low, "medium": .medium, "high": .high]).map { k.mediaResolution = $0 } != nil
        },
        Knob(name: "temperature", expected: "0–2", help: "Randomness of the reply.", defaultText: "model default") { k, v in
            double(v, 0...2).map { k.temperature = $0 } != nil
        },
        Knob(name: "top-p", expected: "0–1", help: "Nucleus sampling: the probability mass considered.",
             defaultText: "model default") { k, v in double(v, 0...1).map { k.topP = $0 } != nil },
        Knob(name: "top-k", expected: "1–1000", help: "Sampling: the most likely tokens considered.",
             defaultText: "model default") { k, v in int(v, 1...1_000).map { k.topK = $0 } != nil },
        Knob(name: "max-output-tokens", expected: "1–65536", help: "Longest reply, in tokens.",
             defaultText: "model default") { k, v in int(v, 1...65_536).map { k.maxOutputTokens = $0 } != nil },
        Knob(name: "seed", expected: "an integer from -2147483648 to 2147483647", help: "Sampling seed (repeatable replies where supported).",
             defaultText: "random") { k, v in int(v, Int(Int32.min)...Int(Int32.max)).map { k.seed = $0 } != nil },
        Knob(name: "presence-penalty", expected: "-2–2", help: "Penalty for tokens already used at all.",
             defaultText: "model default") { k, v in double(v, -2...2).map { k.presencePenalty = $0 } != nil },
        Knob(name: "frequency-penalty", expected: "-2–2", help: "Penalty for tokens by how often they were used.",
             defaultText: "model default") { k, v in double(v, -2...2).map { k.frequencyPenalty = $0 } != nil },
    ]

    public static func knob(named name: String) -> Knob? { knobs.first { $0.name == name } }

    /// The flag's help line (for the `livetalk` target's option declarations).
    public static func help(_ name: String) -> String {
        guard let k = knob(named: name) else { return "" }
        return "\(k.help) \(k.expected); default \(k.defaultText)."
    }

    public static let configKeys: Set<String> = Set(knobs.map(\.configKey))

    /// The knobs from the config file's values, then the flags' (flags win). Values are text as
    /// given (`--temperature 0.5`, `temperature = 0.5`); the first bad one is the problem, named
    /// by flag, or by file and line.
    public static func make(flags: [String: String], file: FileConfig) -> Result<SessionKnobs, ClientProblem> {
        var k = SessionKnobs()
        for knob in knobs {
            if let v = file.knobs[knob.configKey], !knob.set(&k, v.value) {
                return .failure(.config(ConfigError(path: file.path ?? "config file", line: v.line,
                                                    message: "\(knob.configKey) = \(v.value): use \(knob.expected)")))
            }
        }
        for knob in knobs {
            if let v = flags[knob.name], !knob.set(&k, v) {
                return .failure(.flag(name: knob.flag, value: v, expected: knob.expected))
            }
        }
        if let p = k.conflict(flags: flags, file: file) { return .failure(p) }
        return .success(k)
    }

    /// Values that are fine alone but not together.
    func conflict(flags: [String: String], file: FileConfig) -> ClientProblem? {
        func where_(_ name: String) -> (flag: Bool, line: Int?) {
            (flags[name] != nil, file.knobs[name.replacingOccurrences(of: "-", with: "_")]?.line)
        }
        func problem(_ name: String, _ value: String, _ message: String) -> ClientProblem {
            let w = where_(name)
            if w.flag { return .flag(name: "--" + name, value: value, expected: message) }
            return .config(ConfigError(path: file.path ?? "config file", line: w.line,
                                       message: "\(name.replacingOccurrences(of: "-", with: "_")) = \(value): use \(message)"))
        }
        if let level = thinkingLevel, thinkingBudget != nil {
            return problem("thinking-level", level.lowercased(), "either a thinking level or a thinking budget, not both")
        }
        if let target = compressionTargetTokens, let trigger = compressionTriggerTokens, target >= trigger {
            return problem("compression-target-tokens", "\(target)", "fewer tokens than the trigger (\(trigger))")
        }
        if !compression, compressionTriggerTokens != nil || compressionTargetTokens != nil {
            return problem("compression", "off", "on, or drop the compression token settings")
        }
        return nil
    }

    // MARK: value readers

    static func onOff(_ v: String) -> Bool? {
        switch v.lowercased() {
        case "on", "true", "yes", "1": true
        case "off", "false", "no", "0": false
        default: nil
        }
    }

    static func pick<T>(_ v: String, _ table: [String: T]) -> T? { table[v.lowercased()] }

    static func int(_ v: String, _ range: ClosedRange<Int>) -> Int? {
        guard let i = Int(v.trimmingCharacters(in: .whitespaces)), range.contains(i) else { return nil }
        return i
    }

    static func double(_ v: String, _ range: ClosedRange<Double>) -> Double? {
        guard let d = Double(v.trimmingCharacters(in: .whitespaces)), d.isFinite, range.contains(d) else { return nil }
        return d
    }

    /// BCP-47-shaped codes (`en`, `en-US`, `zh-Hant-TW`), comma-separated, at most 8.
    static func languages(_ v: String) -> [String]? {
        let codes = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !codes.isEmpty, codes.count <= 8 else { return nil }
        for c in codes {
            let parts = c.split(separator: "-", omittingEmptySubsequences: false)
            guard let first = parts.first, (2...3).contains(first.count), first.allSatisfy({ $0.isASCII && $0.isLetter }),
                  parts.dropFirst().allSatisfy({ (2...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } })
            else { return nil }
        }
        return codes
    }

    // MARK: into the setup

    /// `realtimeInputConfig` for push-to-talk or voice detection with these knobs (nil: all defaults).
    public func realtimeInput(pushToTalk: Bool) -> RealtimeInputConfig? {
        var aad = AutomaticActivityDetection(disabled: pushToTalk ? true : nil)
        if !pushToTalk {
            aad.startOfSpeechSensitivity = vadStartSensitivity
            aad.endOfSpeechSensitivity = vadEndSensitivity
            aad.prefixPaddingMs = vadPrefixPaddingMs
            aad.silenceDurationMs = vadSilenceMs
        }
        let detection: AutomaticActivityDetection? = aad == AutomaticActivityDetection() ? nil : aad
        let handling: ActivityHandling? = bargeIn.map { $0 ? .startOfActivityInterrupts : .noInterruption }
        guard detection != nil || handling != nil || turnCoverage != nil else { return nil }
        return RealtimeInputConfig(automaticActivityDetection: detection, activityHandling: handling, turnCoverage: turnCoverage)
    }

    /// Applies every knob to a setup built from the other settings.
    public func apply(to s: inout Setup, pushToTalk: Bool, textModality: Bool) {
        var g = s.generationConfig ?? GenerationConfig()
        g.temperature = temperature
        g.topP = topP
        g.topK = topK
        g.maxOutputTokens = maxOutputTokens
        g.seed = seed
        g.presencePenalty = presencePenalty
        g.frequencyPenalty = frequencyPenalty
        g.mediaResolution = mediaResolution
        g.enableAffectiveDialog = affectiveDialog
        if thinkingLevel != nil || thinkingBudget != nil || includeThoughts != nil {
            g.thinkingConfig = ThinkingConfig(thinkingBudget: thinkingBudget, thinkingLevel: thinkingLevel, includeThoughts: includeThoughts)
        }
        if let speechLanguage, !textModality {
            var sc = g.speechConfig ?? SpeechConfig(voiceName: nil)
            sc.languageCode = speechLanguage
            g.speechConfig = sc
        }
        s.generationConfig = g
        s.realtimeInputConfig = realtimeInput(pushToTalk: pushToTalk)
        if compression {
            s.contextWindowCompression = ContextWindowCompression(
                triggerTokens: compressionTriggerTokens, slidingWindow: SlidingWindow(targetTokens: compressionTargetTokens))
        }
        if let proactiveAudio { s.proactivity = ProactivityConfig(proactiveAudio: proactiveAudio) }
        if let inputLanguages, s.inputAudioTranscription != nil { s.inputAudioTranscription?.languageCodes = inputLanguages }
        if let outputLanguages, s.outputAudioTranscription != nil { s.outputAudioTranscription?.languageCodes = outputLanguages }
        if search, !(s.tools ?? []).contains(where: { $0.googleSearch != nil }) {
            s.tools = (s.tools ?? []) + [Tool(googleSearch: EmptyObject())]
        }
    }
}

/// A knob's value as the config file gave it, with its line.
public struct KnobValue: Sendable, Equatable {
    public var value: String
    public var line: Int?
    public init(value: String, line: Int?) {
        self.value = value
        self.line = line
    }
}
