import Foundation

/// Errors of the wire layer, as facts; wording for users lives in `LiveProtocolError.description`.
public enum LiveProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Not JSON, or JSON of the wrong shape.
    case malformed(String)
    /// A message larger than the configured limit.
    case oversize(bytes: Int, limit: Int)
    /// More than one top-level oneof field.
    case multipleFields([String])

    public var description: String {
        switch self {
        case .malformed(let d): "malformed message: \(d)"
        case .oversize(let b, let l): "message of \(b) bytes exceeds the \(l)-byte limit"
        case .multipleFields(let f): "message sets more than one top-level field: \(f.joined(separator: ", "))"
        }
    }
}

/// How strictly to read incoming JSON.
public enum DecodingMode: Sendable {
    /// lowerCamelCase keys, standard base64 — what the service and our emulator send.
    case strict
    /// Also snake_case keys at any level (but not inside free-form objects such as function
    /// arguments and responses) and URL-safe base64, padded or not — what the official SDK sends.
    case tolerant
}

/// Encoding and decoding of Live API messages.
public enum LiveCoder {
    /// The default upper bound for one message (a 24 kHz audio chunk is ~2 KB; 16 MiB is generous).
    public static let defaultMaxMessageBytes = 16 << 20

    public static func encode(_ message: ClientMessage) throws -> Data { try makeEncoder().encode(message) }
    public static func encode(_ message: ServerMessage) throws -> Data { try makeEncoder().encode(message) }

    /// Canonical JSON with sorted keys — for tests and fixtures.
    public static func encodeSorted<T: Encodable>(_ value: T) throws -> Data {
        let e = makeEncoder()
        e.outputFormatting.insert(.sortedKeys)
        return try e.encode(value)
    }

    public static func decodeServer(_ data: Data, mode: DecodingMode = .strict,
                                    maxBytes: Int = defaultMaxMessageBytes) throws -> ServerMessage {
        try decode(ServerMessage.self, data, mode: mode, maxBytes: maxBytes)
    }

    public static func decodeClient(_ data: Data, mode: DecodingMode = .strict,
                                    maxBytes: Int = defaultMaxMessageBytes) throws -> ClientMessage {
        try decode(ClientMessage.self, data, mode: mode, maxBytes: maxBytes)
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ data: Data, mode: DecodingMode = .strict,
                                            maxBytes: Int = defaultMaxMessageBytes) throws -> T {
        guard data.count <= maxBytes else { throw LiveProtocolError.oversize(bytes: data.count, limit: maxBytes) }
        var input = data
        if mode == .tolerant, needsCamelizing(data) {
            let object: Any
            do { object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
                throw LiveProtocolError.malformed("not JSON")
            }
            input = try JSONSerialization.data(withJSONObject: camelize(object, freeForm: false), options: [.fragmentsAllowed])
        }
        let decoder = JSONDecoder()
        decoder.dataDecodingStrategy = mode == .tolerant ? .custom(decodeAnyBase64) : .base64
        do {
            return try decoder.decode(T.self, from: input)
        } catch let e as LiveProtocolError {
            throw e
        } catch let DecodingError.dataCorrupted(ctx) {
            throw LiveProtocolError.malformed(ctx.codingPath.isEmpty ? "not JSON" : describe(ctx))
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw LiveProtocolError.malformed("missing \"\(key.stringValue)\" at \(path(ctx.codingPath))")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw LiveProtocolError.malformed("wrong type at \(path(ctx.codingPath))")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw LiveProtocolError.malformed("null at \(path(ctx.codingPath))")
        } catch {
            throw LiveProtocolError.malformed("\(error)")
        }
    }

    /// Whether tolerant decoding must rewrite `data` (snake_case keys) before `JSONDecoder` reads
    /// it. Without a `_` byte no key can be snake_case, and without `\u` no key can spell one
    /// escaped, so the rewrite would give back the same message: it is skipped. The rewrite (parse,
    /// camelize, serialize again) cost 8 times the decode itself — 41 % of `livetalk serve`'s CPU
    /// with 200 sessions streaming microphone audio (`livetalk-bench emulator`, perf).
    static func needsCamelizing(_ data: Data) -> Bool {
        data.withUnsafeBytes { raw in
            let b = raw.bindMemory(to: UInt8.self)
            var i = 0
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "_") { return true }
                if c == UInt8(ascii: "\\"), i + 1 < b.count, b[i + 1] == UInt8(ascii: "u") { return true }
                i += 1
            }
            return false
        }
    }

    private static func describe(_ ctx: DecodingError.Context) -> String {
        "\(ctx.debugDescription) at \(path(ctx.codingPath))"
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    static func makeEncoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        e.dataEncodingStrategy = .base64
        return e
    }

    /// Keys whose values are free-form JSON: their insides are user data and keep their spelling.
    static let freeFormKeys: Set<String> = [
        "args", "response", "parameters", "parametersJsonSchema", "responseSchema", "responseJsonSchema",
        "labels", "urlContextMetadata",
    ]

    static func camelize(_ value: Any, freeForm: Bool) -> Any {
        if freeForm { return value }
        if let dict = value as? [String: Any] {
            var out: [String: Any] = [:]
            for (k, v) in dict {
                let key = snakeToCamel(k)
                out[key] = camelize(v, freeForm: freeFormKeys.contains(key))
            }
            return out
        }
        if let array = value as? [Any] { return array.map { camelize($0, freeForm: false) } }
        return value
    }

    /// `voice_name` → `voiceName`; already-camel keys are unchanged.
    public static func snakeToCamel(_ key: String) -> String {
        guard key.contains("_") else { return key }
        var out = ""
        var upper = false
        for ch in key {
            if ch == "_" { upper = !out.isEmpty; continue }
            out.append(upper ? Character(ch.uppercased()) : ch)
            upper = false
        }
        return out
    }

    /// Decodes standard or URL-safe base64, padded or not.
    public static func decodeBase64(_ s: String) -> Data? {
        if let d = Data(base64Encoded: s) { return d }
        var t = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        t = t.trimmingCharacters(in: .whitespacesAndNewlines)
        let rem = t.count % 4
        if rem == 1 { return nil }
        if rem > 0 { t += String(repeating: "=", count: 4 - rem) }
        return Data(base64Encoded: t)
    }

    @Sendable static func decodeAnyBase64(_ decoder: any Decoder) throws -> Data {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let d = decodeBase64(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "invalid base64")
        }
        return d
    }
}
