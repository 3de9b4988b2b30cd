import Foundation

/// Speech that is the same every time for the same text and voice: a fresh `espeak-ng` process
/// per recording.
///
/// Why (issue 9 item 7): espeak-ng keeps generator state in process-wide statics (the pitch
/// flutter index, the glottal phase, resonators, breath noise) that carry over from one synthesis
/// to the next, so in-process `Synthesizer.speak` of the same text differs in almost every sample
/// depending on everything synthesised before it, in any thread. When tests run in parallel that
/// history depends on scheduling, so the "user's microphone" audio, and with it what pocketsphinx
/// hears, depended on CPU load. pocketsphinx itself is deterministic for identical audio fed in
/// identical chunks (see the item-7 tests). Tests and benchmarks that need identical input audio
/// use this; the emulator keeps the in-process synthesizer (its word timings drive transcripts).
public enum ReproducibleSpeech {
    public enum Failure: Error, CustomStringConvertible {
        case notRunnable(String)
        case failed(status: Int32)
        public var description: String {
            switch self {
            case .notRunnable(let s): "espeak-ng could not be run: \(s)"
            case .failed(let status): "espeak-ng exited with status \(status)"
            }
        }
    }

    /// Longest text recorded (keeps the child's output, about 44 kB a second, bounded).
    public static let maxCharacters = 2000

    /// 16-bit mono samples of `text` spoken by `voice` (at espeak-ng's native 22,050 Hz),
    /// resampled to `rate` with the same resampler as `Synthesizer`.
    public static func record(_ text: String, voice: EspeakVoice, rate: Int = 16000,
                              executable: String = "/usr/bin/espeak-ng") async throws -> [Int16] {
        let arguments = ["-v", voice.name, "-s", String(voice.rate), "-p", String(voice.pitch), "--stdout",
                         "--", String(text.prefix(maxCharacters))]
        // The child is waited for on a dispatch thread, never on a cooperative one (with two cores
        // the pool has two threads; blocking them stalls every task in the process).
        let data: Data = try await withCheckedThrowingContinuation { c in
            DispatchQueue.global().async {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: executable)
                p.arguments = arguments
                let out = Pipe()
                p.standardOutput = out
                p.standardError = FileHandle.nullDevice
                do { try p.run() } catch {
                    c.resume(throwing: Failure.notRunnable("\(error)"))
                    return
                }
                let data = out.fileHandleForReading.readDataToEndOfFile()   // before waiting: a full pipe blocks the child
                p.waitUntilExit()
                if p.terminationStatus == 0 { c.resume(returning: data) } else {
                    c.resume(throwing: Failure.failed(status: p.terminationStatus))
                }
            }
        }
        // A streamed WAV: 44-byte header (its sizes are placeholders), then 22,050 Hz PCM.
        guard data.count > 44 else { return [] }
        let pcm = data.dropFirst(44)
        var samples = [Int16](repeating: 0, count: pcm.count / 2)
        samples.withUnsafeMutableBytes { _ = pcm.copyBytes(to: $0) }
        return SpeexResample.convert(samples.map { Int16(littleEndian: $0) }, from: 22050, to: rate)
    }
}
