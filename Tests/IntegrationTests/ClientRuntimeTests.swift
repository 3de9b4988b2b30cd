import App
import AudioCore
import Foundation
import LiveProtocol
import LiveSession
import TerminalUI
import Testing
import TestSupport
import WebSocketTransport
import Emulator

/// Collects what a face printed (thread-safe) and lets a test wait for a line.
final class Printed: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ s: String) { lock.withLock { lines.append(s) } }
    var all: [String] { lock.withLock { lines } }
    var text: String { all.joined(separator: "\n") }
}

/// The one runtime, driven as a user would, with no terminal and no tmux: the screen face
/// through a `RecordingBackend` (keys in, screens out), line mode through scripted lines.
@Suite(.serialized) struct ClientRuntimeTests {
    static func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("livetalk-rt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func plan(_ h: EmulatorHarness, screen: Bool, data: String, configure: (inout ClientFlags) -> Void = { _ in }) throws -> ClientPlan {
        var f = ClientFlags()
        f.endpoint = h.url
        f.audio = .null
        f.noTUI = !screen
        configure(&f)
        let env = ["HOME": data, "XDG_DATA_HOME": data + "/share"]
        return try ClientPlan.make(flags: f, file: FileConfig(), surroundings: ClientSurroundings(interactive: screen, environment: env)).get()
    }

    func edges(backend: RecordingBackend? = nil, lines: AsyncStream<String> = AsyncStream { $0.finish() },
               out: Printed = Printed(), err: Printed = Printed()) -> ClientEdges {
        ClientEdges(transport: { d, _ in WebSocketTransport(deadlines: d) },
                    openTerminal: {
                        guard let backend else { throw TerminalUnavailableForTest() }
                        return backend
                    },
                    lines: { lines }, out: { out.add($0) }, err: { err.add($0) }, shutdown: Shutdown())
    }

    struct TerminalUnavailableForTest: Error, CustomStringConvertible { var description: String { "no terminal in this test" } }

    @Test func aWholeConversationOnTheScreenWithoutATerminal() async throws {
        let h = try await EmulatorHarness.start { $0.speech = .tones }
        defer { h.stop() }
        let data = try Self.tempDir()
        let backend = RecordingBackend(width: 110, height: 34)
        let runtime = ClientRuntime(plan: try plan(h, screen: true, data: data), edges: edges(backend: backend))
        let run = Task { await runtime.run() }

        try await backend.waitFor("● CONNECTED")
        backend.type("hello")
        try await backend.waitFor("Hello! I am the offline emulator")
        try await backend.waitForScreen("the reply complete (no live marker)") { !$0.contains("▍") }

        backend.type("please get current time")
        try await backend.waitFor("get_current_time done")

        backend.type("please tell me a long long story about the sea and the ships and the sailors and the stars")
        try await backend.waitFor("I heard: please")
        backend.type("stop")
        try await backend.waitFor("INTERRUPTED")
        try await backend.waitFor("[interrupted]")
        try await backend.waitFor("I heard: stop")
        try await backend.waitForScreen("the reply complete (no live marker)") { !$0.contains("▍") }

        try await backend.waitFor("latency: ")   // the session pane shows the last turn's latency
        backend.press(.char("R"))
        try await backend.waitFor("● REC")
        backend.type("my name is Ada")
        try await backend.waitFor("Nice to meet you, Ada.")
        try await backend.waitForScreen("the reply complete (no live marker)") { !$0.contains("▍") }
        backend.press(.char("R"))
        try await backend.waitForScreen("the recording mark gone") { !$0.contains("● REC") }
        let folders = try FileManager.default.contentsOfDirectory(atPath: data + "/share/livetalk/recordings")
        #expect(folders.count == 1)
        let md = try String(contentsOfFile: data + "/share/livetalk/recordings/\(folders[0])/conversation.md", encoding: .utf8)
        #expect(md.contains("**You**: my name is Ada"), "\(md)")
        #expect(md.contains("**Model**: Nice to meet you, Ada."), "\(md)")

        backend.press(.char("r"))
        try await backend.waitForScreen("a reset screen") { !$0.contains("Nice to meet you") && $0.contains("● CONNECTED") }
        backend.press(.char("d"))
        try await backend.waitFor("● DISCONNECTED")
        backend.press(.char("d"))
        try await backend.waitFor("● CONNECTED")
        backend.press(.char("q"))
        let code = await run.value
        #expect(code == 0)
        #expect(backend.stopCount >= 1, "the terminal is given back")
        #expect(runtime.droppedEvents == 0)
    }

    @Test func everySlashCommandInLineMode() async throws {
        let h = try await EmulatorHarness.start { $0.speech = .tones }
        defer { h.stop() }
        let data = try Self.tempDir()
        let script = ["/help", "/bogus", "/mode loud", "//slash text", "/mute", "/mute", "/talk", "/mode ptt", "/talk", "",
                      "/disconnect", "/connect", "my name is Ada", "/record", "what is my name", "/record",
                      "/reset", "what is my name", "/mode vad", "/quit", "never sent"]
        let lines = AsyncStream<String> { c in
            for l in script { c.yield(l) }
            c.finish()
        }
        let out = Printed()
        let runtime = ClientRuntime(plan: try plan(h, screen: false, data: data) { $0.text = true },
                                    edges: edges(lines: lines, out: out))
        let code = await runtime.run()
        let text = out.text
        #expect(code == 0, "\(text)")
        for l in SlashCommands.helpLines { #expect(text.contains("[help] " + l)) }
        #expect(text.contains("[warn] unknown command /bogus: /help lists them"))
        #expect(text.contains("[warn] /mode loud: use vad or ptt"))
        #expect(text.contains("you> /slash text"))
        #expect(text.contains("[info] push-to-talk is off: /mode ptt switches to it"))
        #expect(text.contains("[state] DISCONNECTED"))
        #expect(text.contains("model> Your name is Ada."))
        #expect(text.contains("[record] recording to \(data)/share/livetalk/recordings/"))
        #expect(text.contains("[record] recording stopped"))
        #expect(text.contains("model> You have not told me your name yet."), "after /reset nothing is resumed")
        #expect(!text.contains("never sent"))
        #expect(text.hasSuffix("[state] CLOSED"), "\(text.suffix(300))")
        // The recording holds exactly what happened while it ran.
        let folders = try FileManager.default.contentsOfDirectory(atPath: data + "/share/livetalk/recordings")
        let md = try String(contentsOfFile: data + "/share/livetalk/recordings/\(folders[0])/conversation.md", encoding: .utf8)
        #expect(md.contains("**You**: what is my name") && md.contains("**Model**: Your name is Ada."))
        #expect(!md.contains("my name is Ada"))
    }

    @Test func pushToTalkWithAnInputWavInLineMode() async throws {
        let h = try await EmulatorHarness.start { $0.speech = .tones }
        defer { h.stop() }
        let data = try Self.tempDir()
        // One second of a 300 Hz tone: the tones emulator hears "[speech 1.0 s]".
        let tone = (0..<16000).map { Int16(9000 * sin(2 * Double.pi * 300 * Double($0) / 16000)) }
        let wav = data + "/in.wav"
        try WAVFile.encode(WAVAudio(sampleRate: 16000, channels: 1, samples: tone)).write(to: URL(fileURLWithPath: wav))
        let out = Printed()
        let runtime = ClientRuntime(plan: try plan(h, screen: false, data: data) {
            $0.inputWav = wav
            $0.pushToTalk = true
            $0.record = data + "/rec"
            $0.transcript = data + "/t.jsonl"
        }, edges: edges(out: out))
        let code = await runtime.run()
        #expect(code == 0, "\(out.text)")
        #expect(out.text.contains("model> I heard 1.0 s of speech."), "\(out.text)")
        // Latency from the end of the known audio (activityEnd) to the reply's first byte; no speaker, so no audible point.
        #expect(out.all.contains { $0.hasPrefix("[latency] turn ") && $0.contains("first byte") && !$0.contains("audible") }, "\(out.text)")
        let latency = try String(contentsOfFile: data + "/t.jsonl", encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.filter { $0["kind"] as? String == "latency" }
        #expect(latency.count == 1)
        #expect((latency.first?["latency_first_byte_ms"] as? Int ?? -1) >= 0)
        #expect(latency.first?["latency_audible_ms"] is NSNull)
        // The microphone went into the recording's left channel.
        let audio = try WAVFile.read(path: data + "/rec/audio.wav")
        #expect(audio.channels == 2 && audio.sampleRate == 24000)
        let left = stride(from: 0, to: audio.samples.count, by: 2).map { audio.samples[$0] }
        #expect(left.map { abs(Int($0)) }.max() ?? 0 > 5000, "the tone is on the left")
    }

    @Test func transcriptAndWavFilesWorkOnTheScreenToo() async throws {
        let h = try await EmulatorHarness.start { $0.speech = .tones }
        defer { h.stop() }
        let data = try Self.tempDir()
        let tone = (0..<16000).map { Int16(9000 * sin(2 * Double.pi * 300 * Double($0) / 16000)) }
        let wav = data + "/in.wav"
        try WAVFile.encode(WAVAudio(sampleRate: 16000, channels: 1, samples: tone)).write(to: URL(fileURLWithPath: wav))
        let backend = RecordingBackend()
        let runtime = ClientRuntime(plan: try plan(h, screen: true, data: data) {
            $0.inputWav = wav
            $0.transcript = data + "/t.jsonl"
            $0.outputWav = data + "/out.wav"
        }, edges: edges(backend: backend))
        let run = Task { await runtime.run() }
        try await backend.waitFor("I heard 1.0 s of speech.")
        try await backend.waitForScreen("the reply complete (no live marker)") { !$0.contains("▍") }
        backend.press(.char("q"))
        #expect(await run.value == 0)
        let kinds = try String(contentsOfFile: data + "/t.jsonl", encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.compactMap { $0["kind"] as? String }
        for k in ["state", "turn", "audio", "turn_complete", "ended"] { #expect(kinds.contains(k), "\(k)") }
        let out = try WAVFile.read(path: data + "/out.wav")
        #expect(out.sampleRate == 24000 && out.channels == 1 && out.samples.count > 24000, "the reply's audio, header finalised")
    }

    @Test func aFailedStartIsAProblemWordedOnStderr() async throws {
        let data = try Self.tempDir()
        var f = ClientFlags()
        f.inputWav = data + "/missing.wav"
        f.noTUI = true
        let plan = try ClientPlan.make(flags: f, file: FileConfig(), surroundings: ClientSurroundings(interactive: false, environment: ["HOME": data])).get()
        let err = Printed()
        let code = await ClientRuntime(plan: plan, edges: edges(err: err)).run()
        #expect(code == 64)
        #expect(err.text == "livetalk: --input-wav \(data)/missing.wav: no such readable file")
    }
}
