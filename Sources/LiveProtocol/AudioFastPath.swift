import Foundation

// The two messages of a conversation's steady state, written and read without Codable: the
// microphone's `realtimeInput` audio (50 a second) and the model's audio-only `serverContent`
// (25 a second from the emulator, a similar rate from the service). `LiveCoder.encode` and
// `LiveCoder.decodeServer` try these first. Each handles exactly one shape and returns nil for
// anything else, which then takes the Codable path; tests hold the encoder to the canonical
// (sorted-key) bytes of the Codable path, and the decoder to the values (or the errors) of the
// Codable path, odd inputs included.

extension LiveCoder {
    /// `{"realtimeInput":{"audio":{"data":"…","mimeType":"…"}}}`: the canonical bytes of a
    /// `realtimeInput` with only `audio` set (`encodeSorted`; `JSONEncoder` without sorted keys
    /// writes the same JSON with the keys in whichever order its dictionary holds them). nil for any
    /// other message, or a MIME type that would need escaping.
    static func encodeAudioFast(_ message: ClientMessage) -> Data? {
        guard case .realtimeInput(let r) = message, let blob = r.audio, r.video == nil, r.text == nil,
              r.activityStart == nil, r.activityEnd == nil, r.audioStreamEnd == nil, r.mediaChunks == nil
        else { return nil }
        let mime = blob.mimeType
        if let m = mime, !m.utf8.allSatisfy(isPlainStringByte) { return nil }
        let pcm = blob.data
        let base64Count = (pcm.count + 2) / 3 * 4
        let mimeCount = mime.map { mimeKey.count + $0.utf8.count } ?? 0
        // One allocation, filled in place: no JSONEncoder, no intermediate base64 Data or String.
        var out = Data(count: audioHead.count + base64Count + mimeCount + audioTail.count)
        out.withUnsafeMutableBytes { (o: UnsafeMutableRawBufferPointer) in
            var at = 0
            func put(_ bytes: UnsafeRawBufferPointer) {
                guard let from = bytes.baseAddress, bytes.count > 0 else { return }
                (o.baseAddress! + at).copyMemory(from: from, byteCount: bytes.count)
                at += bytes.count
            }
            audioHead.withUnsafeBytes(put)
            pcm.withUnsafeBytes { at += base64($0, into: o.baseAddress! + at) }
            if var m = mime {
                mimeKey.withUnsafeBytes(put)
                m.withUTF8 { put(UnsafeRawBufferPointer($0)) }
            }
            audioTail.withUnsafeBytes(put)
        }
        return out
    }

    private static let audioHead = Array(#"{"realtimeInput":{"audio":{"data":""#.utf8)
    private static let mimeKey = Array(#"","mimeType":""#.utf8)
    private static let audioTail = Array(#""}}}"#.utf8)
    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with padding, as `Data.base64EncodedData()` writes it; returns the bytes written.
    static func base64(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) -> Int {
        base64Alphabet.withUnsafeBufferPointer { table in
            var i = 0, o = 0
            let n = input.count
            while i + 3 <= n {
                let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                out.storeBytes(of: table[Int(v >> 18)], toByteOffset: o, as: UInt8.self)
                out.storeBytes(of: table[Int(v >> 12 & 63)], toByteOffset: o + 1, as: UInt8.self)
                out.storeBytes(of: table[Int(v >> 6 & 63)], toByteOffset: o + 2, as: UInt8.self)
                out.storeBytes(of: table[Int(v & 63)], toByteOffset: o + 3, as: UInt8.self)
                i += 3
                o += 4
            }
            if n - i > 0 {
                let two = n - i == 2
                let v = UInt32(input[i]) << 16 | (two ? UInt32(input[i + 1]) << 8 : 0)
                out.storeBytes(of: table[Int(v >> 18)], toByteOffset: o, as: UInt8.self)
                out.storeBytes(of: table[Int(v >> 12 & 63)], toByteOffset: o + 1, as: UInt8.self)
                out.storeBytes(of: two ? table[Int(v >> 6 & 63)] : UInt8(ascii: "="), toByteOffset: o + 2, as: UInt8.self)
                out.storeBytes(of: UInt8(ascii: "="), toByteOffset: o + 3, as: UInt8.self)
                o += 4
            }
            return o
        }
    }

    /// A `serverContent` that carries nothing but one audio part,
    /// `{"serverContent":{"modelTurn":{["role":"…",]"parts":[{"inlineData":{"mimeType":"…","data":"…"}}]}}}`
    /// (keys in any order, whitespace between tokens), decoded to the value the Codable path gives.
    /// nil for anything else: another key, a second part, escapes or non-ASCII in a string, base64
    /// that is not standard and padded, duplicate keys, trailing bytes.
    static func decodeServerAudioFast(_ data: Data) -> ServerMessage? {
        data.withUnsafeBytes { raw -> ServerMessage? in
            var s = ByteScanner(bytes: raw)
            var blob: Blob?
            var role: String?
            var seen: UInt8 = 0   // every key once: a duplicate goes to the Codable path
            func once(_ bit: UInt8) -> Bool {
                defer { seen |= bit }
                return seen & bit == 0
            }
            let ok = s.object { key, s in
                guard key == "serverContent", once(1) else { return false }
                return s.object { key, s in
                    guard key == "modelTurn", once(2) else { return false }
                    return s.object { key, s in
                        switch key {
                        case "role" where once(4):
                            guard let r = s.plainString() else { return false }
                            role = String(decoding: r, as: UTF8.self)
                            return true
                        case "parts" where once(8):
                            guard s.take(UInt8(ascii: "[")) else { return false }
                            let part = s.object { key, s in
                                guard key == "inlineData", once(16) else { return false }
                                blob = s.blob()
                                return blob != nil
                            }
                            return part && s.take(UInt8(ascii: "]"))
                        default:
                            return false
                        }
                    }
                }
            }
            guard ok, s.atEnd, let blob else { return nil }
            return .serverContent(ServerContent(modelTurn: Content(role: role, parts: [Part(inlineData: blob)])))
        }
    }

    /// Printable ASCII that JSON (with unescaped slashes) writes as itself.
    static func isPlainStringByte(_ b: UInt8) -> Bool { b >= 0x20 && b < 0x7F && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") }
}

/// A forward-only reader of the few JSON tokens the fast path accepts.
struct ByteScanner {
    let bytes: UnsafeRawBufferPointer
    var i = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool {
        mutating get {
            skipSpace()
            return i == bytes.count
        }
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func take(_ b: UInt8) -> Bool {
        skipSpace()
        guard i < bytes.count, bytes[i] == b else { return false }
        i += 1
        return true
    }

    /// A string with no escapes and only printable ASCII; its bytes without the quotes.
    mutating func plainString() -> UnsafeRawBufferPointer? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = i
        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
            guard LiveCoder.isPlainStringByte(bytes[i]) else { return nil }
            i += 1
        }
        guard i < bytes.count else { return nil }
        i += 1
        return UnsafeRawBufferPointer(rebasing: bytes[start..<(i - 1)])
    }

    /// `{ "key": value, … }` with at least one member; `member` reads each value and says whether
    /// it was acceptable. Keys must be plain strings.
    mutating func object(_ member: (String, inout ByteScanner) -> Bool) -> Bool {
        guard take(UInt8(ascii: "{")) else { return false }
        repeat {
            guard let k = plainString(), take(UInt8(ascii: ":")) else { return false }
            guard member(String(decoding: k, as: UTF8.self), &self) else { return false }
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "}"))
    }

    /// `{"mimeType": "…", "data": "…"}` (either order, `mimeType` optional), standard padded base64.
    mutating func blob() -> Blob? {
        var mime: String?
        var data: Data?
        let ok = object { key, s in
            switch key {
            case "mimeType" where mime == nil:
                guard let m = s.plainString() else { return false }
                mime = String(decoding: m, as: UTF8.self)
                return true
            case "data" where data == nil:
                guard let b = s.plainString(), b.count % 4 == 0, b.allSatisfy(Self.isBase64Byte) else { return false }
                data = Data(base64Encoded: Data(b))
                return data != nil
            default:
                return false
            }
        }
        guard ok, let data else { return nil }
        return Blob(mimeType: mime, data: data)
    }

    static func isBase64Byte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "+") || b == UInt8(ascii: "/")
            || b == UInt8(ascii: "=")
    }
}
