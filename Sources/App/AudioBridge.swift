import AudioCore
import Foundation
import LiveSession

/// Which audio backend to use (`--audio`).
public enum AudioChoice: String, Sendable, CaseIterable {
    /// PulseAudio when a server answers, otherwise text only (with one line saying so).
    case auto
    case pulse
    /// Files only: `--input-wav` / `--output-wav`.
    case wav
    case null
}

/// Connects a `Session` and an `AudioDevice`: microphone chunks through the `MicGate` to the
/// session; model audio, purges and turn ends from the session to the device.
public actor AudioBridge {
    public let device: any AudioDevice
    private let session: Session
    private var gate: MicGate
    private var pump: Task<Void, Never>?
    /// Sees every microphone chunk sent to the session (16 kHz), e.g. for a recording.
    private let micTap: (@Sendable ([Int16]) -> Void)?
    /// Under voice detection, told when the user stops speaking (the last voiced moment), for
    /// latency figures; a local energy detector listens to what is sent.
    private let onSpeechEnd: (@Sendable (ContinuousClock.Instant) -> Void)?
    private var vad = EnergyVAD()
    /// Echo cancellation and noise suppression on the microphone, before the gate (nil: off).
    public nonisolated let processor: (any MicProcessor)?
    private var chunksSinceDelay = 0
    /// Local barge-in (issue 11 item 4): a detector on the processed microphone ducks the speaker
    /// the moment the user starts to speak over the model, before the server has even heard it.
    private let localBargeIn: Bool
    private var bargeVAD = EnergyVAD(highStartSensitivity: false, prefixPaddingMs: 30, silenceDurationMs: 300)
    private var duckedAt: ContinuousClock.Instant?
    private let onDuck: (@Sendable (_ speechOnset: ContinuousClock.Instant) -> Void)?
    /// How far a duck lowers the speaker, and how long it waits for the server's `interrupted`
    /// before the volume comes back.
    public static let duckDB = -24.0
    public static let duckHold = Duration.milliseconds(600)

    public init(session: Session, device: any AudioDevice, mode: MicGate.Mode,
                micTap: (@Sendable ([Int16]) -> Void)? = nil,
                onSpeechEnd: (@Sendable (ContinuousClock.Instant) -> Void)? = nil,
                processor: (any MicProcessor)? = nil,
                localBargeIn: Bool = false,
                onDuck: (@Sendable (ContinuousClock.Instant) -> Void)? = nil) {
        self.processor = processor
        self.localBargeIn = localBargeIn
        self.onDuck = onDuck
        self.session = session
        self.device = device
        self.gate = MicGate(mode: mode)
        self.micTap = micTap
        self.onSpeechEnd = onSpeechEnd
    }

    /// Starts sending the microphone (through the gate) to the session.
    public func startMicrophone() {
        guard pump == nil else { return }
        let stream = device.capture
        pump = Task { [weak self] in
            for await chunk in stream { await self?.microphone(chunk) }
        }
    }

    private func microphone(_ raw: CaptureChunk) async {
        var chunk = raw
        if let processor {
            // The echo's delay follows the measured playback latency (plus ~20 ms of capture).
            if chunksSinceDelay % 50 == 0 {
                processor.setDelay(ms: device.stats().playbackLatencyMicros / 1000 + 20)
            }
            chunksSinceDelay += 1
            chunk.samples = processor.microphone(chunk.samples, capturedAt: chunk.capturedAt)
        }
        if localBargeIn { listenForBargeIn(chunk) }
        let outputs = gate.chunk()
        if let onSpeechEnd, outputs.contains(.sendAudio), gate.mode == .vad {
            for case .speechEnded in vad.process(chunk.samples) {
                // Committed after the silence window: the speech itself ended that much earlier.
                onSpeechEnd(chunk.capturedAt - .milliseconds(vad.silenceDurationMs))
            }
        }
        await perform(outputs, audio: chunk.samples)
    }

    /// Ducks the speaker when speech starts over the model's voice (voice detection, not muted);
    /// the server's `interrupted` then purges the turn (which also ends the duck), or after
    /// `duckHold` without one the volume comes back.
    private func listenForBargeIn(_ chunk: CaptureChunk) {
        let started = bargeVAD.process(chunk.samples).contains { if case .speechStarted = $0 { true } else { false } }
        if let at = duckedAt {
            if ContinuousClock.now - at >= Self.duckHold {
                device.unduck()
                duckedAt = nil
            }
            return
        }
        guard started, gate.mode == .vad, !gate.muted else { return }
        if device.duck(gainDB: Self.duckDB) {
            duckedAt = .now
            onDuck?(chunk.capturedAt)
        }
    }

    private func perform(_ outputs: [MicGate.Output], audio: [Int16] = []) async {
        for o in outputs {
            switch o {
            case .sendAudio:
                micTap?(audio)
                await session.sendAudio(PCM.data(audio))
            case .activityStart: await session.activityStart()
            case .activityEnd: await session.activityEnd()
            case .audioStreamEnd: await session.audioStreamEnd()
            }
        }
    }

    public func setMuted(_ muted: Bool) async { await perform(gate.setMuted(muted)) }
    public func setMode(_ mode: MicGate.Mode) async { await perform(gate.setMode(mode)) }
    public func pressToTalk() async { await perform(gate.press()) }
    public func releaseToTalk() async { await perform(gate.release()) }
    public var micState: MicGate { gate }

    /// Called for every session event, in order.
    public nonisolated func handle(_ event: SessionEvent) {
        switch event {
        case .audio(let data, let rate, let turn):
            var samples = PCM.samples(data)
            if rate != 24000 { samples = Resampler.resample(samples, from: rate, to: 24000) }
            device.play(turn: turn, samples: samples)
        case .purge(let turn):
            device.purge(turn: turn)
        case .turnComplete(let turn, _, _):
            device.endTurn(turn)
        default:
            break
        }
    }

    /// Waits (bounded) until queued speech has been played, then stops the device.
    public func finish() async {
        for _ in 0..<3000 where device.queuedSamples() > 0 {
            try? await Task.sleep(for: .milliseconds(10))
        }
        pump?.cancel()
        device.stop()
    }
}
