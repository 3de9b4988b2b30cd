import AudioCore
import Foundation

/// `WAVFile.parse`, then `.mono(at: 16000)` as `--input-wav` and the emulator's audio paths use it.
///
/// Besides "never traps" this checks one resource bound (review R16): an accepted file may not
/// make `mono(at: 16000)` allocate more than twice its frames plus one, that is, a file that
/// claims a rate below 8 kHz must be rejected by `parse`, not expanded.
enum WAVFuzz {
    static func run(_ bytes: [UInt8]) {
        guard let audio = try? WAVFile.parse(Data(bytes)) else { return }
        let frames = audio.samples.count / max(1, audio.channels)
        // Checked before the call so that a lying rate fails here, not as an allocation failure.
        if audio.sampleRate > 0, audio.sampleRate < 8_000, frames > 0 {
            fatalError("WAVFile.parse accepted a sample rate of \(audio.sampleRate) Hz: mono(at: 16000) would make \(frames) frames into about \(frames * 16_000 / audio.sampleRate) samples (review R16)")
        }
        let mono = audio.mono(at: 16_000)
        precondition(mono.count <= 2 * frames + 1,
                     "mono(at: 16000) gave \(mono.count) samples for \(frames) frames at \(audio.sampleRate) Hz")
        _ = audio.seconds
    }
}
