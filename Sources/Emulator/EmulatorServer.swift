import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HTTPTypes
import HummingbirdWebSocket
import LiveProtocol
import Logging
import Speech
import NIOCore
import NIOSSL
import NIOWebSocket
import NIOFoundationEssentialsCompat

/// Why the emulator could not start, worded for the user.
public enum EmulatorError: Error, CustomStringConvertible, Sendable {
    case tlsFile(path: String, reason: String)
    case tlsPair
    case bind(host: String, port: Int, reason: String)

    public var description: String {
        switch self {
        case .tlsFile(let p, let r): "cannot load TLS file \(p): \(r)"
        case .tlsPair: "--tls-cert and --tls-key must be given together"
        case .bind(let h, let p, let r): "cannot listen on \(h):\(p): \(r) — pick another --port"
        }
    }
}

/// Which Live method a WebSocket path names (after collapsing repeated slashes — the SDK sends `//ws/…`).
public struct LiveRoute: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case developer, constrained, vertex }
    public var kind: Kind
    public var apiVersion: String

    public static func match(_ rawTarget: String) -> (LiveRoute, [URLQueryItem])? {
        let (path, query) = split(rawTarget)
        let dev = "/ws/google.ai.generativelanguage."
        let vtx = "/ws/google.cloud.aiplatform."
        if path.hasPrefix(dev) {
            let rest = path.dropFirst(dev.count)
            guard let dot = rest.firstIndex(of: ".") else { return nil }
            let version = String(rest[..<dot])
            switch rest[dot...] {
            case ".GenerativeService.BidiGenerateContent": return (LiveRoute(kind: .developer, apiVersion: version), query)
            case ".GenerativeService.BidiGenerateContentConstrained":
                return (LiveRoute(kind: .constrained, apiVersion: version), query)
            default: return nil
            }
        }
        if path.hasPrefix(vtx) {
            let rest = path.dropFirst(vtx.count)
            guard let dot = rest.firstIndex(of: "."), rest[dot...] == ".LlmBidiService/BidiGenerateContent" else { return nil }
            return (LiveRoute(kind: .vertex, apiVersion: String(rest[..<dot])), query)
        }
        return nil
    }

    /// Collapses `//` and splits off the query without treating a leading `//` as a host.
    static func split(_ target: String) -> (String, [URLQueryItem]) {
        let q = target.firstIndex(of: "?")
        var path = String(target[..<(q ?? target.endIndex)])
        while path.contains("//") { path = path.replacingOccurrences(of: "//", with: "/") }
        var items: [URLQueryItem] = []
        if let q {
            var c = URLComponents()
            c.percentEncodedQuery = String(target[target.index(after: q)...])
            items = c.queryItems ?? []
        }
        return (path, items)
    }
}

/// `livetalk serve`: the Live API emulator over Hummingbird.
public final class EmulatorServer: Sendable {
    public let options: EmulatorOptions
    public let state: EmulatorState
    /// Open connections and sessions (R6).
    public let gate: ConnectionGate
    private let logger: Logger

    public init(options: EmulatorOptions, logger: Logger = Logger(label: "livetalk.emulator")) {
        self.options = options
        self.logger = logger
        self.state = EmulatorState(limits: .init(options))
        self.gate = ConnectionGate(maxSessions: options.maxConnections)
    }

    /// Starts espeak-ng and one pair of pocketsphinx decoders in the background, so the first
    /// reply and the first utterance do not wait for them; says once if either cannot start
    /// (the emulator then speaks in tones / transcribes as "[speech N s]").
    static func warmUpSpeech(logger: Logger) {
        Task.detached(priority: .utility) {
            do { try await Synthesizer.shared.prepare() } catch {
                logger.warning("\(error): replies are tones")
            }
            do { try RecognizerPool.shared.prepare() } catch {
                logger.warning("\(error): speech is transcribed as [speech N s]")
            }
        }
    }

    /// Starts serving in a task and returns once it listens: the server, its bound port, and the task
    /// (cancel it to stop). Used by the embedded emulator and the tests.
    public static func start(options: EmulatorOptions, logger: Logger = Logger(label: "livetalk.emulator"))
        async throws -> (server: EmulatorServer, port: Int, task: Task<Void, Never>)
    {
        let server = EmulatorServer(options: options, logger: logger)
        let (stream, cont) = AsyncStream.makeStream(of: Result<Int, any Error>.self)
        let task = Task {
            do {
                try await server.run(onReady: { cont.yield(.success($0)) })
            } catch {
                cont.yield(.failure(error))
            }
            cont.finish()
        }
        for await r in stream {
            switch r {
            case .success(let port): return (server, port, task)
            case .failure(let e): throw e
            }
        }
        throw EmulatorError.bind(host: options.host, port: options.port, reason: "the server stopped before it listened")
    }

    /// Runs until the task is cancelled (or SIGINT/SIGTERM when `handleSignals`). `onReady` gets the bound port.
    public func run(handleSignals: Bool = false, onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        if options.speech == .espeak {
            // As many warm decoders of each kind as utterances it may recognise at once.
            RecognizerPool.shared.keepSpares(upTo: options.maxListeners)
            Self.warmUpSpeech(logger: logger)
        }
        let router = Router(context: EmulatorRequestContext.self)
        router.get("health") { _, _ in "ok" }
        let state = self.state
        let options = self.options
        let mint: @Sendable (Request, EmulatorRequestContext) async throws -> Response = { request, context in
            try await Self.mintToken(request: request, peer: context.remoteAddress, state: state, options: options)
        }
        router.post("v1alpha/auth_tokens", use: mint)
        router.post("v1beta/auth_tokens", use: mint)

        var wsConfig = WebSocketServerConfiguration(maxFrameSize: 16 << 20, autoPing: .disabled)
        wsConfig.closeTimeout = .seconds(3)
        let logger = self.logger
        let gate = self.gate
        let upgrade: @Sendable (HTTPRequest, any Channel, Logger) async throws
            -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> = { request, channel, _ in
            // R4/R6: a web page must not drive the emulator through the user's browser.
            let origin = request.headerFields[.origin]
            guard ConnectionGate.originAllowed(origin, allowed: options.allowedOrigins) else {
                logger.warning("refused a WebSocket upgrade from Origin \(origin ?? "")")
                await state.count { $0.originsRefused += 1 }
                return .dontUpgrade   // answered 400 and closed
            }
            guard let (route, query) = LiveRoute.match(request.path ?? "/") else { return .dontUpgrade }
            let auth = Self.authenticate(route: route, query: query, headers: request.headerFields, options: options)
            gate.markUpgraded(ObjectIdentifier(channel))
            return .upgrade([:]) { inbound, outbound, _ in
                // Admission happens here, not in shouldUpgrade, so a slot is always given back.
                guard gate.sessionOpened() else {
                    await state.count { $0.connectionsRefused += 1 }
                    await Self.refuse(inbound: inbound, outbound: outbound, within: options.idleTimeout,
                                      reason: "too many connections (limit \(gate.maxSessions)); try again later")
                    return
                }
                defer { gate.sessionClosed() }
                let out = SocketOutput(outbound: outbound, channel: channel)
                let brain = EmulatorBrain(options: options, shared: state, output: out, auth: auth,
                                          isVertex: route.kind == .vertex, apiVersion: route.apiVersion)
                await state.count { $0.connections += 1 }
                await brain.armSetupDeadline(options.idleTimeout)
                do {
                    for try await message in inbound.messages(maxSize: 16 << 20) {
                        switch message {
                        case .text(let s): await brain.receive(Data(s.utf8))
                        case .binary(var b): await brain.receive(Data(b.readBytes(length: b.readableBytes) ?? []))
                        }
                    }
                } catch {
                    logger.debug("connection ended: \(error)")
                }
                await brain.connectionClosed()
            }
        }
        let handshake = options.handshakeTimeout ?? options.idleTimeout
        let idle = TimeAmount.nanoseconds(Int64(clamping: handshake.components.seconds) * 1_000_000_000
                                          + handshake.components.attoseconds / 1_000_000_000)
        let channelConfig = HTTP1WebSocketUpgradeChannel.Configuration(http1: .init(idleTimeout: idle), ws: wsConfig)
        let ws = HTTPServerBuilder { responder in
            GuardedChannel(base: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: channelConfig,
                                                              shouldUpgrade: upgrade),
                           gate: gate, deadline: idle)
        }
        let server: HTTPServerBuilder
        switch (options.tlsCertFile, options.tlsKeyFile) {
        case (nil, nil): server = ws
        case (let cert?, let key?): server = try .tls(ws, tlsConfiguration: Self.tlsConfiguration(cert: cert, key: key))
        default: throw EmulatorError.tlsPair
        }
        let app = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "livetalk-emulator"),
            onServerRunning: { channel in await onReady(channel.localAddress?.port ?? options.port) },
            logger: logger)
        do {
            if handleSignals { try await app.runService() } else { try await app.run() }
        } catch let e as IOError {
            throw EmulatorError.bind(host: options.host, port: options.port, reason: e.description)
        }
    }

    static func tlsConfiguration(cert: String, key: String) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let privateKey: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(cert) } catch {
            throw EmulatorError.tlsFile(path: cert, reason: "not a PEM certificate (\(error))")
        }
        do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
            throw EmulatorError.tlsFile(path: key, reason: "not a PEM private key (\(error))")
        }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                       privateKey: .privateKey(privateKey))
    }

    static func authenticate(route: LiveRoute, query: [URLQueryItem], headers: HTTPFields,
                             options: EmulatorOptions) -> EmulatorAuth {
        func header(_ n: String) -> String? { HTTPField.Name(n).flatMap { headers[$0] } }
        func queryValue(_ n: String) -> String? { query.first { $0.name == n }?.value }
        let authorization = header("authorization")
        switch route.kind {
        case .constrained:
            let token = queryValue("access_token")
                ?? authorization.flatMap { $0.hasPrefix("Token ") ? String($0.dropFirst(6)) : nil }
                ?? header("x-goog-api-key")
            return token.map { .token($0) } ?? .missing
        case .developer, .vertex:
            guard let required = options.requireKey else { return .ok }
            var key = header("x-goog-api-key") ?? queryValue("key")
            if key == nil, let a = authorization, a.hasPrefix("Bearer ") { key = String(a.dropFirst(7)) }
            if let key, key.hasPrefix("auth_tokens/") { return .token(key) }
            guard let key else { return .missing }
            return key == required ? .ok : .wrongKey
        }
    }

    /// Largest token request body read (R5); a larger one answers 413.
    static let maxTokenBody = 64 << 10

    static func mintToken(request: Request, peer: SocketAddress?, state: EmulatorState,
                          options: EmulatorOptions) async throws -> Response {
        if let required = options.requireKey {
            let key = HTTPField.Name("x-goog-api-key").flatMap { request.headers[$0] }
            guard key == required else {
                return jsonResponse(.unauthorized, ["error": ["code": 401, "message": "API key not valid. Please pass a valid API key.", "status": "UNAUTHENTICATED"]])
            }
        } else if !Self.isLoopback(peer) {
            // R5/R21: without --require-key anyone who can reach the port could mint.
            await state.count { $0.tokenMintsRefused += 1 }
            return jsonResponse(.forbidden, ["error": ["code": 403, "message": "token minting without --require-key is only allowed from loopback", "status": "PERMISSION_DENIED"]])
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: maxTokenBody) } catch {
            return jsonResponse(.contentTooLarge, ["error": ["code": 413, "message": "token request larger than \(maxTokenBody) bytes", "status": "INVALID_ARGUMENT"]])
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
        let now = Date()
        func date(_ key: String, default d: Date) -> Date? {
            guard let s = object[key] as? String else { return d }
            return parseISO8601(s)
        }
        guard let expire = date("expireTime", default: now + 30 * 60),
              let newSession = date("newSessionExpireTime", default: now + 60)
        else {
            return jsonResponse(.badRequest, ["error": ["code": 400, "message": "expireTime and newSessionExpireTime must be RFC 3339 timestamps", "status": "INVALID_ARGUMENT"]])
        }
        guard expire < now + 20 * 3600, newSession < now + 20 * 3600 else {
            return jsonResponse(.badRequest, ["error": ["code": 400, "message": "expiry must be less than 20 hours ahead", "status": "INVALID_ARGUMENT"]])
        }
        let uses = (object["uses"] as? Int) ?? 1
        guard uses >= 0 else {
            return jsonResponse(.badRequest, ["error": ["code": 400, "message": "uses must be 0 (unlimited) or more", "status": "INVALID_ARGUMENT"]])
        }
        var constraint: Setup?
        if let s = object["bidiGenerateContentSetup"] ?? object["bidi_generate_content_setup"],
           let d = try? JSONSerialization.data(withJSONObject: s) {
            constraint = try? LiveCoder.decode(Setup.self, d, mode: .tolerant)
        }
        guard let name = await state.mint(.init(usesLeft: uses == 0 ? nil : uses, expireTime: expire,
                                                newSessionExpireTime: newSession, constraint: constraint), now: now)
        else {
            return jsonResponse(.tooManyRequests, ["error": ["code": 429, "message": "too many live tokens (limit \(options.maxTokens))", "status": "RESOURCE_EXHAUSTED"]])
        }
        let f = ISO8601DateFormatter()
        return jsonResponse(.ok, ["name": name, "uses": uses, "expireTime": f.string(from: expire),
                                  "newSessionExpireTime": f.string(from: newSession)])
    }

    /// True for a loopback peer (and for a Unix socket or an unknown peer, which are local).
    static func isLoopback(_ peer: SocketAddress?) -> Bool {
        guard let peer else { return true }
        switch peer {
        case .unixDomainSocket: return true
        case .v4, .v6: return peer.ipAddress.map(ConnectionGate.isLoopback(host:)) ?? false
        }
    }

    static func parseISO8601(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)
    }

    static func jsonResponse(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Brain output over a Hummingbird WebSocket.
extension EmulatorServer {
    /// Closes a session that was not admitted with 1013, in answer to its first message (setup),
    /// or after `within` if it sends none. A close written the instant the upgrade completes was
    /// lost under load (CI, R6: the frame was logged as sent, never arrived, and the client waited
    /// 45 s for its inactivity deadline); answering the first message, as every other close of the
    /// emulator does, is reliable. Then waits at most 3 s for the client's close.
    static func refuse(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, within: Duration,
                       reason: String) async {
        enum Done { case reader, deadline, timer }
        // One signal for "a message came, the input ended, or the deadline passed".
        let (signal, signalSink) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Done.self) { group in
            group.addTask {   // the only reader of the socket
                do { for try await _ in inbound.messages(maxSize: 1 << 16) { signalSink.yield(()) } } catch {}
                signalSink.yield(())
                return .reader
            }
            group.addTask {
                try? await Task.sleep(for: within)
                signalSink.yield(())
                return .deadline
            }
            var it = signal.makeAsyncIterator()
            _ = await it.next()
            try? await outbound.close(.unknown(1013), reason: reason)
            group.addTask {
                try? await Task.sleep(for: .seconds(3))
                return .timer
            }
            // The client's close ends the reader; a client that never answers is left after 3 s.
            while let done = await group.next(), done == .deadline {}
            group.cancelAll()
        }
    }
}

struct SocketOutput: EmulatorOutput {
    let outbound: WebSocketOutboundWriter
    let channel: any Channel

    func send(_ data: Data, asText: Bool) async {
        if asText {
            try? await outbound.write(.text(String(decoding: data, as: UTF8.self)))
        } else {
            try? await outbound.write(.binary(ByteBuffer(bytes: data)))
        }
    }

    func close(code: UInt16, reason: String) async {
        try? await outbound.close(WebSocketErrorCode(codeNumber: Int(code)), reason: reason)
    }

    func drop() async {
        try? await channel.close()
    }
}

/// The router's context: Hummingbird's basic one plus the peer address (token minting checks it).
public struct EmulatorRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// The HTTP/WebSocket child channel with admission (R6): at the gate's TCP limit the oldest
/// connection not yet upgraded makes room (or, if all are sessions, the new one is closed on
/// accept), and one that has not upgraded to a WebSocket within `deadline` is closed
/// (the HTTP idle timeout only starts after a first request, so a silent socket needs this).
struct GuardedChannel: ServerChildChannel {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value
    let base: HTTP1WebSocketUpgradeChannel
    let gate: ConnectionGate
    let deadline: TimeAmount

    struct Refused: Error {}

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let id = ObjectIdentifier(channel)
        guard gate.tcpOpened(channel) else {
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(Refused())
        }
        let gate = self.gate
        let timer = channel.eventLoop.scheduleTask(in: deadline) {
            if !gate.isUpgraded(id) { channel.close(promise: nil) }
        }
        channel.closeFuture.whenComplete { _ in
            timer.cancel()
            gate.tcpClosed(id)
        }
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        var filtered = logger
        filtered.handler = UnfinishedHandshakeLog(base: logger.handler, gate: gate)
        await base.handle(value: value, logger: filtered)
    }
}

/// Hummingbird logs "Error handling upgrade result" at error level for every connection that closes
/// before its HTTP request or WebSocket upgrade finished — each silent socket the gate evicts or
/// times out: 271 lines in one abuse run, a log flood an attacker controls. Those lines are
/// counted in the gate (`unfinishedHandshakes`) and summarised as one warning at most every
/// `ConnectionGate.handshakeLogInterval`; everything else passes through unchanged.
struct UnfinishedHandshakeLog: LogHandler {
    var base: any LogHandler
    let gate: ConnectionGate

    static let message = "Error handling upgrade result"

    func log(event: LogEvent) {
        guard event.level >= .error, event.message.description == Self.message else {
            base.log(event: event)
            return
        }
        guard let summary = gate.unfinishedHandshake() else { return }
        var e = event
        e.level = .warning
        e.message = "\(summary)"
        e.metadata = nil
        base.log(event: e)
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }
    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }
    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }
}
