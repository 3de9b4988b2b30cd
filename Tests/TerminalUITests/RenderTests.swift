import AudioCore
import Foundation
import LiveProtocol
import LiveSession
import Testing
@testable import TerminalUI

/// Compares rows with a stored snapshot; LIVETALK_RECORD_SNAPSHOTS=1 re-records. Rows are quoted so trailing spaces show.
func assertSnapshot(_ screen: Screen, named name: String, filePath: String = #filePath,
                    sourceLocation: SourceLocation = #_sourceLocation) {
    let dir = URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    let file = dir.appendingPathComponent(name + ".txt")
    let actual = screen.rows.map { "\"\($0)\"" }.joined(separator: "\n") + "\n"
    if ProcessInfo.processInfo.environment["LIVETALK_RECORD_SNAPSHOTS"] == "1" {
        try? actual.write(to: file, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOf: file, encoding: .utf8) else {
        Issue.record("no snapshot \(file.path): run with LIVETALK_RECORD_SNAPSHOTS=1", sourceLocation: sourceLocation)
        return
    }
    if expected != actual {
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        var diff: [String] = []
        for i in 0..<max(e.count, a.count) where (i < e.count ? e[i] : "") != (i < a.count ? a[i] : "") {
            diff.append("row \(i)\n- \(i < e.count ? e[i] : "")\n+ \(i < a.count ? a[i] : "")")
        }
        Issue.record("snapshot \(name) differs:\n\(diff.prefix(8).joined(separator: "\n"))", sourceLocation: sourceLocation)
    }
}

/// A model in a known state at a fixed time.
func scene(_ w: Int, _ h: Int, _ build: (inout AppModel) -> Void) -> AppModel {
    var m = AppModel()
    m.width = w
    m.height = h
    m.now = Date(timeIntervalSince1970: 1_800_000_000)
    m.modelName = "gemini-live-test"
    m.endpointKind = "emulator"
    build(&m)
    return m
}

func feed(_ m: inout AppModel, _ events: [SessionEvent]) {
    for e in events { _ = update(&m, .session(e)) }
}

struct RenderTests {
    typealias PaneRenderer = @Sendable (AppModel, Rect, inout Screen) -> Void
    static let panes: [(String, PaneRenderer)] = [
        ("status", renderStatusLine), ("session", renderSession), ("meters", renderMeters), ("tools", renderTools),
        ("user", { renderTranscript($0, .user, $1, &$2) }), ("model", { renderTranscript($0, .model, $1, &$2) }),
        ("input", renderInput), ("hints", renderHints),
    ]

    static func busyModel(_ w: Int, _ h: Int) -> AppModel {
        scene(w, h) { m in
            feed(&m, [.state(.connected, handleHeld: true),
                      .turn(TranscriptTurn(role: .user, text: "what is the weather in 日本 🚀", turn: 1)),
                      .outputTranscript("It is sunny and warm in Tokyo today", turn: 1),
                      .tool(.started(id: "c1", name: "get_weather", args: ["city": "Tokyo"], nonBlocking: false))])
            m.mic = MeterReading(rmsDBFS: -20, peakDBFS: -10, heldPeakDBFS: -8)
        }
    }

    @Test(arguments: [(0, 0), (1, 1), (2, 2), (3, 1), (40, 10), (200, 60)])
    func everyPaneSurvivesAnySize(_ size: (Int, Int)) {
        let m = Self.busyModel(size.0, size.1)
        for (name, r) in Self.panes {
            var s = Screen(width: size.0, height: size.1)
            r(m, s.bounds, &s)
            #expect(s.rows.count == size.1, "\(name)")
            #expect(s.rows.allSatisfy { DisplayWidth.of($0) == size.0 }, "\(name) keeps every row \(size.0) columns")
        }
        _ = render(m)
    }

    @Test func paneContentAtATypicalSize() {
        let m = Self.busyModel(80, 24)
        var s = Screen(width: 40, height: 9)
        renderSession(m, s.bounds, &s)
        #expect(s.rows[1].contains("● CONNECTED"))
        #expect(s.rows.contains { $0.contains("resumption: handle held") })
        var t = Screen(width: 40, height: 5)
        renderTools(m, t.bounds, &t)
        #expect(t.rows[1].contains("get_weather running"))
        #expect(t.rows[2].contains("{\"city\":\"Tokyo\"}"))
        var u = Screen(width: 30, height: 4)
        renderTranscript(m, .user, u.bounds, &u)
        #expect(u.rows[1] == "│what is the weather in 日本 🚀│" || u.rows[1].hasPrefix("│what is the weather in 日本"))
    }

    @Test func wideCharactersAlign() {
        var s = Screen(width: 10, height: 1)
        s.put("日本🚀ab", x: 0, y: 0, style: .plain)
        #expect(s.rows[0] == "日本🚀ab  ")
        #expect(DisplayWidth.of(s.rows[0]) == 10)
        var clip = Screen(width: 5, height: 1)
        clip.put("日本語", x: 0, y: 0, style: .plain)   // the third character would cross the edge
        #expect(clip.rows[0] == "日本 ")
    }

    @Test func meterZonesAndPeak() {
        let bar = meterBar(MeterReading(rmsDBFS: -3, peakDBFS: -1, heldPeakDBFS: -1), width: 20, ascii: true)
        #expect(bar.map(\.0).joined() == "###################|")
        #expect(bar[0].1 == .meterLow && bar[15].1 == .meterMid && bar[18].1 == .meterHigh)
        #expect(meterBar(.silent, width: 5, ascii: true).map(\.0).joined() == ".....")
    }

    @Test func tooSmallSaysSo() {
        let s = render(scene(60, 20) { _ in })
        #expect(s.rows.contains { $0.contains("Enlarge the terminal") })
        #expect(s.rows.contains { $0.contains("(now 60×20)") })
    }

    // Full-screen snapshots.
    static func connecting(_ w: Int, _ h: Int) -> AppModel {
        scene(w, h) { m in feed(&m, [.state(.connecting(attempt: 2), handleHeld: true)]) }
    }
    static func talkingWithTool(_ w: Int, _ h: Int) -> AppModel {
        scene(w, h) { m in
            m.pushToTalk = true
            feed(&m, [.state(.connected, handleHeld: true),
                      .turn(TranscriptTurn(role: .user, text: "start timer seconds=5", turn: 1)),
                      .tool(.started(id: "t1", name: "start_timer", args: ["seconds": 5], nonBlocking: true)),
                      .outputTranscript("I started start timer in the background.", turn: 1)])
            _ = update(&m, .key(.char(" ")))
            m.mic = MeterReading(rmsDBFS: -24, peakDBFS: -12, heldPeakDBFS: -9)
            m.speaker = MeterReading(rmsDBFS: -15, peakDBFS: -6, heldPeakDBFS: -4)
        }
    }
    static func interrupted(_ w: Int, _ h: Int) -> AppModel {
        scene(w, h) { m in
            feed(&m, [.state(.connected, handleHeld: true),
                      .turn(TranscriptTurn(role: .user, text: "tell me a long story", turn: 1)),
                      .audio(Data(count: 48000), sampleRate: 24000, turn: 1),
                      .outputTranscript("Once upon a time there was a sailor who loved the sea", turn: 1)])
            _ = update(&m, .purged(turn: 1, playedSamples: 6000))   // a quarter of 24000 samples
            feed(&m, [.turnComplete(turn: 1, interrupted: true, reason: nil),
                      .turn(TranscriptTurn(role: .user, text: "stop", turn: 2))])
        }
    }
    static func fatal(_ w: Int, _ h: Int) -> AppModel {
        scene(w, h) { m in
            feed(&m, [.state(.closed(SessionFailure(code: 1008, headline: "model not found for v1beta",
                                                    reason: .modelNotFound(apiVersion: "v1beta", model: "models/x"))),
                             handleHeld: false)])
        }
    }

    @Test(arguments: [(80, 24), (120, 40)])
    func fullScreenSnapshots(_ size: (Int, Int)) {
        let (w, h) = size
        assertSnapshot(render(Self.connecting(w, h)), named: "connecting-\(w)x\(h)")
        assertSnapshot(render(Self.talkingWithTool(w, h)), named: "talking-tool-\(w)x\(h)")
        assertSnapshot(render(Self.interrupted(w, h)), named: "interrupted-\(w)x\(h)")
        assertSnapshot(render(Self.fatal(w, h)), named: "fatal-\(w)x\(h)")
    }

    @Test func snapshotScenesShowWhatTheyClaim() {
        let c = render(Self.connecting(80, 24)).rows.joined(separator: "\n")
        #expect(c.contains("CONNECTING (attempt 2)"))
        let t = render(Self.talkingWithTool(80, 24)).rows.joined(separator: "\n")
        #expect(t.contains("start_timer running") && t.contains("mic talking") && t.contains("PTT"))
        let i = render(Self.interrupted(80, 24)).rows.joined(separator: "\n")
        #expect(i.contains("INTERRUPTED"))
        #expect(i.contains("Once upon a …") && i.contains("[interrupted]"))   // a quarter of the audio was heard
        #expect(!i.contains("loved the sea"))
        let f = render(Self.fatal(80, 24)).rows.joined(separator: "\n")
        #expect(f.contains("● CLOSED") && f.contains("model not found for") && f.contains("try another model"))
        #expect(!f.contains("--api-version"), "the screen's hint names keys, never flags")
    }

    @Test func helpOverlayIsGeneratedFromTheKeymap() {
        var m = Self.busyModel(100, 30)
        _ = update(&m, .key(.char("?")))
        let rows = render(m).rows.joined(separator: "\n")
        for b in Keymap.bindings { #expect(rows.contains(b.help)) }
        _ = update(&m, .key(.char("x")))
        #expect(!m.showHelp)
    }
}

struct EchoLineTests {
    @Test func theEchoLineSaysConvergingRatherThanMinusZero() {
        #expect(Wording.echoReduction(nil) == "echo: cancelling")
        #expect(Wording.echoReduction(0) == "echo: converging")
        #expect(Wording.echoReduction(-3) == "echo: converging")
        #expect(Wording.echoReduction(27) == "echo: −27 dB")
    }
}
