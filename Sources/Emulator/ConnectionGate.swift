import Foundation
import Speech
import HTTPTypes
import NIOCore

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
    /// Connections that have not upgraded yet, with their order of arrival (for eviction).
    private var waiting: [ObjectIdentifier: (order: Int, channel: any Channel)] = [:]
    private var arrivals = 0
    private var refusedTCP = 0
    private var evictedTCP = 0

    public init(maxSessions: Int, tcpSlack: Int = EmulatorOptions.tcpSlack) {
        self.maxSessions = max(1, maxSessions)
        self.maxTCP = self.maxSessions + max(0, tcpSlack)
    }

    /// A TCP connection was accepted. At `maxTCP`, the oldest connection that has not upgraded
    /// yet (a silent or slow socket) is closed to make room (counted in `evictedTCP`), so silent
    /// sockets cannot lock real clients out; when every connection is an upgraded session, the new
    /// one is refused: false, and the caller closes it (counted in `refusedTCP`).
    func tcpOpened(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        var evict: (any Channel)?
        lock.lock()
        if tcp >= maxTCP, let oldest = waiting.min(by: { $0.value.order < $1.value.order }) {
            waiting[oldest.key] = nil
            evict = oldest.value.channel
            evictedTCP += 1
            tcp -= 1   // its close will not count it again (`tcpClosed` checks `counted`)
            counted.remove(oldest.key)
        }
        guard tcp < maxTCP else {
            refusedTCP += 1
            lock.unlock()
            return false
        }
        tcp += 1
        arrivals += 1
        waiting[id] = (arrivals, channel)
        counted.insert(id)
        lock.unlock()
        evict?.close(promise: nil)
        return true
    }

    /// Channels counted in `tcp` (an evicted one is uncounted at eviction).
    private var counted: Set<ObjectIdentifier> = []

    func tcpClosed(_ id: ObjectIdentifier) {
        lock.lock()
        if counted.remove(id) != nil { tcp = max(0, tcp - 1) }
        upgraded.remove(id)
        waiting[id] = nil
        // The last connection went: the heap a load left behind goes back to the system (glibc
        // keeps it otherwise, and RSS would stay at the load's peak): now (at most every 200 ms),
        // and again 2 and 5 s later, coalesced (sessions' tasks and buffers are freed a little
        // after their sockets close).
        let now = ContinuousClock.now
        let trimNow = tcp == 0 && now - lastTrim > .milliseconds(200)
        if trimNow { lastTrim = now }
        let schedule = tcp == 0 && !trimScheduled
        if schedule { trimScheduled = true }
        lock.unlock()
        if trimNow { RecognizerPool.returnFreedMemory() }
        if schedule {
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { RecognizerPool.returnFreedMemory() }
            DispatchQueue.global().asyncAfter(deadline: .now() + 5) { [weak self] in
                self?.lock.withLock { self?.trimScheduled = false }
                RecognizerPool.returnFreedMemory()
            }
        }
    }
    private var trimScheduled = false   // guarded by `lock`
    private var lastTrim = ContinuousClock.now - .seconds(10)   // guarded by `lock`

    /// The channel passed its WebSocket upgrade: the pre-upgrade deadline no longer applies, and
    /// it is no longer evicted to make room.
    func markUpgraded(_ id: ObjectIdentifier) {
        lock.lock()
        upgraded.insert(id)
        waiting[id] = nil
        lock.unlock()
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

    /// Open sessions and TCP connections now; TCP connections refused on accept, silent ones
    /// evicted to make room, and connections that closed before their HTTP upgrade finished
    /// (evicted, timed out, or dropped by the peer), so far.
    public var counts: (sessions: Int, tcp: Int, refusedTCP: Int, evictedTCP: Int, unfinishedHandshakes: Int) {
        lock.lock(); defer { lock.unlock() }
        return (sessions, tcp, refusedTCP, evictedTCP, unfinishedHandshakes)
    }

    /// Shortest time between two log lines about unfinished handshakes (see `unfinishedHandshake`).
    public static let handshakeLogInterval: Duration = .seconds(10)
    // Guarded by `lock`.
    private var unfinishedHandshakes = 0
    private var unfinishedSinceLog = 0
    private var lastHandshakeLog: ContinuousClock.Instant?

    /// A connection closed before its HTTP upgrade finished. Counted; returns the line to log
    /// when one is due: the first such connection, then a summary of those since at most every
    /// `handshakeLogInterval` (a flood of silent sockets is a few lines, not one per socket).
    func unfinishedHandshake(now: ContinuousClock.Instant = .now) -> String? {
        lock.lock(); defer { lock.unlock() }
        unfinishedHandshakes += 1
        unfinishedSinceLog += 1
        if let last = lastHandshakeLog, now - last < Self.handshakeLogInterval { return nil }
        let n = unfinishedSinceLog
        let since = lastHandshakeLog.map { " in the last \(Int(($0.duration(to: now)).components.seconds)) s" } ?? ""
        lastHandshakeLog = now
        unfinishedSinceLog = 0
        return "\(n) connection\(n == 1 ? "" : "s") closed before finishing the HTTP upgrade\(since) (silent sockets evicted or timed out, or peers that left; \(unfinishedHandshakes) in all; summarised at most every \(Self.handshakeLogInterval.components.seconds) s)"
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
