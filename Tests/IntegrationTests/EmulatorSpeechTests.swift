import AudioCore
#if canImport(Glibc)
import Glibc
#endif
import Emulator
import Foundation
import Logging
import LiveProtocol
import LiveSession
import Speech
import Testing
import TestSupport
import WebSocketTransport

/// The emulator hears and speaks: espeak-ng recordings go in as the user's microphone over a real
/// loopback WebSocket; what comes back is checked by ear (pocketsphinx).
@Suite(.serialized)
struct EmulatorSpeechTests {
    /// The voice that plays the user (a different espeak-ng voice from the emulator's Puck).
    static let userVoice = EspeakVoice(name: "en-us+f2", rate: 160)

    /// 16 kHz PCM of `text` with 0.3 s of silence before and 0.8 s after (the VAD's end of speech).
    /// Recorded by a fresh espeak-ng process, so the same text is the same audio in every run,
    /// whatever else synthesised before it (issue 9 item 7: the in-process synthesizer's output
    /// depends on its history, which depended on how parallel tests were scheduled).
    static func utterance(_ text: String) async throws -> Data {
        let spoken = try await ReproducibleSpeech.record(text, voice: userVoice)
        return Signal.silence(0.3) + PCM.data(spoken) + Signal.silence(0.8)
    }

    /// Lower-case words without punctuation: how a recogniser writes a transcript.
    static func words(_ s: String) -> String {
        String(s.lowercased().map { $0.isLetter || $0.isNumber || $0 == "'" ? $0 : " " })
            .split(separator: " ").joined(separator: " ")
    }

    /// Everything the agent might have said here, so that recognising the reply is a real choice.
    static let replies = PhraseGrammar(phrases: [
        "nice to meet you bob", "nice to meet you alice", "your name is bob", "your name is alice",
        "you have not told me your name yet", "hello i am the offline emulator how can i help",
        "i heard do you know my name", "i heard my name is bob", "the sky is blue",
    ])

    func connected(_ h: EmulatorHarness, setup: Setup = testSetup(), tools: ToolRegistry = .builtins())
        async throws -> (Session, EventRecorder)
    {
        let s = makeSession(h, setup: setup, tools: tools)
        let r = EventRecorder()
        _ = r.attach(s)
        await s.connect()
        try await r.wait(for: "CONNECTED") { ev in ev.contains { if case .state(.connected, true) = $0 { true } else { false } } }
        return (s, r)
    }

    func speak(_ text: String, to s: Session) async throws {
        for c in Signal.chunks(try await Self.utterance(text)) { await s.sendAudio(c) }
    }

    /// The reply audio of `turn`, resampled to 16 kHz and recognised against `replies`.
    func heard(turn: Int, in ev: [SessionEvent]) async -> Recognition {
        var pcm = Data()
        for case .audio(let d, 24000, let t) in ev where t == turn { pcm.append(d) }
        let samples = SpeexResample.convert(PCM.samples(pcm), from: 24000, to: 16000)
        return await Listener.recognize(samples, grammar: Self.replies)
    }

    @Test func spokenNameIsHeardAnsweredAndTheAnswerSaysWhatItsTranscriptSays() async throws {
        let h = try await EmulatorHarness.start()
        let (s, r) = try await connected(h)

        try await speak("my name is bob", to: s)
        try await r.wait(for: "the reply to the first question") { $0.completedTurns == 1 }
        var ev = await r.events
        let input = ev.compactMap { if case .inputTranscript(let t, _) = $0 { t } else { nil } }.joined()
        #expect(input == "my name is bob")
        #expect(ev.turns.map(\.text) == ["my name is bob", "Nice to meet you, Bob."])
        let output1 = ev.compactMap { if case .outputTranscript(let t, 1) = $0 { t } else { nil } }
        #expect(output1.count > 1, "the transcript follows the speech in pieces: \(output1)")
        let heard1 = await heard(turn: 1, in: ev)
        #expect(heard1.text == Self.words(output1.joined()), "\(heard1)")
        #expect(heard1.text == "nice to meet you bob")

        // The second question depends on the first: the agent kept it.
        try await speak("do you know my name", to: s)
        try await r.wait(for: "the reply to the second question") { $0.completedTurns == 2 }
        ev = await r.events
        #expect(ev.turns.suffix(2).map(\.text) == ["do you know my name", "Your name is Bob."])
        let output2 = ev.compactMap { if case .outputTranscript(let t, 2) = $0 { t } else { nil } }.joined()
        let heard2 = await heard(turn: 2, in: ev)
        #expect(heard2.text == Self.words(output2) && heard2.text == "your name is bob", "\(heard2)")
        #expect(await h.stats.utterancesRecognised == 2)
        await s.quit()
    }

    /// Every city of the agent's grammar, asked in one session. Recognition of synthetic speech is
    /// not perfect (README "Emulator speech": with this voice "paris" is heard as "madrid"), so the
    /// test holds the accuracy to 7 of 8 and checks that every call carries the city that was heard.
    @Test func weatherQuestionsCallTheDeclaredWeatherTool() async throws {
        let h = try await EmulatorHarness.start()
        var tools = ToolRegistry.builtins()
        let seen = Box()
        tools.register(ToolDefinition(declaration: FunctionDeclaration(
            name: "get_weather", description: "Weather for a city",
            parameters: .object(["type": .string("OBJECT"), "properties": .object(["city": .object(["type": .string("STRING")])])]))
        ) { args in
            seen.set(args?["city"]?.stringValue)
            return .object(["sky": .string("clear"), "temperature_c": .int(21)])
        })
        let (s, r) = try await connected(h, tools: tools)
        let cities = ["berlin", "london", "madrid", "paris", "rome", "sydney", "tokyo", "vienna"]
        var right = 0
        for (i, city) in cities.enumerated() {
            try await speak("what is the weather in \(city)", to: s)
            try await r.wait(for: "the reply about \(city)") { $0.completedTurns == i + 1 }
            let turns = await r.events.turns.suffix(2).map(\.text)
            let heardCity = String(turns[0].split(separator: " ").last ?? "")
            #expect(turns[0].hasPrefix("what is the weather in "), "\(turns)")
            #expect(seen.value == heardCity.capitalized, "the call carries the city heard: \(turns)")
            #expect(turns[1] == "The get_weather result: sky clear, temperature_c 21.")
            if heardCity == city { right += 1 }
        }
        #expect(right >= 7, "\(right) of 8 cities heard right")
        await s.quit()
    }

    @Test func soundWithoutWordsStaysAPlaceholder() async throws {
        let h = try await EmulatorHarness.start()
        let (s, r) = try await connected(h)
        for c in Signal.chunks(Signal.silence(0.3) + Signal.tone(1.0) + Signal.silence(0.8)) { await s.sendAudio(c) }
        try await r.wait(for: "the reply to a tone") { $0.completedTurns == 1 }
        #expect(await r.events.turns.map(\.text) == ["[speech 1.0 s]", "I heard 1.0 s of speech."])
        #expect(await h.stats.utterancesRecognised == 0)
        await s.quit()
    }

    @Test func pushToTalkUtteranceIsRecognised() async throws {
        let h = try await EmulatorHarness.start()
        let (s, r) = try await connected(h, setup: testSetup(pushToTalk: true))
        await s.activityStart()
        let spoken = try await ReproducibleSpeech.record("what can you do", voice: Self.userVoice)
        for c in Signal.chunks(Signal.silence(0.2) + PCM.data(spoken) + Signal.silence(0.2)) { await s.sendAudio(c) }
        await s.activityEnd()
        try await r.wait(for: "the reply") { $0.completedTurns == 1 }
        let turns = await r.events.turns
        #expect(turns.first?.text == "what can you do")
        #expect(turns.last?.text.hasPrefix("You can say hello, ask what time it is") == true, "\(turns)")
        #expect(turns.last?.text.contains("get current time, start timer") == true)
        await s.quit()
    }
}

final class Box: @unchecked Sendable {
    private let lock = NSLock()
    private var v: String?
    func set(_ s: String?) { lock.lock(); v = s; lock.unlock() }
    var value: String? { lock.lock(); defer { lock.unlock() }; return v }
}

/// R6 over a real loopback socket: the connection cap and the setup deadline.
@Suite struct EmulatorAdmissionTests {
    func rawConnect(_ h: EmulatorHarness, connectDeadline: Duration? = nil) async throws -> any TransportConnection {
        var log = Logger(label: "test.raw")
        if ProcessInfo.processInfo.environment["LIVETALK_TEST_TRACE"] != nil { log.logLevel = .trace }
        var d = Deadlines.defaults
        if let connectDeadline { d.connect = connectDeadline }
        return try await WebSocketTransport(deadlines: d, logger: log).connect(to: h.endpoint())
    }

    func closed(_ c: any TransportConnection) async -> (UInt16, String)? {
        for await m in c.inbound { if case .closed(let code, let reason) = m { return (code, reason) } }
        return nil
    }

    @Test func testR6_connectionOverTheCapIsRefusedAndOpenSessionsCarryOn() async throws {
        let h = try await EmulatorHarness.start { $0.maxConnections = 2; $0.speech = .tones }
        let a = makeSession(h, setup: testSetup(text: true))
        let ra = EventRecorder()
        _ = ra.attach(a)
        await a.connect()
        try await ra.wait(for: "session A connected") { $0.contains { if case .state(.connected, true) = $0 { true } else { false } } }
        let b = try await rawConnect(h)
        b.send((try? LiveCoder.encode(ClientMessage.setup(testSetup(text: true)))) ?? Data())
        // Sessions are admitted when their handler starts: wait until both are in before the third.
        let gate = h.server.gate
        let deadline = ContinuousClock.now + .seconds(60)
        while gate.counts.sessions < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(gate.counts.sessions == 2, "waited for two admitted sessions")
        let third = try await rawConnect(h)
        third.send((try? LiveCoder.encode(ClientMessage.setup(testSetup(text: true)))) ?? Data())   // answered with 1013
        let refusal = await closed(third)
        #expect(refusal?.0 == 1013, "\(String(describing: refusal))")
        #expect(refusal?.1.contains("too many connections (limit 2)") == true)
        #expect(await h.stats.connectionsRefused == 1)
        await a.sendText("hello")
        try await ra.wait(for: "session A still answers") { $0.completedTurns == 1 }
        await b.close(code: 1000, reason: "")
        await a.quit()
    }


    @Test func testR6_silentSocketsCannotLockOutRealClients() async throws {
        let h = try await EmulatorHarness.start { $0.maxConnections = 2; $0.speech = .tones }
        let fds = (0..<40).map { _ in silentLoopbackSocket(port: h.port) }
        defer { fds.forEach { close($0) } }
        let gate = h.server.gate
        try await EventRecorder().wait(for: "nothing") { _ in true }
        let a = try await helloGetsAReply(h, "a real client's reply while 40 silent sockets were open")
        let counts = gate.counts
        #expect(counts.evictedTCP >= 40 - gate.maxTCP, "\(counts)")
        #expect(counts.tcp <= gate.maxTCP)
        await a.quit()
    }

    @Test func testR6_anUpgradedConnectionWithoutSetupIsClosedAfterTheIdleTimeout() async throws {
        // The 300 ms setup deadline starts once upgraded. The handshake gets its own, generous
        // deadline: on a cold, loaded CI run an upgrade that took over 300 ms was closed before it
        // finished, and the test failed on the handshake instead of checking the setup deadline.
        let h = try await EmulatorHarness.start {
            $0.idleTimeout = .milliseconds(300); $0.handshakeTimeout = .seconds(60); $0.speech = .tones
        }
        let c = try await rawConnect(h, connectDeadline: .seconds(60))
        let close = await closed(c)
        #expect(close?.0 == 1008, "\(String(describing: close))")
        #expect(close?.1.hasPrefix("no setup message within") == true)
        #expect(await h.stats.idleCloses == 1)
    }
}
