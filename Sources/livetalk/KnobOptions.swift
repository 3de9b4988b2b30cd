// The session settings of issue 12 as flags: each takes text, checked by `SessionKnobs` (App),
// which also reads the same settings from the config file, so both give the same errors. Values
// are taken unconditionally, so negative numbers (`--frequency-penalty -0.5`) are values, not flags.
import App
import ArgumentParser

struct KnobOptions: ParsableArguments {
    @Flag(help: ArgumentHelp(SessionKnobs.help("search"))) var search = false
    @Option(name: .customLong("vad-start-sensitivity"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("vad-start-sensitivity"), valueName: "value")) var vadStartSensitivity: String?
    @Option(name: .customLong("vad-end-sensitivity"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("vad-end-sensitivity"), valueName: "value")) var vadEndSensitivity: String?
    @Option(name: .customLong("vad-prefix-padding-ms"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("vad-prefix-padding-ms"), valueName: "value")) var vadPrefixPaddingMs: String?
    @Option(name: .customLong("vad-silence-ms"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("vad-silence-ms"), valueName: "value")) var vadSilenceMs: String?
    @Option(name: .customLong("barge-in"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("barge-in"), valueName: "value")) var bargeIn: String?
    @Option(name: .customLong("turn-coverage"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("turn-coverage"), valueName: "value")) var turnCoverage: String?
    @Option(name: .customLong("compression"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("compression"), valueName: "value")) var compression: String?
    @Option(name: .customLong("compression-trigger-tokens"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("compression-trigger-tokens"), valueName: "value")) var compressionTriggerTokens: String?
    @Option(name: .customLong("compression-target-tokens"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("compression-target-tokens"), valueName: "value")) var compressionTargetTokens: String?
    @Option(name: .customLong("affective-dialog"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("affective-dialog"), valueName: "value")) var affectiveDialog: String?
    @Option(name: .customLong("proactive-audio"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("proactive-audio"), valueName: "value")) var proactiveAudio: String?
    @Option(name: .customLong("thinking-level"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("thinking-level"), valueName: "value")) var thinkingLevel: String?
    @Option(name: .customLong("thinking-budget"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("thinking-budget"), valueName: "value")) var thinkingBudget: String?
    @Option(name: .customLong("include-thoughts"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("include-thoughts"), valueName: "value")) var includeThoughts: String?
    @Option(name: .customLong("input-language"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("input-language"), valueName: "value")) var inputLanguage: String?
    @Option(name: .customLong("output-language"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("output-language"), valueName: "value")) var outputLanguage: String?
    @Option(name: .customLong("speech-language"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("speech-language"), valueName: "value")) var speechLanguage: String?
    @Option(name: .customLong("media-resolution"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("media-resolution"), valueName: "value")) var mediaResolution: String?
    @Option(name: .customLong("temperature"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("temperature"), valueName: "value")) var temperature: String?
    @Option(name: .customLong("top-p"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("top-p"), valueName: "value")) var topP: String?
    @Option(name: .customLong("top-k"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("top-k"), valueName: "value")) var topK: String?
    @Option(name: .customLong("max-output-tokens"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("max-output-tokens"), valueName: "value")) var maxOutputTokens: String?
    @Option(name: .customLong("seed"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("seed"), valueName: "value")) var seed: String?
    @Option(name: .customLong("presence-penalty"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("presence-penalty"), valueName: "value")) var presencePenalty: String?
    @Option(name: .customLong("frequency-penalty"), parsing: .unconditional, help: ArgumentHelp(SessionKnobs.help("frequency-penalty"), valueName: "value")) var frequencyPenalty: String?

    /// The flags given, by knob name.
    var values: [String: String] {
        var out: [String: String] = [:]
        if search { out["search"] = "on" }
        for (name, value) in [
            ("vad-start-sensitivity", vadStartSensitivity),
            ("vad-end-sensitivity", vadEndSensitivity),
            ("vad-prefix-padding-ms", vadPrefixPaddingMs),
            ("vad-silence-ms", vadSilenceMs),
            ("barge-in", bargeIn),
            ("turn-coverage", turnCoverage),
            ("compression", compression),
            ("compression-trigger-tokens", compressionTriggerTokens),
            ("compression-target-tokens", compressionTargetTokens),
            ("affective-dialog", affectiveDialog),
            ("proactive-audio", proactiveAudio),
            ("thinking-level", thinkingLevel),
            ("thinking-budget", thinkingBudget),
            ("include-thoughts", includeThoughts),
            ("input-language", inputLanguage),
            ("output-language", outputLanguage),
            ("speech-language", speechLanguage),
            ("media-resolution", mediaResolution),
            ("temperature", temperature),
            ("top-p", topP),
            ("top-k", topK),
            ("max-output-tokens", maxOutputTokens),
            ("seed", seed),
            ("presence-penalty", presencePenalty),
            ("frequency-penalty", frequencyPenalty),
        ] {
            if let value { out[name] = value }
        }
        return out
    }
}
