import Foundation
import Testing
@testable import AudioCore

struct LevelTests {
    @Test func silenceIsTheFloor() {
        let l = Level.measure([Int16](repeating: 0, count: 480))
        #expect(l.rmsDBFS == Level.floor)
        #expect(l.peakDBFS == Level.floor)
    }

    @Test func fullScaleSine() {
        let l = Level.measure(ToneGenerator.sine(frequency: 1000, seconds: 0.1, rate: 16000, amplitude: 1))
        #expect(abs(l.rmsDBFS - -3.01) < 0.1)
        #expect(abs(l.peakDBFS) < 0.01)
    }

    @Test func clippedSquareIsZeroDBFS() {
        let l = Level.measure([Int16](repeating: .max, count: 100) + [Int16](repeating: .min, count: 100))
        #expect(abs(l.rmsDBFS) < 0.01)
        #expect(l.peakDBFS == 0)
    }
}

struct VADTests {
    func speech(_ s: Double) -> [Int16] { ToneGenerator.sine(frequency: 300, seconds: s, rate: 16000, amplitude: 0.3) }
    func silence(_ s: Double) -> [Int16] { [Int16](repeating: 0, count: Int(s * 16000)) }

    @Test func detectsOneUtteranceWithSilenceDuration() {
        var v = EnergyVAD(silenceDurationMs: 300)
        var events = v.process(silence(0.5))
        events += v.process(speech(1.2))
        events += v.process(silence(0.2))
        #expect(events.count == 1)   // started, not yet ended
        events += v.process(silence(0.2))
        #expect(events.count == 2)
        guard case .speechStarted(let off) = events[0], case .speechEnded(let len) = events[1] else { Issue.record(); return }
        #expect(abs(off - 0.5) < 0.05)
        #expect(abs(len - 1.2) < 0.05)
    }

    @Test func prefixPaddingIgnoresShortClicks() {
        var v = EnergyVAD(prefixPaddingMs: 200)
        #expect(v.process(speech(0.1) + silence(1)).isEmpty)
        #expect(v.process(speech(0.3)).count == 1)
    }

    @Test func lowSensitivityIgnoresQuietSpeech() {
        let quiet = ToneGenerator.sine(frequency: 300, seconds: 1, rate: 16000, amplitude: 0.004)   // ≈ -51 dBFS
        var high = EnergyVAD(highStartSensitivity: true)
        var low = EnergyVAD(highStartSensitivity: false)
        let loud = ToneGenerator.sine(frequency: 300, seconds: 1, rate: 16000, amplitude: 0.01)    // ≈ -43 dBFS
        #expect(high.process(quiet).isEmpty)
        #expect(!high.process(loud).isEmpty)
        #expect(low.process(loud).isEmpty)
    }

    @Test func flushEndsOpenUtterance() {
        var v = EnergyVAD()
        _ = v.process(speech(0.5))
        #expect(v.inSpeech)
        #expect(v.flush().count == 1)
        #expect(v.flush().isEmpty)
    }
}

struct WAVTests {
    @Test func roundTripAndResample() throws {
        let tone = ToneGenerator.sine(frequency: 440, seconds: 0.5, rate: 22050)
        let parsed = try WAVFile.parse(WAVFile.encode(WAVAudio(sampleRate: 22050, channels: 1, samples: tone)))
        #expect(parsed.sampleRate == 22050)
        #expect(parsed.samples == tone)
        let mono16 = parsed.mono(at: 16000)
        #expect(abs(mono16.count - 8000) <= 1)
    }

    @Test func writerFixesHeader() throws {
        let path = NSTemporaryDirectory() + "/lt-\(UUID().uuidString).wav"
        let w = try WAVWriter(path: path, sampleRate: 24000)
        w.append(PCM.data([1, 2, 3]))
        w.append(PCM.data([4]))
        w.close()
        let a = try WAVFile.read(path: path)
        #expect(a.samples == [1, 2, 3, 4])
        #expect(a.sampleRate == 24000)
    }

    @Test func badFilesNameThePath() {
        #expect(throws: WAVError.notWAV(path: "x.wav")) { _ = try WAVFile.parse(Data("hello world!".utf8), path: "x.wav") }
        #expect(throws: WAVError.self) { _ = try WAVFile.read(path: "/nonexistent/file.wav") }
    }

    @Test func stereoDownmix() {
        #expect(Resampler.downmix([100, 300, -100, -300], channels: 2) == [200, -200])
    }
}

/// `SampleRing` against the array it replaces (append, then keep the newest `capacity`).
struct SampleRingTests {
    @Test func behavesLikeAnArrayThatKeepsItsNewestSamples() {
        var ring = SampleRing(capacity: 50)
        var model: [Int16] = []
        var next: Int16 = 0
        var seed: UInt32 = 12345
        for step in 0..<2000 {
            seed = seed &* 1_103_515_245 &+ 12345
            let op = Int(seed >> 16) % 10
            if op < 6 {
                let n = Int(seed >> 8) % 70
                let chunk = (0..<n).map { _ -> Int16 in next &+= 1; return next }
                ring.append(contentsOf: chunk)
                model.append(contentsOf: chunk)
                if model.count > 50 { model.removeFirst(model.count - 50) }
            } else if op < 8 {
                let n = Int(seed >> 4) % 60
                ring.removeLast(n)
                model.removeLast(min(n, model.count))
            } else if op == 8 {
                ring.removeAll()
                model.removeAll()
            }
            let n = Int(seed >> 12) % 60
            #expect(ring.count == model.count, "step \(step)")
            #expect(ring.suffix(n) == Array(model.suffix(n)), "step \(step)")
        }
    }

    @Test func aChunkLongerThanTheRingKeepsItsEnd() {
        var ring = SampleRing(capacity: 4)
        ring.append(contentsOf: [1, 2, 3, 4, 5, 6, 7] as [Int16])
        #expect(ring.suffix(10) == [4, 5, 6, 7])
        ring.removeLast(99)
        #expect(ring.count == 0 && ring.suffix(3).isEmpty)
    }
}
