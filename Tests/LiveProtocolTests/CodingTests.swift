import Foundation
import Testing
@testable import LiveProtocol

struct CodingTests {
    @Test(arguments: [("voice_name", "voiceName"), ("prebuilt_voice_config", "prebuiltVoiceConfig"),
                      ("alreadyCamel", "alreadyCamel"), ("_leading", "leading"), ("a_b_c", "aBC")])
    func snakeToCamel(_ pair: (String, String)) {
        #expect(LiveCoder.snakeToCamel(pair.0) == pair.1)
    }

    @Test func base64BothAlphabetsPaddedOrNot() {
        let bytes = Data([0xFB, 0xFF, 0xBF, 0x00, 0x10])
        let std = bytes.base64EncodedString()
        let url = std.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        #expect(LiveCoder.decodeBase64(std) == bytes)
        #expect(LiveCoder.decodeBase64(url) == bytes)
        #expect(LiveCoder.decodeBase64(url.replacingOccurrences(of: "=", with: "")) == bytes)
        #expect(LiveCoder.decodeBase64("a") == nil)
    }

    /// Tolerant decoding skips its rewrite (parse, camelize, serialize) when no key can be
    /// snake_case: no `_` byte and no `\u` escape. Same messages either way.
    @Test func tolerantDecodingSkipsTheRewriteOnlyWhenNothingNeedsIt() throws {
        #expect(!LiveCoder.needsCamelizing(Data(#"{"realtimeInput":{"audio":{"data":"+/8=","mimeType":"audio/pcm"}}}"#.utf8)))
        #expect(LiveCoder.needsCamelizing(Data(#"{"realtime_input":{}}"#.utf8)))
        #expect(LiveCoder.needsCamelizing(Data(#"{"realtime\u005finput":{}}"#.utf8)))
        #expect(LiveCoder.needsCamelizing(Data(#"{"realtimeInput":{"audio":{"data":"_-8="}}}"#.utf8)), "URL-safe base64 takes the rewrite")
        let camel = try LiveCoder.decodeClient(Data(#"{"realtimeInput":{"text":"hi"}}"#.utf8), mode: .tolerant)
        #expect(camel == .realtimeInput(.text("hi")))
        for snake in [#"{"realtime_input":{"text":"hi"}}"#, #"{"realtime\u005finput":{"text":"hi"}}"#] {
            #expect(try LiveCoder.decodeClient(Data(snake.utf8), mode: .tolerant) == camel, "\(snake)")
        }
        let urlSafe = #"{"realtimeInput":{"audio":{"data":"-_8=","mimeType":"audio/pcm;rate=16000"}}}"#
        let noUnderscore = #"{"realtimeInput":{"audio":{"data":"-/8=","mimeType":"audio/pcm;rate=16000"}}}"#
        #expect(try LiveCoder.decodeClient(Data(urlSafe.utf8), mode: .tolerant) == .realtimeInput(.audio(pcm16k: Data([0xFB, 0xFF]))))
        #expect(try LiveCoder.decodeClient(Data(noUnderscore.utf8), mode: .tolerant) == .realtimeInput(.audio(pcm16k: Data([0xFB, 0xFF]))))
        #expect(throws: LiveProtocolError.malformed("not JSON")) { _ = try LiveCoder.decodeClient(Data("nope".utf8), mode: .tolerant) }
        #expect(throws: LiveProtocolError.malformed("not JSON")) { _ = try LiveCoder.decodeClient(Data("no_pe".utf8), mode: .tolerant) }
    }

    @Test func clientEncodesCanonicalCamelCaseAndStandardBase64() throws {
        let m = ClientMessage.realtimeInput(.audio(pcm16k: Data([0xFB, 0xFF])))
        let s = String(decoding: try LiveCoder.encodeSorted(m), as: UTF8.self)
        #expect(s == #"{"realtimeInput":{"audio":{"data":"+/8=","mimeType":"audio/pcm;rate=16000"}}}"#)
    }

    @Test(arguments: [("2s", 2.0), ("1.500s", 1.5), ("0s", 0.0), ("50s", 50.0)])
    func protoDurations(_ c: (String, Double)) throws {
        let d = try #require(ProtoDuration(text: c.0))
        #expect(d.seconds == c.1)
        #expect(d.text == c.0)
    }

    @Test(arguments: ["2", "-1s", "abc", "s", "1.5 s"])
    func badDurationsAreRejected(_ s: String) {
        #expect(ProtoDuration(text: s) == nil)
        #expect(throws: LiveProtocolError.self) {
            _ = try LiveCoder.decodeServer(Data(#"{"goAway":{"timeLeft":"\#(s)"}}"#.utf8))
        }
    }

    @Test func badServerInputGivesClearErrors() {
        #expect(throws: LiveProtocolError.malformed("not JSON")) { _ = try LiveCoder.decodeServer(Data("nope".utf8)) }
        #expect(throws: LiveProtocolError.oversize(bytes: 20, limit: 10)) {
            _ = try LiveCoder.decodeServer(Data(repeating: 0x20, count: 20), maxBytes: 10)
        }
        #expect(throws: LiveProtocolError.self) { _ = try LiveCoder.decodeServer(Data(#"{"toolCall":{"functionCalls":"x"}}"#.utf8)) }
    }

    @Test func unknownServerMessageAndUsageAlone() throws {
        #expect(try LiveCoder.decodeServer(Data(#"{"somethingNew":{}}"#.utf8)).payload == .unknown(keys: ["somethingNew"]))
        let u = try LiveCoder.decodeServer(Data(#"{"usageMetadata":{"totalTokenCount":3}}"#.utf8))
        #expect(u.payload == .usageOnly)
        #expect(u.usageMetadata?.totalTokenCount == 3)
    }

    @Test func unknownEnumValuesPassThrough() throws {
        let d = Data(#"{"serverContent":{"turnComplete":true,"turnCompleteReason":"SOMETHING_NEW"}}"#.utf8)
        guard case .serverContent(let c) = try LiveCoder.decodeServer(d).payload else { Issue.record(); return }
        #expect(c.turnCompleteReason?.rawValue == "SOMETHING_NEW")
    }
}

struct EndpointTests {
    @Test func developerKeyGoesInAHeaderNeverTheURL() throws {
        let e = try Endpoint.developer(apiKey: "SECRET")
        #expect(e.url.absoluteString == "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent")
        #expect(e.headers == ["x-goog-api-key": "SECRET"])
        #expect(!e.redactedDescription.contains("SECRET"))
        #expect(e.modelName("gemini-x") == "models/gemini-x")
        #expect(e.modelName("models/gemini-x") == "models/gemini-x")
    }

    @Test func ephemeralTokenUsesConstrainedMethodAndV1alpha() throws {
        let e = try Endpoint.ephemeral(token: "auth_tokens/abc")
        #expect(e.url.path.hasSuffix("GenerativeService.BidiGenerateContentConstrained"))
        #expect(e.url.path.contains(".v1alpha."))
        #expect(e.url.query == "access_token=auth_tokens/abc")
        #expect(!e.redactedDescription.contains("abc"))
    }

    @Test(arguments: [("us-central1", "us-central1-aiplatform.googleapis.com"), ("global", "aiplatform.googleapis.com"),
                      ("us", "aiplatform.us.rep.googleapis.com"), ("eu", "aiplatform.eu.rep.googleapis.com")])
    func vertexHosts(_ c: (String, String)) throws {
        let e = try Endpoint.vertex(project: "p", location: c.0, accessToken: "T")
        #expect(e.url.host == c.1)
        #expect(e.url.path == "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent")
        #expect(e.headers["Authorization"] == "Bearer T")
        #expect(e.modelName("gemini-live") == "projects/p/locations/\(c.0)/publishers/google/models/gemini-live")
    }

    @Test func customEndpoints() throws {
        let e = try Endpoint.custom("ws://127.0.0.1:8765", apiKey: nil)
        #expect(e.url.path == Endpoint.developerPath(version: "v1beta"))
        let r = try Endpoint.custom("wss://relay.example/live/socket", apiKey: "K")
        #expect(r.url.path == "/live/socket")
        #expect(r.isTLS)
        #expect(throws: EndpointError.badScheme("http://x", "http")) { _ = try Endpoint.custom("http://x", apiKey: nil) }
        #expect(throws: EndpointError.self) { _ = try Endpoint.custom("not a url at all", apiKey: nil) }
        #expect(throws: EndpointError.noHost("ws://")) { _ = try Endpoint.custom("ws://", apiKey: nil) }
    }
}

/// R14: user-controlled URL parts never trap and never move the host.
struct R14EndpointTests {
    @Test(arguments: ["us central1", "127.0.0.1:8/x?", "us/central1", "a?b", "", "EU", "x#y"])
    func testR14_badVertexLocationIsAUsageError(_ location: String) {
        #expect(throws: EndpointError.badLocation(location)) {
            _ = try Endpoint.vertex(project: "p", location: location, accessToken: "T")
        }
    }

    @Test func testR14_badProjectAndVersionAreUsageErrors() {
        #expect(throws: EndpointError.self) { _ = try Endpoint.vertex(project: "p/../x", location: "us", accessToken: "T") }
        #expect(throws: EndpointError.badAPIVersion("v1 beta")) { _ = try Endpoint.developer(apiKey: "K", apiVersion: "v1 beta") }
        #expect(throws: EndpointError.self) { _ = try Endpoint.custom("ws://127.0.0.1:1", apiKey: nil, apiVersion: "v1/../x") }
    }

    @Test func testR14_ephemeralKeepsIPv6BracketsAndPort() throws {
        let e = try Endpoint.ephemeral(token: "auth_tokens/t", base: "ws://[::1]:8765")
        #expect(e.url.absoluteString.hasPrefix("ws://[::1]:8765/ws/"))
        #expect(e.url.port == 8765)
        #expect(e.url.query == "access_token=auth_tokens/t")
    }

    @Test func testR14_ephemeralWithAnOddHostThrowsInsteadOfTrapping() {
        // Percent-escapes in the host, no host at all: an error, never a trap.
        for base in ["ws://a%20b:1", "ws://:1", "not a url"] {
            do {
                let e = try Endpoint.ephemeral(token: "auth_tokens/t", base: base)
                #expect(e.url.query == "access_token=auth_tokens/t")
            } catch {
                #expect(error.description.contains("--endpoint"))
            }
        }
    }

    @Test func hostTrust() {
        #expect(Endpoint.trust(ofHost: "127.0.0.1") == .loopback)
        #expect(Endpoint.trust(ofHost: "::1") == .loopback)
        #expect(Endpoint.trust(ofHost: "[::1]") == .loopback)
        #expect(Endpoint.trust(ofHost: "localhost") == .loopback)
        #expect(Endpoint.trust(ofHost: "generativelanguage.googleapis.com") == .google)
        #expect(Endpoint.trust(ofHost: "us-central1-aiplatform.googleapis.com") == .google)
        #expect(Endpoint.trust(ofHost: "googleapis.com.evil.example") == .other)
        #expect(Endpoint.trust(ofHost: "evilgoogleapis.com") == .other)
        #expect(Endpoint.trust(ofHost: "127.0.0.1.evil.example") == .other)
        #expect(Endpoint.trust(ofHost: "10.0.0.1") == .other)
    }
}

/// R3: a goAway far in the future (or absurd) is clamped, never a trap.
struct R3DurationTests {
    @Test(arguments: ["1e17s", "18446744073709551616s", "9.3e15s", "86401s"])
    func testR3_hugeDurationsAreClamped(_ text: String) throws {
        let json = Data(#"{"goAway":{"timeLeft":"\#(text)"}}"#.utf8)
        guard case .goAway(let g) = try LiveCoder.decodeServer(json).payload else { Issue.record("not a goAway"); return }
        #expect(g.timeLeft?.duration == .seconds(86_400))
    }

    @Test(arguments: ["1e400s", "-1s", "nans", "infs", "s", "5"])
    func testR3_nonsenseDurationsAreRejected(_ text: String) {
        let json = Data(#"{"goAway":{"timeLeft":"\#(text)"}}"#.utf8)
        #expect(throws: (any Error).self) { _ = try LiveCoder.decodeServer(json) }
    }

    @Test func testR3_encodingAHugeDurationDoesNotTrap() {
        #expect(ProtoDuration(seconds: 1e300).seconds == ProtoDuration.maxSeconds)
        #expect(ProtoDuration(seconds: .infinity).seconds == 0)
    }
}
