import Foundation
import Testing
@testable import AudioCore

struct PlaybackQueueTests {
    func ramp(_ n: Int, from: Int = 0) -> [Int16] { (0..<n).map { Int16(truncatingIfNeeded: from + $0) } }

    @Test func writesAreAtMost20msAndInOrder() {
        let q = PlaybackQueue(rate: 24000, prebufferMs: 0, maxWriteMs: 20)
        q.enqueue(turn: 1, samples: ramp(1000))
        var out: [Int16] = []
        while case .audio(1, let s) = q.next() {
            #expect(s.count <= 480)
            out += s
        }
        #expect(out == ramp(1000))
    }

    @Test func prebufferHoldsATurnUntilEnoughOrEnded() {
        let q = PlaybackQueue(rate: 24000, prebufferMs: 60, maxWriteMs: 20)   // 1440 samples
        q.enqueue(turn: 1, samples: ramp(1000))
        #expect(q.next() == .idle)
        q.enqueue(turn: 1, samples: ramp(500))
        guard case .audio = q.next() else { Issue.record("should start"); return }
        let r = PlaybackQueue(rate: 24000, prebufferMs: 60)
        r.enqueue(turn: 2, samples: ramp(100))
        r.endTurn(2)   // a short final turn plays without waiting
        #expect(r.next() == .audio(turn: 2, samples: ramp(100)))
    }

    @Test func starvationMidTurnPlaysSilenceAndCountsAnUnderrun() {
        let q = PlaybackQueue(rate: 24000, prebufferMs: 0, maxWriteMs: 20)
        q.enqueue(turn: 1, samples: ramp(480))
        _ = q.next()
        #expect(q.next() == .silence(samples: 240))
        #expect(q.underrunCount == 1)
        q.endTurn(1)
        #expect(q.next() == .idle)
    }

    @Test func purgeDropsQueuedAndLateChunksAndAsksForAFlush() {
        let q = PlaybackQueue(rate: 24000, prebufferMs: 0)
        q.enqueue(turn: 1, samples: ramp(2000))
        q.enqueue(turn: 2, samples: ramp(10))
        _ = q.next()
        q.markWritten(turn: 1, count: 480)
        q.purge(turn: 1)
        #expect(q.takeFlushRequest())
        #expect(!q.takeFlushRequest())
        q.enqueue(turn: 1, samples: ramp(100))   // late audio of the purged turn
        #expect(q.queuedSamples == 10)
        #expect(q.next() == .audio(turn: 2, samples: ramp(10)))
        #expect(q.writtenSamples(turn: 1) == 480)
    }
}

struct CaptureRingTests {
    @Test func overflowDropsOldestAndCounts() async {
        let ring = CaptureRing(capacity: 3)
        for i in 0..<5 { ring.push(CaptureChunk(samples: [Int16(i)])) }
        ring.finish()
        var got: [Int16] = []
        for await c in ring.stream { got += c.samples }
        #expect(got == [2, 3, 4])
        #expect(ring.dropped == 2)
        #expect(ring.pushed == 5)
    }
}

struct LevelMeterTests {
    @Test func peakHoldsThenDecays() {
        var m = LevelMeter(rate: 16000, holdSeconds: 0.5, decayDBPerSecond: 20)
        m.process(ToneGenerator.sine(frequency: 1000, seconds: 0.02, rate: 16000, amplitude: 1))
        #expect(abs(m.reading.heldPeakDBFS) < 0.1)
        let quiet = [Int16](repeating: 0, count: 320)
        for _ in 0..<25 { m.process(quiet) }   // 0.5 s: still held
        #expect(abs(m.reading.heldPeakDBFS) < 0.1)
        for _ in 0..<50 { m.process(quiet) }   // 1 s of decay at 20 dB/s
        #expect(abs(m.reading.heldPeakDBFS - -20) < 0.5)
        #expect(m.reading.rmsDBFS == Level.floor)
    }

    @Test func updatesAtLeast30TimesASecond() {
        // One reading per 20 ms capture chunk = 50 per second.
        var m = LevelMeter(rate: 16000)
        var n = 0
        for _ in 0..<50 { m.process([Int16](repeating: 100, count: 320)); n += 1 }
        #expect(n >= 30)
    }
}

struct MicGateTests {
    @Test func vadSendsAndMuteEndsTheStream() {
        var g = MicGate(mode: .vad)
        #expect(g.chunk() == [.sendAudio])
        #expect(g.setMuted(true) == [.audioStreamEnd])
        #expect(g.chunk() == [])
        #expect(g.setMuted(false) == [])
        #expect(g.chunk() == [.sendAudio])
    }

    @Test func pushToTalkGatesAudioAndAShortPressStillEnds() {
        var g = MicGate(mode: .pushToTalk)
        #expect(g.chunk() == [])
        #expect(g.press() == [.activityStart])
        #expect(g.press() == [])
        #expect(g.chunk() == [.sendAudio])
        #expect(g.release() == [.activityEnd])
        #expect(g.chunk() == [])
        #expect(g.press() == [.activityStart])
        #expect(g.release() == [.activityEnd])   // short press: no audio, still ended
        #expect(g.release() == [])
    }

    @Test func mutingWhileTalkingReleases() {
        var g = MicGate(mode: .pushToTalk)
        _ = g.press()
        #expect(g.setMuted(true) == [.activityEnd])
        #expect(g.press() == [])
    }

    @Test func switchingModes() {
        var g = MicGate(mode: .pushToTalk)
        _ = g.press()
        #expect(g.setMode(.vad) == [.activityEnd])
        #expect(g.chunk() == [.sendAudio])
        #expect(g.setMode(.pushToTalk) == [.audioStreamEnd])
    }
}

/// The adaptive jitter buffer (issue 11 item 6): starts low, grows on underrun, shrinks when steady.
struct JitterPolicyTests {
    @Test func growsOnUnderrunUpToTheCapAndShrinksAfterSteadyTurns() {
        var p = JitterPolicy(startMs: 30, minMs: 20, maxMs: 70, growMs: 20, shrinkMs: 10, steadyTurnsToShrink: 2,
                             rememberTurns: 0)
        #expect(p.targetMs == 30)
        p.underrun()
        #expect(p.targetMs == 50)
        p.underrun(); p.underrun()
        #expect(p.targetMs == 70)   // capped
        #expect(p.grown == 2)
        p.turnFinished(underruns: 1)
        #expect(p.targetMs == 70)   // a turn with underruns is not steady
        p.turnFinished(underruns: 0)
        #expect(p.targetMs == 70)   // one steady turn is not enough
        p.turnFinished(underruns: 0)
        #expect(p.targetMs == 60)
        for _ in 0..<20 { p.turnFinished(underruns: 0) }
        #expect(p.targetMs == 20)   // floor
        #expect(p.shrunk == 5)
    }

    @Test func aTargetThatRanDryIsNotProbedAgainUntilItIsForgotten() {
        var p = JitterPolicy(startMs: 30, minMs: 20, growMs: 20, shrinkMs: 10, steadyTurnsToShrink: 2, rememberTurns: 20)
        p.underrun()                       // 30 ran dry: 50
        for _ in 0..<19 { p.turnFinished(underruns: 0) }
        #expect(p.targetMs == 40)          // shrinks to just above 30, not to it
        #expect(p.ranDryAtMs == 30)
        p.turnFinished(underruns: 0)       // 20 steady turns: forgotten
        #expect(p.ranDryAtMs == nil)
        for _ in 0..<6 { p.turnFinished(underruns: 0) }
        #expect(p.targetMs == 20)          // a link that became steady gets its low latency back
        p.underrun()                       // 20 ran dry: 40, remembered again
        #expect(p.targetMs == 40 && p.ranDryAtMs == 20)
    }

    @Test func theTargetDoesNotShrinkBelowWhatARecentTurnNeeded() {
        var p = JitterPolicy(startMs: 50, minMs: 20, growMs: 20, shrinkMs: 10, steadyTurnsToShrink: 1, rememberTurns: 3)
        // Two 40 ms chunks were queued at the start (80 ms); at 40 ms the turn would start with one,
        // 40 ms less. Its tightest moment left 18 ms to spare: it needed 62, a gap at 40. It stays.
        p.turnFinished(underruns: 0, headroom: (startLeadMs: 80, slackMs: 18))
        #expect(p.targetMs == 50 && p.held == 1)
        // Turns with 45 ms to spare (need 35) do not shrink it while the 62 is remembered (3 turns)…
        p.turnFinished(underruns: 0, headroom: (startLeadMs: 80, slackMs: 45))
        p.turnFinished(underruns: 0, headroom: (startLeadMs: 80, slackMs: 45))
        #expect(p.targetMs == 50 && p.held == 3)
        // …and do once it is forgotten.
        p.turnFinished(underruns: 0, headroom: (startLeadMs: 80, slackMs: 45))
        #expect(p.targetMs == 40 && p.shrunk == 1)
        // Whole replies queued before they played (no headroom measured) need nothing more: once the
        // 35s are forgotten it shrinks again.
        for _ in 0..<2 { p.turnFinished(underruns: 0) }
        #expect(p.targetMs == 40)
        p.turnFinished(underruns: 0); p.turnFinished(underruns: 0)
        #expect(p.targetMs == 20)
        // Without memory only the turn itself counts.
        var forgetful = JitterPolicy(startMs: 50, minMs: 20, shrinkMs: 10, steadyTurnsToShrink: 1, rememberTurns: 0)
        forgetful.turnFinished(underruns: 0, headroom: (startLeadMs: 80, slackMs: 18))
        forgetful.turnFinished(underruns: 0, headroom: (startLeadMs: 80, slackMs: 45))
        #expect(forgetful.targetMs == 40 && forgetful.held == 1)
    }

    @Test func aFixedPolicyNeverMoves() {
        var p = JitterPolicy(startMs: 60, adaptive: false)
        p.underrun()
        p.turnFinished(underruns: 0); p.turnFinished(underruns: 0); p.turnFinished(underruns: 0)
        #expect(p.targetMs == 60)
    }

    @Test func oddArgumentsStayOrdered() {
        let p = JitterPolicy(startMs: 10, minMs: 50, maxMs: 5)
        #expect(p.minMs <= p.targetMs && p.targetMs <= p.maxMs)
    }
}

struct AdaptivePlaybackQueueTests {
    func chunk(_ ms: Int) -> [Int16] { [Int16](repeating: 100, count: 24 * ms) }

    /// Drains what can be played now; returns the underruns seen.
    func drain(_ q: PlaybackQueue) -> Int {
        var underruns = 0
        loop: while true {
            switch q.next() {
            case .audio(let turn, let samples): q.markWritten(turn: turn, count: samples.count)
            case .silence: underruns += 1; break loop
            case .idle, .waitForChunk: break loop
            }
        }
        return underruns
    }

    @Test func anEmptyQueueIsNoUnderrunWhileTheDeviceStillHoldsAudio() {
        let q = PlaybackQueue(rate: 24000, maxWriteMs: 10, jitter: JitterPolicy(startMs: 30, growMs: 20))
        q.enqueue(turn: 1, samples: chunk(40))
        while case .audio(let t, let s) = q.next(deviceHolds: 24 * 35) { q.markWritten(turn: t, count: s.count) }
        // The device still plays 35 ms of it: a chunk 20 ms late is in time.
        #expect(q.next(deviceHolds: 24 * 35) == .waitForChunk)
        #expect(q.underrunCount == 0 && q.prebufferMs == 30)
        q.enqueue(turn: 1, samples: chunk(20))
        guard case .audio = q.next(deviceHolds: 24 * 15) else { Issue.record("the late chunk should play at once"); return }
        while case .audio(let t, let s) = q.next(deviceHolds: 24 * 25) { q.markWritten(turn: t, count: s.count) }
        // Now the device is about to run dry (less than one 10 ms write left): that is the underrun.
        #expect(q.next(deviceHolds: 24 * 5) == .silence(samples: 120))
        #expect(q.underrunCount == 1 && q.prebufferMs == 50)
    }

    @Test func aTurnStartsAfterTheStartTargetGrowsOnUnderrunAndTheTurnAfterWaitsLonger() {
        let q = PlaybackQueue(rate: 24000, maxWriteMs: 20, jitter: JitterPolicy(startMs: 30, growMs: 20))
        #expect(q.prebufferMs == 30)
        q.enqueue(turn: 1, samples: chunk(20))
        #expect(q.next() == .idle)   // 20 ms < 30 ms
        q.enqueue(turn: 1, samples: chunk(20))
        #expect(drain(q) == 1)       // 40 ms played, then the turn ran dry
        #expect(q.prebufferMs == 50)
        q.enqueue(turn: 1, samples: chunk(40))
        #expect(q.next() == .silence(samples: 240))   // waits for 50 ms again, feeding silence
        q.enqueue(turn: 1, samples: chunk(20))
        guard case .audio = q.next() else { Issue.record("60 ms queued ≥ 50 ms target: should play"); return }
        q.endTurn(1)
        _ = drain(q)
        #expect(q.underrunCount == 1)
    }

    @Test func steadyTurnsBringTheTargetBackDown() {
        let q = PlaybackQueue(rate: 24000, maxWriteMs: 20,
                              jitter: JitterPolicy(startMs: 30, minMs: 20, growMs: 20, shrinkMs: 10, steadyTurnsToShrink: 1,
                                                   rememberTurns: 2))
        q.enqueue(turn: 1, samples: chunk(40))
        _ = drain(q)                  // underrun: 30 → 50 (30 remembered for two turns)
        q.endTurn(1)
        _ = drain(q)
        #expect(q.prebufferMs == 50)
        for turn in 2...5 {           // whole turns that arrive before they play: steady
            q.enqueue(turn: turn, samples: chunk(100))
            q.endTurn(turn)
            #expect(drain(q) == 0)
        }
        _ = q.next()
        #expect(q.prebufferMs == 20)  // 50 → 40 (not 30 while remembered) → 30 → 20
        #expect(q.jitterPolicy.shrunk == 3)
    }

    /// The bursty pattern that probed 40 ms again and again: two 40 ms chunks make the 50 ms start,
    /// and the third comes 62 ms after the second. The turn plays without a gap, but it came within
    /// 18 ms of one: starting with a single chunk (a 40 ms target) would have run dry. It stays at 50.
    @Test func aBurstyTurnWithoutAGapButNoRoomToSpareKeepsItsTarget() {
        let q = PlaybackQueue(rate: 24000, maxWriteMs: 10,
                              jitter: JitterPolicy(startMs: 50, minMs: 20, shrinkMs: 10, steadyTurnsToShrink: 1,
                                                   rememberTurns: 2))
        var holds = 0   // a device that holds what was written until `play` says it played
        func write() { while case .audio(let t, let s) = q.next(deviceHolds: holds) { q.markWritten(turn: t, count: s.count); holds += s.count } }
        q.enqueue(turn: 1, samples: chunk(40))
        write()
        #expect(holds == 0)                     // 40 < 50: waits
        q.enqueue(turn: 1, samples: chunk(40))
        write()
        #expect(holds == 24 * 80)               // 80 ms queued: plays
        holds -= 24 * 52                        // 52 ms pass (the third chunk comes 62 ms after the second)
        #expect(q.next(deviceHolds: holds) == .waitForChunk)   // 28 ms left: in time
        q.enqueue(turn: 1, samples: chunk(40))
        write()
        q.endTurn(1)
        holds = 0
        #expect(q.next(deviceHolds: holds) == .idle)
        #expect(q.underrunCount == 0)
        #expect(q.prebufferMs == 50 && q.jitterPolicy.held == 1)
        // The same turn with the chunks close together has room to spare, but the first is
        // remembered for two turns; after two such turns it shrinks.
        for turn in 2...3 {
            q.enqueue(turn: turn, samples: chunk(40)); q.enqueue(turn: turn, samples: chunk(40))
            write()
            holds -= 24 * 20
            q.enqueue(turn: turn, samples: chunk(40))
            write()
            q.endTurn(turn)
            holds = 0
            #expect(q.next(deviceHolds: holds) == .idle)
        }
        #expect(q.underrunCount == 0 && q.jitterPolicy.held == 2)
        #expect(q.prebufferMs == 40 && q.jitterPolicy.shrunk == 1)
    }

    @Test func aPurgedTurnCountsAsFinished() {
        let q = PlaybackQueue(rate: 24000, maxWriteMs: 20,
                              jitter: JitterPolicy(startMs: 40, minMs: 20, shrinkMs: 10, steadyTurnsToShrink: 1))
        q.enqueue(turn: 1, samples: chunk(100))
        _ = q.next()
        q.purge(turn: 1)
        #expect(q.prebufferMs == 30)
    }
}

/// Local barge-in in the queue: a duck rewrites what the device holds, quieter, after a flush.
struct DuckTests {
    @Test func duckRewindsTheHeldSamplesQuieterAndFlushes() {
        let q = PlaybackQueue(rate: 24000, prebufferMs: 0, maxWriteMs: 10)
        q.enqueue(turn: 1, samples: [Int16](repeating: 10000, count: 2400))
        for _ in 0..<4 { if case .audio(let t, let s) = q.next() { q.markWritten(turn: t, count: s.count) } }
        #expect(q.writtenSamples(turn: 1) == 960)
        #expect(q.duck(gainDB: -20, rewindSamples: 480))
        #expect(q.takeFlushRequest())
        #expect(q.writtenSamples(turn: 1) == 480)
        #expect(q.queuedSamples == 2400 - 960 + 480)
        guard case .audio(1, let again) = q.next() else { Issue.record("the rewound samples come first"); return }
        #expect(again.count == 240 && again.allSatisfy { $0 == 1000 })   // -20 dB
        q.unduck()
        _ = q.next()
        guard case .audio(1, let loud) = q.next() else { Issue.record("the rest of the turn"); return }
        #expect(loud.allSatisfy { $0 == 10000 })
        #expect(q.ducks == 1)
    }

    @Test func nothingPlayingNothingToDuckAndAPurgeEndsTheDuck() {
        let q = PlaybackQueue(rate: 24000, prebufferMs: 0, maxWriteMs: 10)
        #expect(!q.duck(gainDB: -24, rewindSamples: 480))
        q.enqueue(turn: 2, samples: [Int16](repeating: 8000, count: 4800))
        _ = q.next()
        #expect(q.duck(gainDB: -24, rewindSamples: 0))
        #expect(q.ducked)
        q.purge(turn: 2)
        #expect(!q.ducked)
        q.enqueue(turn: 3, samples: [Int16](repeating: 8000, count: 240))
        #expect(q.next() == .audio(turn: 3, samples: [Int16](repeating: 8000, count: 240)))
    }
}
