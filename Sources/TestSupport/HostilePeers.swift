// Peers that misbehave, for the deadline tests of issue 9: a TCP listener that accepts and never
// answers, one that reads the request and hangs up, and WebSocket servers that go quiet.
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A raw TCP listener on 127.0.0.1 with a free port.
public final class RawListener: @unchecked Sendable {
    public enum Mode: Sendable {
        /// Accept and never write (a captive portal, a stalled proxy).
        case blackhole
        /// Read the HTTP request, then close without a reply.
        case hangUpAfterRequest
        /// Accept the WebSocket upgrade and send a close frame with `code` in the same write as the
        /// 101 response (one TCP segment), then keep the socket open: the client must still see it.
        case upgradeThenClose(code: UInt16, reason: String)
    }

    public let port: Int
    private let fd: Int32
    private let lock = NSLock()
    /// Guarded by `lock`: accepted sockets, closed on `stop`.
    private var accepted: [Int32] = []
    /// Guarded by `lock`.
    private var stopped = false
    public var acceptedCount: Int { lock.withLock { accepted.count } }

    public init(_ mode: Mode) throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw TestTimeout(what: "a socket (errno \(errno))") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(s, 16) == 0 else {
            close(s)
            throw TestTimeout(what: "bind/listen on 127.0.0.1 (errno \(errno))")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        fd = s
        let t = Thread { [self] in acceptLoop(mode) }
        t.name = "raw-listener"
        t.start()
    }

    private func acceptLoop(_ mode: Mode) {
        while !lock.withLock({ stopped }) {
            let c = accept(fd, nil, nil)
            if c < 0 { return }   // closed by stop()
            let keep: Bool = lock.withLock {
                if stopped { return false }
                accepted.append(c)
                return true
            }
            if !keep { close(c); return }
            switch mode {
            case .blackhole: break
            case .hangUpAfterRequest:
                _ = Self.readRequest(c)
                shutdown(c, Int32(SHUT_RDWR))
            case .upgradeThenClose(let code, let reason):
                let request = String(decoding: Self.readRequest(c), as: UTF8.self)
                let key = request.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }
                    .map { $0.dropFirst("sec-websocket-key:".count).trimmingCharacters(in: .whitespaces) } ?? ""
                let accept = Data(SHA1.hash(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
                var out = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n".utf8)
                let payload = [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8.prefix(120))
                out += [0x88, UInt8(payload.count)] + payload   // FIN + close, unmasked (server to client)
                _ = out.withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
            }
        }
    }

    /// Reads an HTTP request head (up to the blank line, at most 64 KiB).
    static func readRequest(_ c: Int32) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 4096)
        var got: [UInt8] = []
        while !got.suffix(4).elementsEqual([13, 10, 13, 10]) {
            let n = read(c, &buf, buf.count)
            if n <= 0 { break }
            got += buf[0..<n]
            if got.count > 65536 { break }
        }
        return got
    }

    /// Idempotent: a second call must not close a descriptor number that is someone else's by now.
    public func stop() {
        let fds: [Int32]? = lock.withLock {
            guard !stopped else { return nil }
            stopped = true
            defer { accepted.removeAll() }
            return accepted
        }
        guard let fds else { return }
        for c in fds { close(c) }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    deinit { stop() }
}

/// A WebSocket server that answers `setup` with `setupComplete` and then goes quiet.
public final class QuietLiveServer: Sendable {
    public enum Mode: Sendable {
        /// Stops reading after setup: pings go unanswered (a frozen or half-open peer).
        case deadAfterSetup
        /// Keeps reading (so pings get pongs) but never sends another message: alive and idle.
        case idleButAlive
    }

    public let port: Int
    private let task: Task<Void, Never>
    private let counter: Counter

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        /// Guarded by `lock`.
        private var n = 0
        func bump() { lock.withLock { n += 1 } }
        var value: Int { lock.withLock { n } }
    }

    /// WebSocket sessions that reached `setupComplete`.
    public var sessions: Int { counter.value }
    public var url: String { "ws://127.0.0.1:\(port)" }

    private init(port: Int, task: Task<Void, Never>, counter: Counter) {
        self.port = port
        self.task = task
        self.counter = counter
    }

    public static func start(_ mode: Mode) async throws -> QuietLiveServer {
        let counter = Counter()
        let router = Router()
        var quiet = Logger(label: "test.quiet-server")
        quiet.logLevel = .critical
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(
                configuration: HTTP1WebSocketUpgradeChannel.Configuration(
                    ws: WebSocketServerConfiguration(maxFrameSize: 16 << 20, autoPing: .disabled))
            ) { _, _, _ in
                .upgrade([:]) { inbound, outbound, _ in
                    var messages = inbound.messages(maxSize: 16 << 20).makeAsyncIterator()
                    guard (try? await messages.next()) != nil else { return }   // setup
                    counter.bump()   // before the reply: a client that sees setupComplete finds it counted
                    try await outbound.write(.text(#"{"setupComplete":{}}"#))
                    switch mode {
                    case .deadAfterSetup:
                        try await Task.sleep(for: .seconds(3600))
                    case .idleButAlive:
                        while (try await messages.next()) != nil {}
                    }
                }
            },
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "quiet"),
            onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) },
            logger: quiet)
        let task = Task {
            do { try await app.runService(gracefulShutdownSignals: []) } catch {}
            portSink.finish()
        }
        var it = ports.makeAsyncIterator()
        guard let port = await it.next(), port > 0 else {
            task.cancel()
            throw TestTimeout(what: "the quiet server to listen")
        }
        return QuietLiveServer(port: port, task: task, counter: counter)
    }

    public func stop() { task.cancel() }
    deinit { task.cancel() }
}

/// SHA-1, for the WebSocket accept key of the raw listener (tests only; not for security).
enum SHA1 {
    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
        var m = message
        let bits = UInt64(message.count) * 8
        m.append(0x80)
        while m.count % 64 != 56 { m.append(0) }
        for i in (0..<8).reversed() { m.append(UInt8((bits >> (UInt64(i) * 8)) & 0xFF)) }
        func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }
        for chunk in stride(from: 0, to: m.count, by: 64) {
            var w = [UInt32](repeating: 0, count: 80)
            for i in 0..<16 {
                let b = chunk + i * 4
                w[i] = UInt32(m[b]) << 24 | UInt32(m[b + 1]) << 16 | UInt32(m[b + 2]) << 8 | UInt32(m[b + 3])
            }
            for i in 16..<80 { w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1) }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32) = switch i {
                case 0..<20: ((b & c) | (~b & d), 0x5A827999)
                case 20..<40: (b ^ c ^ d, 0x6ED9EBA1)
                case 40..<60: ((b & c) | (b & d) | (c & d), 0x8F1BBCDC)
                default: (b ^ c ^ d, 0xCA62C1D6)
                }
                let t = rotl(a, 5) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, rotl(b, 30), a, t)
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
        }
        return h.flatMap { v in (0..<4).map { UInt8((v >> (24 - UInt32($0) * 8)) & 0xFF) } }
    }
}

/// A TCP connection to 127.0.0.1:`port` that never sends a byte: a silent socket for the admission
/// tests (a file descriptor; the caller closes it).
public func silentLoopbackSocket(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    return fd
}
