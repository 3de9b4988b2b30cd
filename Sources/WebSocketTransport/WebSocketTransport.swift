// WebSocketTransport — the `Transport` of LiveSession over swift-websocket's WSClient, TLS by NIOSSL.
// Owns: sockets, TLS trust (system roots or --ca-file), SNI for IP hosts. Never imports UI or audio.
import Foundation
import HTTPTypes
import LiveProtocol
import LiveSession
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOWebSocket
import WSClient

public struct WebSocketTransport: Transport {
    /// A PEM file of CA certificates to trust instead of the system roots.
    public var caFile: String?
    /// Largest inbound message accepted by the socket layer (the session applies its own limit too).
    public var maxMessageBytes: Int
    /// Connect, close, ping and inactivity deadlines (`setup` is the session's).
    public var deadlines: Deadlines
    public var logger: Logger

    /// The SNI name sent for IP-literal hosts. NIOSSL refuses an IP as SNI, and any real name
    /// (e.g. "localhost") would let a certificate for that name pass for every IP address. A name
    /// under `.invalid` matches no certificate, so only an IP SAN equal to the peer's address does.
    public static let ipLiteralSNI = "ip-address.invalid"

    public init(caFile: String? = nil, maxMessageBytes: Int = 64 << 20, deadlines: Deadlines = .defaults,
                logger: Logger = Logger(label: "livetalk.transport")) {
        self.caFile = caFile
        self.maxMessageBytes = maxMessageBytes
        self.deadlines = deadlines
        self.logger = logger
    }

    static func isIPLiteral(_ host: String) -> Bool {
        host.contains(":") || (host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." })
    }

    public func connect(to endpoint: Endpoint) async throws(TransportError) -> any TransportConnection {
        let host = endpoint.url.host ?? "?"
        var config = WebSocketClientConfiguration()
        config.maxFrameSize = maxMessageBytes
        // Our own pings (see the socket task): the library's auto-ping closes when one pong is
        // late, and Google's pongs can take 8–30 s (PROTOCOL.md). We only give up after
        // `deadlines.inactivity` with no inbound frame at all.
        config.autoPing = .disabled
        config.closeTimeout = deadlines.close
        var fields = HTTPFields()
        for (name, value) in endpoint.headers.sorted(by: { $0.key < $1.key }) {
            if let n = HTTPField.Name(name) { fields[n] = value }
        }
        config.additionalHeaders = fields
        var tls: TLSConfiguration?
        if endpoint.isTLS {
            var t = TLSConfiguration.makeClientConfiguration()
            if let caFile {
                do {
                    t.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
                } catch {
                    throw .configuration("--ca-file \(caFile): cannot read PEM certificates (\(error))")
                }
            }
            tls = t
            if Self.isIPLiteral(host) { config.sniHostname = Self.ipLiteralSNI }
        }
        let connection = WebSocketConnection()
        let url = endpoint.url.absoluteString
        let maxMessage = maxMessageBytes
        let configuration = config
        let tlsConfiguration = tls
        let deadlines = self.deadlines
        // Every inbound frame (pongs included) passes the library's trace log: the tap counts it
        // as a sign of life, but only between a ping and the next inbound frame (the library
        // formats a trace line for every frame it sends and receives while the tap listens).
        // Everything else goes to our logger at its own level.
        var tapped = logger
        tapped.handler = FrameTapLogHandler(base: logger.handler, listening: { connection.awaitingLife },
                                            onFrame: { connection.sawInbound() })
        let socketLogger = tapped
        let socket = Task.detached {
            do {
                let closeFrame = try await WebSocketClient.connect(
                    url: url, configuration: configuration, tlsConfiguration: tlsConfiguration, logger: socketLogger
                ) { inbound, outbound, _ in
                    connection.opened()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await item in connection.outgoing {
                                switch item {
                                case .message(let data):
                                    connection.dequeued()
                                    // The JSON is UTF-8 already: a text frame straight from its bytes.
                                    try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: data))))
                                case .close(let code, let reason):
                                    try await outbound.close(WebSocketErrorCode(codeNumber: Int(code)), reason: reason)
                                    return
                                }
                            }
                        }
                        group.addTask {
                            for try await message in inbound.messages(maxSize: maxMessage) {
                                connection.sawInbound()
                                switch message {
                                case .text(let s): connection.deliver(.text(s))
                                case .binary(var b): connection.deliver(.binary(Data(b.readBytes(length: b.readableBytes) ?? [])))
                                }
                            }
                        }
                        group.addTask {
                            // Keepalive and dead-peer detection.
                            var sincePing = Duration.zero
                            let step = min(.seconds(1), deadlines.inactivity / 4, deadlines.pingInterval)
                            let clock = ContinuousClock()
                            while true {
                                let before = clock.now
                                try await Task.sleep(for: step)
                                let slept = clock.now - before
                                sincePing += step
                                if slept > step * 3 {
                                    // This process did not run for a while (suspended laptop, a starved
                                    // thread pool): that time is not the peer's silence.
                                    connection.forgive(slept - step)
                                }
                                if connection.silence() > deadlines.inactivity {
                                    connection.finish(code: CloseCodes.abnormal,
                                                      reason: "no data from the server for \(Deadlines.seconds(deadlines.inactivity))")
                                    throw CancellationError()
                                }
                                if sincePing >= deadlines.pingInterval {
                                    sincePing = .zero
                                    connection.expectLife()   // before the ping: its pong may be quick
                                    var payload = ByteBuffer()
                                    payload.writeInteger(UInt64.random(in: 0...UInt64.max))
                                    try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .ping, data: payload)))
                                }
                            }
                        }
                        _ = try await group.next()
                        // Inbound ended (close handshake) or we sent our close: give the peer's close a moment.
                        group.cancelAll()
                    }
                }
                let code = closeFrame.map { UInt16(webSocketErrorCode: $0.closeCode) } ?? CloseCodes.abnormal
                connection.finish(code: code, reason: closeFrame?.reason ?? "")
            } catch {
                if connection.wasOpened {
                    connection.finish(code: Self.closeCode(for: error), reason: "\(error)")
                } else {
                    connection.failed(Self.classify(error, host: host))
                }
            }
        }
        connection.setSocketTask(socket)
        // The connect deadline covers TCP, TLS and the upgrade: a peer that accepts and never
        // answers, or reads the request and hangs up without a reply, fails here as retryable.
        let timer = Task.detached {
            try? await Task.sleep(for: deadlines.connect)
            if !Task.isCancelled { connection.failed(.timedOut(step: "connect", after: deadlines.connect)) }
        }
        defer { timer.cancel() }
        let opened: Result<WebSocketConnection, TransportError> = await withTaskCancellationHandler {
            do throws(TransportError) { return .success(try await connection.waitOpen()) } catch { return .failure(error) }
        } onCancel: {
            connection.failed(.timedOut(step: "connect", after: .zero))
        }
        return try opened.get()
    }

    static func closeCode(for error: any Error) -> UInt16 {
        if let e = error as? WebSocketClientError, e == .serverSentMessageTooLarge { return 1009 }
        let text = "\(error)"
        if text.contains("messageTooLarge") { return 1009 }
        return CloseCodes.abnormal
    }

    static func classify(_ error: any Error, host: String) -> TransportError {
        if let e = error as? WebSocketClientError {
            if e == .webSocketUpgradeFailed { return .upgradeRefused(detail: "WebSocket upgrade failed") }
            if e == .invalidURL { return .configuration("invalid URL") }
            return .upgradeRefused(detail: "\(e)")
        }
        if error is NIOSSLError || "\(type(of: error))".contains("SSL") || "\(error)".contains("CERTIFICATE") {
            return .tls(detail: Self.short("\(error)"))
        }
        return .unreachable(host: host, detail: Self.reachability("\(error)"))
    }

    /// NIO's connection errors are long; say what happened in a few words.
    static func reachability(_ text: String) -> String {
        let t = text.lowercased()
        if t.contains("refused") || t.contains("connection reset") { return "connection refused" }
        if t.contains("timed out") || t.contains("timeout") { return "connection timed out" }
        if t.contains("resolve") || t.contains("lookup") || t.contains("dns") || t.contains("name or service") {
            return "host name not found"
        }
        if t.contains("unreachable") { return "network unreachable" }
        return short(text)
    }

    static func short(_ s: String) -> String { s.count > 120 ? String(s.prefix(117)) + "…" : s }
}

/// One WebSocket connection as the session sees it. Shared between the session (send/close)
/// and the socket task (deliver/finish); every field is guarded by `lock`.
final class WebSocketConnection: TransportConnection, @unchecked Sendable {
    enum Outgoing: Sendable {
        case message(Data)
        case close(UInt16, String)
    }

    let inbound: AsyncStream<TransportInbound>
    private let inboundContinuation: AsyncStream<TransportInbound>.Continuation
    let outgoing: AsyncStream<Outgoing>
    private let outgoingContinuation: AsyncStream<Outgoing>.Continuation

    private let lock = NSLock()
    /// Guarded by `lock`: set once the upgrade succeeded.
    private var isOpen = false
    /// Guarded by `lock`: close queued or connection finished.
    private var isClosing = false
    private var finished = false
    private var openWaiter: CheckedContinuation<Void, any Error>?
    private var openResult: Result<Void, TransportError>?
    /// Guarded by `lock`: the task that runs the socket; cancelled by `abort()` and failed connects.
    private var socketTask: Task<Void, Never>?
    /// Guarded by `lock`: when the last inbound frame arrived.
    private var lastInbound = ContinuousClock.now
    /// Guarded by `lock`: a ping went out and no frame has arrived since, so the frame tap listens.
    private var waitingForLife = false
    /// Guarded by `lock`: messages handed to the writer and not yet written.
    private var queued = 0

    init() {
        (inbound, inboundContinuation) = AsyncStream.makeStream(of: TransportInbound.self)
        (outgoing, outgoingContinuation) = AsyncStream.makeStream(of: Outgoing.self)
    }

    var wasOpened: Bool { lock.withLock { isOpen } }

    func setSocketTask(_ t: Task<Void, Never>) {
        let cancelNow: Bool = lock.withLock {
            socketTask = t
            if case .failure? = openResult { return true }
            return false
        }
        if cancelNow { t.cancel() }
    }

    func sawInbound() {
        lock.withLock {
            lastInbound = .now
            waitingForLife = false
        }
    }
    /// A ping is about to go out: listen for any frame (its pong, typically) until one arrives.
    func expectLife() { lock.withLock { waitingForLife = true } }
    var awaitingLife: Bool { lock.withLock { waitingForLife } }
    /// Time this process could not run does not count as the peer's silence.
    func forgive(_ d: Duration) { lock.withLock { lastInbound = min(.now, lastInbound + d) } }
    func silence() -> Duration { lock.withLock { .now - lastInbound } }

    func opened() {
        lock.withLock {
            isOpen = true
            lastInbound = .now
        }
        resolveOpen(.success(()))
    }

    /// The connect failed or its deadline passed: give up on the socket.
    func failed(_ e: TransportError) {
        let (won, task): (Bool, Task<Void, Never>?) = lock.withLock {
            (openResult == nil, socketTask)
        }
        resolveOpen(.failure(e))
        if won {
            task?.cancel()
            inboundContinuation.finish()
        }
    }

    func abort() {
        let task = lock.withLock { socketTask }
        finish(code: CloseCodes.abnormal, reason: "aborted")
        task?.cancel()
    }

    private func resolveOpen(_ r: Result<Void, TransportError>) {
        let waiter: CheckedContinuation<Void, any Error>? = lock.withLock {
            guard openResult == nil else { return nil }
            openResult = r
            defer { openWaiter = nil }
            return openWaiter
        }
        switch r {
        case .success: waiter?.resume()
        case .failure(let e): waiter?.resume(throwing: e)
        }
    }

    func waitOpen() async throws(TransportError) -> WebSocketConnection {
        do {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let ready: Result<Void, TransportError>? = lock.withLock {
                    if let r = openResult { return r }
                    openWaiter = c
                    return nil
                }
                switch ready {
                case .success?: c.resume()
                case .failure(let e)?: c.resume(throwing: e)
                case nil: break
                }
            }
        } catch let e as TransportError {
            throw e
        } catch {
            throw .unreachable(host: "?", detail: "\(error)")
        }
        return self
    }

    func deliver(_ item: TransportInbound) { inboundContinuation.yield(item) }

    func finish(code: UInt16, reason: String) {
        let first: Bool = lock.withLock {
            defer { finished = true; isClosing = true }
            return !finished
        }
        guard first else { return }
        outgoingContinuation.finish()
        inboundContinuation.yield(.closed(code: code, reason: reason))
        inboundContinuation.finish()
    }

    @discardableResult
    func send(_ json: Data) -> Bool {
        let ok: Bool = lock.withLock {
            guard !isClosing else { return false }
            queued += 1
            return true
        }
        guard ok else { return false }
        outgoingContinuation.yield(.message(json))
        return true
    }

    func dequeued() { lock.withLock { queued = max(0, queued - 1) } }

    var backlog: Int { lock.withLock { queued } }

    func close(code: UInt16, reason: String) async {
        let first: Bool = lock.withLock {
            defer { isClosing = true }
            return !isClosing
        }
        if first { outgoingContinuation.yield(.close(code, reason)) }
    }
}

/// Passes every log event on to `base`, and while `listening()` calls `onFrame` for the
/// WebSocket layer's "Received <frame>" trace, which it writes for every inbound frame, pongs
/// included. Pongs reach us no other way: the library answers and consumes them itself.
///
/// The tap listens only when asked (between a ping and the next inbound frame): at trace level
/// the library formats a line for every frame sent and received (hex bytes and all), 3–4 % of
/// the client's CPU while streaming (perf, `livetalk-bench stream`).
struct FrameTapLogHandler: LogHandler {
    var base: any LogHandler
    let listening: @Sendable () -> Bool
    let onFrame: @Sendable () -> Void
    /// What the wrapped handler wants; while listening the tap itself takes trace.
    private var baseLevel: Logger.Level

    init(base: any LogHandler, listening: @escaping @Sendable () -> Bool = { true }, onFrame: @escaping @Sendable () -> Void) {
        self.base = base
        self.listening = listening
        self.onFrame = onFrame
        self.baseLevel = base.logLevel
    }

    var logLevel: Logger.Level {
        get { listening() ? .trace : baseLevel }
        set {
            base.logLevel = newValue
            baseLevel = newValue
        }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        if event.level == .trace, event.message.description.hasPrefix("Received ") { onFrame() }
        if event.level >= baseLevel { base.log(event: event) }
    }
}
