import Foundation
import LiveProtocol
import Speech
import Testing
@testable import Emulator

struct RouteTests {
    @Test(arguments: [
        ("/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent", LiveRoute.Kind.developer, "v1beta"),
        ("//ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContent", .developer, "v1alpha"),
        ("/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained?access_token=auth_tokens/x",
         .constrained, "v1alpha"),
        ("//ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent", .vertex, "v1beta1"),
    ])
    func livePathsMatch(_ c: (String, LiveRoute.Kind, String)) throws {
        let (route, _) = try #require(LiveRoute.match(c.0))
        #expect(route.kind == c.1)
        #expect(route.apiVersion == c.2)
    }

    @Test(arguments: ["/", "/ws", "/ws/google.ai.generativelanguage.v1beta.GenerativeService.Other", "//evil.example/ws"])
    func otherPathsDoNotUpgrade(_ p: String) {
        #expect(LiveRoute.match(p) == nil)
    }

    @Test func queryKeysAreRead() throws {
        let (_, q) = try #require(LiveRoute.match("/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=K%2B1"))
        #expect(q.first { $0.name == "key" }?.value == "K+1")
    }
}

struct OfflineAgentTests {
    let decls = [FunctionDeclaration(name: "get_weather"), FunctionDeclaration(name: "book_ticket", behavior: .nonBlocking),
                 FunctionDeclaration(name: "get")]

    @Test func toolsMatchByNameWithUnderscoresAsSpaces() {
        let m = OfflineAgent.matchTools("Could you get weather city=Paris units=\"deg C\" days=3 now?", declarations: decls)
        #expect(m.map(\.0.name) == ["get_weather", "get"])
        #expect(m[0].1 == ["city": "Paris", "units": "deg C", "days": 3])
        #expect(OfflineAgent.matchTools("the weather getter", declarations: decls).isEmpty)
        #expect(OfflineAgent.matchTools("BOOK_TICKET destination=Rome.", declarations: decls).first?.1 == ["destination": "Rome"])
    }

    /// An MCP tool prefixed with its server's name because a built-in has its name (issue 12):
    /// naming the prefixed one calls it alone; the bare name still calls the built-in.
    @Test func aPrefixedToolWinsOverTheNameItEndsWith() {
        let d = [FunctionDeclaration(name: "get_current_time"), FunctionDeclaration(name: "time_get_current_time")]
        let m = OfflineAgent.matchTools("time get current time timezone=Europe/Paris", declarations: d)
        #expect(m.map(\.0.name) == ["time_get_current_time"] && m[0].1 == ["timezone": "Europe/Paris"])
        #expect(OfflineAgent.matchTools("please get current time", declarations: d).map(\.0.name) == ["get_current_time"])
        #expect(OfflineAgent.matchTools("git log repo_path=/tmp/r max_count=3", declarations: [FunctionDeclaration(name: "git_log")]).first?.1
            == ["repo_path": "/tmp/r", "max_count": 3])
    }

    @Test func repliesUseHistory() {
        let h = [HistoryEntry(.user, "my name is Ada Lovelace"), HistoryEntry(.model, "Nice to meet you, Ada Lovelace.")]
        #expect(OfflineAgent.reply(to: "What is my name?", history: h) == "Your name is Ada Lovelace.")
        #expect(OfflineAgent.reply(to: "what is my name", history: []) == "You have not told me your name yet.")
        #expect(OfflineAgent.reply(to: "[speech 1.2 s]", history: []) == "I heard 1.2 s of speech.")
        #expect(OfflineAgent.reply(to: "x", history: [], toolResults: [("f", ["error": "boom"])]) == "f failed: boom.")
        #expect(OfflineAgent.reply(to: "do you know my name", history: h) == "Your name is Ada Lovelace.")
    }

    @Test func rules() {
        let noon = Date(timeIntervalSince1970: 1_700_000_000)   // 22:13:20 UTC
        let utc = TimeZone(identifier: "UTC")!
        #expect(OfflineAgent.reply(to: "hello there", history: []) == "Hello! I am the offline emulator. How can I help?")
        #expect(OfflineAgent.reply(to: "good morning", history: []).hasPrefix("Hello!"))
        #expect(OfflineAgent.reply(to: "what time is it", history: [], now: noon, timeZone: utc) == "It is 10:13 PM.")
        #expect(OfflineAgent.reply(to: "repeat after me the sky is blue", history: []) == "The sky is blue.")
        #expect(OfflineAgent.reply(to: "repeat after me", history: []) == "Say repeat after me, then the words.")
        #expect(OfflineAgent.reply(to: "what is the weather in paris", history: []) ==
                "I cannot look up the weather: this session declares no weather tool.")
        #expect(OfflineAgent.reply(to: "open the pod bay doors", history: []) == "I heard: open the pod bay doors")
        let can = OfflineAgent.reply(to: "what can you do", history: [], declarations: decls)
        #expect(can.contains("ask what time it is") && can.contains("You can also name a tool: get weather, book ticket, get."))
        #expect(OfflineAgent.reply(to: "my name is bob", history: []) == "Nice to meet you, Bob.")
    }

    @Test func weatherPhraseCallsTheWeatherToolWithThePlace() {
        let schema: JSONValue = ["type": "OBJECT", "properties": ["city": ["type": "STRING"], "days": ["type": "INTEGER"]]]
        let d = [FunctionDeclaration(name: "lookup_weather", parameters: schema)]
        let m = OfflineAgent.matchTools("what is the weather like in new york", declarations: d)
        #expect(m.map(\.0.name) == ["lookup_weather"])
        #expect(m.first?.1 == ["city": "New York"])
        #expect(OfflineAgent.matchTools("what is the weather in Rome", declarations: [FunctionDeclaration(name: "weather")]).first?.1
                == ["location": "Rome"])
        #expect(OfflineAgent.matchTools("what is the weather in Rome", declarations: [FunctionDeclaration(name: "get_time")]).isEmpty)
    }

    @Test func grammarHasTheRulesAndTheDeclaredTools() throws {
        let src = try #require(OfflineAgent.grammar(declarations: decls).jsgf { _ in true })
        for phrase in ["what time is it", "what can you do", "my name is <name>", "do you know my name",
                       "repeat after me <word>+", "what is the weather in <city>", "get weather", "book ticket"] {
            #expect(src.contains(phrase), "\(phrase)")
        }
    }
}

/// Collects a brain's output in memory (the fast double; the same brain runs behind the socket in IntegrationTests).
actor Collector: EmulatorOutput {
    var messages: [ServerMessage] = []
    var closes: [(UInt16, String)] = []
    var dropped = false

    func send(_ data: Data, asText: Bool) async {
        if let m = try? LiveCoder.decodeServer(data) { messages.append(m) }
    }
    func close(code: UInt16, reason: String) async { closes.append((code, reason)) }
    func drop() async { dropped = true }
    var closeCodes: [UInt16] { closes.map(\.0) }
}

struct BrainTests {
    func json(_ m: ClientMessage) -> Data { encoded(m) }

    @Test func setupMustComeFirst() async {
        let c = Collector()
        let b = EmulatorBrain(options: EmulatorOptions(), shared: EmulatorState(), output: c)
        await b.receive(json(.realtimeInput(.text("hi"))))
        #expect(await c.closes.map(\.0) == [1007])
        #expect(await c.closes.first?.1 == "Request contains an invalid argument.")
    }

    @Test func secondSetupAndGarbageAre1007() async {
        for second in [json(.setup(Setup(model: "models/gemini-x"))), Data("{not json".utf8)] {
            let c = Collector()
            let b = EmulatorBrain(options: EmulatorOptions(), shared: EmulatorState(), output: c)
            await b.receive(json(.setup(Setup(model: "models/gemini-x"))))
            await b.receive(second)
            #expect(await c.closeCodes == [1007])
            await b.connectionClosed()
        }
    }

    @Test func unknownHandleIs1008SessionNotFound() async {
        let c = Collector()
        let b = EmulatorBrain(options: EmulatorOptions(), shared: EmulatorState(), output: c)
        await b.receive(json(.setup(Setup(model: "models/gemini-x", sessionResumption: .init(handle: "nope")))))
        #expect(await c.closes.map(\.1) == ["BidiGenerateContent session not found"])
        #expect(await c.closeCodes == [1008])
    }

    @Test func setupAnswersSetupCompleteThenAHandle() async throws {
        let c = Collector()
        let b = EmulatorBrain(options: EmulatorOptions(), shared: EmulatorState(), output: c, isVertex: true)
        await b.receive(json(.setup(Setup(model: "projects/p/locations/l/publishers/google/models/gemini-live",
                                          sessionResumption: .init()))))
        let m = await c.messages
        guard case .setupComplete(let sc) = m.first?.payload, case .sessionResumptionUpdate(let u) = m.last?.payload else {
            Issue.record("\(m)"); return
        }
        #expect(sc.sessionId?.hasPrefix("emu-session-") == true)
        #expect(u.resumable == true)
        #expect(u.lastConsumedClientMessageIndex == "0")
        await b.connectionClosed()
    }

    @Test func missingKeyIs1008() async {
        let c = Collector()
        let b = EmulatorBrain(options: EmulatorOptions(), shared: EmulatorState(), output: c, auth: .missing)
        await b.receive(json(.setup(Setup(model: "models/gemini-x"))))
        #expect(await c.closeCodes == [1008])
        #expect(await c.closes.first!.1.utf8.count <= 123)
    }

    @Test func ephemeralTokensHonourUses() async {
        let state = EmulatorState()
        guard let name = await state.mint(.init(usesLeft: 1, expireTime: Date() + 60, newSessionExpireTime: Date() + 60, constraint: nil)) else {
            Issue.record("mint refused"); return
        }
        for expected in [[UInt16](), [1008]] {
            let c = Collector()
            let b = EmulatorBrain(options: EmulatorOptions(), shared: state, output: c, auth: .token(name))
            await b.receive(json(.setup(Setup(model: "models/gemini-x"))))
            #expect(await c.closeCodes == expected)
            await b.connectionClosed()
        }
        let c = Collector()
        let b = EmulatorBrain(options: EmulatorOptions(), shared: state, output: c, auth: .token("auth_tokens/unknown"))
        await b.receive(json(.setup(Setup(model: "models/gemini-x"))))
        #expect(await c.closeCodes == [1007])
        guard let expired = await state.mint(.init(usesLeft: nil, expireTime: Date() - 1, newSessionExpireTime: Date() - 1, constraint: nil)) else {
            Issue.record("mint refused"); return
        }
        #expect({ if case .expired = $0 { true } else { false } }(await state.useToken(expired, resuming: false)))
    }

    @Test func noInterruptionLetsTheReplyFinish() async throws {
        var o = EmulatorOptions()
        o.charactersPerSecond = 200
        let c = Collector()
        let b = EmulatorBrain(options: o, shared: EmulatorState(), output: c)
        var setup = Setup(model: "models/gemini-x", realtimeInputConfig: RealtimeInputConfig(activityHandling: .noInterruption),
                          outputAudioTranscription: .init())
        setup.generationConfig = GenerationConfig(responseModalities: [.audio])
        await b.receive(json(.setup(setup)))
        await b.receive(json(.realtimeInput(.text("hello there"))))
        await b.receive(json(.realtimeInput(.text("my name is Ada"))))
        // Wait (bounded) for both turns to complete.
        for _ in 0..<400 {
            let done = await c.messages.filter { if case .serverContent(let sc) = $0.payload { sc.turnComplete == true } else { false } }
            if done.count == 2 { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        let contents = await c.messages.compactMap { if case .serverContent(let sc) = $0.payload { sc } else { nil } }
        #expect(!contents.contains { $0.interrupted == true })
        #expect(contents.filter { $0.turnComplete == true }.count == 2)
        let said = contents.compactMap { $0.outputTranscription?.text }.joined()
        #expect(said == "Hello! I am the offline emulator. How can I help?Nice to meet you, Ada.")
        await b.connectionClosed()
    }
}
