import Foundation
import LiveProtocol

/// A `Transport` with no sockets: every `connect` hands the test (or fuzzer) the server end of a
/// fresh in-memory connection through `accepted`. What the client sends arrives on
/// `ServerEnd.received`; what the server end sends arrives on the client's `inbound`.
///
/// `connect` can be scripted to fail, or to hang until cancelled (a peer that never answers), so
/// session deadlines can be tested without sockets. Bounded: `accepted` keeps the newest 64 ends.
public final class InMemoryTransport: Transport, @unchecked Sendable {
    public enum ConnectBehaviour: Sendable {
        /// Open at once.
        case open
        /// Fail with this error.
        case fail(TransportError)
        /// Never complete (the caller's deadline must end it).
        case hang
    }

    public let accepted: AsyncStream<ServerEnd>
    private let acceptedContinuation: AsyncStream<ServerEnd>.Continuation
    private let lock = NSLock()
    /// Guarded by `lock`: behaviours for the next connects, in order; `.open` once used up.
    private var script: [ConnectBehaviour] = []
    /// Guarded by `lock`.
    private var connects = 0
    /// Guarded by `lock`: new connections never answer a close (a stalled peer).
    private var stallCloses = false

    public init(script: [ConnectBehaviour] = []) {
        self.script = script
        (accepted, acceptedContinuation) = AsyncStream.makeStream(of: ServerEnd.self, bufferingPolicy: .bufferingNewest(64))
    }

    /// How many times `connect` was called.
    public var connectCount: Int { lock.withLock { connects } }

    public func setScript(_ s: [ConnectBehaviour]) { lock.withLock { script = s } }
    /// From now on, connections ignore the client's close: only its close deadline ends them.
    public func setStallsCloses(_ on: Bool) { lock.withLock { stallCloses = on } }

    public func connect(to endpoint: Endpoint) async throws(TransportError) -> any TransportConnection {
        let (behaviour, stall): (ConnectBehaviour, Bool) = lock.withLock {
            connects += 1
            return (script.isEmpty ? .open : script.removeFirst(), stallCloses)
        }
        switch behaviour {
        case .open:
            let pair = InMemoryConnection.pair()
            pair.client.stallsClose = stall
            acceptedContinuation.yield(pair.server)
            return pair.client
        case .fail(let e):
            throw e
        case .hang:
            // Sleeps until the caller gives up (task cancellation).
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            throw .timedOut(step: "connect", after: .zero)
        }
    }

    /// The server's side of one in-memory connection.
    public final class ServerEnd: Sendable {
        let connection: InMemoryConnection
        /// Every JSON message the client sent, then the stream ends when the client closes.
        public var received: AsyncStream<Data> { connection.outbound }

        init(_ c: InMemoryConnection) { connection = c }

        /// Delivers one text message to the client.
        public func send(_ text: String) { connection.deliver(.text(text)) }
        public func send(binary: Data) { connection.deliver(.binary(binary)) }
        /// Ends the connection with `code` (1006 = dropped without a close frame).
        public func close(code: UInt16 = CloseCodes.normal, reason: String = "") { connection.finish(code: code, reason: reason) }
        public var closedByClient: (code: UInt16, reason: String)? { connection.clientClose }
    }
}

/// One in-memory connection (client side). Thread-safe; every field guarded by `lock`.
final class InMemoryConnection: TransportConnection, @unchecked Sendable {
    let inbound: AsyncStream<TransportInbound>
    private let inboundContinuation: AsyncStream<TransportInbound>.Continuation
    let outbound: AsyncStream<Data>
    private let outboundContinuation: AsyncStream<Data>.Continuation
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var finished = false
    /// Guarded by `lock`.
    private var closeRequest: (code: UInt16, reason: String)?
    /// Set before the connection is handed out: ignore the client's close.
    nonisolated(unsafe) var stallsClose = false

    private init() {
        (inbound, inboundContinuation) = AsyncStream.makeStream(of: TransportInbound.self)
        (outbound, outboundContinuation) = AsyncStream.makeStream(of: Data.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    static func pair() -> (client: InMemoryConnection, server: InMemoryTransport.ServerEnd) {
        let c = InMemoryConnection()
        return (c, InMemoryTransport.ServerEnd(c))
    }

    var clientClose: (code: UInt16, reason: String)? { lock.withLock { closeRequest } }

    func deliver(_ item: TransportInbound) {
        guard !lock.withLock({ finished }) else { return }
        inboundContinuation.yield(item)
    }

    func finish(code: UInt16, reason: String) {
        let first: Bool = lock.withLock {
            defer { finished = true }
            return !finished
        }
        guard first else { return }
        outboundContinuation.finish()
        inboundContinuation.yield(.closed(code: code, reason: reason))
        inboundContinuation.finish()
    }

    @discardableResult
    func send(_ json: Data) -> Bool {
        let ok = lock.withLock { !finished && closeRequest == nil }
        if ok { outboundContinuation.yield(json) }
        return ok
    }

    /// The in-memory peer answers a close at once, as a well-behaved server does.
    func close(code: UInt16, reason: String) async {
        lock.withLock { if closeRequest == nil { closeRequest = (code, reason) } }
        if !stallsClose { finish(code: code, reason: reason) }
    }

    var backlog: Int { 0 }

    func abort() { finish(code: CloseCodes.abnormal, reason: "aborted") }
}
