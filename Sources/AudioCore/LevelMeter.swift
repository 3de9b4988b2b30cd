import Foundation

/// What a VU meter draws: current RMS and peak, and a held peak that decays.
public struct MeterReading: Sendable, Hashable {
    public var rmsDBFS: Double
    public var peakDBFS: Double
    public var heldPeakDBFS: Double
    public static let silent = MeterReading(rmsDBFS: Level.floor, peakDBFS: Level.floor, heldPeakDBFS: Level.floor)
    public init(rmsDBFS: Double, peakDBFS: Double, heldPeakDBFS: Double) {
        self.rmsDBFS = rmsDBFS
        self.peakDBFS = peakDBFS
        self.heldPeakDBFS = heldPeakDBFS
    }
}

/// Peak hold with decay: the held peak stays `holdSeconds`, then falls `decayDBPerSecond`.
/// Time comes from the audio itself (samples), so it is exact and testable.
public struct LevelMeter: Sendable {
    public let rate: Int
    public var holdSeconds: Double
    public var decayDBPerSecond: Double
    public private(set) var reading = MeterReading.silent
    private var sinceHoldSeconds = 0.0

    public init(rate: Int, holdSeconds: Double = 1.0, decayDBPerSecond: Double = 20) {
        self.rate = rate
        self.holdSeconds = holdSeconds
        self.decayDBPerSecond = decayDBPerSecond
    }

    @discardableResult
    public mutating func process<C: Collection>(_ samples: C) -> MeterReading where C.Element == Int16 {
        let l = Level.measure(samples)
        let dt = Double(samples.count) / Double(rate)
        if l.peakDBFS >= reading.heldPeakDBFS {
            reading.heldPeakDBFS = l.peakDBFS
            sinceHoldSeconds = 0
        } else {
            sinceHoldSeconds += dt
            if sinceHoldSeconds > holdSeconds {
                let decayed = reading.heldPeakDBFS - decayDBPerSecond * min(dt, sinceHoldSeconds - holdSeconds)
                reading.heldPeakDBFS = max(l.peakDBFS, decayed, Level.floor)
            }
        }
        reading.rmsDBFS = l.rmsDBFS
        reading.peakDBFS = l.peakDBFS
        return reading
    }
}

/// A latest-value slot shared between an audio thread (writer) and the UI (reader).
public final class MeterSlot: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var value = MeterReading.silent
    public init() {}
    public func set(_ r: MeterReading) { lock.withLock { value = r } }
    public func get() -> MeterReading { lock.withLock { value } }
}
