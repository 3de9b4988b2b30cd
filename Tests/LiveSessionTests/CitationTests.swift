import Foundation
import LiveProtocol
import Testing
@testable import LiveSession

/// Issue 12, item 3: grounding metadata becomes numbered sources on the model's turn.
struct CitationTests {
    func grounding(_ pages: [(String, String, String?)]) -> GroundingMetadata {
        GroundingMetadata(webSearchQueries: ["q"], groundingChunks: pages.map {
            GroundingMetadata.GroundingChunk(web: .init(uri: $0.0, title: $0.1, domain: $0.2))
        })
    }

    @Test func sourcesAreNumberedDeduplicatedAndGoWithTheModelTurn() {
        var t = TranscriptAssembler()
        t.modelTextPart("Paris is the capital.")
        t.grounding(grounding([("https://example.org/a", "A page", "example.org"), ("https://www.example.com/b", "", nil)]))
        t.grounding(grounding([("https://example.org/a", "A page", "example.org")]))
        let turn = t.takeModel(turn: 3, interrupted: false)
        #expect(turn?.citations == [
            Citation(number: 1, title: "A page", domain: "example.org", uri: "https://example.org/a"),
            Citation(number: 2, title: "www.example.com", domain: "www.example.com", uri: "https://www.example.com/b"),
        ])
        t.modelTextPart("Next.")
        #expect(t.takeModel(turn: 4, interrupted: false)?.citations == [])   // per turn
    }

    @Test func sourcesAreBounded() {
        var list = CitationList()
        list.add(grounding((0..<50).map { ("https://example.org/\($0)", "p\($0)", nil) }))
        #expect(list.citations.count == CitationList.maxPerTurn)
        #expect(list.dropped == 50 - CitationList.maxPerTurn)
    }
}

/// Issue 12, item 5: Vertex's streamed function-call arguments are put together before the call runs.
struct StreamedCallsTests {
    @Test func piecesBecomeOneCallWhenTheLastArrives() {
        var s = StreamedCalls()
        #expect(s.take([FunctionCall(id: "1", name: "get_weather", partialArgs: [
            PartialArg(jsonPath: "$.location", stringValue: "Par", willContinue: true)], willContinue: true)]) == [])
        #expect(s.assembling == 1)
        let done = s.take([FunctionCall(id: "1", name: "", partialArgs: [
            PartialArg(jsonPath: "$.location", stringValue: "is"), PartialArg(jsonPath: "$.days", numberValue: 3),
            PartialArg(jsonPath: "$.opts.metric", boolValue: true), PartialArg(jsonPath: "$.note", nullValue: "NULL_VALUE"),
        ])])
        #expect(done == [FunctionCall(id: "1", name: "get_weather",
                                      args: ["location": "Paris", "days": 3, "opts": ["metric": true], "note": .null])])
        #expect(s.assembling == 0)
    }

    @Test func ordinaryCallsPassThroughAndPendingIsBounded() {
        var s = StreamedCalls()
        let plain = FunctionCall(id: "a", name: "get_current_time", args: [:])
        #expect(s.take([plain]) == [plain])
        for i in 0..<(StreamedCalls.maxPending + 5) {
            _ = s.take([FunctionCall(id: "p\(i)", name: "f", willContinue: true)])
        }
        #expect(s.assembling == StreamedCalls.maxPending)
        #expect(s.droppedCalls == 5)
    }
}
