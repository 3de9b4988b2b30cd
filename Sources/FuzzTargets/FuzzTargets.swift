/// Fuzz target bodies, one per parser that reads untrusted input. Each body takes raw bytes and
/// must never trap, hang or grow without bound, whatever the bytes; an error thrown by the code
/// under test is an expected outcome, not a finding.
///
/// The same bodies run under libFuzzer (`livetalk-fuzz`, built by `scripts/fuzz`) and in the
/// `FuzzRegressionTests` XCTest target, which replays the seeds and every kept crasher.
/// This module only drives other modules; nothing in the app may import it.
import Foundation

/// One fuzz target: a name (as given to `LIVETALK_FUZZ_TARGET` and `livetalk-fuzz --target`),
/// the largest input worth trying, and the body.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Server messages fed to `Session` through `InMemoryTransport` after a scripted setupComplete.
    case session
    /// Client messages decoded tolerantly, as the emulator reads what clients send.
    case clientMessage = "client-message"
    /// `WAVFile.parse`, then `.mono(at: 16000)`.
    case wav
    /// `FileConfig.parse` (config.toml).
    case config
    /// `ThemeLoader.parse` (themes/*.toml).
    case theme
    /// `KeyDecoder` over terminal input.
    case keys

    /// libFuzzer's `-max_len` for this target: large enough for the seeds, small enough to stay fast.
    public var maxLength: Int {
        switch self {
        case .session: 16_384
        case .clientMessage: 8_192
        case .wav: 8_192
        case .config, .theme: 4_096
        case .keys: 1_024
        }
    }

    /// Runs the body once. Traps (the finding) are not caught.
    public func run(_ bytes: [UInt8]) {
        switch self {
        case .session: SessionFuzz.run(bytes)
        case .clientMessage: ClientMessageFuzz.run(bytes)
        case .wav: WAVFuzz.run(bytes)
        case .config: TOMLFuzz.runConfig(bytes)
        case .theme: TOMLFuzz.runTheme(bytes)
        case .keys: KeysFuzz.run(bytes)
        }
    }
}
