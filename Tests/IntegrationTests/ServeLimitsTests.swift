#if canImport(Glibc)
import Glibc
#endif
import Emulator
import Foundation
import LiveProtocol
import LiveSession
import Testing
import TestSupport
import WebSocketTransport

/// Issue 13 item 4 over real loopback sockets: the limits of `livetalk serve` that answer on the
/// HTTP side (browser `Origin`s, token minting) and the message size.
@Suite(.serialized) struct ServeLimitsTests {
    /// An HTTP/1.1 upgrade request for the Live path, with `origin` when given.
    static func upgradeRequest(origin: String?) -> String {
        "GET /ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent HTTP/1.1\r\n"
            + "Host: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + (origin.map { "Origin: \($0)\r\n" } ?? "") + "\r\n"
    }

    /// A token request (`POST /v1alpha/auth_tokens`), with `key` in `x-goog-api-key` when given.
    static func mintRequest(key: String?) -> String {
        let body = #"{"uses": 1}"#
        return "POST /v1alpha/auth_tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + (key.map { "x-goog-api-key: \($0)\r\n" } ?? "")
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
    }

    @Test func testR4_aBrowserOriginIsRefusedUnlessAllowed() async throws {
        let h = try await EmulatorHarness.start { $0.speech = .tones }
        let evil = try #require(rawHTTP(port: h.port, request: Self.upgradeRequest(origin: "http://evil.example")))
        #expect(evil.hasPrefix("HTTP/1.1 400"), "\(evil.prefix(80))")
        #expect(await h.stats.originsRefused == 1)
        let local = try #require(rawHTTP(port: h.port, request: Self.upgradeRequest(origin: "http://localhost:3000")))
        #expect(local.hasPrefix("HTTP/1.1 101"), "a loopback page may connect: \(local.prefix(80))")
        let none = try #require(rawHTTP(port: h.port, request: Self.upgradeRequest(origin: nil)))
        #expect(none.hasPrefix("HTTP/1.1 101"), "no Origin (not a browser): \(none.prefix(80))")
        h.stop()

        let allowed = try await EmulatorHarness.start { $0.speech = .tones; $0.allowedOrigins = ["http://evil.example"] }
        let now = try #require(rawHTTP(port: allowed.port, request: Self.upgradeRequest(origin: "http://evil.example/")))
        #expect(now.hasPrefix("HTTP/1.1 101"), "--allow-origin lets it in: \(now.prefix(80))")
        #expect(await allowed.stats.originsRefused == 0)
        allowed.stop()
    }

    @Test func testR5_mintingNeedsTheKeyWhenRequireKeyIsSet() async throws {
        let h = try await EmulatorHarness.start { $0.speech = .tones; $0.requireKey = "right-key" }
        defer { h.stop() }
        for key in [nil, "wrong-key"] as [String?] {
            let r = try #require(rawHTTP(port: h.port, request: Self.mintRequest(key: key)))
            #expect(r.hasPrefix("HTTP/1.1 401"), "key \(key ?? "none"): \(r.prefix(80))")
            #expect(!r.contains("auth_tokens/"))
        }
        let ok = try #require(rawHTTP(port: h.port, request: Self.mintRequest(key: "right-key")))
        #expect(ok.hasPrefix("HTTP/1.1 200"), "\(ok.prefix(80))")
        #expect(ok.contains(#""name":"auth_tokens"#), "\(ok)")
    }

    /// Without `--require-key`, only a loopback peer may mint. The server listens on every
    /// address and is reached through this machine's own non-loopback address, so the peer it
    /// sees is not loopback (a machine without one cannot run this test).
    @Test(.enabled(if: localNonLoopbackIPv4() != nil, "needs a non-loopback IPv4 address on this machine"))
    func testR5_mintingWithoutRequireKeyIsRefusedFromNonLoopbackPeers() async throws {
        let address = try #require(localNonLoopbackIPv4())
        let h = try await EmulatorHarness.start { $0.speech = .tones; $0.host = "0.0.0.0" }
        defer { h.stop() }
        let far = try #require(rawHTTP(host: address, port: h.port, request: Self.mintRequest(key: nil)))
        #expect(far.hasPrefix("HTTP/1.1 403"), "from \(address): \(far.prefix(80))")
        #expect(far.contains("only allowed from loopback"))
        #expect(await h.stats.tokenMintsRefused == 1)
        let near = try #require(rawHTTP(port: h.port, request: Self.mintRequest(key: nil)))
        #expect(near.hasPrefix("HTTP/1.1 200"), "from 127.0.0.1: \(near.prefix(80))")
    }

    /// A message over the 16 MiB limit closes the connection with 1009 ("message too big"); the
    /// server goes on serving others.
    @Test func testR4_aMessageOverTheSizeLimitCloses1009() async throws {
        let h = try await EmulatorHarness.start { $0.speech = .tones }
        defer { h.stop() }
        var d = Deadlines.defaults
        d.connect = .seconds(60)
        let c = try await WebSocketTransport(deadlines: d).connect(to: h.endpoint())
        c.send((try? LiveCoder.encode(ClientMessage.setup(testSetup(text: true)))) ?? Data())
        let big = Data(#"{"realtimeInput":{"text":""#.utf8) + Data(repeating: UInt8(ascii: "a"), count: (16 << 20) + 1) + Data(#""}}"#.utf8)
        c.send(big)
        var code: UInt16?
        for await m in c.inbound { if case .closed(let k, _) = m { code = k; break } }
        #expect(code == 1009, "closed with \(String(describing: code))")
        // Others are still served.
        try await helloGetsAReply(h, "a reply after the oversize message").quit()
    }
}

/// This machine's first IPv4 address that is not loopback, if any.
func localNonLoopbackIPv4() -> String? {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0, let first = list else { return nil }
    defer { freeifaddrs(list) }
    var p: UnsafeMutablePointer<ifaddrs>? = first
    while let a = p {
        defer { p = a.pointee.ifa_next }
        guard let sa = a.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET) else { continue }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(sa, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0
        else { continue }
        let s = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if !s.hasPrefix("127.") { return s }
    }
    return nil
}

/// Sends `request` over a fresh TCP connection to `host`:`port` and returns what came back: the
/// whole answer when the server closes, or the head of a 101 answer (the socket then stays open,
/// so reading stops at the end of the headers). Every read waits at most 60 s (a hang guard).
func rawHTTP(host: String = "127.0.0.1", port: Int, request: String) -> String? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 60, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr(host)
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let bytes = Array(request.utf8)
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n > 0 else { return nil }
        sent += n
    }
    var answer = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }   // closed, or the 60 s deadline passed
        answer.append(contentsOf: buffer[0..<n])
        // A whole answer (headers, then Content-Length bytes of body) is complete; a 101 has no body.
        let text = String(decoding: answer, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { continue }
        if text.hasPrefix("HTTP/1.1 101") { break }
        let head = text[..<end.lowerBound].lowercased()
        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
        if let length, text[end.upperBound...].utf8.count >= length { break }
    }
    return answer.isEmpty ? nil : String(decoding: answer, as: UTF8.self)
}
