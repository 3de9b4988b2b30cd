import Foundation
import LiveProtocol
import LiveSession
import Testing
@testable import TerminalUI

/// Issue 12: sources under the model's turn and thoughts apart from it, in both faces.
struct CitationRenderTests {
    let sources = [Citation(number: 1, title: "The Moon (offline example)", domain: "example.org", uri: "https://example.org/m"),
                   Citation(number: 2, title: "x.test", domain: "x.test", uri: "https://x.test/")]

    @Test func modelPaneShowsThoughtDimmedAndSourcesUnderTheTurn() {
        var m = AppModel()
        _ = update(&m, .session(.state(.connected, handleHeld: false)))
        _ = update(&m, .session(.thought("Thinking: about the moon", turn: 0)))
        _ = update(&m, .session(.outputTranscript("The Moon is", turn: 0)))
        _ = update(&m, .session(.outputTranscript(" a satellite.", turn: 0)))
        _ = update(&m, .session(.turn(TranscriptTurn(role: .model, text: "The Moon is a satellite.", turn: 0, citations: sources))))
        _ = update(&m, .session(.turnComplete(turn: 0, interrupted: false, reason: nil)))
        #expect(m.modelEntries.count == 2)
        #expect(m.modelEntries[0].thought && m.modelEntries[0].text == "Thinking: about the moon" && !m.modelEntries[0].live)
        #expect(m.modelEntries[1].text == "The Moon is a satellite." && m.modelEntries[1].citations.count == 2)
        var s = Screen(width: 60, height: 8)
        renderTranscript(m, .model, Rect(x: 0, y: 0, width: 60, height: 8), &s)
        let rows = s.rows.joined(separator: "\n")
        #expect(rows.contains("(thinking) Thinking: about the moon"))
        #expect(rows.contains("The Moon is a satellite."))
        #expect(rows.contains("│[1] The Moon (offline example) — example.org"))
        #expect(rows.contains("│[2] x.test "))
        #expect(!rows.contains("— x.test"))   // a title that is its domain is not repeated
    }

    @Test func lineModePrintsSourcesUnderTheTurnAndTagsThoughts() {
        let line = Wording.line(.turn(TranscriptTurn(role: .model, text: "Hi.", turn: 0, citations: sources)), endpointKind: "emulator")
        #expect(line == "model> Hi.\n  [1] The Moon (offline example) — example.org\n  [2] x.test")
        #expect(Wording.line(.thought("hmm\u{1B}[31m", turn: 0), endpointKind: "emulator") == "[thought] hmm")
    }
}

/// Issue 12, item 6: `/image PATH` and the `o` key ask for the same effect.
struct ImageCommandTests {
    @Test func slashImageKeepsThePathAsWritten() {
        #expect(SlashCommands.parse("/image /tmp/My Photo.PNG", talking: false) == .command(.image("/tmp/My Photo.PNG")))
        #expect(SlashCommands.parse("/image", talking: false)
                == .problem(.badArgument(command: "/image", value: "", expected: "/image PATH (a JPEG or PNG file)")))
        #expect(SlashCommands.helpLines.contains { $0.hasPrefix("/image PATH") })
    }

    @Test func keyAsksForAPathThenSends() {
        var m = AppModel()
        _ = update(&m, .session(.state(.connected, handleHeld: false)))
        #expect(update(&m, .key(.char("o"))) == [])
        #expect(m.input == "" && m.inputPurpose == .imagePath)
        for c in "/tmp/a.png" { _ = update(&m, .key(.char(c))) }
        #expect(update(&m, .key(.enter)) == [.sendImage(path: "/tmp/a.png")])
        #expect(m.input == nil && m.inputPurpose == .message && m.repliesAwaited == 0)
        _ = update(&m, .key(.char("o")))
        _ = update(&m, .key(.escape))
        #expect(m.input == nil && m.inputPurpose == .message)
        _ = update(&m, .key(.char("i")))
        #expect(m.inputPurpose == .message)
    }

    @Test func notConnectedSaysSo() {
        var m = AppModel()
        #expect(command(&m, .image("/x.png")) == [.notice(.notConnected)])
    }
}

/// Issue 12, item 5: a turn the server ended because something was refused says so.
struct TurnCompleteReasonTests {
    @Test func blockedTurnsAreReportedNormalOnesAreNot() {
        #expect(Wording.line(.turnComplete(turn: 1, interrupted: false, reason: "PROHIBITED_INPUT_CONTENT"), endpointKind: "gemini")
                == "[warn] the model's turn ended early: PROHIBITED_INPUT_CONTENT")
        #expect(Wording.line(.turnComplete(turn: 1, interrupted: false, reason: "NEED_MORE_INPUT"), endpointKind: "gemini") == nil)
        #expect(Wording.line(.turnComplete(turn: 1, interrupted: false, reason: nil), endpointKind: "gemini") == nil)
        var m = AppModel()
        _ = update(&m, .session(.turnComplete(turn: 0, interrupted: false, reason: "GENERATED_AUDIO_SAFETY")))
        #expect(m.lastWarning == "the model's turn ended early: GENERATED_AUDIO_SAFETY")
    }
}
