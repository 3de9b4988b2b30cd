import Foundation
import Testing
@testable import EchoCancel

/// The echo's delay, measured from the audio: pure, time as a value.
struct EchoDelayEstimatorTests {
    /// Speech-like reference at 16 kHz: a 300 Hz tone whose loudness follows syllables of 80–240 ms
    /// with pauses (a fixed pseudo-random pattern), `seconds` long.
    func speechLike(seconds: Double, seed: UInt64 = 7) -> [Int16] {
        var state = seed
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) }
        var out: [Int16] = []
        let total = Int(seconds * 16000)
        while out.count < total {
            let syllable = (80 + next() % 160) * 16, pause = (next() % 3 == 0 ? 150 : 30) * 16
            let amp = 0.1 + Double(next() % 60) / 100
            for i in 0..<syllable { out.append(Int16(amp * 20000 * sin(2 * .pi * 300 * Double(out.count + i) / 16000))) }
            out += [Int16](repeating: 0, count: pause)
        }
        return Array(out.prefix(total))
    }

    /// Feeds `reference` in 10 ms blocks and the microphone (`echo(reference)` delayed by `delayMs`,
    /// plus `near`) in 20 ms chunks on a clock that jitters by up to `jitterMs`; estimates once a second.
    func run(_ e: inout EchoDelayEstimator, reference: [Int16], delayMs: Int, gain: Double = 0.5,
             near: [Int16]? = nil, jitterMs: Double = 0) -> [Int?] {
        let delay = delayMs * 16
        var results: [Int?] = []
        var k = 0
        for start in stride(from: 0, to: reference.count, by: 160) {
            let t = Double(start + 160) / 16
            let wobble = jitterMs * sin(Double(k) * 1.7)
            k += 1
            e.referenceAudio(Array(reference[start..<min(start + 160, reference.count)]), rate: 16000, atMs: t + wobble)
            if (start / 160) % 2 == 1 {   // a 20 ms microphone chunk ends now
                let mic = (start - 160..<start + 160).map { i -> Int16 in
                    let echo = i - delay >= 0 ? Double(reference[i - delay]) * gain : 0
                    return Int16(clamping: Int(echo) + Int(near?[i] ?? 0))
                }
                e.microphoneAudio(mic, rate: 16000, atMs: t - wobble)
                if (start / 160) % 100 == 99 { results.append(e.estimate()) }
            }
        }
        return results
    }

    @Test(arguments: [0, 30, 90, 250, 450])
    func theDelayOfAnEchoIsFoundWithin10ms(delayMs: Int) {
        var e = EchoDelayEstimator()
        _ = run(&e, reference: speechLike(seconds: 8), delayMs: delayMs)
        #expect(e.delayMs.map { abs($0 - delayMs) <= 10 } == true, "found \(String(describing: e.delayMs)) ms for a \(delayMs) ms echo")
    }

    @Test func aJitteryClockStillGivesTheDelay() {
        var e = EchoDelayEstimator()
        _ = run(&e, reference: speechLike(seconds: 8), delayMs: 90, jitterMs: 8)
        #expect(e.delayMs.map { abs($0 - 90) <= 20 } == true, "found \(String(describing: e.delayMs))")
    }

    @Test func silenceOnTheSpeakerGivesNoEstimate() {
        var e = EchoDelayEstimator()
        let results = run(&e, reference: [Int16](repeating: 0, count: 16000 * 6), delayMs: 90)
        #expect(results.allSatisfy { $0 == nil })
        #expect(e.delayMs == nil && e.refusals > 0)
    }

    @Test func aMicrophoneThatHearsSomethingElseGivesNoEstimate() {
        var e = EchoDelayEstimator()
        let other = speechLike(seconds: 8, seed: 99).map { Int16(clamping: Int($0) * 2) }
        _ = run(&e, reference: speechLike(seconds: 8), delayMs: 90, gain: 0, near: other)
        #expect(e.delayMs == nil, "an estimate from unrelated audio: \(String(describing: e.delayMs))")
    }

    /// One window where the user talks over the model moves nothing: the median of the recent estimates.
    @Test func aChangedDelayIsFollowedAndOneOddWindowIsNot() {
        var e = EchoDelayEstimator()
        let reference = speechLike(seconds: 16)
        _ = run(&e, reference: Array(reference.prefix(16000 * 8)), delayMs: 60)
        #expect(e.delayMs.map { abs($0 - 60) <= 10 } == true)
        var later = e
        // The path grows to 200 ms (another device): followed within a few seconds.
        _ = run(&later, reference: reference, delayMs: 200)
        #expect(later.delayMs.map { abs($0 - 200) <= 10 } == true, "found \(String(describing: later.delayMs))")
    }

    @Test func memoryIsBoundedWhateverTheClockDoes() {
        var e = EchoDelayEstimator(ringBins: 128)
        e.referenceAudio([Int16](repeating: 1000, count: 16000), rate: 16000, atMs: 1_000_000_000)
        e.microphoneAudio([Int16](repeating: 1000, count: 160), rate: 16000, atMs: -5)
        e.microphoneAudio([Int16](repeating: 1000, count: 160), rate: 16000, atMs: 9e11)
        e.microphoneAudio([Int16](repeating: 1000, count: 160), rate: 16000, atMs: .infinity)
        e.microphoneAudio([Int16](repeating: 1000, count: 160), rate: 16000, atMs: -9e20)
        _ = e.estimate()
        #expect(e.delayMs == nil)
    }
}
