import App
import Foundation
import LiveProtocol
import LiveSession
import Testing

/// Issue 12, item 4: the session knobs as pure values (flags and file in, setup out); the binary's
/// `info --setup` and exit codes are covered by Tests/python/test_session_settings.py.
struct SessionKnobsTests {
    func knobs(_ flags: [String: String], file: String? = nil) -> Result<SessionKnobs, ClientProblem> {
        let f = file.map { text in Result { try FileConfig.parse(text, path: "/c.toml") } } ?? .success(FileConfig())
        switch f {
        case .success(let fc): return SessionKnobs.make(flags: flags, file: fc)
        case .failure(let e): return .failure(.config(e as! ConfigError))
        }
    }

    func setup(_ flags: [String: String], ptt: Bool = false) throws -> Setup {
        var s = ClientSettings()
        s.knobs = try knobs(flags).get()
        s.pushToTalk = ptt
        return Settings.setup(s, endpoint: try Endpoint.custom("ws://127.0.0.1:1", apiKey: nil), system: nil)
    }

    @Test func everyKnobHasAFlagAConfigKeyAndHelp() {
        #expect(SessionKnobs.knobs.count == 26)
        #expect(Set(SessionKnobs.knobs.map(\.name)).count == 26)
        for k in SessionKnobs.knobs {
            #expect(!k.help.isEmpty && !k.expected.isEmpty && !k.defaultText.isEmpty)
            #expect(k.configKey == k.name.replacingOccurrences(of: "-", with: "_"))
        }
    }

    @Test func compressionIsOnByDefault() throws {
        let s = try setup([:])
        #expect(s.contextWindowCompression == ContextWindowCompression(slidingWindow: SlidingWindow()))
        #expect(s.realtimeInputConfig == nil)
        #expect(try setup(["compression": "off"]).contextWindowCompression == nil)
    }

    @Test func knobsReachTheSetup() throws {
        let s = try setup(["vad-start-sensitivity": "low", "vad-silence-ms": "900", "barge-in": "off", "turn-coverage": "all-input",
                           "thinking-level": "high", "include-thoughts": "on", "temperature": "0.3", "search": "on",
                           "input-language": "en-US,de-DE", "speech-language": "en-GB", "proactive-audio": "on"])
        let vad = s.realtimeInputConfig?.automaticActivityDetection
        #expect(vad?.startOfSpeechSensitivity == .low && vad?.silenceDurationMs == 900 && vad?.disabled == nil)
        #expect(s.realtimeInputConfig?.activityHandling == .noInterruption)
        #expect(s.realtimeInputConfig?.turnCoverage == .allInput)
        #expect(s.generationConfig?.thinkingConfig == ThinkingConfig(thinkingLevel: "HIGH", includeThoughts: true))
        #expect(s.generationConfig?.temperature == 0.3)
        #expect(s.generationConfig?.speechConfig?.languageCode == "en-GB")
        #expect(s.generationConfig?.speechConfig?.voiceName == "Puck")
        #expect(s.inputAudioTranscription?.languageCodes == ["en-US", "de-DE"])
        #expect(s.proactivity?.proactiveAudio == true)
        #expect(s.tools?.contains { $0.googleSearch != nil } == true)
    }

    @Test func pushToTalkDisablesDetectionButKeepsHandling() throws {
        let r = try setup(["vad-silence-ms": "900", "barge-in": "off"], ptt: true).realtimeInputConfig
        #expect(r == RealtimeInputConfig(automaticActivityDetection: AutomaticActivityDetection(disabled: true),
                                         activityHandling: .noInterruption))
    }

    @Test func badFlagValuesNameTheFlag() {
        for (name, value) in [("temperature", "2.5"), ("top-k", "0"), ("vad-start-sensitivity", "mid"), ("seed", "x"),
                              ("input-language", "en_US"), ("thinking-budget", "-2"), ("frequency-penalty", "nan")] {
            guard case .failure(.flag(let flag, let v, _)) = knobs([name: value]) else {
                Issue.record("\(name) \(value) was accepted"); continue
            }
            #expect(flag == "--" + name && v == value)
        }
        guard case .failure(.flag(let flag, _, let expected)) = knobs(["thinking-level": "low", "thinking-budget": "5"]) else {
            Issue.record("level and budget together were accepted"); return
        }
        #expect(flag == "--thinking-level" && expected.contains("not both"))
    }

    @Test func badFileValuesNameFileAndLine() {
        guard case .failure(.config(let e)) = knobs([:], file: "model = \"m\"\n\ntemperature = 7\n") else {
            Issue.record("accepted"); return
        }
        #expect(e.path == "/c.toml" && e.line == 3 && e.message.contains("temperature"))
        guard case .failure(.config(let e2)) = knobs([:], file: "compression = false\ncompression_target_tokens = 2000\n") else {
            Issue.record("accepted"); return
        }
        #expect(e2.line == 1 && e2.message.contains("compression"))
    }

    @Test func flagsWinOverTheFile() throws {
        let k = try knobs(["temperature": "1.5"], file: "temperature = 0.5\ntop_p = 0.9\nsearch = true\n").get()
        #expect(k.temperature == 1.5 && k.topP == 0.9 && k.search)
    }
}
