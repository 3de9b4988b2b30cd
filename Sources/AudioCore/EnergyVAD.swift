import Foundation

/// An energy voice-activity detector over 16 kHz mono PCM, with the knobs of the Live API's
/// `automaticActivityDetection`: start sensitivity (threshold), prefix padding (how long speech
/// must last before its start is committed) and silence duration (how long silence must last
/// before the end is committed). Time comes from the sample count, not a clock.
public struct EnergyVAD: Sendable {
    public enum Event: Sendable, Hashable {
        /// Speech started `offsetSeconds` into the stream.
        case speechStarted(offsetSeconds: Double)
        /// Speech ended; `speechSeconds` from its start to the last voiced frame.
        case speechEnded(speechSeconds: Double)
    }

    public var thresholdDBFS: Double
    public var prefixPaddingMs: Int
    public var silenceDurationMs: Int
    public let rate: Int
    /// 10 ms analysis frames.
    private let frameSamples: Int
    private var pending: [Int16] = []
    private var processedSamples = 0
    private var voicedRunMs = 0
    private var silentRunMs = 0
    private var speechStartSample = 0
    private var lastVoicedSample = 0
    public private(set) var inSpeech = false

    /// `highStartSensitivity` detects quieter speech (-50 dBFS) than low (-38 dBFS).
    public init(rate: Int = 16000, highStartSensitivity: Bool = true, highEndSensitivity: Bool = true,
                prefixPaddingMs: Int? = nil, silenceDurationMs: Int? = nil) {
        self.rate = rate
        self.frameSamples = rate / 100
        self.thresholdDBFS = highStartSensitivity ? -50 : -38
        self.prefixPaddingMs = prefixPaddingMs ?? (highStartSensitivity ? 20 : 60)
        self.silenceDurationMs = silenceDurationMs ?? (highEndSensitivity ? 500 : 1000)
    }

    public mutating func process(_ samples: [Int16]) -> [Event] {
        pending.append(contentsOf: samples)
        var events: [Event] = []
        var start = 0
        while pending.count - start >= frameSamples {
            let frame = pending[start..<(start + frameSamples)]
            start += frameSamples
            let voiced = Level.measure(frame).rmsDBFS > thresholdDBFS
            processedSamples += frameSamples
            if voiced {
                voicedRunMs += 10
                silentRunMs = 0
                lastVoicedSample = processedSamples
                if !inSpeech && voicedRunMs >= max(10, prefixPaddingMs) {
                    inSpeech = true
                    speechStartSample = processedSamples - voicedRunMs * rate / 1000
                    events.append(.speechStarted(offsetSeconds: Double(speechStartSample) / Double(rate)))
                }
            } else {
                voicedRunMs = 0
                if inSpeech {
                    silentRunMs += 10
                    if silentRunMs >= silenceDurationMs {
                        inSpeech = false
                        events.append(.speechEnded(speechSeconds: Double(lastVoicedSample - speechStartSample) / Double(rate)))
                    }
                }
            }
        }
        pending.removeFirst(start)
        return events
    }

    /// Ends an open utterance now (the emulator's maximum utterance length, R8), as if enough
    /// silence had followed. Sound that goes on must again last `prefixPaddingMs` to start a new one.
    public mutating func endUtterance() -> [Event] {
        guard inSpeech else { return [] }
        inSpeech = false
        voicedRunMs = 0
        silentRunMs = 0
        return [.speechEnded(speechSeconds: Double(max(lastVoicedSample, speechStartSample) - speechStartSample) / Double(rate))]
    }

    /// The stream ended (`audioStreamEnd`): close an open utterance now.
    public mutating func flush() -> [Event] {
        guard inSpeech else { return [] }
        inSpeech = false
        voicedRunMs = 0
        silentRunMs = 0
        return [.speechEnded(speechSeconds: Double(lastVoicedSample - speechStartSample) / Double(rate))]
    }
}
