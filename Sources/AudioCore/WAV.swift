import Foundation

/// A 16-bit PCM WAV file's contents.
public struct WAVAudio: Sendable {
    public var sampleRate: Int
    public var channels: Int
    /// Interleaved samples.
    public var samples: [Int16]

    public init(sampleRate: Int, channels: Int = 1, samples: [Int16]) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.samples = samples
    }

    public var seconds: Double { Double(samples.count / max(1, channels)) / Double(sampleRate) }

    /// Mono at `rate`, whatever the file had.
    public func mono(at rate: Int) -> [Int16] {
        Resampler.resample(Resampler.downmix(samples, channels: channels), from: sampleRate, to: rate)
    }
}

public enum WAVError: Error, Sendable, Hashable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case notWAV(path: String)
    case unsupported(path: String, detail: String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): "\(p): cannot read (\(r))"
        case .notWAV(let p): "\(p): not a WAV file (no RIFF/WAVE header)"
        case .unsupported(let p, let d): "\(p): \(d); convert it with: sox IN -b 16 -e signed OUT.wav"
        }
    }
}

public enum WAVFile {
    public static func read(path: String) throws(WAVError) -> WAVAudio {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String = "<data>") throws(WAVError) -> WAVAudio {
        let b = [UInt8](data)
        func u32(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24 }
        func u16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        guard b.count >= 12, b[0..<4].elementsEqual("RIFF".utf8), b[8..<12].elementsEqual("WAVE".utf8) else {
            throw .notWAV(path: path)
        }
        var i = 12
        var format: (tag: Int, channels: Int, rate: Int, bits: Int)?
        while i + 8 <= b.count {
            let id = String(decoding: b[i..<(i + 4)], as: UTF8.self)
            let size = u32(i + 4)
            let body = i + 8
            if id == "fmt ", body + 16 <= b.count {
                format = (u16(body), u16(body + 2), u32(body + 4), u16(body + 14))
            } else if id == "data" {
                guard let f = format else { throw .unsupported(path: path, detail: "data before fmt chunk") }
                guard f.tag == 1 || f.tag == 0xFFFE, f.bits == 16 else {
                    throw .unsupported(path: path, detail: "only 16-bit PCM is supported (found format \(f.tag), \(f.bits) bits)")
                }
                let end = min(b.count, body + size)
                let pcm = data.subdata(in: (data.startIndex + body)..<(data.startIndex + end))
                return WAVAudio(sampleRate: f.rate, channels: max(1, f.channels), samples: PCM.samples(pcm))
            }
            i = body + size + (size & 1)
        }
        throw .unsupported(path: path, detail: "no data chunk")
    }

    public static func encode(_ audio: WAVAudio) -> Data {
        var d = Data()
        func put32(_ v: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { d.append(contentsOf: $0) } }
        func put16(_ v: Int) { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { d.append(contentsOf: $0) } }
        let dataBytes = audio.samples.count * 2
        d.append(contentsOf: Array("RIFF".utf8)); put32(36 + dataBytes); d.append(contentsOf: Array("WAVE".utf8))
        d.append(contentsOf: Array("fmt ".utf8)); put32(16); put16(1); put16(audio.channels); put32(audio.sampleRate)
        put32(audio.sampleRate * audio.channels * 2); put16(audio.channels * 2); put16(16)
        d.append(contentsOf: Array("data".utf8)); put32(dataBytes)
        d.append(PCM.data(audio.samples))
        return d
    }
}

/// Appends PCM to a WAV file as it arrives and fixes the header sizes on `close()`.
public final class WAVWriter: @unchecked Sendable {
    private let handle: FileHandle
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var bytes = 0
    private var closed = false
    public let path: String
    public let sampleRate: Int

    public init(path: String, sampleRate: Int) throws(WAVError) {
        self.path = path
        self.sampleRate = sampleRate
        guard FileManager.default.createFile(atPath: path, contents: WAVFile.encode(WAVAudio(sampleRate: sampleRate, samples: []))),
              let h = FileHandle(forWritingAtPath: path)
        else { throw .unreadable(path: path, reason: "cannot create the file") }
        handle = h
        handle.seekToEndOfFile()
    }

    public func append(_ pcm: Data) {
        lock.withLock {
            guard !closed else { return }
            handle.write(pcm)
            bytes += pcm.count
        }
    }

    public func close() {
        lock.withLock {
            guard !closed else { return }
            closed = true
            handle.seek(toFileOffset: 4)
            handle.write(le32(36 + bytes))
            handle.seek(toFileOffset: 40)
            handle.write(le32(bytes))
            try? handle.close()
        }
    }

    private func le32(_ v: Int) -> Data { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { Data($0) } }
}
