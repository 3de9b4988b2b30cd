import Foundation
import LiveProtocol

/// State shared by every connection of one emulator: the resumption store, minted tokens,
/// fault bookkeeping and counters that tests read.
public actor EmulatorState {
    /// A conversation as it stood when a handle was issued. It holds every input the handle
    /// covers (`lastConsumedClientMessageIndex`): an input whose turn had not finished is not
    /// covered, so a client resuming with the handle sends it again.
    public struct Snapshot: Sendable {
        public var history: [HistoryEntry]
        public var session: Int
        public var createdAt: Date
        /// NON_BLOCKING calls still awaiting their response (id → name): a resumed connection
        /// accepts a response to them, as the connection that made the call would have.
        public var openCalls: [String: String] = [:]
    }

    /// The bounds this state enforces (from `EmulatorOptions`).
    public struct Limits: Sendable {
        public var maxSnapshots = 1000
        public var resumptionTTL: Duration = .seconds(2 * 3600)
        public var maxTokens = 1000
        public var maxListeners = EmulatorOptions.defaultMaxListeners
        /// Handles kept per session, newest last. More than one: a client that closes (for a
        /// goAway) while the newest handle is still on its way resumes with the one before.
        public var handlesPerSession = 3
        public init() {}
        public init(_ o: EmulatorOptions) {
            maxSnapshots = max(1, o.maxSnapshots)
            resumptionTTL = o.resumptionTTL
            maxTokens = max(1, o.maxTokens)
            maxListeners = max(0, o.maxListeners)
        }
    }

    public struct Token: Sendable {
        public var usesLeft: Int?            // nil = unlimited
        public var expireTime: Date
        public var newSessionExpireTime: Date
        public var constraint: Setup?
    }

    /// What happened, for tests and `livetalk-bench`.
    public struct Stats: Sendable, Hashable {
        public var connections = 0
        public var setups = 0
        public var resumes = 0
        /// Utterances pocketsphinx found words in.
        public var utterancesRecognised = 0
        public var goAwaysSent = 0
        public var lifetimeCloses = 0
        public var faultsFired: [String] = []
        public var toolCallsSent = 0
        public var cancellationsSent = 0
        public var lateToolResponses = 0
        /// Connections closed 1008 for more than `TurnMachine.maxQueuedInputs` inputs waiting for a reply to end.
        public var queueOverflows = 0
        public var clientMessages = 0
        // Limits reached (issue 9): each is a count of what was refused, dropped or cut.
        /// Sessions refused with 1013 over `maxConnections`.
        public var connectionsRefused = 0
        /// WebSocket upgrades refused for their `Origin`.
        public var originsRefused = 0
        /// Connections closed for sending no `setup` within `idleTimeout`.
        public var idleCloses = 0
        /// Audio messages refused for a sample rate outside 8–48 kHz (closed with 1007).
        public var badAudioRates = 0
        /// Input texts cut to `maxTextCharacters`.
        public var textTruncations = 0
        /// Replies cut to `maxTextCharacters`.
        public var replyTruncations = 0
        /// History entries dropped beyond `maxHistoryEntries`.
        public var historyDropped = 0
        /// Snapshots evicted: superseded (more than `handlesPerSession` newer handles of the same
        /// session), least recently used over `maxSnapshots`, or older than `resumptionTTL`.
        public var snapshotsSuperseded = 0
        public var snapshotsEvicted = 0
        public var snapshotsExpired = 0
        /// Tokens purged after their expiry; mints refused over `maxTokens` or from a non-loopback
        /// peer without `--require-key`.
        public var tokensExpired = 0
        public var tokenMintsRefused = 0
        /// Utterances transcribed as "[speech N s]" because `maxListeners` were busy.
        public var listenersRefused = 0
        /// Utterances ended at `maxUtterance`.
        public var utterancesCut = 0
    }

    private let limits: Limits
    /// handle → snapshot; at most `limits.maxSnapshots` in all, `limits.handlesPerSession` per
    /// session. Each history is at most `maxHistoryEntries` long, so the store is bounded by
    /// `maxSnapshots × maxHistoryEntries` entries however many handles a session is issued.
    private var snapshots: [String: Snapshot] = [:]
    /// handle → last use (store or resume), for LRU eviction.
    private var lastUsed: [String: Date] = [:]
    /// session → its stored handles, oldest first (at most `limits.handlesPerSession`).
    private var recentHandles: [Int: [String]] = [:]
    private var tokens: [String: Token] = [:]
    private var firedFaults: Set<String> = []
    private var nextSession = 0
    private var replies = 0
    private var calls = 0
    private var listeners = 0
    public private(set) var stats = Stats()

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Snapshots held now (tests).
    public var snapshotCount: Int { snapshots.count }
    /// Tokens held now (tests).
    public var tokenCount: Int { tokens.count }
    /// Listener slots in use now (tests).
    public var listenersInUse: Int { listeners }

    /// Takes a listener slot (R8); false when all `maxListeners` are busy (counted).
    func acquireListener() -> Bool {
        guard listeners < limits.maxListeners else {
            stats.listenersRefused += 1
            return false
        }
        listeners += 1
        return true
    }

    func releaseListener() { listeners = max(0, listeners - 1) }

    func newSessionNumber() -> Int {
        nextSession += 1
        return nextSession
    }

    /// Keeps `snapshot` under `handle` (R5): the session's handles beyond the newest
    /// `handlesPerSession` go, expired snapshots go, and over `maxSnapshots` the least recently used go.
    func store(handle: String, snapshot: Snapshot, now: Date = Date()) {
        purgeExpiredSnapshots(now: now)
        var recent = recentHandles[snapshot.session, default: []]
        recent.removeAll { $0 == handle }
        recent.append(handle)
        while recent.count > max(1, limits.handlesPerSession) {
            let old = recent.removeFirst()
            if snapshots.removeValue(forKey: old) != nil {
                lastUsed[old] = nil
                stats.snapshotsSuperseded += 1
            }
        }
        recentHandles[snapshot.session] = recent
        snapshots[handle] = snapshot
        lastUsed[handle] = now
        while snapshots.count > limits.maxSnapshots,
              let oldest = lastUsed.min(by: { $0.value < $1.value })?.key {
            remove(handle: oldest)
            stats.snapshotsEvicted += 1
        }
    }

    /// The snapshot of a handle still within `resumptionTTL` (its use refreshes it for LRU).
    func snapshot(for handle: String, now: Date = Date()) -> Snapshot? {
        guard let snap = snapshots[handle] else { return nil }
        guard now.timeIntervalSince(snap.createdAt) <= Self.seconds(limits.resumptionTTL) else {
            remove(handle: handle)
            stats.snapshotsExpired += 1
            return nil
        }
        lastUsed[handle] = now
        return snap
    }

    private func remove(handle: String) {
        guard let snap = snapshots.removeValue(forKey: handle) else { return }
        lastUsed[handle] = nil
        recentHandles[snap.session]?.removeAll { $0 == handle }
        if recentHandles[snap.session]?.isEmpty == true { recentHandles[snap.session] = nil }
    }

    /// Sessions with a stored handle (tests: the per-session index shrinks with the store).
    var sessionsWithHandles: Int { recentHandles.count }

    private func purgeExpiredSnapshots(now: Date) {
        let ttl = Self.seconds(limits.resumptionTTL)
        for (h, snap) in snapshots where now.timeIntervalSince(snap.createdAt) > ttl {
            remove(handle: h)
            stats.snapshotsExpired += 1
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Numbers function calls across the server: a call id is never reused, not even by a
    /// connection that resumes from a snapshot taken before the call was made.
    func nextCallNumber() -> Int {
        calls += 1
        return calls
    }

    /// Counts replies across the server (for `dropMidReply`).
    func nextReplyNumber() -> Int {
        replies += 1
        return replies
    }

    /// True the first time `name` is asked for.
    func fireOnce(_ name: String) -> Bool {
        guard !firedFaults.contains(name) else { return false }
        firedFaults.insert(name)
        stats.faultsFired.append(name)
        return true
    }

    func count(_ update: @Sendable (inout Stats) -> Void) { update(&stats) }

    /// Stores a new token; nil when `maxTokens` live tokens exist (after purging expired ones).
    func mint(_ t: Token, now: Date = Date()) -> String? {
        purgeExpiredTokens(now: now)
        guard tokens.count < limits.maxTokens else {
            stats.tokenMintsRefused += 1
            return nil
        }
        let name = "auth_tokens/emu-" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        tokens[name] = t
        return name
    }

    private func purgeExpiredTokens(now: Date) {
        for (name, t) in tokens where now > t.expireTime {
            tokens[name] = nil
            stats.tokensExpired += 1
        }
    }

    public enum TokenCheck: Sendable { case ok(Setup?), unknown, expired, used }

    /// Checks (and, for a new session, spends) an ephemeral token.
    func useToken(_ name: String, resuming: Bool, now: Date = Date()) -> TokenCheck {
        guard var t = tokens[name] else { return .unknown }
        if now > t.expireTime {
            tokens[name] = nil
            stats.tokensExpired += 1
            return .expired
        }
        if resuming { return .ok(t.constraint) }
        if now > t.newSessionExpireTime { return .expired }
        if let left = t.usesLeft {
            if left <= 0 { return .used }
            t.usesLeft = left - 1
            tokens[name] = t
        }
        return .ok(t.constraint)
    }
}
