import Foundation
import LiveProtocol
import Speech
import Testing
@testable import Emulator
import NIOCore

/// Waits (bounded) until `check` holds; fails the test with `what` otherwise. A hang guard, not a speed check.
func eventually(_ what: String, seconds: Double = 60, _ check: @Sendable () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if await check() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("gave up waiting for \(what)")
    throw CancellationError()
}

/// Two threads spinning for the length of a test: both cores busy.
final class CPULoad: @unchecked Sendable {
    private let lock = NSLock()
    private var running = true
    init(threads: Int = 2) {
        for _ in 0..<threads {
            Thread {
                var x = 0.0
                while self.isRunning { for i in 0..<100_000 { x += sin(Double(i)) } }
                _ = x
            }.start()
        }
    }
    var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }
    func stop() { lock.lock(); running = false; lock.unlock() }
}

extension Collector {
    var contents: [ServerContent] { messages.compactMap { if case .serverContent(let sc) = $0.payload { sc } else { nil } } }
    var turnsCompleted: Int { contents.filter { $0.turnComplete == true }.count }
    var said: String { contents.compactMap { $0.outputTranscription?.text }.joined() }
    var textReply: String { contents.compactMap { $0.modelTurn?.parts?.compactMap(\.text).joined() }.joined() }
    var finishedInput: [String] { contents.compactMap { $0.inputTranscription }.filter { $0.finished == true }.compactMap(\.text) }
}

/// A 300 Hz tone at 16 kHz, -10 dBFS: sound the VAD hears and pocketsphinx finds no words in.
func tone(seconds: Double) -> [Int16] {
    (0..<Int(seconds * 16000)).map { Int16(0.3 * 32767 * sin(2 * Double.pi * 300 * Double($0) / 16000)) }
}

func encoded(_ m: ClientMessage) -> Data { (try? LiveCoder.encode(m)) ?? Data() }

func audioMessage(_ samples: [Int16], mime: String = "audio/pcm;rate=16000") -> Data {
    let data = samples.withUnsafeBytes { Data($0) }
    return encoded(.realtimeInput(RealtimeInput(audio: Blob(mimeType: mime, data: data))))
}

struct LimitsTests {
    func setup(resumption: Bool = false, text: Bool = false, ptt: Bool = false, transcribe: Bool = true) -> Data {
        var s = Setup(model: "models/gemini-x",
                      generationConfig: GenerationConfig(responseModalities: [text ? .text : .audio]),
                      realtimeInputConfig: ptt ? RealtimeInputConfig(automaticActivityDetection: .init(disabled: true)) : nil,
                      sessionResumption: resumption ? SessionResumptionConfig() : nil,
                      inputAudioTranscription: transcribe ? AudioTranscriptionConfig() : nil)
        if !text { s.outputAudioTranscription = AudioTranscriptionConfig() }
        return encoded(.setup(s))
    }

    // MARK: R4

    @Test(arguments: [("audio/pcm;rate=16000", 16000), ("audio/pcm", 16000), ("audio/pcm;rate=8000", 8000),
                      ("audio/pcm;rate=48000", 48000), ("audio/pcm;rate=1", nil), ("audio/pcm;rate=0", nil),
                      ("audio/pcm;rate=7999", nil), ("audio/pcm;rate=48001", nil), ("audio/pcm;rate=", nil),
                      ("audio/pcm;rate=99999999999999999999999", nil)] as [(String, Int?)])
    func testR4_audioRateTable(_ c: (String, Int?)) {
        #expect(TurnMachine.audioRate(mimeType: c.0) == c.1, "\(c.0)")
    }

    @Test func testR4_audioRateOutside8to48kHzCloses1007() async {
        let c = Collector()
        let state = EmulatorState()
        var o = EmulatorOptions()
        o.speech = .tones
        let b = EmulatorBrain(options: o, shared: state, output: c)
        await b.receive(setup())
        await b.receive(audioMessage([Int16](repeating: 0, count: 320), mime: "audio/pcm;rate=48000"))
        #expect(await c.closes.isEmpty, "48 kHz is fine")
        await b.receive(audioMessage([Int16](repeating: 0, count: 8192), mime: "audio/pcm;rate=1"))
        let closes = await c.closes
        #expect(closes.map(\.0) == [1007])
        #expect(closes.first?.1.contains("8000-48000 Hz") == true, "\(closes)")
        #expect(await state.stats.badAudioRates == 1)
        await b.connectionClosed()
    }

    // MARK: R5

    @Test func testR5_snapshotsAreCapped() async {
        var l = EmulatorState.Limits()
        l.maxSnapshots = 3
        let state = EmulatorState(limits: l)
        let t0 = Date()
        for i in 0..<10 {   // one session, ten handles: only the latest `handlesPerSession` (3) are kept
            await state.store(handle: "s1-\(i)", snapshot: .init(history: [], session: 1, createdAt: t0), now: t0)
        }
        #expect(await state.snapshotCount == 3)
        #expect(await state.snapshot(for: "s1-6", now: t0) == nil)
        #expect(await state.snapshot(for: "s1-7", now: t0) != nil)
        #expect(await state.snapshot(for: "s1-9", now: t0) != nil)
        for s in 2...6 {
            await state.store(handle: "s\(s)", snapshot: .init(history: [], session: s, createdAt: t0), now: t0 + Double(s))
        }
        #expect(await state.snapshotCount == 3, "LRU cap")
        #expect(await state.sessionsWithHandles == 3, "the per-session index shrinks with the store")
        let stats = await state.stats
        #expect(stats.snapshotsSuperseded == 7 && stats.snapshotsEvicted == 5, "\(stats)")
        #expect(await state.snapshot(for: "s6", now: t0 + 7) != nil, "the most recent survive")
    }

    @Test func testR5_snapshotsExpireAfterTheTTL() async {
        var l = EmulatorState.Limits()
        l.resumptionTTL = .seconds(60)
        let state = EmulatorState(limits: l)
        let t0 = Date()
        await state.store(handle: "a", snapshot: .init(history: [], session: 1, createdAt: t0), now: t0)
        #expect(await state.snapshot(for: "a", now: t0 + 59) != nil)
        #expect(await state.snapshot(for: "a", now: t0 + 61) == nil)
        await state.store(handle: "b", snapshot: .init(history: [], session: 2, createdAt: t0), now: t0)
        await state.store(handle: "c", snapshot: .init(history: [], session: 3, createdAt: t0 + 120), now: t0 + 120)
        #expect(await state.snapshotCount == 1, "expired ones are purged on store")
        #expect(await state.stats.snapshotsExpired == 2)
    }

    @Test func testR5_tokensArePurgedAndCapped() async {
        var l = EmulatorState.Limits()
        l.maxTokens = 2
        let state = EmulatorState(limits: l)
        let now = Date()
        let old = await state.mint(.init(usesLeft: nil, expireTime: now - 1, newSessionExpireTime: now - 1, constraint: nil), now: now)
        #expect(old != nil)
        let a = await state.mint(.init(usesLeft: 1, expireTime: now + 60, newSessionExpireTime: now + 60, constraint: nil), now: now)
        let b = await state.mint(.init(usesLeft: 1, expireTime: now + 60, newSessionExpireTime: now + 60, constraint: nil), now: now)
        #expect(a != nil && b != nil, "the expired token made room")
        #expect(await state.tokenCount == 2)
        let c = await state.mint(.init(usesLeft: 1, expireTime: now + 60, newSessionExpireTime: now + 60, constraint: nil), now: now)
        #expect(c == nil, "over the cap")
        let stats = await state.stats
        #expect(stats.tokensExpired == 1 && stats.tokenMintsRefused == 1, "\(stats)")
    }

    @Test func testR5_manyInterruptingTextsKeepOneSnapshotWithBoundedHistory() async throws {
        var o = EmulatorOptions()
        o.speech = .tones
        o.maxHistoryEntries = 20
        let state = EmulatorState(limits: .init(o))
        let c = Collector()
        let b = EmulatorBrain(options: o, shared: state, output: c)
        await b.receive(setup(resumption: true))
        for i in 0..<300 { await b.receive(encoded(.realtimeInput(.text("message \(i)")))) }
        #expect(await state.snapshotCount == 3, "handlesPerSession per session, not one per interruption")
        let handles = await c.messages.compactMap { if case .sessionResumptionUpdate(let u) = $0.payload { u.newHandle } else { nil } }
        let last = try #require(handles.last)
        let snap = try #require(await state.snapshot(for: last))
        #expect(snap.history.count <= 20)
        #expect(await state.stats.snapshotsSuperseded >= 297)
        await b.connectionClosed()
    }

    @Test func testR5_tokenMintingPeerCheck() {
        #expect(EmulatorServer.isLoopback(nil))
        #expect(EmulatorServer.isLoopback(try? .init(ipAddress: "127.0.0.1", port: 1)))
        #expect(EmulatorServer.isLoopback(try? .init(ipAddress: "::1", port: 1)))
        #expect(!EmulatorServer.isLoopback(try? .init(ipAddress: "192.168.1.20", port: 1)))
        #expect(!EmulatorServer.isLoopback(try? .init(ipAddress: "2001:db8::1", port: 1)))
    }

    // MARK: R6

    @Test func testR6_noSetupWithinTheIdleTimeoutCloses1008() async throws {
        let c = Collector()
        let state = EmulatorState()
        let b = EmulatorBrain(options: EmulatorOptions(), shared: state, output: c)
        await b.armSetupDeadline(.milliseconds(200))
        try await eventually("the idle close") { await !c.closes.isEmpty }
        let closes = await c.closes
        #expect(closes.map(\.0) == [1008])
        #expect(closes.first?.1.hasPrefix("no setup message within 0.2 s") == true, "\(closes)")
        #expect(await state.stats.idleCloses == 1)
        // That a connection that did send setup is left alone is shown on the manual clock, with
        // no sleep: TurnMachineTests.noSetupWithinTheTimeoutCloses1008AndASetupDisarmsIt.
    }

    @Test(arguments: [(nil, true), ("", true), ("http://localhost:3000", true), ("http://127.0.0.1:8765", true),
                      ("http://[::1]:8080", true), ("https://app.localhost", true), ("https://evil.example", false),
                      ("null", false), ("http://127.0.0.1.evil.example", false), ("file://", false),
                      ("https://allowed.example/", true)] as [(String?, Bool)])
    func testR6_originCheck(_ c: (String?, Bool)) {
        #expect(ConnectionGate.originAllowed(c.0, allowed: ["https://allowed.example"]) == c.1, "\(c.0 ?? "nil")")
    }

    @Test func testR6_gateCountsSessionsAndTCP() {
        let g = ConnectionGate(maxSessions: 2, tcpSlack: 1)
        #expect(g.sessionOpened() && g.sessionOpened())
        #expect(!g.sessionOpened(), "N+1 is refused")
        g.sessionClosed()
        #expect(g.sessionOpened(), "a freed slot is reused")
        // The TCP side (eviction of silent sockets) is tested over loopback in IntegrationTests.
    }

    // MARK: R7

    @Test func testR7_aMegabyteOfTextGetsABoundedReply() async throws {
        var o = EmulatorOptions()
        o.speech = .tones
        let state = EmulatorState(limits: .init(o))
        let c = Collector()
        let b = EmulatorBrain(options: o, shared: state, output: c)
        await b.receive(setup(text: true))
        let big = String(repeating: "word ", count: 200_000)   // 1 MB
        await b.receive(encoded(.realtimeInput(.text(big))))
        try await eventually("the reply to 1 MB of text") { await c.turnsCompleted == 1 }
        let said = await c.textReply
        #expect(said.count <= o.maxTextCharacters + 1, "\(said.count) characters said")
        #expect(said.hasPrefix("I heard: word word") && said.hasSuffix("…"))
        let stats = await state.stats
        #expect(stats.textTruncations == 1 && stats.replyTruncations == 1, "\(stats)")
        await b.connectionClosed()
    }

    @Test func testR7_speechPiecesAreBoundedAndKeepEveryWord() {
        let text = (0..<400).map { $0 % 17 == 0 ? "end\($0)." : "w\($0)" }.joined(separator: " ")
        let pieces = ReplyStreamer.speechPieces(text)
        #expect(pieces.joined(separator: " ") == text)
        #expect(pieces.allSatisfy { $0.count <= ReplyStreamer.pieceCharacters })
        #expect(ReplyStreamer.speechPieces("Hello! I am the offline emulator. How can I help?").count == 1, "short replies are one piece")
        #expect(ReplyStreamer.speechPieces(String(repeating: "x", count: 1000)).count == 1, "a long word stays whole")
    }

    // MARK: R8

    @Test func testR8_listenersPerServerAreBounded() async throws {
        var o = EmulatorOptions()
        o.maxListeners = 1
        let state = EmulatorState(limits: .init(o))
        let (c1, c2) = (Collector(), Collector())
        let b1 = EmulatorBrain(options: o, shared: state, output: c1)
        let b2 = EmulatorBrain(options: o, shared: state, output: c2)
        for b in [b1, b2] {
            await b.receive(setup(text: true, ptt: true))
            await b.receive(encoded(.realtimeInput(.activityStart)))
        }
        #expect(await state.listenersInUse == 1)
        #expect(await state.stats.listenersRefused == 1)
        await b2.receive(audioMessage(tone(seconds: 0.5)))
        await b2.receive(encoded(.realtimeInput(.activityEnd)))
        #expect(await c2.finishedInput == ["[speech 0.5 s]"], "over the limit: a placeholder")
        await b1.receive(encoded(.realtimeInput(.activityEnd)))
        try await eventually("the listener slot to be given back") { await state.listenersInUse == 0 }
        await b1.connectionClosed()
        await b2.connectionClosed()
    }

    /// The shared decoder pool keeps as many spares as a server may recognise utterances at once.
    @Test func testR8_aServerKeepsAsManyWarmDecodersAsListeners() async throws {
        var o = EmulatorOptions()
        o.maxListeners = 40
        let (_, _, task) = try await EmulatorServer.start(options: o)
        defer { task.cancel() }
        #expect(RecognizerPool.shared.maxSpares >= 40)
    }

    @Test func testR8_utterancesAreCutAtTheMaximumLength() async throws {
        for ptt in [false, true] {
            var o = EmulatorOptions()
            o.speech = .tones
            o.maxUtterance = .seconds(1)
            let state = EmulatorState(limits: .init(o))
            let c = Collector()
            let b = EmulatorBrain(options: o, shared: state, output: c)
            await b.receive(setup(text: true, ptt: ptt))
            if ptt { await b.receive(encoded(.realtimeInput(.activityStart))) }
            let tone = tone(seconds: 1.5)
            for start in stride(from: 0, to: tone.count, by: 320) {
                await b.receive(audioMessage(Array(tone[start..<min(start + 320, tone.count)])))
            }
            let cuts = await state.stats.utterancesCut
            let n = await c.contents.count
            #expect(cuts == 1, "ptt \(ptt): \(cuts) cuts, \(n) contents")
            let finished = await c.finishedInput
            #expect(finished.count == 1 && finished.first?.hasPrefix("[speech 1.0") == true, "ptt \(ptt): \(finished)")
            await b.connectionClosed()
        }
    }
}

/// Issue 9 item 7: the same audio gives the same final transcript, however busy the CPU is.
@Suite(.serialized) struct FinalTranscriptDeterminismTests {
    /// One utterance through a fresh brain (VAD, pocketsphinx, TEXT replies), fed in 20 ms chunks:
    /// the reply, which is built from the final transcript ("Nice to meet you, Bob.").
    func reply(to audio: [Int16]) async throws -> (reply: String, finished: [String]) {
        let c = Collector()
        let b = EmulatorBrain(options: EmulatorOptions(), shared: EmulatorState(), output: c)
        var s = Setup(model: "models/gemini-x", generationConfig: GenerationConfig(responseModalities: [.text]),
                      inputAudioTranscription: AudioTranscriptionConfig())
        s.sessionResumption = nil
        await b.receive(encoded(.setup(s)))
        for start in stride(from: 0, to: audio.count, by: 320) {
            await b.receive(audioMessage(Array(audio[start..<min(start + 320, audio.count)])))
        }
        try await eventually("the reply") { await c.turnsCompleted == 1 }
        let r = (await c.textReply, await c.finishedInput)
        await b.connectionClosed()
        return r
    }

    @Test func testIssue9Item7_emulatorFinalTranscriptIsTheSameUnderCPULoad() async throws {
        let voice = EspeakVoice(name: "en-us+f2", rate: 160)
        let speech = try await ReproducibleSpeech.record("my name is bob", voice: voice)
        let audio = [Int16](repeating: 0, count: 4800) + speech + [Int16](repeating: 0, count: 12800)
        let quiet = try await reply(to: audio)
        #expect(quiet.reply.hasPrefix("Nice to meet you"), "\(quiet)")
        let load = CPULoad()
        defer { load.stop() }
        let busy = try await reply(to: audio)
        #expect(busy.reply == quiet.reply)
    }
}

/// Issue 13 item 4: the documented defaults of `livetalk serve`'s limits (README, "The emulator").
struct LimitDefaultsTests {
    /// Connections closed before their HTTP upgrade: the first is logged, then one counted summary
    /// at most every `handshakeLogInterval`, whatever the flood (on given instants, no waiting).
    @Test func testIssue13_unfinishedHandshakesAreSummarisedNotLoggedEach() {
        let gate = ConnectionGate(maxSessions: 4)
        let t0 = ContinuousClock.now
        let first = gate.unfinishedHandshake(now: t0)
        #expect(first?.hasPrefix("1 connection closed before finishing the HTTP upgrade") == true, "\(String(describing: first))")
        var lines = 0
        for i in 1...270 where gate.unfinishedHandshake(now: t0 + .milliseconds(30 * i)) != nil { lines += 1 }
        #expect(lines == 0, "270 more within 8.1 s: no line")
        let summary = gate.unfinishedHandshake(now: t0 + ConnectionGate.handshakeLogInterval)
        #expect(summary?.hasPrefix("271 connections closed before finishing the HTTP upgrade in the last 10 s") == true,
                "\(String(describing: summary))")
        #expect(summary?.contains("272 in all") == true)
        #expect(gate.counts.unfinishedHandshakes == 272)
    }

    @Test func testIssue13_limitDefaultsAreTheDocumentedOnes() {
        let o = EmulatorOptions()
        #expect(o.maxConnections == 64)
        #expect(o.idleTimeout == .seconds(10))
        #expect(o.maxTextCharacters == 2000)
        #expect(o.maxSnapshots == 1000)
        #expect(o.resumptionTTL == .seconds(2 * 3600), "2 h, as the service documents")
        #expect(o.maxTokens == 1000)
        #expect(o.maxUtterance == .seconds(30))
        #expect(o.maxListeners == EmulatorOptions.defaultMaxListeners)
        #expect(EmulatorOptions.defaultMaxListeners == min(64, max(4, 4 * ProcessInfo.processInfo.activeProcessorCount)))
        #expect(o.allowedOrigins.isEmpty)
        #expect(RecognizerPool.shared.maxSpares >= 16 && RecognizerPool.shared.spareLifetime == 30)
    }
}
