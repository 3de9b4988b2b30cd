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
            if case .hangUpAfterRequest = mode {
                var buf = [UInt8](repeating: 0, count: 4096)
                var got: [UInt8] = []
                while !got.suffix(4).elementsEqual([13, 10, 13, 10]) {
                    let n = read(c, &buf, buf.count)
                    if n <= 0 { break }
                    got += buf[0..<n]
                    if got.count > 65536 { break }
                }
                shutdown(c, Int32(SHUT_RDWR))
            }
        }
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
                    try await outbound.write(.text(#"{"setupComplete":{}}"#))
                    counter.bump()
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
