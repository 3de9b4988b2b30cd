import Emulator
import Foundation
import LiveProtocol
import LiveSession
import Speech
import Testing
import TestSupport

/// Issue 12: Google Search by voice against the emulator over a real loopback WebSocket — the
/// spoken "search for …" is recognised (the phrase joins the grammar only when googleSearch is
/// declared), answered from the offline index, and the turn carries its example.org sources.
extension EmulatorSpeechTests {
    @Test func spokenSearchIsAnsweredWithNumberedExampleSources() async throws {
        let h = try await EmulatorHarness.start()
        var setup = testSetup()
        setup.tools = [Tool(googleSearch: EmptyObject())]
        let (s, r) = try await connected(h, setup: setup)

        try await speak("search for coffee", to: s)
        try await r.wait(for: "the reply to the spoken search") { $0.completedTurns == 1 }
        let ev = await r.events
        let turns = ev.turns
        #expect(turns.first?.text == "search for coffee")
        let model = try #require(turns.last)
        #expect(model.text.hasPrefix("From the offline example index:"))
        #expect(model.citations == [Citation(number: 1, title: "Coffee (offline example)", domain: "example.org",
                                             uri: "https://example.org/offline-search/coffee")])
        await s.quit()
    }

    @Test func searchPhrasesJoinTheGrammarOnlyWhenDeclared() {
        #expect(!OfflineAgent.grammar(declarations: []).phrases.contains("search for <topic>"))
        #expect(OfflineAgent.grammar(declarations: [], search: true).phrases.contains("search for <topic>"))
        #expect(OfflineAgent.grammar(declarations: [], images: true).phrases.contains("what do you see"))
    }
}
