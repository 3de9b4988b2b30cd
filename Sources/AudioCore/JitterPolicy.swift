/// How much model audio a turn waits for before it starts playing: the adaptive jitter buffer
/// (issue 11 item 6). Pure; `PlaybackQueue` drives it.
///
/// A turn starts after `targetMs` are queued (or once the turn has ended). The target starts low
/// (`startMs`, 30 ms by default), so a reply is heard as soon as it can be. When a turn runs dry
/// while it plays (an underrun: the network or the server fell behind), the target grows by
/// `growMs`, up to `maxMs`, and the turn waits for the new target before it resumes. After
/// `steadyTurnsToShrink` turns in a row that played without an underrun, arrival counts as steady and
/// the target shrinks by `shrinkMs`, down to `minMs` — but not below a target that ran dry in the
/// last `rememberTurns` turns: without that memory a link with the same jitter every turn is probed
/// again and again (shrink, underrun, grow), and each probe is a gap the user hears. Nor below what
/// the measured headroom of the last `rememberTurns` turns allows: a turn that came close to running
/// dry would have had a gap at the lower target (`turnFinished(underruns:headroom:)`). So a bursty
/// link settles on a buffer that covers its bursts, and a link that became steady drifts back to
/// the lowest latency after `rememberTurns` turns without a gap.
public struct JitterPolicy: Sendable, Equatable {
    public let startMs: Int
    public let minMs: Int
    public let maxMs: Int
    public let growMs: Int
    public let shrinkMs: Int
    public let steadyTurnsToShrink: Int
    /// The prebuffer a turn waits for now.
    public private(set) var targetMs: Int
    /// Turns in a row that played without an underrun, since the last change.
    public private(set) var steadyTurns = 0
    /// How often the target grew and shrank (shown by the benchmark).
    public private(set) var grown = 0
    public private(set) var shrunk = 0
    /// Shrinks held back because a recent turn came too close to running dry (see `turnFinished`).
    public private(set) var held = 0
    /// The needs (ms) of the last `rememberTurns` turns without an underrun (see `turnFinished`).
    private var recentNeeds: [Int] = []
    /// False: the target stays at `startMs` (a fixed prebuffer, as before issue 11).
    public let adaptive: Bool
    /// Turns an underrun is remembered for (0: not at all).
    public let rememberTurns: Int
    /// Shrinking stops above this while the last underrun is remembered: the target that ran dry.
    public private(set) var ranDryAtMs: Int?
    private var turnsSinceUnderrun = 0

    public init(startMs: Int = 30, minMs: Int = 20, maxMs: Int = 300, growMs: Int = 20,
                shrinkMs: Int = 10, steadyTurnsToShrink: Int = 2, rememberTurns: Int = 20, adaptive: Bool = true) {
        let lo = max(0, min(minMs, startMs))
        let hi = max(startMs, maxMs)
        (self.startMs, self.minMs, self.maxMs) = (max(0, startMs), lo, hi)
        (self.growMs, self.shrinkMs) = (max(0, growMs), max(0, shrinkMs))
        self.steadyTurnsToShrink = max(1, steadyTurnsToShrink)
        self.adaptive = adaptive
        self.rememberTurns = max(0, rememberTurns)
        targetMs = max(0, startMs)
    }

    /// A playing turn ran dry.
    public mutating func underrun() {
        guard adaptive else { return }
        steadyTurns = 0
        if rememberTurns > 0 { (ranDryAtMs, turnsSinceUnderrun) = (max(ranDryAtMs ?? 0, targetMs), 0) }
        let next = min(maxMs, targetMs + growMs)
        if next != targetMs { grown += 1 }
        targetMs = next
    }

    /// A turn finished playing (its end was reached or it was purged), with `underruns` during it.
    ///
    /// `headroom`, when the queue measured it: how much audio the turn started with (`startLeadMs`,
    /// what was queued when it began to play, whole chunks) and how much more it could have lost at
    /// its tightest moment before running dry (`slackMs`: the least audio ahead of the speaker while
    /// it played, less the underrun threshold). So it would have played without a gap from any start
    /// of at least `startLeadMs − slackMs` (its need), and a lower target starts a turn with at least
    /// the target. The target does not shrink below the largest need of this turn and of the last
    /// `rememberTurns` turns: chunks larger than the step mean one step down can start a turn with a
    /// whole chunk less, and a bursty link's worst turn is not every turn. Without that check such a
    /// link is probed again and again (shrink, underrun, grow), and each probe is a gap the user hears.
    public mutating func turnFinished(underruns: Int, headroom: (startLeadMs: Int, slackMs: Int)? = nil) {
        guard adaptive, underruns == 0 else { return }
        if ranDryAtMs != nil {
            turnsSinceUnderrun += 1
            if turnsSinceUnderrun >= rememberTurns { ranDryAtMs = nil }
        }
        let need = headroom.map { max(0, $0.startLeadMs - $0.slackMs) } ?? 0
        if rememberTurns > 0 {
            recentNeeds.append(need)
            if recentNeeds.count > rememberTurns { recentNeeds.removeFirst(recentNeeds.count - rememberTurns) }
        }
        steadyTurns += 1
        guard steadyTurns >= steadyTurnsToShrink else { return }
        var next = max(minMs, targetMs - shrinkMs)
        if next < targetMs, next < max(need, recentNeeds.max() ?? 0) {
            held += 1
            return
        }
        steadyTurns = 0
        if let dry = ranDryAtMs, next <= dry { next = targetMs }
        if next != targetMs { shrunk += 1 }
        targetMs = next
    }
}
