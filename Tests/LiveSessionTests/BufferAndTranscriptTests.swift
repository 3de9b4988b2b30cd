import Foundation
import LiveProtocol
import Testing
@testable import LiveSession

struct InputBufferTests {
    let audio = ClientMessage.realtimeInput(.audio(pcm16k: Data([1, 2])))
    let text = ClientMessage.realtimeInput(.text("hi"))
    let tool = ClientMessage.toolResponse(ToolResponse(functionResponses: [FunctionResponse(id: "1", name: "f", response: [:])]))

    @Test func unconfirmedThenOfflineInOrder() {
        var b = InputBuffer(capacity: 10)
        b.sent(text, index: 1)
        b.sent(audio, index: 2)
        b.hold(tool)
        #expect(b.takeForReplay() == [text, audio, tool])
        #expect(b.count == 0)
    }

    @Test func confirmationByIndexOrAll() {
        var b = InputBuffer()
        b.sent(text, index: 1)
        b.sent(audio, index: 2)
        b.sent(tool, index: 3)
        b.confirm(upTo: 2)
        #expect(b.unconfirmed.map(\.message) == [tool])
        b.confirm(upTo: nil)
        #expect(b.unconfirmed.isEmpty)
    }

    @Test func fullBufferDropsOldestAudioNeverTextOrTools() {
        var b = InputBuffer(capacity: 3)
        b.hold(audio)
        b.hold(text)
        b.hold(audio)
        b.hold(tool)
        b.hold(text)
        #expect(b.dropped == 2)
        #expect(b.offline == [text, tool, text])
        b.hold(text)   // only precious input left: it stays, over capacity
        #expect(b.offline.count == 4)
        #expect(b.dropped == 2)
    }

    @Test func setupIsNeverBuffered() {
        var b = InputBuffer()
        b.hold(.setup(Setup(model: "m")))
        #expect(b.count == 0)
    }
}

struct TranscriptAssemblerTests {
    @Test func fragmentsBecomeTurns() {
        var t = TranscriptAssembler()
        t.userFragment("hello ")
        t.userFragment(" there")
        #expect(t.takeUser(turn: 1) == TranscriptTurn(role: .user, text: "hello there", turn: 1))
        #expect(t.takeUser(turn: 1) == nil)
        t.modelTextPart("ignored when speech transcript exists")
        t.modelTranscript("Hi")
        t.modelTranscript(" you")
        #expect(t.takeModel(turn: 1, interrupted: true) == TranscriptTurn(role: .model, text: "Hi you", turn: 1, interrupted: true))
        t.modelTextPart("Text")
        t.modelTextPart(" only")
        #expect(t.takeModel(turn: 2, interrupted: false)?.text == "Text only")
    }
}

struct ToolRegistryTests {
    @Test func builtinsDeclareBlockingAndNonBlocking() async throws {
        let r = ToolRegistry.builtins(timerScheduling: .silent)
        #expect(r.declarations.map(\.name) == ["get_current_time", "start_timer"])
        #expect(r["start_timer"]?.declaration.isNonBlocking == true)
        #expect(r["start_timer"]?.scheduling == .silent)
        let now = try await r["get_current_time"]!.run(nil)
        #expect(now["time"]?.stringValue?.count == 19)
        let rang = try await r["start_timer"]!.run(["seconds": 0])
        #expect(rang["rang_after_seconds"] == .double(0))
        await #expect(throws: ToolFailure.self) { _ = try await r["start_timer"]!.run(["seconds": "soon"]) }
    }
}

/// R13 and the soak: what a reconnect replays.
struct ReplayBoundTests {
    static func audio(_ i: Int) -> ClientMessage { .realtimeInput(.audio(pcm16k: Data([UInt8(i & 0xFF), 0]))) }

    @Test func replayKeepsEveryTextButOnlyTheNewestAudio() {
        var b = InputBuffer(capacity: 3000)
        b.maxReplayAudio = 3
        for i in 0..<10 { b.sent(Self.audio(i), index: i + 1) }
        b.sent(.realtimeInput(.text("keep me")), index: 11)
        b.hold(Self.audio(10))
        let replay = b.takeForReplay()
        #expect(replay.count == 4)
        #expect(replay.contains(.realtimeInput(.text("keep me"))))
        #expect(replay.filter(InputBuffer.isAudio) == [Self.audio(8), Self.audio(9), Self.audio(10)])
        #expect(b.dropped == 8)
    }

    @Test func confirmWithoutAnIndexKeepsTextSentAfterTheLastAnswer() {
        var b = InputBuffer()
        b.sent(.realtimeInput(.text("answered")), index: 1)
        b.sent(Self.audio(1), index: 2)
        b.sent(.realtimeInput(.text("maybe lost")), index: 3)
        b.sent(Self.audio(2), index: 4)
        b.confirm(upTo: nil, answeredUpTo: 2)
        #expect(b.unconfirmed.map(\.message) == [.realtimeInput(.text("maybe lost"))])
        b.confirm(upTo: nil, answeredUpTo: 3)
        #expect(b.unconfirmed.isEmpty)
    }

    @Test func preciousInputHasAHardBoundToo() {
        var b = InputBuffer(capacity: 10)
        for i in 0..<(InputBuffer.maxPrecious + 50) { b.sent(.realtimeInput(.text("t\(i)")), index: i + 1) }
        #expect(b.count == InputBuffer.maxPrecious + 10)
        #expect(b.dropped == 40)
    }
}
