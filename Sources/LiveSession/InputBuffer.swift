import Foundation
import LiveProtocol

/// Client input that must survive a reconnect.
///
/// Two parts: `unconfirmed` — messages already sent on the current connection that no
/// resumable handle covers yet (the server may lose them with the connection) — and
/// `offline` — messages the user produced while no connection was ready. After the next
/// `setupComplete` both are sent again, unconfirmed first. The buffer is bounded: when it
/// is full the oldest *audio* goes first; text and tool responses are never dropped.
public struct InputBuffer: Sendable {
    public struct Entry: Sendable, Hashable {
        public var message: ClientMessage
        /// Index of this message on its connection (`setup` is 0); nil while offline.
        public var index: Int?
    }

    public private(set) var unconfirmed: [Entry] = []
    public private(set) var offline: [ClientMessage] = []
    public let capacity: Int
    public private(set) var dropped = 0

    public init(capacity: Int = 3000) { self.capacity = capacity }

    public var count: Int { unconfirmed.count + offline.count }

    /// Only messages whose loss would matter are remembered; activity markers are, since
    /// audio between them is meaningless without them.
    static func worthKeeping(_ m: ClientMessage) -> Bool {
        switch m {
        case .realtimeInput, .clientContent, .toolResponse, .contextUpdate: true
        case .setup, .unknown: false
        }
    }

    public mutating func sent(_ m: ClientMessage, index: Int) {
        guard Self.worthKeeping(m) else { return }
        unconfirmed.append(Entry(message: m, index: index))
        trim()
    }

    public mutating func hold(_ m: ClientMessage) {
        guard Self.worthKeeping(m) else { return }
        offline.append(m)
        trim()
    }

    /// A resumable handle arrived: everything up to `lastConsumed` is safe on the server.
    ///
    /// The Developer API does not say what it consumed (`lastConsumed` nil). Then only what was
    /// sent before the last `turnComplete` (`answeredUpTo`, a connection index) is known to be
    /// safe; a text or tool response sent after it may have been lost with the connection, so it
    /// stays until a later handle covers it. Audio and activity markers are confirmed anyway:
    /// replaying stale microphone audio would do more harm than losing it.
    public mutating func confirm(upTo lastConsumed: Int?, answeredUpTo: Int = Int.max) {
        if let lastConsumed {
            unconfirmed.removeAll { ($0.index ?? Int.max) <= lastConsumed }
        } else {
            unconfirmed.removeAll { ($0.index ?? Int.max) <= answeredUpTo || !Self.isPrecious($0.message) }
        }
    }

    /// Text, content and tool responses: never dropped for audio's sake.
    static func isPrecious(_ m: ClientMessage) -> Bool {
        switch m {
        case .clientContent, .toolResponse, .contextUpdate: true
        case .realtimeInput(let r): r.text != nil
        case .setup, .unknown: false
        }
    }

    /// Precious messages kept at most (a hard bound: beyond it the oldest go, counted in `dropped`).
    public static let maxPrecious = 1000

    /// Microphone audio replayed after a reconnect at most (100 × 20 ms = the last 2 s). Older
    /// audio is stale: replaying it would make the server hear the user again, and it would
    /// crowd out live audio in the send queue. Dropped chunks are counted in `dropped`.
    public var maxReplayAudio = 100

    /// Everything to send after the next `setupComplete`, in order; empties the buffer. Texts,
    /// tool responses and activity markers all go; of the audio only the newest `maxReplayAudio`.
    public mutating func takeForReplay() -> [ClientMessage] {
        var all = unconfirmed.map(\.message) + offline
        unconfirmed.removeAll()
        offline.removeAll()
        let audio = all.lazy.filter(Self.isAudio).count
        if audio > maxReplayAudio {
            var skip = audio - maxReplayAudio
            dropped += skip
            all.removeAll { m in
                guard skip > 0, Self.isAudio(m) else { return false }
                skip -= 1
                return true
            }
        }
        return all
    }

    /// A fresh session: unconfirmed input belonged to the old conversation.
    public mutating func dropUnconfirmed() { unconfirmed.removeAll() }

    private mutating func trim() {
        while count > capacity {
            if let i = unconfirmed.firstIndex(where: { Self.isAudio($0.message) }) {
                unconfirmed.remove(at: i)
            } else if let i = offline.firstIndex(where: Self.isAudio) {
                offline.remove(at: i)
            } else {
                break   // only precious input left: keep it, up to its own bound
            }
            dropped += 1
        }
        while unconfirmed.count + offline.count > Self.maxPrecious + capacity {
            if !unconfirmed.isEmpty { unconfirmed.removeFirst() } else { offline.removeFirst() }
            dropped += 1
        }
    }

    static func isAudio(_ m: ClientMessage) -> Bool {
        if case .realtimeInput(let r) = m, r.audioBlob != nil { return true }
        return false
    }
}
