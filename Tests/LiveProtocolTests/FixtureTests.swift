import Foundation
import Testing
@testable import LiveProtocol

/// Fixtures copied from ../shared/protocol/fixtures (the project never reads ../shared).
enum Fixtures {
    static let dir = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

    static func names(prefix: String, in sub: String = "") -> [String] {
        let url = sub.isEmpty ? dir : dir.appendingPathComponent(sub)
        return ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? [])
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.sorted()
    }

    static func data(_ name: String, in sub: String = "") -> Data {
        let url = (sub.isEmpty ? dir : dir.appendingPathComponent(sub)).appendingPathComponent(name)
        return try! Data(contentsOf: url)
    }

    static func json(_ d: Data) -> NSObject { try! JSONSerialization.jsonObject(with: d, options: [.fragmentsAllowed]) as! NSObject }
}

struct FixtureTests {
    static let rawClient = Fixtures.names(prefix: "client_").filter { $0 != "client_invalid_multiple_fields.json" }
    static let canonicalClient = Fixtures.names(prefix: "client_", in: "canonical")
    static let serverMessages = Fixtures.names(prefix: "server_").filter { !$0.hasPrefix("server_close_") }
    static let serverCloses = Fixtures.names(prefix: "server_close_")

    @Test func fixturesArePresent() {
        #expect(Self.rawClient.count == 19)
        #expect(Self.canonicalClient.count == 19)
        #expect(Self.serverMessages.count >= 24)
        #expect(Self.serverCloses.count == 9)
    }

    /// Each raw SDK capture decodes in tolerant mode to the same value as its canonical twin.
    @Test(arguments: rawClient)
    func rawSDKCaptureMatchesCanonicalTwin(_ name: String) throws {
        let raw = try LiveCoder.decodeClient(Fixtures.data(name), mode: .tolerant)
        let canonical = try LiveCoder.decodeClient(Fixtures.data(name, in: "canonical"), mode: .strict)
        #expect(raw == canonical)
        if case .unknown = raw { Issue.record("\(name) decoded as unknown") }
    }

    /// Canonical client messages round-trip JSON-equal through our encoder.
    @Test(arguments: canonicalClient)
    func canonicalClientRoundTrips(_ name: String) throws {
        let data = Fixtures.data(name, in: "canonical")
        let message = try LiveCoder.decodeClient(data, mode: .strict)
        let encoded = try LiveCoder.encodeSorted(message)
        #expect(Fixtures.json(encoded) == Fixtures.json(data), "\(String(decoding: encoded, as: UTF8.self))")
        #expect(try LiveCoder.decodeClient(encoded) == message)
    }

    /// Server fixtures decode strictly and re-encode JSON-equal (nothing is dropped).
    @Test(arguments: serverMessages)
    func serverMessageDecodesAndRoundTrips(_ name: String) throws {
        let data = Fixtures.data(name)
        let message = try LiveCoder.decodeServer(data)
        if name == "server_error_json_sdk_probe.json" {
            #expect(message.payload == .unknown(keys: ["error"]))
            return
        }
        if case .unknown = message.payload { Issue.record("\(name) decoded as unknown") }
        #expect(Fixtures.json(try LiveCoder.encodeSorted(message)) == Fixtures.json(data))
    }

    @Test func strictModeRejectsSnakeCaseAndURLSafeBase64() throws {
        let raw = Fixtures.data("client_realtime_input_media_chunks.json")
        #expect(throws: LiveProtocolError.self) { _ = try LiveCoder.decodeClient(raw, mode: .strict).assertKnown() }
    }

    @Test func multipleTopLevelFieldsAreRejected() {
        let data = Fixtures.data("client_invalid_multiple_fields.json")
        #expect(throws: LiveProtocolError.multipleFields(["clientContent", "setup"])) {
            _ = try LiveCoder.decodeClient(data, mode: .tolerant)
        }
    }

    @Test func specificValuesSurviveTolerantDecoding() throws {
        guard case .setup(let s) = try LiveCoder.decodeClient(Fixtures.data("client_setup.json"), mode: .tolerant) else {
            Issue.record("not a setup")
            return
        }
        #expect(s.generationConfig?.speechConfig?.voiceName == "Puck")
        #expect(s.generationConfig?.thinkingConfig?.thinkingBudget == 0)
        #expect(s.functionDeclarations.map(\.name) == ["get_weather", "book_ticket"])
        #expect(s.functionDeclarations[1].isNonBlocking)
        #expect(s.functionDeclarations[1].parametersJsonSchema?["type"] == "object")
        guard case .toolResponse(let r) = try LiveCoder.decodeClient(Fixtures.data("client_tool_response.json"), mode: .tolerant)
        else { Issue.record("not a tool response"); return }
        // Keys inside free-form responses keep their spelling.
        #expect(r.functionResponses[0].response?["temperature_c"] == 21)
        guard case .realtimeInput(let ri) = try LiveCoder.decodeClient(Fixtures.data("client_realtime_input_video.json"), mode: .tolerant)
        else { Issue.record("not realtime input"); return }
        #expect(ri.video?.data.prefix(3) == Data([0xFF, 0xD8, 0xFF]))   // JPEG magic from URL-safe base64
    }

    /// Whole SDK sessions: every frame decodes (audio payloads are redacted in the logs).
    @Test(arguments: ["transcript_sdk_main_session.jsonl", "transcript_sdk_resumed_session.jsonl"])
    func sdkTranscriptsDecode(_ name: String) throws {
        let text = String(decoding: try Data(contentsOf: Fixtures.dir.appendingPathComponent(name)), as: UTF8.self)
        var frames = 0
        for line in text.split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            guard let dir = o["dir"] as? String, let json = o["json"] else { continue }
            var d = try JSONSerialization.data(withJSONObject: json)
            let s = String(decoding: d, as: UTF8.self)
                .replacingOccurrences(of: #""<[0-9]+ base64 chars>""#, with: "\"AAAA\"", options: .regularExpression)
            d = Data(s.utf8)
            if dir == "c2s" {
                if case .unknown = try LiveCoder.decodeClient(d, mode: .tolerant) { Issue.record("unknown c2s in \(name)") }
            } else {
                if case .unknown = try LiveCoder.decodeServer(d).payload { Issue.record("unknown s2c in \(name)") }
            }
            frames += 1
        }
        #expect(frames > 5)
    }
}

extension ClientMessage {
    /// Throws when decoding fell back to `.unknown` (used to make strict-mode failures visible).
    func assertKnown() throws -> ClientMessage {
        if case .unknown(let k) = self { throw LiveProtocolError.malformed("unknown \(k)") }
        return self
    }
}
