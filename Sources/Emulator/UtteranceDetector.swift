import AudioCore
import Foundation
import LiveProtocol

/// Where the user's utterances start and end in the microphone audio, as the setup asks: the
/// energy VAD with the setup's sensitivities, prefix padding and silence duration (automatic
/// activity detection), or activityStart/activityEnd (push-to-talk). An utterance longer than
/// `maxUtterance` is ended there (R8). Pure: time is the sample count. Used by `TurnMachine`.
struct UtteranceDetector: Sendable {
    enum Output: Sendable, Hashable {
        /// An utterance began; `preRoll` is the audio just before it (up to 300 ms, automatic
        /// detection only: the VAD commits a start after the first voiced frames).
        case began(preRoll: [Int16])
        /// Audio of the utterance under way, in order.
        case audio([Int16])
        /// The utterance ended after `seconds` of speech; `cut` when at `maxUtterance`.
        case ended(seconds: Double, cut: Bool)
    }

    static let preRollSamples = 4800
    /// Nil under push-to-talk.
    private var vad: EnergyVAD?
    private var activityOpen = false
    private var utteranceSamples = 0
    /// The last `preRollSamples` of audio outside an utterance (automatic detection).
    private var preRoll: [Int16] = []
    private let maxSamples: Int

    init(setup: Setup, maxUtterance: Duration) {
        if setup.automaticActivityDetection {
            let aad = setup.realtimeInputConfig?.automaticActivityDetection
            vad = EnergyVAD(highStartSensitivity: aad?.startOfSpeechSensitivity != .low,
                            highEndSensitivity: aad?.endOfSpeechSensitivity != .low,
                            prefixPaddingMs: aad?.prefixPaddingMs, silenceDurationMs: aad?.silenceDurationMs)
        }
        let s = maxUtterance.seconds
        maxSamples = s.isFinite ? Int(min(max(s, 0.1), 3600) * 16000) : 3600 * 16000
    }

    /// Whether the VAD decides (activity markers are then refused).
    var isAutomatic: Bool { vad != nil }

    /// Push-to-talk: the user starts talking (again: the previous utterance is dropped).
    mutating func activityStart() -> [Output] {
        activityOpen = true
        utteranceSamples = 0
        return [.began(preRoll: [])]
    }

    /// Push-to-talk: the user stops talking.
    mutating func activityEnd() -> [Output] {
        guard activityOpen else { return [] }
        activityOpen = false
        return [.ended(seconds: Double(utteranceSamples) / 16000, cut: false)]
    }

    /// 16 kHz audio. Under push-to-talk only audio between activityStart and activityEnd counts.
    mutating func audio(_ samples: [Int16]) -> [Output] {
        var out: [Output] = []
        if var v = vad {
            if v.inSpeech {
                out.append(.audio(samples))
            } else {
                preRoll.append(contentsOf: samples)
                if preRoll.count > Self.preRollSamples { preRoll.removeFirst(preRoll.count - Self.preRollSamples) }
            }
            let events = v.process(samples)
            if v.inSpeech { utteranceSamples += samples.count }
            vad = v
            for e in events { out += translate(e, cut: false) }   // a start resets `utteranceSamples`
            // R8: an utterance that never ends (noise, a stuck microphone) is ended at `maxUtterance`.
            if var v = vad, v.inSpeech, utteranceSamples >= maxSamples {
                let cut = v.endUtterance()
                vad = v
                for e in cut { out += translate(e, cut: true) }
            }
        } else if activityOpen {
            utteranceSamples += samples.count
            out.append(.audio(samples))
            if utteranceSamples >= maxSamples {
                activityOpen = false   // the rest, until the next activityStart, is ignored
                out.append(.ended(seconds: Double(utteranceSamples) / 16000, cut: true))
            }
        }
        return out
    }

    /// `audioStreamEnd`: the VAD ends an utterance under way.
    mutating func streamEnd() -> [Output] {
        guard var v = vad else { return [] }
        let events = v.flush()
        vad = v
        return events.flatMap { translate($0, cut: false) }
    }

    private mutating func translate(_ e: EnergyVAD.Event, cut: Bool) -> [Output] {
        switch e {
        case .speechStarted:
            utteranceSamples = 0
            defer { preRoll = [] }
            return [.began(preRoll: preRoll)]
        case .speechEnded(let seconds):
            return [.ended(seconds: seconds, cut: cut)]
        }
    }
}
