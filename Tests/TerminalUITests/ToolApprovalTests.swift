import Foundation
import LiveProtocol
import LiveSession
import Testing
@testable import TerminalUI

/// MCP tool calls in the screen (issue 12): `server › tool` rows, the y/n prompt, the result summary.
struct ToolApprovalTests {
    func model() -> AppModel {
        var m = AppModel()
        m.width = 120
        m.height = 40
        _ = update(&m, .session(.state(.connected, handleHeld: true)))
        _ = update(&m, .toolLabels(["time_get_current_time": "time › get_current_time", "git_commit": "git › git_commit"]))
        return m
    }

    @Test func rowsUseTheServerLabelAndShowTheResult() {
        var m = model()
        _ = update(&m, .session(.tool(.started(id: "1", name: "time_get_current_time", args: ["timezone": "Asia/Tokyo"], nonBlocking: false))))
        _ = update(&m, .session(.tool(.finished(id: "1", name: "time_get_current_time", result: ["datetime": "2026-01-01T09:00"],
                                                duration: .milliseconds(12)))))
        #expect(m.tools.first?.name == "time › get_current_time")
        let rows = render(m).rows.joined(separator: "\n")
        #expect(rows.contains("time › get_current_time done 12ms"))
        #expect(rows.contains(#"{"timezone":"Asia/Tokyo"}"#))
        #expect(rows.contains(#"→ {"datetime":"2026-01-01T09:00"}"#))
        _ = update(&m, .session(.tool(.started(id: "2", name: "git_log", args: nil, nonBlocking: false))))
        _ = update(&m, .session(.tool(.finished(id: "2", name: "git_log", result: ["result": "Commit history:\nCommit: abc\n\n"],
                                                duration: .milliseconds(3)))))
        #expect(m.tools[1].detail == "Commit history: / Commit: abc")
        #expect(Wording.line(.tool(.started(id: "1", name: "time_get_current_time", args: nil, nonBlocking: false)), endpointKind: "x",
                             toolLabels: m.toolLabels) == "[tool] time › get_current_time running {}")
    }

    @Test func aCallThatAsksIsAnsweredWithYOrN() {
        var m = model()
        _ = update(&m, .session(.tool(.started(id: "a", name: "git_commit", args: ["message": "m"], nonBlocking: false))))
        _ = update(&m, .session(.tool(.started(id: "b", name: "git_commit", args: ["message": "n"], nonBlocking: false))))
        #expect(update(&m, .approvalRequested(id: "a")) == [])
        #expect(update(&m, .approvalRequested(id: "b")) == [])
        #expect(m.tools.map(\.status) == [.asking, .asking] && m.approvals == ["a", "b"])
        let screen = render(m).rows
        #expect(screen.joined().contains("allow? y/n"))
        #expect(screen.last?.hasPrefix("y allow the tool call · n refuse it") == true)
        #expect(update(&m, .key(.char("y"))) == [.answerApproval(id: "a", allowed: true)])   // oldest first
        #expect(update(&m, .key(.char("n"))) == [.answerApproval(id: "b", allowed: false)])
        #expect(m.approvals.isEmpty && m.tools.map(\.status) == [.running, .running])
        #expect(update(&m, .key(.char("y"))) == [])   // nothing asks: y does nothing
        #expect(render(m).rows.last?.hasPrefix("Space talk") == true)
        _ = update(&m, .session(.tool(.failed(id: "b", name: "git_commit", error: "the user did not allow this call", duration: .zero))))
        #expect(m.tools[1].detail == "the user did not allow this call")
    }

    @Test func aPromptGoesWhenItsCallIsCancelledAndTypingIsNotAnAnswer() {
        var m = model()
        _ = update(&m, .session(.tool(.started(id: "a", name: "git_commit", args: nil, nonBlocking: false))))
        _ = update(&m, .approvalRequested(id: "a"))
        _ = update(&m, .key(.char("i")))
        #expect(update(&m, .key(.char("y"))) == [] && m.input == "y")   // typed, not an answer
        _ = update(&m, .key(.escape))
        _ = update(&m, .session(.tool(.cancelled(id: "a", name: "git_commit", duration: .zero))))
        #expect(m.approvals.isEmpty && m.tools[0].status == .cancelled)
        // A request for a call no longer shown is refused at once.
        #expect(update(&m, .approvalRequested(id: "gone")) == [.answerApproval(id: "gone", allowed: false)])
    }
}
