import Foundation
import Testing
@testable import EchoCancel

/// The residual echo gate after the canceller: pure, time as a value.
struct EchoGateTests {
    /// A 20 ms chunk (320 samples at 16 kHz) of a 400 Hz tone at `amplitude`.
    func tone(_ amplitude: Double, phase: Int = 0) -> [Int16] {
        (0..<320).map { Int16(amplitude * 32767 * sin(2 * .pi * 400 * Double($0 + phase) / 16000)) }
    }
    let silence = [Int16](repeating: 0, count: 320)

    /// The speaker plays at `speaker` while `steps` microphone chunks go through; returns the outputs.
    func run(_ gate: inout EchoGate, speaker: Double, mic: (Int) -> (processed: [Int16], raw: [Int16]), steps: Range<Int>) -> [[Int16]] {
        steps.map { i in
            let t = Double(i) * 20
            gate.played(speaker > 0 ? tone(speaker) : silence, atMs: t)
            let m = mic(i)
            return gate.microphone(m.processed, raw: m.raw, atMs: t)
        }
    }

    @Test func withTheSpeakerQuietEverythingPasses() {
        var g = EchoGate()
        let out = run(&g, speaker: 0, mic: { _ in (self.tone(0.01), self.tone(0.01)) }, steps: 0..<10)
        #expect(out.allSatisfy { $0 == tone(0.01) })
        #expect(g.gatedChunks == 0)
    }

    @Test func echoAloneIsSentAsSilenceEvenBeforeTheCancellerConverges() {
        var g = EchoGate()
        // Speaker at −6 dBFS; raw echo 8 dB down; the canceller leaves from −12 dB (unconverged) to −40 dB.
        let out = run(&g, speaker: 0.5, mic: { i in
            let left = i < 50 ? 0.5 * 0.25 : 0.5 * 0.01
            return (self.tone(left), self.tone(0.5 * 0.4))
        }, steps: 0..<200)
        #expect(out.allSatisfy { $0.allSatisfy { $0 == 0 } })
        #expect(g.passedChunks == 0 && g.gatedChunks == 200)
        #expect(g.echoReturnDB < -20)   // it learned the converged residue
    }

    @Test func theUserOverTheSpeakerOpensItWithTheirFirstWordsAndOneBurstDoesNot() {
        var g = EchoGate()
        // 4 s of echo only, to learn it.
        _ = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.005), self.tone(0.2)) }, steps: 0..<200)
        // One loud chunk (a burst of residue): still silence.
        let burst = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.3), self.tone(0.6)) }, steps: 200..<201)
        #expect(burst[0].allSatisfy { $0 == 0 })
        _ = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.005), self.tone(0.2)) }, steps: 201..<210)
        // The user, as loud as the speaker: the second chunk opens the gate and brings the held ones.
        let user = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.4), self.tone(0.6)) }, steps: 210..<216)
        #expect(user[0].allSatisfy { $0 == 0 })
        #expect(user[1].count == 4 * 320)   // three held chunks, then this one
        #expect(Array(user[1].suffix(320)) == tone(0.4))
        #expect(user[2...].allSatisfy { $0 == tone(0.4) })
        #expect(g.releasedChunks == 1)
    }

    /// What `LIVETALK_ECHO_TRACE` showed under CPU load at the start of a reply: a run of residue
    /// 10–15 dB above the converged level, with the raw echo at the loudest the path gives, while
    /// the canceller still took 16 dB out of every chunk. That is echo, not the user: before
    /// `maxCancelledDB`, two such chunks opened the gate and the model answered its own first word.
    @Test func aResidueBurstTheCancellerStillCutsDeepIsEcho() {
        var g = EchoGate()
        _ = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.5 * 0.015), self.tone(0.5 * 0.2)) }, steps: 0..<200)
        let burst = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.5 * 0.5 * 0.16), self.tone(0.5 * 0.5)) }, steps: 200..<206)
        #expect(burst.allSatisfy { $0.allSatisfy { $0 == 0 } }, "a deep-cancelled burst passed the gate")
        #expect(g.releasedChunks == 0)
        // The user, whom the canceller cannot cut, still opens it at once.
        let user = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.4), self.tone(0.6)) }, steps: 206..<209)
        #expect(user[1].count == 4 * 320)
        #expect(g.releasedChunks == 1)
    }

    /// A user who starts softly (a first syllable 3 dB over the path's echo, not enough to open)
    /// and then speaks up (5 dB over it) must get through: the soft syllable must not teach the gate
    /// that the echo is that loud (it did, 1 dB a chunk, and the gate then ran ahead of the user).
    @Test func aSoftFirstSyllableDoesNotRaiseTheBarForTheNextOne() {
        var g = EchoGate()
        func amp(_ dBOverSpeaker: Double) -> Double { 0.5 * pow(10, dBOverSpeaker / 20) }
        _ = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.5 * 0.004), self.tone(amp(-8))) }, steps: 0..<200)
        let soft = run(&g, speaker: 0.5, mic: { _ in (self.tone(amp(-5)), self.tone(amp(-5))) }, steps: 200..<204)
        #expect(g.releasedChunks == 0 && soft.allSatisfy { $0.allSatisfy { $0 == 0 } })
        let louder = run(&g, speaker: 0.5, mic: { _ in (self.tone(amp(-3)), self.tone(amp(-3))) }, steps: 204..<207)
        #expect(g.releasedChunks == 1, "the louder syllable did not open the gate (raw estimate \(g.rawEchoReturnDB) dB)")
        let passedThrough = louder[2] == tone(amp(-3))
        #expect(passedThrough, "the louder syllable is not passed through")
    }

    /// A first barge-in traced on the test echo path (`LIVETALK_ECHO_TRACE`, levels relative to the
    /// speaker): the user's first syllable ramps up over four chunks. The first three did not open
    /// the gate (the second missed the raw margin by 0.2 dB, the third was not yet over the
    /// canceller's residue) and taught the raw estimate 2.8 dB; the fifth then missed the raw
    /// margin by 0.7 dB, and the gate opened 300 ms late: the user's "what" was lost and "time is
    /// it" heard as "my name is kate" (4 of 10 first barge-ins).
    @Test func aRampingFirstSyllableOverTheRawEchoOpensTheGate() {
        var g = EchoGate()
        func amp(_ dBOverSpeaker: Double) -> Double { 0.5 * pow(10, dBOverSpeaker / 20) }
        _ = run(&g, speaker: 0.5, mic: { _ in (self.tone(amp(-60)), self.tone(amp(-8.3))) }, steps: 0..<150)
        let onset: [(processed: Double, raw: Double)] = [(-40, -7.5), (-18.3, -3.7), (-5.9, -0.9), (-3.0, -1.4), (-1.2, -2.2), (-3.1, -6.7)]
        let out = run(&g, speaker: 0.5, mic: { i in (self.tone(amp(onset[i - 150].processed)), self.tone(amp(onset[i - 150].raw))) },
                      steps: 150..<156)
        #expect(g.releasedChunks == 1, "the ramping syllable did not open the gate (raw estimate \(g.rawEchoReturnDB) dB)")
        #expect(out[4].count > 320, "the gate did not open on the fifth chunk with what it held")
    }

    /// Twenty barge-ins on one connection, as `livetalk-bench echo` makes them: 3 s of the model
    /// alone, then the user's syllables (loud, then quiet) over it while the speaker is ducked
    /// 24 dB, then 1 s of silence (the purged turn). What the gate learns during one barge-in must
    /// not make it deaf to the next.
    @Test func bargeInsInARowAllOpenTheGate() {
        var g = EchoGate()
        var t = 0.0
        func step(speaker: Double, user: Double) {
            let echo = speaker * 0.4, residue = speaker * 0.4 * 0.05
            g.played(speaker > 0 ? tone(speaker) : silence, atMs: t)
            _ = g.microphone(tone(residue + user), raw: tone(echo + user), atMs: t)
            t += 20
        }
        var opened: [Int] = []
        for _ in 0..<20 {
            for _ in 0..<150 { step(speaker: 0.3, user: 0) }
            let before = g.releasedChunks
            for i in 0..<60 {   // 1.2 s of speech: 100 ms syllables, 60 ms between them
                let user = i % 8 < 5 ? 0.3 : 0.02
                step(speaker: i < 3 ? 0.3 : 0.3 * 0.063, user: user)
                if i == 5 { opened.append(g.releasedChunks - before) }
            }
            for _ in 0..<50 { step(speaker: 0, user: 0) }
        }
        #expect(opened == [Int](repeating: 1, count: 20), "openings within 120 ms of each barge-in: \(opened)")
    }

    @Test func aPauseBetweenWordsStaysOpenWhateverTheWallClockSays() {
        var g = EchoGate()
        _ = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.005), self.tone(0.2)) }, steps: 0..<200)
        _ = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.4), self.tone(0.6)) }, steps: 200..<203)
        // The consumer stalls for a second (wall clock jumps), then 300 ms of a quiet gap between words.
        let gap = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.005), self.tone(0.2)) }, steps: 253..<268)
        #expect(gap.allSatisfy { $0 == tone(0.005) })
        // 600 ms later than the last loud chunk, by microphone audio: closed again.
        let after = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.005), self.tone(0.2)) }, steps: 268..<280)
        #expect(after.last?.allSatisfy { $0 == 0 } == true)
    }

    @Test func theHeldAudioIsBounded() {
        var g = EchoGate()
        _ = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.005), self.tone(0.2)) }, steps: 0..<1000)
        _ = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.4), self.tone(0.6)) }, steps: 1000..<1001)
        let opened = run(&g, speaker: 0.5, mic: { _ in (self.tone(0.4), self.tone(0.6)) }, steps: 1001..<1002)
        #expect(opened[0].count == (g.heldChunks + 1) * 320)
    }
}
