/// The newest `capacity` samples of a stream, in a fixed buffer: appending never moves what is
/// kept (the playback thread keeps its last 250 ms this way for a duck to rewrite, on every write).
public struct SampleRing: Sendable {
    private var storage: [Int16]
    private var start = 0
    public private(set) var count = 0
    public var capacity: Int { storage.count }

    public init(capacity: Int) { storage = [Int16](repeating: 0, count: max(1, capacity)) }

    /// Keeps `samples`, forgetting the oldest beyond `capacity`.
    public mutating func append<C: Collection>(contentsOf samples: C) where C.Element == Int16 {
        let cap = storage.count
        var source = samples[...]
        if source.count > cap { source = source.dropFirst(source.count - cap) }
        for x in source {
            storage[(start + count) % cap] = x
            if count < cap { count += 1 } else { start = (start + 1) % cap }
        }
    }

    /// The newest `n` samples (at most `count`), oldest first.
    public func suffix(_ n: Int) -> [Int16] {
        let n = max(0, min(n, count)), cap = storage.count
        var out = [Int16](repeating: 0, count: n)
        for i in 0..<n { out[i] = storage[(start + count - n + i) % cap] }
        return out
    }

    /// Forgets the newest `n` samples.
    public mutating func removeLast(_ n: Int) { count -= max(0, min(n, count)) }

    public mutating func removeAll() { (start, count) = (0, 0) }
}
