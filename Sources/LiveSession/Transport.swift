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
    /// Messages queued by `send` and not yet handed to the socket (the session bounds it).
    var backlog: Int { get }
    /// Tears the connection down now, with no handshake (a dead or stalled peer); `inbound`
    /// delivers `.closed(1006)` if it has not ended yet.
    func abort()
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
    /// A step (`connect`: TCP + TLS + upgrade; `setup`: waiting for setupComplete) took longer
    /// than its deadline: a captive portal, a stalled proxy, a peer that never answers.
    case timedOut(step: String, after: Duration)

    public var retryable: Bool {
        switch self {
        case .unreachable, .timedOut: true
        case .upgradeRefused, .tls, .configuration: false
        }
    }

    public var failure: SessionFailure {
        switch self {
        case .unreachable(let host, let d):
            SessionFailure(code: nil, headline: "cannot reach \(host) (\(d))", reason: .unreachable(host: host))
        case .upgradeRefused(let d):
            SessionFailure(code: nil, headline: "the server refused the WebSocket upgrade (\(d))", reason: .upgradeRefused)
        case .tls(let d):
            SessionFailure(code: nil, headline: "TLS failed (\(d))", reason: .tls)
        case .configuration(let d):
            SessionFailure(code: nil, headline: d, reason: .configuration)
        case .timedOut(let step, let after):
            SessionFailure(code: nil,
                           headline: step == "setup" ? "the server did not complete setup within \(Deadlines.seconds(after))"
                                                     : "no answer from the server within \(Deadlines.seconds(after))",
                           reason: .timedOut)
        }
    }

    public var description: String { failure.description }
}

/// Every deadline of a client session (issue 9): a stalled peer becomes a retryable failure,
/// never a hang. Defaults as documented in the README ("Limits and guarantees").
public struct Deadlines: Sendable, Hashable {
    /// TCP + TLS + WebSocket upgrade.
    public var connect: Duration = .seconds(10)
    /// From the socket opening to `setupComplete`.
    public var setup: Duration = .seconds(10)
    /// The close handshake; after it the socket is torn down.
    public var close: Duration = .seconds(2)
    /// A WebSocket ping goes out this often while connected.
    public var pingInterval: Duration = .seconds(15)
    /// No inbound frame (data, pong, anything) for this long: the connection is dead.
    public var inactivity: Duration = .seconds(45)

    public init() {}

    public static let defaults = Deadlines()

    /// "10 s", "1.5 s", "250 ms".
    public static func seconds(_ d: Duration) -> String {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        if ms < 1000 { return "\(ms) ms" }
        return ms % 1000 == 0 ? "\(ms / 1000) s" : String(format: "%.1f s", Double(ms) / 1000)
    }
}
