import Foundation

/// Model audio waiting for the speaker, tagged by turn. Shared by the session side (enqueue,
/// purge) and the playback thread (next, markWritten); every field is guarded by `lock`, held
/// only while copying.
///
/// Jitter buffer: a turn starts playing once `prebufferSamples` are queued (or the turn has
/// ended); if it runs dry mid-turn the thread plays silence and waits for the prebuffer again,
/// so bursty or slow arrival gives a pause, never a click or a restart of the stream. The
/// prebuffer follows a `JitterPolicy`: adaptive (starts low, grows on underrun, shrinks when
/// arrival is steady) or fixed.
///
/// Bounds: at most `maxQueuedSamples` wait (120 s at 24 kHz by default, about 5.8 MB); a chunk that
/// does not fit is cut to what fits and the rest is dropped and counted in `droppedSamples` (the
/// device stalled or the peer floods — the audio already queued keeps playing in order). Per-turn
/// bookkeeping (`writtenSamples`, ended turns) is kept for the last `turnsKept` turns only.
public final class PlaybackQueue: @unchecked Sendable {
    public enum Next: Sendable, Equatable {
        /// Play these samples of `turn`.
        case audio(turn: Int, samples: [Int16])
        /// Mid-turn starvation: keep the device fed with this much silence.
        case silence(samples: Int)
        /// Nothing to play.
        case idle
        /// The playing turn's queue is empty but the device still holds audio of it: wait for the
        /// next chunk (at most `waitForWork`'s timeout) and ask again; nothing is audible yet.
        case waitForChunk
    }

    private let lock = NSLock()
    private let condition = NSCondition()
    // Guarded by `lock`:
    private var chunks: [(turn: Int, samples: [Int16])] = []
    private var head = 0
    private var offset = 0   // samples of chunks[head] already handed out
    private var queued = 0
    private var purgedThrough = 0   // every turn ≤ this is dropped on arrival
    private var endedTurns: Set<Int> = []
    private var playing: Int?   // turn currently playing (prebuffer satisfied)
    private var written: [Int: Int] = [:]
    /// When the first samples of each turn were written to the device (latency figures).
    private var firstWrite: [Int: ContinuousClock.Instant] = [:]
    private var flushRequested = false
    private var underruns = 0
    private var purgeCount = 0
    private var dropped = 0
    private var latestTurn = Int.min
    private var jitter: JitterPolicy
    private var measuredTurn: Int?   // the turn whose underruns are counted for `jitter`
    private var measuredUnderruns = 0
    /// The measured turn's headroom (samples): what was queued when it began to play, and the least
    /// audio ahead of the speaker (queued + held by the device) while it played and had not ended.
    private var measuredStartLead = 0
    private var measuredMinLead: Int?
    /// Local barge-in: the gain applied to what is written (1 = not ducked), and the newest written
    /// samples of the playing turn (at most `recentKept`), which a duck writes again, quieter.
    private var gain: Float = 1
    private var recent = SampleRing(capacity: PlaybackQueue.recentKept)
    private var recentTurn: Int?
    private var duckCount = 0

    public let rate: Int
    public let maxWriteSamples: Int
    /// The most samples that may wait at once; more are dropped and counted.
    public let maxQueuedSamples: Int
    /// Turns whose bookkeeping is kept (older turns forget how much of them was written).
    public static let turnsKept = 64
    /// Written samples kept for a duck to rewrite: 250 ms at 24 kHz.
    public static let recentKept = 6000

    /// Defaults: 24 kHz, a fixed prebuffer of 60 ms, writes of at most 20 ms, at most 120 s queued
    /// (PulseAudioDevice writes ≤ 10 ms and uses an adaptive `JitterPolicy`).
    /// `jitter`, when given, replaces the fixed `prebufferMs`.
    public init(rate: Int = 24000, prebufferMs: Int = 60, maxWriteMs: Int = 20, maxQueuedSeconds: Int = 120,
                jitter: JitterPolicy? = nil) {
        let rate = max(1, rate)
        self.rate = rate
        self.jitter = jitter ?? JitterPolicy(startMs: prebufferMs, adaptive: false)
        maxWriteSamples = max(2, rate * maxWriteMs / 1000)
        maxQueuedSamples = max(1, rate * maxQueuedSeconds)
    }

    public func enqueue(turn: Int, samples: [Int16]) {
        guard !samples.isEmpty else { return }
        let accepted: Bool = lock.withLock {
            guard turn > purgedThrough else { return false }
            noteTurn(turn)
            let room = max(0, maxQueuedSamples - queued)
            let take = min(room, samples.count)
            dropped += samples.count - take
            guard take > 0 else { return false }
            chunks.append((turn, take == samples.count ? samples : Array(samples[0..<take])))
            queued += take
            return true
        }
        if accepted { condition.broadcast() }
    }

    public func endTurn(_ turn: Int) {
        lock.withLock {
            noteTurn(turn)
            _ = endedTurns.insert(turn)
        }
        condition.broadcast()
    }

    /// Forgets the bookkeeping of turns older than the last `turnsKept` (called with `lock` held).
    private func noteTurn(_ turn: Int) {
        guard turn > latestTurn else { return }
        latestTurn = turn
        let oldest = turn - Self.turnsKept
        if endedTurns.count > Self.turnsKept { endedTurns = endedTurns.filter { $0 > oldest } }
        if written.count > Self.turnsKept { written = written.filter { $0.key > oldest } }
        if firstWrite.count > Self.turnsKept { firstWrite = firstWrite.filter { $0.key > oldest } }
    }

    /// Drops everything of `turn` and earlier, now and on arrival, and asks for a device flush.
    public func purge(turn: Int) {
        lock.withLock {
            purgedThrough = max(purgedThrough, turn)
            chunks = Array(chunks[head...].filter { $0.turn > purgedThrough })
            head = 0
            offset = 0
            queued = chunks.reduce(0) { $0 + $1.samples.count }
            if let p = playing, p <= purgedThrough { playing = nil }
            gain = 1
            if let r = recentTurn, r <= purgedThrough { recent.removeAll(); recentTurn = nil }
            if let m = measuredTurn, m <= purgedThrough { finishMeasured() }
            flushRequested = true
            purgeCount += 1
        }
        condition.broadcast()
    }

    /// For the playback thread: true once after a purge — then call the device's flush.
    public func takeFlushRequest() -> Bool {
        lock.withLock {
            defer { flushRequested = false }
            return flushRequested
        }
    }

    /// The next ≤ `maxWriteSamples` to write. `deviceHolds`: samples written that the device has
    /// not played yet. A playing turn whose queue is empty is an underrun (counted, the jitter
    /// target grows, silence keeps the device fed) only once the device is about to run dry
    /// (holds less than one write); before that a late chunk may still arrive in time, and
    /// `.waitForChunk` says so — a gap is counted when it would be heard, not when the queue
    /// empties ahead of the device's own buffer.
    public func next(deviceHolds: Int = 0) -> Next {
        lock.withLock {
            compact()
            guard head < chunks.count else {
                if let p = playing, !endedTurns.contains(p) {
                    noteLead(deviceHolds)
                    if deviceHolds > maxWriteSamples { return .waitForChunk }
                    underruns += 1
                    measuredUnderruns += 1
                    jitter.underrun()
                    playing = nil   // wait for the prebuffer again
                    return .silence(samples: maxWriteSamples / 2)
                }
                if playing != nil || measuredTurn.map({ endedTurns.contains($0) }) == true { finishMeasured() }
                playing = nil
                return .idle
            }
            let turn = chunks[head].turn
            if let m = measuredTurn, m != turn { finishMeasured() }
            if playing != turn {
                let queuedOfTurn = chunks[head...].filter { $0.turn == turn }.reduce(0) { $0 + $1.samples.count } - offset
                guard queuedOfTurn >= currentPrebufferSamples || endedTurns.contains(turn) else {
                    return playing == nil && written[turn] != nil ? .silence(samples: maxWriteSamples / 2) : .idle
                }
                playing = turn
                if measuredTurn == nil {
                    (measuredTurn, measuredUnderruns) = (turn, 0)
                    (measuredStartLead, measuredMinLead) = (queuedOfTurn, nil)
                }
            }
            if !endedTurns.contains(turn) { noteLead(queued + deviceHolds) }
            let chunk = chunks[head].samples
            let n = min(maxWriteSamples, chunk.count - offset)
            var out = Array(chunk[offset..<(offset + n)])
            if recentTurn != turn { recent.removeAll(); recentTurn = turn }
            recent.append(contentsOf: out)
            if gain != 1 { for i in out.indices { out[i] = Int16(Float(out[i]) * gain) } }
            offset += n
            queued -= n
            if offset == chunk.count {
                head += 1
                offset = 0
            }
            return .audio(turn: turn, samples: out)
        }
    }

    /// Local barge-in (issue 11 item 4): from now on write at `gainDB` (e.g. −24), and write again,
    /// quieter, the last `rewindSamples` already written (what the device still holds: pass its
    /// latency), after a device flush — so the duck is heard within one small write, not after the
    /// device buffer has played out. Returns false when nothing is playing (no duck).
    @discardableResult
    public func duck(gainDB: Double, rewindSamples: Int) -> Bool {
        let done: Bool = lock.withLock {
            guard let turn = playing ?? (head < chunks.count ? chunks[head].turn : nil), turn > purgedThrough else { return false }
            gain = Float(pow(10, min(0, gainDB) / 20))
            let n = min(max(0, rewindSamples), recentTurn == turn ? recent.count : 0)
            if n > 0 {
                let again = recent.suffix(n)
                recent.removeLast(n)
                if offset > 0 {   // split the head chunk so the rewritten samples go first
                    chunks[head] = (chunks[head].turn, Array(chunks[head].samples[offset...]))
                    offset = 0
                }
                chunks.insert((turn, again), at: head)
                queued += n
                written[turn, default: n] -= n
                flushRequested = true
            }
            duckCount += 1
            return true
        }
        if done { condition.broadcast() }
        return done
    }

    /// Back to full volume (no interruption followed a duck).
    public func unduck() { lock.withLock { gain = 1 } }
    public var ducked: Bool { lock.withLock { gain != 1 } }
    public var ducks: Int { lock.withLock { duckCount } }

    /// Called with `lock` held: the measured turn is over; tell the policy how it went.
    private func finishMeasured() {
        guard measuredTurn != nil else { return }
        let ms = { (samples: Int) in samples * 1000 / self.rate }
        // The turn runs dry (an underrun) once the device holds no more than one write.
        let headroom = measuredMinLead.map { (startLeadMs: ms(measuredStartLead), slackMs: ms($0 - maxWriteSamples)) }
        jitter.turnFinished(underruns: measuredUnderruns, headroom: headroom)
        (measuredTurn, measuredUnderruns, measuredMinLead) = (nil, 0, nil)
    }

    /// Called with `lock` held while the measured turn plays and has not ended: `lead` samples are
    /// ahead of the speaker now.
    private func noteLead(_ lead: Int) {
        guard measuredTurn != nil, measuredTurn == playing else { return }
        measuredMinLead = min(measuredMinLead ?? lead, lead)
    }

    /// Called with `lock` held.
    private var currentPrebufferSamples: Int { max(0, rate * jitter.targetMs / 1000) }

    private func compact() {
        if head > 64 {
            chunks.removeFirst(head)
            head = 0
        }
    }

    /// The playback thread wrote `count` samples of `turn` to the device.
    public func markWritten(turn: Int, count: Int, at now: ContinuousClock.Instant = .now) {
        lock.withLock {
            if written[turn] == nil { firstWrite[turn] = now }
            written[turn, default: 0] += count
        }
    }

    /// When the first samples of `turn` were written to the device, if they were.
    public func firstWrittenAt(turn: Int) -> ContinuousClock.Instant? { lock.withLock { firstWrite[turn] } }

    public func writtenSamples(turn: Int) -> Int { lock.withLock { written[turn] ?? 0 } }
    public var queuedSamples: Int { lock.withLock { queued } }
    /// What a turn waits for before it plays, now (it changes with an adaptive policy).
    public var prebufferSamples: Int { lock.withLock { currentPrebufferSamples } }
    public var prebufferMs: Int { lock.withLock { jitter.targetMs } }
    /// The jitter policy as it stands (target, growths and shrinks).
    public var jitterPolicy: JitterPolicy { lock.withLock { jitter } }
    public var underrunCount: Int { lock.withLock { underruns } }
    /// Samples refused because the queue held `maxQueuedSamples` already.
    public var droppedSamples: Int { lock.withLock { dropped } }
    public var purges: Int { lock.withLock { purgeCount } }

    /// Blocks the playback thread until something changes or `timeout` passes.
    public func waitForWork(timeout: TimeInterval) {
        condition.lock()
        _ = condition.wait(until: Date(timeIntervalSinceNow: timeout))
        condition.unlock()
    }

    public func wake() { condition.broadcast() }
}
