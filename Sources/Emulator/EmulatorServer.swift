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
    public let state = EmulatorState()
    private let logger: Logger

    public init(options: EmulatorOptions, logger: Logger = Logger(label: "livetalk.emulator")) {
        self.options = options
        self.logger = logger
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
        if options.speech == .espeak { Self.warmUpSpeech(logger: logger) }
        let router = Router()
        router.get("health") { _, _ in "ok" }
        let state = self.state
        let options = self.options
        let mint: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            try await Self.mintToken(request: request, state: state, options: options)
        }
        router.post("v1alpha/auth_tokens", use: mint)
        router.post("v1beta/auth_tokens", use: mint)

        var wsConfig = WebSocketServerConfiguration(maxFrameSize: 16 << 20, autoPing: .disabled)
        wsConfig.closeTimeout = .seconds(3)
        let logger = self.logger
        let ws: HTTPServerBuilder = .http1WebSocketUpgrade(configuration: .init(ws: wsConfig)) { request, channel, _ in
            guard let (route, query) = LiveRoute.match(request.path ?? "/") else { return .dontUpgrade }
            let auth = Self.authenticate(route: route, query: query, headers: request.headerFields, options: options)
            return .upgrade([:]) { inbound, outbound, _ in
                let out = SocketOutput(outbound: outbound, channel: channel)
                let brain = EmulatorBrain(options: options, shared: state, output: out, auth: auth,
                                          isVertex: route.kind == .vertex, apiVersion: route.apiVersion)
                await state.count { $0.connections += 1 }
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

    static func mintToken(request: Request, state: EmulatorState, options: EmulatorOptions) async throws -> Response {
        if let required = options.requireKey {
            let key = request.headers[HTTPField.Name("x-goog-api-key")!]
            guard key == required else {
                return jsonResponse(.unauthorized, ["error": ["code": 401, "message": "API key not valid. Please pass a valid API key.", "status": "UNAUTHENTICATED"]])
            }
        }
        let body = try await request.body.collect(upTo: 1 << 20)
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
        var constraint: Setup?
        if let s = object["bidiGenerateContentSetup"] ?? object["bidi_generate_content_setup"],
           let d = try? JSONSerialization.data(withJSONObject: s) {
            constraint = try? LiveCoder.decode(Setup.self, d, mode: .tolerant)
        }
        let name = await state.mint(.init(usesLeft: uses == 0 ? nil : uses, expireTime: expire,
                                          newSessionExpireTime: newSession, constraint: constraint))
        let f = ISO8601DateFormatter()
        return jsonResponse(.ok, ["name": name, "uses": uses, "expireTime": f.string(from: expire),
                                  "newSessionExpireTime": f.string(from: newSession)])
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
