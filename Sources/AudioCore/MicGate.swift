import Foundation

/// Decides what happens to each microphone chunk: mute, push-to-talk gating, and the control
/// messages that go with them. Pure; the app turns its outputs into session calls.
public struct MicGate: Sendable, Equatable {
    public enum Mode: Sendable, Equatable { case vad, pushToTalk }
    public enum Output: Sendable, Equatable {
        case sendAudio
        case activityStart
        case activityEnd
        /// Server VAD, mic muted: tell the server the stream paused.
        case audioStreamEnd
    }

    public private(set) var mode: Mode
    public private(set) var muted = false
    public private(set) var talking = false
    private var streamOpen = false

    public init(mode: Mode) { self.mode = mode }

    /// A chunk arrived from the mic: send it or not.
    public mutating func chunk() -> [Output] {
        if muted { return [] }
        switch mode {
        case .vad:
            streamOpen = true
            return [.sendAudio]
        case .pushToTalk:
            return talking ? [.sendAudio] : []
        }
    }

    public mutating func setMuted(_ m: Bool) -> [Output] {
        guard m != muted else { return [] }
        muted = m
        guard m else { return [] }
        switch mode {
        case .vad:
            defer { streamOpen = false }
            return streamOpen ? [.audioStreamEnd] : []
        case .pushToTalk:
            return talking ? release() : []
        }
    }

    /// Push-to-talk pressed (no effect in VAD mode or while muted).
    public mutating func press() -> [Output] {
        guard mode == .pushToTalk, !talking, !muted else { return [] }
        talking = true
        return [.activityStart]
    }

    /// Released: a short press still ends the activity.
    public mutating func release() -> [Output] {
        guard mode == .pushToTalk, talking else { return [] }
        talking = false
        return [.activityEnd]
    }

    public mutating func setMode(_ m: Mode) -> [Output] {
        var out: [Output] = []
        if mode == .pushToTalk, talking { out += release() }
        if mode == .vad, streamOpen { out.append(.audioStreamEnd); streamOpen = false }
        mode = m
        return out
    }
}
