import Foundation
import HTTPTypes

/// Admission of connections (R6) and of browser origins (R4): a counter shared by the event
/// loops (synchronous, hence a lock rather than an actor) and pure checks that tests call directly.
public final class ConnectionGate: @unchecked Sendable {
    public let maxSessions: Int
    public let maxTCP: Int
    private let lock = NSLock()
    // Guarded by `lock`.
    private var tcp = 0
    private var sessions = 0
    private var upgraded: Set<ObjectIdentifier> = []
    private var refusedTCP = 0

    public init(maxSessions: Int, tcpSlack: Int = EmulatorOptions.tcpSlack) {
        self.maxSessions = max(1, maxSessions)
        self.maxTCP = self.maxSessions + max(0, tcpSlack)
    }

    /// A TCP connection was accepted. False when it must be closed at once (over `maxTCP`).
    func tcpOpened() -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard tcp < maxTCP else { refusedTCP += 1; return false }
        tcp += 1
        return true
    }

    func tcpClosed(_ id: ObjectIdentifier) {
        lock.lock(); defer { lock.unlock() }
        tcp = max(0, tcp - 1)
        upgraded.remove(id)
    }

    /// The channel passed its WebSocket upgrade: the pre-upgrade deadline no longer applies.
    func markUpgraded(_ id: ObjectIdentifier) {
        lock.lock(); upgraded.insert(id); lock.unlock()
    }

    func isUpgraded(_ id: ObjectIdentifier) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return upgraded.contains(id)
    }

    /// A WebSocket session wants to start. False over `maxSessions` (the caller closes it with 1013).
    func sessionOpened() -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard sessions < maxSessions else { return false }
        sessions += 1
        return true
    }

    func sessionClosed() {
        lock.lock(); sessions = max(0, sessions - 1); lock.unlock()
    }

    /// Open sessions and TCP connections now, and TCP connections closed on accept so far.
    public var counts: (sessions: Int, tcp: Int, refusedTCP: Int) {
        lock.lock(); defer { lock.unlock() }
        return (sessions, tcp, refusedTCP)
    }

    /// True when a WebSocket upgrade with this `Origin` header may proceed: no header (not a
    /// browser), a loopback origin, or one listed in `allowed` (compared without a trailing slash,
    /// case-insensitively).
    public static func originAllowed(_ origin: String?, allowed: Set<String>) -> Bool {
        guard let raw = origin?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return true }
        var o = raw.lowercased()
        while o.hasSuffix("/") { o.removeLast() }
        if allowed.contains(where: { $0.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "/")) == o }) { return true }
        // "null" (file://, sandboxed frames) is not loopback: a page from anywhere can send it.
        guard let c = URLComponents(string: o), let scheme = c.scheme, let host = c.host else { return false }
        // Non-browser clients (swift-websocket, livetalk itself) send their ws:// or wss:// URL as
        // the Origin; a browser never does (it sends the page's http(s) origin), so it is no risk.
        if scheme == "ws" || scheme == "wss" { return true }
        guard ["http", "https"].contains(scheme) else { return false }
        return isLoopback(host: host)
    }

    /// `localhost`, `*.localhost`, 127.0.0.0/8 and ::1 (with or without brackets).
    public static func isLoopback(host raw: String) -> Bool {
        var h = raw.lowercased()
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h == "localhost" || h.hasSuffix(".localhost") || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
        if h.hasPrefix("::ffff:") { h = String(h.dropFirst(7)) }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) else { return false }
        return parts[0] == "127"
    }
}
