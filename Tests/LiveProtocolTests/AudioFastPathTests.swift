import Foundation
import Testing
@testable import LiveProtocol

/// The hand-written paths for microphone audio out and model audio in against the Codable path:
/// the canonical (sorted-key) bytes when encoding, the same values (or the same error) when
/// decoding, and anything odd handed to Codable.
struct AudioFastPathTests {
    static func bytes(_ n: Int, seed: UInt64) -> Data {
        var x = seed &+ 0x9E37_79B9_7F4A_7C15
        return Data((0..<n).map { _ in
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: x >> 33)
        })
    }

    // MARK: encoding realtimeInput audio

    /// The same JSON value, whatever the key order (`JSONEncoder` without sorted keys picks one).
    static func sameJSON(_ a: Data, _ b: Data) throws -> Bool {
        let x = try JSONSerialization.jsonObject(with: a) as? NSDictionary
        let y = try JSONSerialization.jsonObject(with: b) as? NSDictionary
        return x != nil && x == y
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 319, 320, 640, 641, 1920, 3200])
    func audioEncodesToTheCanonicalCodableBytes(_ n: Int) throws {
        for mime in [Blob.pcm16kMime, Blob.pcm24kMime, "audio/pcm", "audio/L16;codec=pcm;rate=8000", ""] as [String?] + [nil] {
            let m = ClientMessage.realtimeInput(RealtimeInput(audio: Blob(mimeType: mime, data: Self.bytes(n, seed: UInt64(n)))))
            let fast = try #require(LiveCoder.encodeAudioFast(m), "mime \(mime ?? "nil")")
            let canonical = try LiveCoder.encodeSorted(m)
            #expect(fast == canonical, "\(String(decoding: fast, as: UTF8.self)) vs \(String(decoding: canonical, as: UTF8.self))")
            #expect(try LiveCoder.encode(m) == canonical)
            #expect(try Self.sameJSON(fast, LiveCoder.encodeCodable(m)))
            #expect(try LiveCoder.decodeClient(fast) == m)
        }
    }

    @Test func theMicrophonesMessageIsTheCanonicalOne() throws {
        let m = ClientMessage.realtimeInput(.audio(pcm16k: Data([0xFB, 0xFF])))
        #expect(String(decoding: try LiveCoder.encode(m), as: UTF8.self)
            == #"{"realtimeInput":{"audio":{"data":"+/8=","mimeType":"audio/pcm;rate=16000"}}}"#)
    }

    static let notFastClientMessages: [(String, ClientMessage)] = [
        ("quote in the MIME type", .realtimeInput(RealtimeInput(audio: Blob(mimeType: #"audio/"pcm""#, data: Data([1]))))),
        ("backslash in the MIME type", .realtimeInput(RealtimeInput(audio: Blob(mimeType: #"audio\pcm"#, data: Data([1]))))),
        ("non-ASCII MIME type", .realtimeInput(RealtimeInput(audio: Blob(mimeType: "audio/pcm;name=é", data: Data([1]))))),
        ("control character in the MIME type", .realtimeInput(RealtimeInput(audio: Blob(mimeType: "audio/pcm\n", data: Data([1]))))),
        ("DEL in the MIME type", .realtimeInput(RealtimeInput(audio: Blob(mimeType: "audio/pcm\u{7F}", data: Data([1]))))),
        ("audio and text", .realtimeInput(RealtimeInput(audio: Blob(mimeType: Blob.pcm16kMime, data: Data([1])), text: "hi"))),
        ("audio and audioStreamEnd", .realtimeInput(RealtimeInput(audio: Blob(mimeType: Blob.pcm16kMime, data: Data([1])), audioStreamEnd: true))),
        ("audio and activityStart", .realtimeInput(RealtimeInput(audio: Blob(mimeType: Blob.pcm16kMime, data: Data([1])), activityStart: EmptyObject()))),
        ("audio and video", .realtimeInput(RealtimeInput(audio: Blob(mimeType: Blob.pcm16kMime, data: Data([1])),
                                                          video: Blob(mimeType: "image/jpeg", data: Data([2]))))),
        ("deprecated mediaChunks", .realtimeInput(RealtimeInput(mediaChunks: [Blob(mimeType: Blob.pcm16kMime, data: Data([1]))]))),
        ("audio and mediaChunks", .realtimeInput(RealtimeInput(audio: Blob(mimeType: Blob.pcm16kMime, data: Data([1])),
                                                                mediaChunks: [Blob(mimeType: Blob.pcm16kMime, data: Data([1]))]))),
        ("text", .realtimeInput(.text("hello"))),
        ("activityEnd", .realtimeInput(.activityEnd)),
        ("audioStreamEnd", .realtimeInput(.audioStreamEnd)),
        ("image", .realtimeInput(.image(jpeg: Data([0xFF, 0xD8])))),
        ("clientContent", .clientContent(ClientContent(turns: [.user("hi")], turnComplete: true))),
        ("setup", .setup(Setup(model: "models/x"))),
    ]

    @Test(arguments: notFastClientMessages.map(\.0))
    func otherMessagesTakeTheCodablePath(_ name: String) throws {
        let m = try #require(Self.notFastClientMessages.first { $0.0 == name }?.1)
        #expect(LiveCoder.encodeAudioFast(m) == nil)
        #expect(try Self.sameJSON(LiveCoder.encode(m), LiveCoder.encodeCodable(m)))
    }

    // MARK: decoding serverContent audio

    static func audioMessage(_ pcm: Data, mime: String? = Blob.pcm24kMime, role: String? = nil) -> ServerMessage {
        .serverContent(ServerContent(modelTurn: Content(role: role, parts: [Part(inlineData: Blob(mimeType: mime, data: pcm))])))
    }

    /// Both paths: the same value, or both an error (the same one).
    static func sameAsCodable(_ json: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let d = Data(json.utf8)
        let a = Result { try LiveCoder.decodeServer(d) }
        let b = Result { try LiveCoder.decodeServerCodable(d) }
        switch (a, b) {
        case (.success(let x), .success(let y)): #expect(x == y, "\(json)", sourceLocation: sourceLocation)
        case (.failure(let x), .failure(let y)): #expect("\(x)" == "\(y)", "\(json)", sourceLocation: sourceLocation)
        default: Issue.record("\(json): fast \(a) vs Codable \(b)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [0, 1, 2, 3, 4, 959, 960, 1920, 4800])
    func theEmulatorsAudioDecodesFastToTheCodableValue(_ n: Int) throws {
        let m = Self.audioMessage(Self.bytes(n, seed: UInt64(n) + 7))
        let wire = try LiveCoder.encode(m)
        let fast = try #require(LiveCoder.decodeServerAudioFast(wire), "\(String(decoding: wire, as: UTF8.self))")
        #expect(fast == m)
        #expect(try LiveCoder.decodeServerCodable(wire) == m)
        #expect(try LiveCoder.decodeServer(wire) == m)
    }

    static let fastShapes: [(String, String)] = [
        ("role first", #"{"serverContent":{"modelTurn":{"role":"model","parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAEC"}}]}}}"#),
        ("role last", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAEC"}}],"role":"model"}}}"#),
        ("data before mimeType", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AAE=","mimeType":"audio/pcm"}}]}}}"#),
        ("no mimeType", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AA=="}}]}}}"#),
        ("empty data", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":""}}]}}}"#),
        ("whitespace everywhere", " {\n \"serverContent\" : {\t\"modelTurn\":{ \"parts\" : [ { \"inlineData\" : { \"mimeType\" : \"audio/pcm;rate=24000\" , \"data\" : \"+/8=\" } } ] } } }\r\n"),
    ]

    @Test(arguments: fastShapes.map(\.0))
    func audioShapesTheFastPathTakes(_ name: String) throws {
        let json = try #require(Self.fastShapes.first { $0.0 == name }?.1)
        #expect(LiveCoder.decodeServerAudioFast(Data(json.utf8)) != nil)
        Self.sameAsCodable(json)
    }

    static let oddInputs: [(String, String)] = [
        ("usageMetadata alongside", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAEC"}}]}},"usageMetadata":{"totalTokenCount":3}}"#),
        ("turnComplete alongside", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAEC"}}]},"turnComplete":true}}"#),
        ("two parts", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AAEC"}},{"inlineData":{"data":"AAEC"}}]}}}"#),
        ("a text part", #"{"serverContent":{"modelTurn":{"parts":[{"text":"hi"}]}}}"#),
        ("no parts", #"{"serverContent":{"modelTurn":{"parts":[]}}}"#),
        ("role only", #"{"serverContent":{"modelTurn":{"role":"model"}}}"#),
        ("thought flag on the part", #"{"serverContent":{"modelTurn":{"parts":[{"thought":true,"inlineData":{"data":"AAEC"}}]}}}"#),
        ("extra key in inlineData", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AAEC","displayName":"x"}}]}}}"#),
        ("escaped slash in the MIME type", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio\/pcm;rate=24000","data":"AAEC"}}]}}}"#),
        ("unicode escape in the role", #"{"serverContent":{"modelTurn":{"role":"mod\u0065l","parts":[{"inlineData":{"data":"AAEC"}}]}}}"#),
        ("non-ASCII role", #"{"serverContent":{"modelTurn":{"role":"modèl","parts":[{"inlineData":{"data":"AAEC"}}]}}}"#),
        ("unpadded base64", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"+/8"}}]}}}"#),
        ("URL-safe base64", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"-_8="}}]}}}"#),
        ("padding in the middle", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AA==AAEC"}}]}}}"#),
        ("escaped slash in base64", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"+\/8="}}]}}}"#),
        ("newline in base64", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AAEC\nAAEC"}}]}}}"#),
        ("data null", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":null}}]}}}"#),
        ("data a number", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":12}}]}}}"#),
        ("no data", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm"}}]}}}"#),
        ("mimeType null", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":null,"data":"AAEC"}}]}}}"#),
        ("duplicate data", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AAEC","data":"AAAA"}}]}}}"#),
        ("duplicate serverContent", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AAEC"}}]}},"serverContent":{}}"#),
        ("duplicate parts", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AAEC"}}],"parts":[]}}}"#),
        ("trailing bytes", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AAEC"}}]}}}x"#),
        ("trailing comma", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AAEC"},}]}}}"#),
        ("truncated", #"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AAEC"}}]}"#),
        ("a different message", #"{"setupComplete":{}}"#),
        ("an empty object", "{}"),
        ("an array", "[]"),
        ("not JSON", "serverContent"),
        ("empty", ""),
    ]

    @Test(arguments: oddInputs.map(\.0))
    func oddInputsTakeTheCodablePath(_ name: String) throws {
        let json = try #require(Self.oddInputs.first { $0.0 == name }?.1)
        #expect(LiveCoder.decodeServerAudioFast(Data(json.utf8)) == nil)
        Self.sameAsCodable(json)
    }

    /// Every one-byte change of a real message (a byte replaced, deleted or inserted) decodes to
    /// what the Codable path gives, or fails as it does.
    @Test func mutatedMessagesAgreeWithCodable() throws {
        let wire = [UInt8](try LiveCoder.encode(Self.audioMessage(Self.bytes(30, seed: 3), role: "model")))
        let alphabet = Array(#"{}[]:,"\ A=+/0aé"#.utf8) + [0x00, 0x0A]
        var cases = 0
        for i in 0..<wire.count {
            var deleted = wire
            deleted.remove(at: i)
            Self.sameAsCodable(String(decoding: deleted, as: UTF8.self))
            for b in alphabet where b != wire[i] {
                var replaced = wire
                replaced[i] = b
                var inserted = wire
                inserted.insert(b, at: i)
                for m in [replaced, inserted] {
                    let d = Data(m)
                    let a = Result { try LiveCoder.decodeServer(d) }
                    let c = Result { try LiveCoder.decodeServerCodable(d) }
                    switch (a, c) {
                    case (.success(let x), .success(let y)): #expect(x == y, "\(String(decoding: m, as: UTF8.self))")
                    case (.failure(let x), .failure(let y)): #expect("\(x)" == "\(y)")
                    default: Issue.record("\(String(decoding: m, as: UTF8.self)): fast \(a) vs Codable \(c)")
                    }
                    cases += 1
                }
            }
        }
        #expect(cases > 1000)
    }

    @Test func oversizeIsRefusedBeforeEitherPath() {
        let wire = try! LiveCoder.encode(Self.audioMessage(Data(count: 100)))
        #expect(throws: LiveProtocolError.oversize(bytes: wire.count, limit: 10)) {
            _ = try LiveCoder.decodeServer(wire, maxBytes: 10)
        }
    }

    @Test func tolerantModeIsNotTheFastPath() throws {
        // snake_case from the SDK: only the tolerant (Codable) path reads it.
        let json = #"{"server_content":{"model_turn":{"parts":[{"inline_data":{"mime_type":"audio/pcm;rate=24000","data":"-_8"}}]}}}"#
        let m = try LiveCoder.decodeServer(Data(json.utf8), mode: .tolerant)
        #expect(m == Self.audioMessage(Data([0xFB, 0xFF])))
    }
}

/// `Blob.sampleRate` (a byte search for ASCII MIME types) against the Foundation search it replaces.
struct SampleRateTests {
    static func reference(_ mime: String?) -> Int? {
        guard let mime, let r = mime.range(of: "rate=") else { return nil }
        return Int(mime[r.upperBound...].prefix { $0.isNumber })
    }

    @Test(arguments: ["audio/pcm;rate=24000", "audio/pcm;rate=16000", "audio/pcm;rate=", "audio/pcm", "rate=8000",
                      "audio/pcm;rate=16000;rate=8000", "audio/pcm; rate=44100", "audio/pcm;rate=99999999999999999999999",
                      "audio/pcm;rate=1٣", "audio/pcm;râte=1;rate=2", "audio/pcm;RATE=16000", "", "audio/pcm;rate=+5",
                      "audio/pcm;rate=16k", "rate", "audio/pcm;rate=٣٣", "ré;rate=8000"])
    func sameRateAsFoundationsSearch(_ mime: String) {
        #expect(Blob(mimeType: mime, data: Data()).sampleRate == Self.reference(mime), "\(mime)")
    }

    @Test func noMimeTypeNoRate() {
        #expect(Blob(mimeType: nil, data: Data()).sampleRate == nil)
    }
}
