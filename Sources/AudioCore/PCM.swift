// AudioCore — pure audio logic: PCM chunks, levels, energy VAD, WAV files, resampling.
// Never imports libpulse or any OS audio API; the PulseAudio edge builds on this.
import Foundation

/// Conversions between little-endian 16-bit PCM bytes and samples.
public enum PCM {
    public static func samples(_ data: Data) -> [Int16] {
        samples(data, bytes: 0..<data.count)
    }

    /// The samples in `bytes` (offsets from the start of `data`, clamped to it), without copying the bytes first.
    public static func samples(_ data: Data, bytes: Range<Int>) -> [Int16] {
        let lower = min(max(0, bytes.lowerBound), data.count)
        let upper = min(max(lower, bytes.upperBound), data.count)
        let count = (upper - lower) / 2
        var out = [Int16](repeating: 0, count: count)
        out.withUnsafeMutableBytes { dst in
            _ = data.copyBytes(to: dst, from: (data.startIndex + lower)..<(data.startIndex + lower + count * 2))
        }
        #if _endian(big)
        for i in out.indices { out[i] = Int16(littleEndian: out[i]) }
        #endif
        return out
    }

    public static func data(_ samples: [Int16]) -> Data {
        #if _endian(big)
        let le = samples.map { $0.littleEndian }
        return le.withUnsafeBytes { Data($0) }
        #else
        return samples.withUnsafeBytes { Data($0) }
        #endif
    }

    /// Duration in seconds of `bytes` of 16-bit mono PCM at `rate`.
    public static func seconds(bytes: Int, rate: Int) -> Double { Double(bytes / 2) / Double(rate) }

    /// Hands `samples` to `body` `chunk` at a time, one chunk per `every`, at real-time pace on
    /// the continuous clock (a late chunk does not delay the ones after it). Stops when cancelled.
    public static func paced(_ samples: [Int16], chunk: Int, every: Duration,
                             _ body: ([Int16]) async -> Void) async {
        let clock = ContinuousClock()
        let start = clock.now
        var i = 0
        var n = 0
        while i < samples.count, !Task.isCancelled {
            await body(Array(samples[i..<min(i + max(1, chunk), samples.count)]))
            i += max(1, chunk)
            n += 1
            try? await Task.sleep(until: start + every * n, clock: clock)
        }
    }
}

/// RMS and peak level of a block, in dBFS (full-scale sine ≈ −3 dBFS RMS, 0 dBFS peak).
public struct Level: Sendable, Hashable {
    public var rmsDBFS: Double
    public var peakDBFS: Double
    public static let floor = -96.0

    public init(rmsDBFS: Double, peakDBFS: Double) {
        self.rmsDBFS = rmsDBFS
        self.peakDBFS = peakDBFS
    }

    public static func measure<C: Collection>(_ samples: C) -> Level where C.Element == Int16 {
        guard !samples.isEmpty else { return Level(rmsDBFS: floor, peakDBFS: floor) }
        var sum = 0.0
        var peak = 0
        for s in samples {
            let v = Double(s)
            sum += v * v
            peak = max(peak, abs(Int(s)))
        }
        let rms = (sum / Double(samples.count)).squareRoot() / 32768.0
        return Level(rmsDBFS: dB(rms), peakDBFS: dB(Double(peak) / 32768.0))
    }

    static func dB(_ linear: Double) -> Double { linear <= 0 ? floor : max(floor, 20 * log10(linear)) }
}

/// Linear-interpolation resampler for mono 16-bit PCM (good enough for speech and tests).
public enum Resampler {
    /// The largest upsampling ratio (8 → 48 kHz). Rates come from the wire and from files: callers
    /// should reject anything outside 8–48 kHz, but the resampler itself never allocates more than
    /// `input.count × maxRatio` samples (R4).
    public static let maxRatio = 6

    /// `input` at `to` Hz. Returns `input` unchanged when the rates are equal or not positive, and an
    /// empty array when `to / from` exceeds `maxRatio` (for example a claimed rate of 1 Hz).
    public static func resample(_ input: [Int16], from: Int, to: Int) -> [Int16] {
        guard from != to, !input.isEmpty, from > 0, to > 0 else { return input }
        guard to / from < maxRatio || (to / from == maxRatio && to % from == 0) else { return [] }
        let exact = Double(input.count) * Double(to) / Double(from)
        let outCount = min(input.count * maxRatio, Int(exact.rounded()))
        var out = [Int16](repeating: 0, count: outCount)
        let step = Double(from) / Double(to)
        for i in 0..<outCount {
            let pos = Double(i) * step
            let j = Int(pos)
            let frac = pos - Double(j)
            let a = Double(input[min(j, input.count - 1)])
            let b = Double(input[min(j + 1, input.count - 1)])
            out[i] = Int16(clamping: Int((a + (b - a) * frac).rounded()))
        }
        return out
    }

    /// Averages interleaved channels to mono.
    public static func downmix(_ interleaved: [Int16], channels: Int) -> [Int16] {
        guard channels > 1 else { return interleaved }
        var out = [Int16]()
        out.reserveCapacity(interleaved.count / channels)
        var i = 0
        while i + channels <= interleaved.count {
            var sum = 0
            for c in 0..<channels { sum += Int(interleaved[i + c]) }
            out.append(Int16(clamping: sum / channels))
            i += channels
        }
        return out
    }
}

/// Synthesises simple tones (the emulator's placeholder voice, test signals).
public enum ToneGenerator {
    public static func sine(frequency: Double, seconds: Double, rate: Int, amplitude: Double = 0.5) -> [Int16] {
        let n = Int(seconds * Double(rate))
        return (0..<n).map { i in
            Int16(clamping: Int(amplitude * 32767 * sin(2 * .pi * frequency * Double(i) / Double(rate))))
        }
    }

    /// A word-like burst: a tone with a raised-cosine envelope, pitch gliding slightly.
    public static func syllable(frequency: Double, seconds: Double, rate: Int, amplitude: Double = 0.35) -> [Int16] {
        let n = max(1, Int(seconds * Double(rate)))
        var phase = 0.0
        return (0..<n).map { i in
            let t = Double(i) / Double(n)
            let env = 0.5 - 0.5 * cos(2 * .pi * t)
            let f = frequency * (1 + 0.15 * (0.5 - t))
            phase += 2 * .pi * f / Double(rate)
            return Int16(clamping: Int(amplitude * env * 32767 * (sin(phase) + 0.3 * sin(2 * phase)) / 1.3))
        }
    }
}
