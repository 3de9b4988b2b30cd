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
    public var logger: Logger

    public init(caFile: String? = nil, maxMessageBytes: Int = 64 << 20,
                logger: Logger = Logger(label: "livetalk.transport")) {
        self.caFile = caFile
        self.maxMessageBytes = maxMessageBytes
        self.logger = logger
    }

    public func connect(to endpoint: Endpoint) async throws(TransportError) -> any TransportConnection {
        let host = endpoint.url.host ?? "?"
        var config = WebSocketClientConfiguration()
        config.maxFrameSize = maxMessageBytes
        config.autoPing = .disabled   // Google's pongs can take 8–30 s; a short ping timeout self-inflicts 1011
        config.closeTimeout = .seconds(3)
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
            if host.split(separator: ".").count == 4 && host.allSatisfy({ $0.isNumber || $0 == "." }) || host.contains(":") {
                // NIOSSL refuses an IP address as SNI; loopback certificates carry "localhost".
                config.sniHostname = "localhost"
            }
        }
        let connection = WebSocketConnection()
        let url = endpoint.url.absoluteString
        let logger = self.logger
        let maxMessage = maxMessageBytes
        let configuration = config
        let tlsConfiguration = tls
        Task.detached {
            do {
                let closeFrame = try await WebSocketClient.connect(
                    url: url, configuration: configuration, tlsConfiguration: tlsConfiguration, logger: logger
                ) { inbound, outbound, _ in
                    connection.opened()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await item in connection.outgoing {
                                switch item {
                                case .message(let data):
                                    try await outbound.write(.text(String(decoding: data, as: UTF8.self)))
                                case .close(let code, let reason):
                                    try await outbound.close(WebSocketErrorCode(codeNumber: Int(code)), reason: reason)
                                    return
                                }
                            }
                        }
                        group.addTask {
                            for try await message in inbound.messages(maxSize: maxMessage) {
                                switch message {
                                case .text(let s): connection.deliver(.text(s))
                                case .binary(var b): connection.deliver(.binary(Data(b.readBytes(length: b.readableBytes) ?? [])))
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
        return try await connection.waitOpen()
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

    init() {
        (inbound, inboundContinuation) = AsyncStream.makeStream(of: TransportInbound.self)
        (outgoing, outgoingContinuation) = AsyncStream.makeStream(of: Outgoing.self)
    }

    var wasOpened: Bool { lock.withLock { isOpen } }

    func opened() {
        lock.withLock { isOpen = true }
        resolveOpen(.success(()))
    }

    func failed(_ e: TransportError) {
        resolveOpen(.failure(e))
        inboundContinuation.finish()
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
        let ok = lock.withLock { !isClosing }
        guard ok else { return false }
        outgoingContinuation.yield(.message(json))
        return true
    }

    func close(code: UInt16, reason: String) async {
        let first: Bool = lock.withLock {
            defer { isClosing = true }
            return !isClosing
        }
        if first { outgoingContinuation.yield(.close(code, reason)) }
    }
}
