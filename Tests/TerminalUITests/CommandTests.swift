import Foundation
import LiveSession
import Testing
@testable import TerminalUI
import LiveProtocol

/// Every key of the screen has a slash command, and both reach `update` as the same command.
struct CommandTests {
    func live(ptt: Bool = false, face: FaceKind = .line) -> AppModel {
        var m = AppModel()
        m.face = face
        m.pushToTalk = ptt
        _ = update(&m, .session(.state(.connected, handleHeld: true)))
        return m
    }

    @Test func slashCommandsParse() {
        #expect(SlashCommands.parse("/talk", talking: false) == .command(.talk))
        #expect(SlashCommands.parse("", talking: true) == .command(.endTalk))
        #expect(SlashCommands.parse("   ", talking: false) == .nothing)
        #expect(SlashCommands.parse("/mode ptt", talking: false) == .command(.mode(pushToTalk: true)))
        #expect(SlashCommands.parse("/mode VAD", talking: false) == .command(.mode(pushToTalk: false)))
        #expect(SlashCommands.parse("/mode", talking: false) == .command(.mode(pushToTalk: nil)))
        #expect(SlashCommands.parse("/mode loud", talking: false) == .problem(.badArgument(command: "/mode", value: "loud", expected: "vad or ptt")))
        for (line, c) in [("/mute", UserCommand.mute), ("/reset", .reset), ("/disconnect", .disconnect), ("/connect", .connect),
                          ("/record", .record), ("/quit", .quit), ("/help", .help)] {
            #expect(SlashCommands.parse(line, talking: false) == .command(c), "\(line)")
        }
        #expect(SlashCommands.parse("//etc/hosts please", talking: false) == .command(.send("/etc/hosts please")))
        #expect(SlashCommands.parse("hello there", talking: false) == .command(.send("hello there")))
        #expect(SlashCommands.parse("/frobnicate", talking: false) == .problem(.unknownCommand("/frobnicate")))
    }

    @Test func helpIsGeneratedFromTheKeymap() {
        let help = SlashCommands.helpLines
        for b in Keymap.bindings {
            if let slash = b.slash {
                #expect(help.contains { $0.hasPrefix(slash) && $0.hasSuffix(b.help) }, "\(slash)")
            }
        }
        // Every action that changes the conversation has a command.
        for a in [KeyAction.talk, .mode, .mute, .reset, .connection, .record, .quit, .help] {
            #expect(Keymap.bindings.first { $0.action == a }?.slash != nil, "\(a)")
        }
        #expect(Keymap.action(for: .char("R")) == .record)
    }

    @Test func keysAndCommandsGiveTheSameEffects() {
        var a = live(ptt: true, face: .screen)
        var b = live(ptt: true, face: .line)
        let pairs: [(Key, UserCommand)] = [(.char(" "), .talk), (.char(" "), .talk), (.char("m"), .mute), (.char("m"), .mute),
                                          (.char("R"), .record), (.char("v"), .mode(pushToTalk: nil)), (.char("d"), .toggleConnection),
                                          (.char("q"), .quit)]
        var t = Date(timeIntervalSince1970: 1_000)
        for (k, c) in pairs {
            t += 2   // keys seconds apart: taps, not a held key's auto-repeat
            _ = update(&a, .tick(t))
            _ = update(&b, .tick(t))
            #expect(update(&a, .key(k)) == update(&b, .command(c)), "\(k) / \(c)")
        }
    }

    @Test func talkOutsidePushToTalkOrOfflineIsANoticeWordedPerFace() {
        var m = live(ptt: false, face: .line)
        #expect(update(&m, .command(.talk)) == [.notice(.talkNeedsPushToTalk)])
        #expect(m.lastWarning == "push-to-talk is off: /mode ptt switches to it")
        var s = live(ptt: false, face: .screen)
        _ = update(&s, .key(.char(" ")))
        #expect(s.lastWarning == "push-to-talk is off: press v to switch to it")
        var off = AppModel()
        off.pushToTalk = true
        #expect(update(&off, .command(.talk)) == [.notice(.notConnected)])
    }

    @Test func emptyLineEndsTalkAndModeSwitchesOnlyWhenItChanges() {
        var m = live(ptt: true)
        #expect(update(&m, .command(.talk)) == [.startTalking])
        #expect(update(&m, .lineInput(SlashCommands.parse("", talking: m.talking))) == [.stopTalking])
        #expect(update(&m, .command(.mode(pushToTalk: true))) == [])
        #expect(update(&m, .command(.mode(pushToTalk: false))) == [.switchMode(pushToTalk: false)])
    }

    @Test func sendingCountsARepliesAwaitedAndTurnsCompleteThem() {
        var m = live()
        #expect(m.answeredAll)
        #expect(update(&m, .command(.send("  hi  "))) == [.sendText("hi")])
        #expect(!m.answeredAll)
        _ = update(&m, .session(.outputTranscript("Hello", turn: 1)))
        _ = update(&m, .session(.turnComplete(turn: 1, interrupted: false, reason: nil)))
        #expect(m.answeredAll)
        _ = update(&m, .session(.tool(.started(id: "1", name: "t", args: nil, nonBlocking: true))))
        #expect(!m.answeredAll)
        _ = update(&m, .session(.tool(.finished(id: "1", name: "t", result: .object([:]), duration: .zero))))
        #expect(m.answeredAll)
    }

    @Test func latencyOfATurnFromInputEndToFirstByteAndAudible() {
        var m = live()
        let t0 = ContinuousClock.now
        _ = update(&m, .userInputEnded(at: t0))
        #expect(update(&m, .modelAudioStarted(turn: 3, at: t0 + .milliseconds(220))) == [])
        #expect(update(&m, .modelAudible(turn: 3, at: t0 + .milliseconds(300))) == [.latency(TurnLatency(turn: 3, firstByteMs: 220, audibleMs: 300))])
        // No speaker: the turn's figures end at turnComplete, without an audible point.
        _ = update(&m, .userInputEnded(at: t0 + .seconds(5)))
        _ = update(&m, .modelAudioStarted(turn: 4, at: t0 + .milliseconds(5_100)))
        #expect(update(&m, .session(.turnComplete(turn: 4, interrupted: false, reason: nil)))
                == [.latency(TurnLatency(turn: 4, firstByteMs: 100, audibleMs: nil))])
        // A turn nobody asked for (a tool's later result) is not measured.
        #expect(update(&m, .modelAudioStarted(turn: 5, at: t0 + .seconds(9))) == [])
        #expect(m.latency.pending == nil)
        #expect(Wording.latencyLines(m.latency) == ["latency: 100 ms to first byte", "  byte p50 100 p95 220 · audible p50 300 p95 300"])
        #expect(LatencyBook.percentile([5, 1, 9, 3], 50) == 3 && LatencyBook.percentile([], 50) == nil)
    }

    @Test func failureRemediesAreWordedPerFace() {
        let f = SessionFailure(code: 1008, headline: "the resumption handle is no longer valid", reason: .handleExpired)
        #expect(Wording.hint(f, face: .screen) == "press r for a new session")
        #expect(Wording.hint(f, face: .line) == "/reset starts a new session")
        let line = Wording.line(.state(.closed(f), handleHeld: false), endpointKind: "emulator") ?? ""
        #expect(line.hasSuffix("/reset starts a new session"))
        #expect(!line.contains("press"))
        // A hint naming a flag is for the CLI only; one naming a key for the screen only.
        let model = SessionFailure(code: 1008, headline: "model not found for v1beta", reason: .modelNotFound(apiVersion: "v1beta", model: "m"))
        #expect(Wording.hint(model, face: .line).contains("--api-version v1alpha"))
        #expect(!Wording.hint(model, face: .screen).contains("--"))
        let gaveUp = SessionFailure(code: nil, headline: "gave up after 3 reconnect attempts: cannot reach h", reason: .unreachable(host: "h"),
                                    gaveUpAfter: 3)
        #expect(Wording.hint(gaveUp, face: .screen) == "check the endpoint and the network; press d to try again")
        #expect(Wording.hint(gaveUp, face: .line) == "check --endpoint, or unset it to use the embedded emulator; /connect tries again")
        for reason: SessionFailure.Reason in [.modelNotFound(apiVersion: "v", model: "m"), .handleExpired, .keyRefused, .locationUnsupported,
                                              .activityWithServerVAD, .invalidMessage, .sessionRefused, .unreachable(host: "h"),
                                              .upgradeRefused, .tls, .timedOut] {
            let f = SessionFailure(code: nil, headline: "x", reason: reason)
            #expect(!Wording.hint(f, face: .screen).contains("--"), "\(reason)")
            #expect(!Wording.hint(f, face: .line).contains("press "), "\(reason)")
        }
    }
}
