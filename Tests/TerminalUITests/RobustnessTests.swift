import AudioCore
import Foundation
import LiveProtocol
import LiveSession
import Testing
@testable import TerminalUI

/// Findings of the reliability review (R17, R18) and issue 9's bounds on what the screen holds.
struct UIRobustnessTests {
    func row(_ s: Screen, _ y: Int) -> String { s.rows[y] }

    @Test func testR17_aTenThousandCharacterInputShowsItsEnd() {
        let text = String(repeating: "abcdefghij", count: 999) + "0123456789"   // 10,000 characters
        let m = scene(80, 24) { m in m.input = text }
        let s = render(m)
        let a = Layout.areas(width: 80, height: 24)
        let line = row(s, a.input.y)
        // "> " + the last 77 characters (one column is left for the cursor).
        #expect(line == "> " + String(text.suffix(77)) + " ")
        #expect(s.cursor?.x == 79 && s.cursor?.y == a.input.y)
    }

    @Test func testR17_wideCharactersInALongInputFitByColumns() {
        let text = String(repeating: "日本", count: 5_000) + "x"   // 20,001 columns
        let (shown, width) = visibleSuffix(text, columns: 10)
        #expect(shown == "日本日本x")
        #expect(width == 9)   // a tenth column would split a wide character
        #expect(visibleSuffix("", columns: 10) == ("", 0))
        #expect(visibleSuffix("abc", columns: 0) == ("", 0))
    }

    @Test func testIssue9_escapeSequencesNeverReachTheModelOrTheScreen() {
        var m = scene(100, 30) { _ in }
        feed(&m, [.state(.connected, handleHeld: false),
                  .outputTranscript("before\u{1b}[2J\u{1b}]0;title\u{07}after", turn: 1),
                  .inputTranscript("a\u{9b}31mred\tb\u{1b}Pdcs\u{1b}\\c\u{7}\u{0}d\r\nnext", finished: true),
                  .warning("warn\u{1b}[?1049l!"),
                  .tool(.started(id: "t", name: "get\u{1b}[1m_x", args: ["k": "\u{1b}]52;c;Zm9v\u{07}v"], nonBlocking: false))])
        #expect(m.modelEntries.last?.text == "beforeafter")
        #expect(m.userEntries.last?.text == "ared    bcd\nnext")
        #expect(m.lastWarning == "warn!")
        #expect(m.tools.last?.name == "get_x")
        #expect(m.tools.last?.args.contains("\u{1b}") == false)
        let screen = render(m).rows.joined(separator: "\n")
        #expect(!screen.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || (0x80..<0xA0).contains($0.value) })
        #expect(!screen.contains("title") && !screen.contains("[2J"))
    }

    @Test func testIssue9_sanitizeIsPureAndBounded() {
        #expect(ScreenText.sanitize("plain text") == "plain text")
        #expect(ScreenText.sanitize("x\u{1b}[2J\u{1b}]0;title\u{07}y") == "xy")
        #expect(ScreenText.sanitize("osc with ST \u{1b}]0;t\u{1b}\\done") == "osc with ST done")
        #expect(ScreenText.sanitize("c1 \u{9d}0;t\u{9c}ok\u{85}") == "c1 ok")
        #expect(ScreenText.sanitize("tab\there") == "tab    here")
        #expect(ScreenText.sanitize("日本 🚀\nok") == "日本 🚀\nok")
        let long = ScreenText.sanitize(String(repeating: "é", count: 1_000_000))
        #expect(long.count == ScreenText.maxFragmentCharacters && long.hasSuffix("…"))
        #expect(ScreenText.sanitize(String(repeating: "ab", count: 3), limit: 4) == "aba…")
    }

    @Test func testIssue9_paneScrollbackKeeps5000AndCountsTheRest() {
        var m = scene(100, 30) { _ in }
        for i in 1...6_000 {
            _ = update(&m, .session(.turn(TranscriptTurn(role: .user, text: "line \(i)", turn: i))))
            _ = update(&m, .session(.turn(TranscriptTurn(role: .model, text: "reply \(i)", turn: i))))
        }
        #expect(m.userEntries.count == 5_000)
        #expect(m.modelEntries.count == 5_000)
        #expect(m.droppedEntries[.user] == 1_000)
        #expect(m.droppedEntries[.model] == 1_000)
        #expect(m.userEntries.first?.text == "line 1001")
        #expect(m.userEntries.last?.text == "line 6000")
        // Still renders the newest lines at the bottom, and scrolled up by 20.
        let a = Layout.areas(width: 100, height: 30)
        #expect(render(m).rows[a.user.y + a.user.height - 2].contains("line 6000"))
        m.scroll[.user] = 20
        #expect(render(m).rows[a.user.y + a.user.height - 2].contains("line 5980"))
    }

    @Test func testIssue9_aLiveEntryStopsGrowingAndToolRowsAreBounded() {
        var m = scene(100, 30) { _ in }
        let fragment = String(repeating: "w", count: 1_000)
        for _ in 0..<50 { _ = update(&m, .session(.outputTranscript(fragment, turn: 1))) }
        #expect(m.modelEntries.count == 1)
        #expect(m.modelEntries[0].text.count <= AppModel.maxEntryCharacters)
        #expect(m.modelEntries[0].text.hasSuffix("…"))
        for i in 0..<250 {
            _ = update(&m, .session(.tool(.started(id: "c\(i)", name: "f", args: nil, nonBlocking: false))))
        }
        #expect(m.tools.count == AppModel.maxToolRows)
        #expect(m.droppedToolRows == 50)
        #expect(m.tools.first?.id == "c50")
        for turn in 1...200 { _ = update(&m, .session(.audio(Data(count: 4), sampleRate: 24_000, turn: turn))) }
        #expect(m.receivedSamples.count <= AppModel.turnsKept)
        #expect(m.receivedSamples[200] == 2)
    }

    /// R18: the built-in dark theme is the file, value for value (a tiny reader for the file's
    /// `role = { fg = "…", bold = true }` lines; the full TOML loader lives in App).
    @Test func testR18_builtInDarkThemeEqualsThemesDarkToml() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("themes/dark.toml"), encoding: .utf8)
        var styles: [Role: Style] = [:]
        var inRoles = false
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line == "[roles]" { inRoles = true; continue }
            guard inRoles, !line.isEmpty, !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            let role = try #require(Role.allCases.first { $0.key == key }, "unknown role \(key)")
            let body = line[line.index(after: eq)...].trimmingCharacters(in: CharacterSet(charactersIn: " {}"))
            var st = Style()
            for field in body.split(separator: ",") {
                let kv = field.split(separator: "=").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"")) }
                try #require(kv.count == 2)
                switch kv[0] {
                case "fg": st.fg = try #require(TermColor(name: kv[1]))
                case "bg": st.bg = try #require(TermColor(name: kv[1]))
                case "bold": st.bold = kv[1] == "true"
                case "dim": st.dim = kv[1] == "true"
                case "reverse": st.reverse = kv[1] == "true"
                case "underline": st.underline = kv[1] == "true"
                default: Issue.record("unknown attribute \(kv[0])")
                }
            }
            styles[role] = st
        }
        #expect(text.contains("name = \"dark\"") && text.contains("ascii = false"))
        #expect(Theme.dark.missingRoles.isEmpty)
        for role in Role.allCases {
            #expect(Theme.dark.styles[role] == styles[role], "role \(role.key)")
        }
        #expect(Theme.dark == Theme(name: "dark", styles: styles, ascii: false))
    }
}
