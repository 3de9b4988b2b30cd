import Foundation
import LiveProtocol
import LiveSession
import Testing
@testable import TerminalUI

struct UpdateTests {
    func live(ptt: Bool = false) -> AppModel {
        var m = AppModel()
        m.pushToTalk = ptt
        _ = update(&m, .session(.state(.connected, handleHeld: true)))
        return m
    }

    @Test func typingSendsAndEscCancels() {
        var m = live()
        #expect(update(&m, .key(.char("i"))) == [])
        for c in "hi 日本" { _ = update(&m, .key(.char(c))) }
        _ = update(&m, .key(.backspace))
        #expect(m.input == "hi 日")
        #expect(update(&m, .key(.enter)) == [.sendText("hi 日")])
        #expect(m.input == nil)
        _ = update(&m, .key(.enter))
        _ = update(&m, .key(.char("q")))   // typed, not quit
        #expect(update(&m, .key(.escape)) == [])
        #expect(m.input == nil && !m.quitting)
    }

    @Test func pushToTalkToggleAndHold() {
        var m = live(ptt: true)
        let t0 = Date(timeIntervalSince1970: 1_000)
        _ = update(&m, .tick(t0))
        #expect(update(&m, .key(.char(" "))) == [.startTalking])
        #expect(m.micState == .talking)
        _ = update(&m, .tick(t0 + 2))
        #expect(update(&m, .key(.char(" "))) == [.stopTalking])   // a tap, then another tap: toggle
        m.keyReleases = true
        #expect(update(&m, .key(.char(" "))) == [.startTalking])
        #expect(update(&m, .key(.char(" "))) == [])   // auto-repeat while held
        #expect(update(&m, .key(.release(" "))) == [.stopTalking])
        var vad = live()
        #expect(update(&vad, .key(.char(" "))) == [.notice(.talkNeedsPushToTalk)])   // says how to switch
        #expect(!vad.talking)
    }

    @Test func holdToTalkInferredFromAutoRepeatWithoutKeyReleases() {
        var m = live(ptt: true)
        let t0 = Date(timeIntervalSince1970: 1_000)
        _ = update(&m, .tick(t0))
        #expect(update(&m, .key(.char(" "))) == [.startTalking])
        // The terminal's auto-repeat: the first repeat after its initial delay, then every ~40 ms.
        _ = update(&m, .tick(t0 + 0.5))
        #expect(update(&m, .key(.char(" "))) == [])
        #expect(m.holdingSpace && m.talking)
        for i in 1...10 {
            _ = update(&m, .tick(t0 + 0.5 + Double(i) * 0.04))
            #expect(update(&m, .key(.char(" "))) == [])
        }
        // Still held 0.2 s after the last repeat; released 0.3 s after it.
        #expect(update(&m, .tick(t0 + 0.9 + 0.2)) == [])
        #expect(update(&m, .tick(t0 + 0.9 + 0.35)) == [.stopTalking])
        #expect(!m.talking && !m.holdingSpace)
        // A tap afterwards toggles as before.
        _ = update(&m, .tick(t0 + 5))
        #expect(update(&m, .key(.char(" "))) == [.startTalking])
        #expect(update(&m, .tick(t0 + 6)) == [])   // a tap is not a hold: talking goes on
        #expect(m.talking)
    }

    @Test func modeMuteResetConnectionQuit() {
        var m = live(ptt: true)
        _ = update(&m, .key(.char(" ")))
        #expect(update(&m, .key(.char("v"))) == [.stopTalking, .switchMode(pushToTalk: false)])
        #expect(update(&m, .key(.char("m"))) == [.setMuted(true)])
        #expect(m.micState == .muted)
        feed(&m, [.turn(TranscriptTurn(role: .user, text: "x", turn: 1))])
        #expect(update(&m, .key(.char("r"))) == [.reset])
        #expect(m.userEntries.isEmpty)
        #expect(update(&m, .key(.char("d"))) == [.disconnect])
        _ = update(&m, .session(.state(.disconnected, handleHeld: true)))
        #expect(update(&m, .key(.char("d"))) == [.connect])
        #expect(update(&m, .key(.ctrl("c"))) == [.quit])
    }

    @Test func focusAndScroll() {
        var m = live()
        _ = update(&m, .key(.tab))
        #expect(m.focus == .tools)
        _ = update(&m, .key(.char("1")))
        #expect(m.focus == .user)
        _ = update(&m, .key(.pageUp))
        _ = update(&m, .key(.down))
        #expect(m.scroll[.user] == 9)
    }

    @Test func fragmentsBuildLiveTurnsAndTheAssembledTurnSettlesThem() {
        var m = live()
        feed(&m, [.inputTranscript("hello ", finished: false), .inputTranscript("there", finished: true),
                  .turn(TranscriptTurn(role: .user, text: "hello there", turn: 1)),
                  .outputTranscript("Hi", turn: 1), .outputTranscript(" you", turn: 1)])
        #expect(m.userEntries.map(\.text) == ["hello there"])
        #expect(m.modelEntries.last?.live == true && m.modelEntries.last?.text == "Hi you")
        feed(&m, [.turn(TranscriptTurn(role: .model, text: "Hi you.", turn: 1)), .turnComplete(turn: 1, interrupted: false, reason: nil)])
        #expect(m.modelEntries.last == TranscriptEntry(turn: 1, text: "Hi you.", live: false, interrupted: false))
    }

    @Test func interruptedTurnIsTrimmedToWhatWasHeardAndStaysTrimmed() {
        var m = live()
        feed(&m, [.audio(Data(count: 4800), sampleRate: 24000, turn: 3), .outputTranscript("one two three four", turn: 3)])
        _ = update(&m, .purged(turn: 3, playedSamples: 600))   // a quarter heard
        #expect(m.modelEntries.last?.text == "one …")
        #expect(m.shownState == .interrupted)
        feed(&m, [.turn(TranscriptTurn(role: .model, text: "one two three four", turn: 3, interrupted: true))])
        #expect(m.modelEntries.last?.text == "one …")
        _ = update(&m, .tick(m.now.addingTimeInterval(AppModel.interruptedShowSeconds + 0.1)))
        #expect(m.shownState == .connected)
    }

    @Test func toolRowsFollowTheLifecycle() {
        var m = live()
        feed(&m, [.tool(.started(id: "a", name: "f", args: nil, nonBlocking: false)),
                  .tool(.started(id: "b", name: "g", args: nil, nonBlocking: true)),
                  .tool(.finished(id: "a", name: "f", result: ["ok": true], duration: .milliseconds(12))),
                  .tool(.cancelled(id: "b", name: "g", duration: .milliseconds(5)))])
        #expect(m.tools.map(\.status) == [.done, .cancelled])
        #expect(m.tools[0].duration == .milliseconds(12))
    }

    @Test func goAwayCountdownAndErrors() {
        var m = live()
        m.now = Date(timeIntervalSince1970: 100)
        feed(&m, [.goAway(timeLeft: .seconds(30))])
        #expect(m.goAwayDeadline == Date(timeIntervalSince1970: 130))
        feed(&m, [.state(.closed(SessionFailure(code: 1007, headline: "h", reason: .invalidMessage)), handleHeld: false)])
        #expect(m.lastError?.headline == "h")
    }
}

struct KeyDecoderTests {
    func decode(_ s: String, flush: Bool = true) -> [Key] {
        var d = KeyDecoder()
        var out = s.unicodeScalars.flatMap { d.feed($0) }
        if flush { out += d.flush() }
        return out
    }

    @Test func plainKeysAndUTF8() {
        #expect(decode("a日🚀") == [.char("a"), .char("日"), .char("🚀")])
        #expect(decode("\r\t\u{7F}\u{03}") == [.enter, .tab, .backspace, .ctrl("c")])
    }

    @Test func escapeSequences() {
        #expect(decode("\u{1B}[A\u{1B}[B\u{1B}OC\u{1B}[D") == [.up, .down, .right, .left])
        #expect(decode("\u{1B}[5~\u{1B}[6~\u{1B}[Z") == [.pageUp, .pageDown, .backTab])
    }

    @Test func loneEscapeNeedsAQuietMoment() {
        #expect(decode("\u{1B}", flush: false) == [])
        #expect(decode("\u{1B}") == [.escape])
        #expect(decode("\u{1B}x") == [.escape, .char("x")])
    }

    @Test func kittyPressAndRelease() {
        #expect(decode("\u{1B}[32u") == [.char(" ")])
        #expect(decode("\u{1B}[32;1:1u\u{1B}[32;1:2u\u{1B}[32;1:3u") == [.char(" "), .char(" "), .release(" ")])
        #expect(decode("\u{1B}[99;5u") == [.ctrl("c")])
        #expect(decode("\u{1B}[13u\u{1B}[27u") == [.enter, .escape])
    }
}
