import Foundation
import Testing
@testable import LiveProtocol

/// Issue 12, item 5: the Live types of google-genai 3.6.x decode, keep their values and
/// round-trip; unknown fields stay harmless.
struct CatchUpTests {
    func server(_ name: String) throws -> ServerMessage { try LiveCoder.decodeServer(Fixtures.data(name)) }

    func content(_ name: String) throws -> ServerContent {
        guard case .serverContent(let c) = try server(name).payload else { throw LiveProtocolError.malformed("not serverContent") }
        return c
    }

    @Test func thoughtSignatureIsKeptAndSentBackUnchanged() throws {
        let c = try content("server_server_content_thought_signature.json")
        let parts = try #require(c.modelTurn?.parts)
        #expect(parts[0].thought == true)
        #expect(parts[1].thoughtSignature == Data("signature-bytes".utf8))
        #expect(c.modelTurn?.text == "Paris.")   // thoughts are not the text
        // The part goes back (history) with its signature, byte for byte.
        let history = ClientMessage.clientContent(ClientContent(turns: [Content(role: "model", parts: [parts[1]])], turnComplete: false))
        let again = try LiveCoder.decodeClient(LiveCoder.encode(history))
        guard case .clientContent(let cc) = again else { Issue.record("not client content"); return }
        #expect(cc.turns?.first?.parts?.first?.thoughtSignature == Data("signature-bytes".utf8))
    }

    @Test func transcriptionLanguageCode() throws {
        let c = try content("server_server_content_transcription_language.json")
        #expect(c.inputTranscription?.languageCode == "de-DE")
        #expect(c.inputTranscription?.finished == true)
    }

    @Test func everyTurnCompleteReasonDecodes() throws {
        #expect(TurnCompleteReason.known.count == 28)
        for reason in TurnCompleteReason.known + ["A_REASON_FROM_THE_FUTURE"] {
            let json = #"{"serverContent":{"turnComplete":true,"turnCompleteReason":"\#(reason)"}}"#
            guard case .serverContent(let c) = try LiveCoder.decodeServer(Data(json.utf8)).payload else {
                Issue.record("not serverContent for \(reason)"); continue
            }
            #expect(c.turnCompleteReason?.rawValue == reason)
        }
        let c = try content("server_server_content_turn_complete_prohibited.json")
        #expect(c.turnCompleteReason?.isBlocked == true)
        #expect(TurnCompleteReason.needMoreInput.isBlocked == false)
    }

    @Test func usageServiceTierAndTrafficType() throws {
        let m = try server("server_usage_service_tier.json")
        #expect(m.usageMetadata?.serviceTier == "priority")
        #expect(m.usageMetadata?.trafficType == "ON_DEMAND_PRIORITY")
        #expect(m.usageMetadata?.responseTokens == 25)
        #expect(m.usageMetadata?.thoughtsTokenCount == 7)
    }

    @Test func groundingChunkDomain() throws {
        let g = try #require(try content("server_server_content_grounding_domain.json").groundingMetadata)
        #expect(g.groundingChunks?.first?.web?.domain == "example.org")
        #expect(g.webSearchQueries == ["the moon"])
    }

    @Test func streamedFunctionCallArguments() throws {
        guard case .toolCall(let first) = try server("server_tool_call_partial_args.json").payload,
              case .toolCall(let last) = try server("server_tool_call_partial_args_end.json").payload
        else { Issue.record("not tool calls"); return }
        let a = first.functionCalls[0]
        #expect(a.willContinue == true)
        #expect(a.partialArgs?.first == PartialArg(jsonPath: "$.location", stringValue: "Par", willContinue: true))
        let b = last.functionCalls[0]
        #expect(b.name == "")   // a continuation chunk may leave the name out
        #expect(b.willContinue == nil)
        #expect(b.partialArgs?.map(\.jsonPath) == ["$.location", "$.days", "$.metric", "$.note"])
        #expect(b.partialArgs?[1].numberValue == 3)
        #expect(b.partialArgs?[2].boolValue == true)
        #expect(b.partialArgs?[3].nullValue == "NULL_VALUE")
    }

    @Test func setupWithEveryKnobRoundTripsAndTheSDKSpellingMatches() throws {
        let canonical = Fixtures.data("client_setup_every_knob.json", in: "catchup")
        let message = try LiveCoder.decodeClient(canonical)
        #expect(Fixtures.json(try LiveCoder.encodeSorted(message)) == Fixtures.json(canonical))
        // The SDK's mixed spelling, with a field this build does not know, decodes to the same value.
        let sdk = try LiveCoder.decodeClient(Fixtures.data("client_setup_every_knob_sdk.json", in: "catchup"), mode: .tolerant)
        #expect(sdk == message)
        guard case .setup(let s) = message else { Issue.record("not a setup"); return }
        #expect(s.generationConfig?.thinkingConfig?.thinkingLevel == "LOW")
        #expect(s.generationConfig?.thinkingConfig?.includeThoughts == true)
        #expect(s.inputAudioTranscription?.languageCodes == ["en-US", "de-DE"])
        #expect(s.functionDeclarations[0].response?["type"] == "OBJECT")
        #expect(s.functionDeclarations[0].responseJsonSchema?["type"] == "object")
        #expect(s.tools?.first?.googleSearch != nil)
        #expect(s.realtimeInputConfig?.activityHandling == .noInterruption)
        #expect(s.contextWindowCompression?.slidingWindow?.targetTokens == 12800)
    }

    @Test func unknownNestedFieldsAreHarmless() throws {
        let json = #"{"serverContent":{"modelTurn":{"parts":[{"text":"hi","partMetadata":{"a":1},"videoMetadata":{}}]},"# +
            #""newThing":{"deep":[1,2]},"interactionStatus":"IDLE"},"usageMetadata":{"futureCount":3}}"#
        let m = try LiveCoder.decodeServer(Data(json.utf8))
        guard case .serverContent(let c) = m.payload else { Issue.record("not serverContent"); return }
        #expect(c.modelTurn?.text == "hi")
        #expect(c.interactionStatus == "IDLE")
    }
}
