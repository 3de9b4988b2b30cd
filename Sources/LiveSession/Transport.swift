import Foundation
import LiveProtocol

/// What arrives from a connection: whole messages (JSON in a text or a binary frame) and,
/// last, how it ended.
public enum TransportInbound: Sendable {
    case text(String)
    case binary(Data)
    /// The connection ended; `code` is 1006 when no close frame arrived.
    case closed(code: UInt16, reason: String)
}

/// Opens connections. The real one is `WebSocketTransport`; tests may use an in-memory pair.
public protocol Transport: Sendable {
    func connect(to endpoint: Endpoint) async throws(TransportError) -> any TransportConnection
}

/// One open connection.
public protocol TransportConnection: Sendable {
    /// Every inbound message, then exactly one `.closed`, then the stream ends.
    var inbound: AsyncStream<TransportInbound> { get }
    /// Queues one JSON message to go out as a text frame. Never blocks; messages leave in
    /// the order queued. Returns false when the connection is already closing.
    @discardableResult func send(_ json: Data) -> Bool
    /// Starts the close handshake; `inbound` then delivers `.closed`.
    func close(code: UInt16, reason: String) async
}

/// Why a connection could not be opened, as facts.
public enum TransportError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Nothing listens / DNS / network down: worth retrying.
    case unreachable(host: String, detail: String)
    /// The HTTP upgrade was refused (wrong path, auth rejected before the upgrade).
    case upgradeRefused(detail: String)
    /// TLS could not be established (untrusted certificate, wrong host).
    case tls(detail: String)
    /// A bad CA file or other local configuration.
    case configuration(String)

    public var retryable: Bool {
        if case .unreachable = self { return true }
        return false
    }

    public var failure: SessionFailure {
        switch self {
        case .unreachable(let host, let d):
            SessionFailure(code: nil, headline: "cannot reach \(host) (\(d))",
                           hint: "check --endpoint, or unset it to use the embedded emulator")
        case .upgradeRefused(let d):
            SessionFailure(code: nil, headline: "the server refused the WebSocket upgrade (\(d))",
                           hint: "check --endpoint's path and --api-version")
        case .tls(let d):
            SessionFailure(code: nil, headline: "TLS failed (\(d))",
                           hint: "for a private CA pass --ca-file FILE.pem")
        case .configuration(let d):
            SessionFailure(code: nil, headline: d, hint: "")
        }
    }

    public var description: String { failure.description }
}
