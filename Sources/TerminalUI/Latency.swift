import Foundation

/// One turn's latency, from the end of the user's input (local voice detection end, the end of a
/// push-to-talk turn, or Enter) to the first model audio byte received and to the first model
/// sample audible (written to the device plus its latency; nil without a speaker).
public struct TurnLatency: Sendable, Equatable {
    public var turn: Int
    public var firstByteMs: Int
    public var audibleMs: Int?
    public init(turn: Int, firstByteMs: Int, audibleMs: Int?) {
        self.turn = turn
        self.firstByteMs = firstByteMs
        self.audibleMs = audibleMs
    }
}

/// Where the time of each turn goes, as values: `update` feeds it the three points and it
/// yields one `TurnLatency` per turn. Bounded: the last `kept` turns feed the percentiles.
public struct LatencyBook: Sendable, Equatable {
    public static let kept = 500

    /// The end of the user's latest input, not yet answered.
    public var inputEnded: ContinuousClock.Instant?
    /// The turn being measured: its first byte is in, its audible point awaited.
    public var pending: (turn: Int, firstByteMs: Int, inputEnded: ContinuousClock.Instant)?
    public private(set) var last: TurnLatency?
    public private(set) var firstByte: [Int] = []
    public private(set) var audible: [Int] = []

    public init() {}

    public static func == (a: LatencyBook, b: LatencyBook) -> Bool {
        a.inputEnded == b.inputEnded && a.pending?.turn == b.pending?.turn && a.pending?.firstByteMs == b.pending?.firstByteMs
            && a.last == b.last && a.firstByte == b.firstByte && a.audible == b.audible
    }

    /// The user finished an input at `at` (a later one replaces an earlier, unanswered one).
    public mutating func inputEnded(at: ContinuousClock.Instant) { inputEnded = at }

    /// The first audio of model `turn` arrived at `at`. A turn with no input before it (a tool's
    /// later result) is not measured.
    public mutating func firstByte(turn: Int, at: ContinuousClock.Instant) -> TurnLatency? {
        var finished: TurnLatency?
        if let p = pending { finished = finish(TurnLatency(turn: p.turn, firstByteMs: p.firstByteMs, audibleMs: nil)) }
        guard let start = inputEnded, at >= start else { return finished }
        inputEnded = nil
        pending = (turn, Self.ms(at - start), start)
        return finished
    }

    /// The first sample of `turn` became audible at `at`.
    public mutating func audible(turn: Int, at: ContinuousClock.Instant) -> TurnLatency? {
        guard let p = pending, p.turn == turn else { return nil }
        return finish(TurnLatency(turn: turn, firstByteMs: p.firstByteMs, audibleMs: Self.ms(max(.zero, at - p.inputEnded))))
    }

    /// `turn` completed: with nothing audible (no speaker, or cut before it played) it ends here.
    public mutating func turnComplete(turn: Int) -> TurnLatency? {
        guard let p = pending, p.turn == turn else { return nil }
        return finish(TurnLatency(turn: turn, firstByteMs: p.firstByteMs, audibleMs: nil))
    }

    private mutating func finish(_ t: TurnLatency) -> TurnLatency {
        pending = nil
        last = t
        firstByte.append(t.firstByteMs)
        if firstByte.count > Self.kept { firstByte.removeFirst(firstByte.count - Self.kept) }
        if let a = t.audibleMs {
            audible.append(a)
            if audible.count > Self.kept { audible.removeFirst(audible.count - Self.kept) }
        }
        return t
    }

    /// The `p`-th percentile (0…100) of `xs`, nearest rank; nil when empty.
    public static func percentile(_ xs: [Int], _ p: Double) -> Int? {
        guard !xs.isEmpty else { return nil }
        let s = xs.sorted()
        let rank = Int((p / 100 * Double(s.count)).rounded(.up)) - 1
        return s[min(max(0, rank), s.count - 1)]
    }

    static func ms(_ d: Duration) -> Int {
        Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }
}
