import Foundation

/// The one set of `Duration` conversions the project uses (they were written eight times).
extension Duration {
    /// Seconds as a `Double` (fractions kept).
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// Whole milliseconds, rounded toward zero.
    public var milliseconds: Int {
        Int(clamping: components.seconds &* 1000 &+ components.attoseconds / 1_000_000_000_000_000)
    }

    /// A duration from seconds; non-finite or negative values give zero, huge ones a day.
    public static func seconds(clamping value: Double) -> Duration {
        guard value.isFinite, value > 0 else { return .zero }
        return .milliseconds(Int64((min(value, 86_400) * 1000).rounded()))
    }
}
