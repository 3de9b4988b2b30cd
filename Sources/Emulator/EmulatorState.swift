import Foundation
import LiveProtocol

/// State shared by every connection of one emulator: the resumption store, minted tokens,
/// fault bookkeeping and counters that tests read.
public actor EmulatorState {
    /// A conversation as it stood when a handle was issued.
    public struct Snapshot: Sendable {
        public var history: [HistoryEntry]
        public var session: Int
        public var createdAt: Date
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
        public var clientMessages = 0
    }

    private var snapshots: [String: Snapshot] = [:]
    private var tokens: [String: Token] = [:]
    private var firedFaults: Set<String> = []
    private var nextSession = 0
    private var replies = 0
    public private(set) var stats = Stats()

    public init() {}

    func newSessionNumber() -> Int {
        nextSession += 1
        return nextSession
    }

    func store(handle: String, snapshot: Snapshot) { snapshots[handle] = snapshot }
    func snapshot(for handle: String) -> Snapshot? { snapshots[handle] }

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

    func mint(_ t: Token) -> String {
        let name = "auth_tokens/emu-" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        tokens[name] = t
        return name
    }

    public enum TokenCheck: Sendable { case ok(Setup?), unknown, expired, used }

    /// Checks (and, for a new session, spends) an ephemeral token.
    func useToken(_ name: String, resuming: Bool, now: Date = Date()) -> TokenCheck {
        guard var t = tokens[name] else { return .unknown }
        if now > t.expireTime { return .expired }
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
