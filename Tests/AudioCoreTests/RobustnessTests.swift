import Foundation
import Testing
@testable import AudioCore

/// Findings of the reliability review (R4, R16, R20) and issue 9's memory bounds, on the audio core.
struct AudioRobustnessTests {
    /// A WAV header claiming `rate` Hz and `channels` channels with a few samples.
    func wav(rate: Int, channels: Int) -> Data {
        var d = WAVFile.header(sampleRate: rate, channels: channels, dataBytes: 8)
        d.append(PCM.data([1, 2, 3, 4]))
        return d
    }

    @Test(arguments: [0, 1, 7_999, 192_001, 4_294_967_295])
    func testR16_wavRejectsAbsurdRates(rate: Int) {
        #expect(throws: WAVError.unsupported(path: "x.wav", detail: "sample rate \(rate) Hz is outside 8000–192000 Hz")) {
            _ = try WAVFile.parse(wav(rate: rate, channels: 1), path: "x.wav")
        }
    }

    @Test func testR16_wavRejectsZeroChannelsAndAcceptsTheLimits() throws {
        #expect(throws: WAVError.unsupported(path: "x.wav", detail: "0 channels (1–32 are supported)")) {
            _ = try WAVFile.parse(wav(rate: 16_000, channels: 0), path: "x.wav")
        }
        #expect(try WAVFile.parse(wav(rate: 8_000, channels: 1)).samples == [1, 2, 3, 4])
        #expect(try WAVFile.parse(wav(rate: 192_000, channels: 2)).channels == 2)
        // The error text tells the user what to do.
        #expect(WAVError.unsupported(path: "x.wav", detail: "d").description.contains("sox"))
    }

    @Test func testR16_dataSizeBeyondTheFileIsClamped() throws {
        var d = WAVFile.header(sampleRate: 16_000, channels: 1, dataBytes: 0xFFFF_FFF0)
        d.append(PCM.data([5, 6, 7]))
        let a = try WAVFile.parse(d)
        #expect(a.samples == [5, 6, 7])
        // A slice of a larger buffer (non-zero startIndex) parses the same.
        let padded = Data([0, 0, 0]) + d
        #expect(try WAVFile.parse(padded[3...]).samples == [5, 6, 7])
    }

    @Test func testR4_resamplerNeverAllocatesMoreThanSixTimesItsInput() {
        var rng = SplitMix(seed: 0x5EED)
        let rates = [1, 2, 100, 1_000, 7_999, 8_000, 11_025, 16_000, 22_050, 24_000, 44_100, 48_000, 48_001, 96_000,
                     192_000, 1_000_000, Int(Int32.max), Int.max]
        for _ in 0..<2_000 {
            let count = Int(rng.next() % 600) + 1
            let input = [Int16](repeating: 7, count: count)
            let from = rates[Int(rng.next() % UInt64(rates.count))]
            let to = rates[Int(rng.next() % UInt64(rates.count))]
            let out = Resampler.resample(input, from: from, to: to)
            #expect(out.count <= count * Resampler.maxRatio, "\(count) samples \(from) → \(to) Hz gave \(out.count)")
            if (8_000...48_000).contains(from), (8_000...48_000).contains(to) {
                let expected = Double(count) * Double(to) / Double(from)
                #expect(abs(Double(out.count) - expected) <= 1, "\(count) samples \(from) → \(to) Hz gave \(out.count)")
            }
        }
        #expect(Resampler.resample([1, 2, 3], from: 1, to: 24_000).isEmpty)   // a claimed 1 Hz: nothing, not 72,000 samples
        #expect(Resampler.resample([1, 2], from: 8_000, to: 48_000).count == 12)   // exactly the limit is fine
        #expect(Resampler.resample([1, 2], from: 0, to: 16_000) == [1, 2])
    }

    @Test func testR20_wavWriterCreatesAPrivateFileAndRefusesSymlinks() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.wav"
        let w = try WAVWriter(path: path, sampleRate: 24_000)
        w.close()
        #expect(try mode(path) == 0o600)

        // An existing world-readable file is made private before audio goes into it.
        let old = dir + "/old.wav"
        _ = FileManager.default.createFile(atPath: old, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644])
        try WAVWriter(path: old, sampleRate: 24_000).close()
        #expect(try mode(old) == 0o600)

        let target = dir + "/target"
        _ = FileManager.default.createFile(atPath: target, contents: Data("keep".utf8), attributes: [.posixPermissions: 0o644])
        let link = dir + "/link.wav"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        #expect(throws: WAVError.unwritable(path: link, reason: "is a symbolic link; refusing to write through it")) {
            _ = try WAVWriter(path: link, sampleRate: 24_000)
        }
        #expect(FileManager.default.contents(atPath: target) == Data("keep".utf8))
        #expect(throws: PrivateFileError.self) { _ = try PrivateFile.open(link, .append) }
    }

    @Test func testR20_privateFileAppendKeepsWhatIsThere() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/log"
        for line in ["one\n", "two\n"] {
            let fd = try PrivateFile.open(path, .append)
            #expect(PrivateFile.write(fd, Data(line.utf8)))
            close(fd)
        }
        #expect(FileManager.default.contents(atPath: path) == Data("one\ntwo\n".utf8))
        #expect(try mode(path) == 0o600)
    }

    /// R11/R20: the header is rewritten every half second of audio, so a process killed without
    /// `close()` leaves a file whose sizes cover all but the last half second. The writer is left
    /// open here, exactly as SIGKILL leaves it: every append is already in the file (write(2), no buffer).
    @Test func testR20_wavHeaderIsRightWithoutClose() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/killed.wav"
        let w = try WAVWriter(path: path, sampleRate: 24_000)
        let chunk = PCM.data([Int16](repeating: 100, count: 480))   // 20 ms
        for _ in 0..<130 { w.append(chunk) }                        // 2.6 s
        let onDisk = try #require(FileManager.default.contents(atPath: path))
        let audioBytes = onDisk.count - 44
        #expect(audioBytes == 130 * 960)
        let claimed = Int(onDisk[40]) | Int(onDisk[41]) << 8 | Int(onDisk[42]) << 16 | Int(onDisk[43]) << 24
        let riff = Int(onDisk[4]) | Int(onDisk[5]) << 8 | Int(onDisk[6]) << 16 | Int(onDisk[7]) << 24
        #expect(claimed <= audioBytes && audioBytes - claimed < w.headerEveryBytes, "header claims \(claimed) of \(audioBytes)")
        #expect(riff == 36 + claimed)
        #expect(try WAVFile.parse(onDisk).samples.count == claimed / 2)
        w.close()
        let closed = try WAVFile.read(path: path)
        #expect(closed.samples.count == 130 * 480)
    }

    @Test func playbackQueueIsBoundedAndCountsWhatItDrops() {
        let q = PlaybackQueue(rate: 1_000, prebufferMs: 0, maxWriteMs: 20, maxQueuedSeconds: 2)   // 2,000 samples
        #expect(q.maxQueuedSamples == 2_000)
        q.enqueue(turn: 1, samples: [Int16](repeating: 1, count: 1_500))
        q.enqueue(turn: 1, samples: [Int16](repeating: 2, count: 1_000))   // 500 fit
        q.enqueue(turn: 1, samples: [Int16](repeating: 3, count: 10))      // none fit
        #expect(q.queuedSamples == 2_000)
        #expect(q.droppedSamples == 510)
        var played: [Int16] = []
        while case .audio(_, let s) = q.next() { played += s }
        #expect(played.count == 2_000 && played.last == 2)   // what was kept plays in order
        q.enqueue(turn: 1, samples: [4])                      // room again
        #expect(q.queuedSamples == 1)
    }

    @Test func playbackQueueForgetsOldTurns() {
        let q = PlaybackQueue(rate: 24_000, prebufferMs: 0)
        for turn in 1...500 {
            q.enqueue(turn: turn, samples: [1, 2])
            q.endTurn(turn)
            while case .audio(let t, let s) = q.next() { q.markWritten(turn: t, count: s.count) }
        }
        #expect(q.writtenSamples(turn: 500) == 2)
        #expect(q.writtenSamples(turn: 1) == 0)   // forgotten: bookkeeping stays bounded
    }

    @Test func captureRingDropsTheOldestAndCounts() async {
        let ring = CaptureRing(capacity: 50)
        for i in 0..<60 { ring.push(CaptureChunk(samples: [Int16(i)])) }
        ring.finish()
        #expect(ring.pushed == 60)
        #expect(ring.dropped == 10)
        var first: Int16?
        var n = 0
        for await c in ring.stream {
            if first == nil { first = c.samples[0] }
            n += 1
        }
        #expect(n == 50 && first == 10)
    }

    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "lt-audio-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func mode(_ path: String) throws -> Int {
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        return ((attrs[.posixPermissions] as? NSNumber)?.intValue ?? -1) & 0o777
    }
}

/// A small deterministic generator for property-style tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
