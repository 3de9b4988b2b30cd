import Foundation
#if canImport(Glibc)
import Glibc
#endif

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
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): "\(p): cannot read (\(r))"
        case .notWAV(let p): "\(p): not a WAV file (no RIFF/WAVE header)"
        case .unsupported(let p, let d): "\(p): \(d); convert it with: sox IN -b 16 -e signed OUT.wav"
        case .unwritable(let p, let r): "\(p): cannot write (\(r))"
        }
    }
}

public enum WAVFile {
    /// Sample rates a file may claim; anything else is refused before a sample is converted (R16).
    public static let supportedRates = 8_000...192_000
    /// Channel counts a file may claim.
    public static let supportedChannels = 1...32

    public static func read(path: String) throws(WAVError) -> WAVAudio {
        let data: Data
        // Mapped, not read: parsing then holds the file once (the mapping) plus the samples.
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String = "<data>") throws(WAVError) -> WAVAudio {
        let n = data.count
        let base = data.startIndex
        func byte(_ i: Int) -> Int { Int(data[base + i]) }
        func u32(_ i: Int) -> Int { byte(i) | byte(i + 1) << 8 | byte(i + 2) << 16 | byte(i + 3) << 24 }
        func u16(_ i: Int) -> Int { byte(i) | byte(i + 1) << 8 }
        func tag(_ i: Int) -> String { String(decoding: data[(base + i)..<(base + i + 4)], as: UTF8.self) }
        guard n >= 12, tag(0) == "RIFF", tag(8) == "WAVE" else {
            throw .notWAV(path: path)
        }
        var i = 12
        var format: (tag: Int, channels: Int, rate: Int, bits: Int)?
        while i + 8 <= n {
            let id = tag(i)
            let size = u32(i + 4)
            let body = i + 8
            if id == "fmt ", body + 16 <= n {
                let f = (tag: u16(body), channels: u16(body + 2), rate: u32(body + 4), bits: u16(body + 14))
                guard supportedRates.contains(f.rate) else {
                    throw .unsupported(path: path, detail: "sample rate \(f.rate) Hz is outside 8000–192000 Hz")
                }
                guard supportedChannels.contains(f.channels) else {
                    throw .unsupported(path: path, detail: "\(f.channels) channels (1–32 are supported)")
                }
                format = f
            } else if id == "data" {
                guard let f = format else { throw .unsupported(path: path, detail: "data before fmt chunk") }
                guard f.tag == 1 || f.tag == 0xFFFE, f.bits == 16 else {
                    throw .unsupported(path: path, detail: "only 16-bit PCM is supported (found format \(f.tag), \(f.bits) bits)")
                }
                let end = min(n, body + size)   // a size beyond the file is clamped to it
                return WAVAudio(sampleRate: f.rate, channels: f.channels, samples: PCM.samples(data, bytes: body..<end))
            }
            i = body + size + (size & 1)
        }
        throw .unsupported(path: path, detail: "no data chunk")
    }

    public static func encode(_ audio: WAVAudio) -> Data {
        var d = header(sampleRate: audio.sampleRate, channels: audio.channels, dataBytes: audio.samples.count * 2)
        d.append(PCM.data(audio.samples))
        return d
    }

    /// The 44-byte header of a 16-bit PCM file with `dataBytes` of samples.
    static func header(sampleRate: Int, channels: Int, dataBytes: Int) -> Data {
        var d = Data()
        func put32(_ v: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { d.append(contentsOf: $0) } }
        func put16(_ v: Int) { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { d.append(contentsOf: $0) } }
        d.append(contentsOf: Array("RIFF".utf8)); put32(36 + dataBytes); d.append(contentsOf: Array("WAVE".utf8))
        d.append(contentsOf: Array("fmt ".utf8)); put32(16); put16(1); put16(channels); put32(sampleRate)
        put32(sampleRate * channels * 2); put16(channels * 2); put16(16)
        d.append(contentsOf: Array("data".utf8)); put32(dataBytes)
        return d
    }
}

/// Why a private file could not be opened, worded for the user.
public struct PrivateFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Files that hold what the user said or heard (recordings, transcripts, logs): created 0600 and
/// never written through a symbolic link (R20). Writes go through the descriptor, so a full disk is
/// an error value, never a trap.
public enum PrivateFile {
    public enum Mode: Sendable { case truncate, append }

    /// Opens `path` for writing, creating it with mode 0600. A symbolic link is refused; an existing
    /// regular file is made 0600 (it is about to hold private data).
    public static func open(_ path: String, _ mode: Mode) throws(PrivateFileError) -> Int32 {
        let flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (mode == .truncate ? O_TRUNC : O_APPEND)
        let fd = Glibc.open(path, flags, mode_t(0o600))
        guard fd >= 0 else {
            let e = errno
            if e == ELOOP { throw PrivateFileError(path: path, reason: "is a symbolic link; refusing to write through it") }
            throw PrivateFileError(path: path, reason: String(cString: strerror(e)))
        }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_mode & 0o077 != 0 { _ = fchmod(fd, 0o600) }
        return fd
    }

    /// Writes all of `bytes` at the descriptor's offset; false on an error (disk full, I/O error).
    @discardableResult
    public static func write(_ fd: Int32, _ bytes: Data) -> Bool {
        bytes.withUnsafeBytes { buf -> Bool in
            guard var p = buf.baseAddress else { return true }
            var left = buf.count
            while left > 0 {
                let w = Glibc.write(fd, p, left)
                if w < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                left -= w
                p += w
            }
            return true
        }
    }

    /// Writes `bytes` at `offset` without moving the descriptor's offset.
    @discardableResult
    public static func write(_ fd: Int32, _ bytes: Data, at offset: Int) -> Bool {
        bytes.withUnsafeBytes { buf -> Bool in
            guard let p = buf.baseAddress else { return true }
            var done = 0
            while done < buf.count {
                let w = pwrite(fd, p + done, buf.count - done, off_t(offset + done))
                if w < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                done += w
            }
            return true
        }
    }
}

/// Appends PCM to a WAV file as it arrives. The RIFF and `data` sizes in the header are rewritten
/// every `headerEveryBytes` appended (about 0.5 s of audio) and on `close()`, so a process killed
/// outright (SIGKILL, power loss) leaves a playable file missing at most that last half second.
/// The file is created 0600 and never through a symbolic link.
public final class WAVWriter: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    // Guarded by `lock`:
    private var bytes = 0
    private var bytesAtLastHeader = 0
    private var closed = false
    private var failed = false
    public let path: String
    public let sampleRate: Int
    /// 1 (mono) or 2 (interleaved stereo, left first).
    public let channels: Int
    /// Audio appended between header rewrites: half a second.
    public let headerEveryBytes: Int

    public init(path: String, sampleRate: Int, channels: Int = 1) throws(WAVError) {
        self.path = path
        self.sampleRate = sampleRate
        self.channels = max(1, min(2, channels))
        headerEveryBytes = max(2, sampleRate * self.channels)   // rate × channels × 2 bytes × 0.5 s
        let fd: Int32
        do { fd = try PrivateFile.open(path, .truncate) } catch {
            throw .unwritable(path: path, reason: error.reason)
        }
        guard PrivateFile.write(fd, WAVFile.header(sampleRate: sampleRate, channels: self.channels, dataBytes: 0)) else {
            Glibc.close(fd)
            throw .unwritable(path: path, reason: "the header could not be written")
        }
        self.fd = fd
    }

    deinit { close() }

    public func append(_ pcm: Data) {
        lock.withLock {
            guard !closed, !failed, !pcm.isEmpty else { return }
            guard PrivateFile.write(fd, pcm) else {
                failed = true   // disk full or I/O error: keep what is there, with a correct header
                writeSizes()
                return
            }
            bytes += pcm.count
            if bytes - bytesAtLastHeader >= headerEveryBytes { writeSizes() }
        }
    }

    /// Audio bytes written so far.
    public var writtenBytes: Int { lock.withLock { bytes } }

    public func close() {
        lock.withLock {
            guard !closed else { return }
            closed = true
            writeSizes()
            Glibc.close(fd)
        }
    }

    /// Called with `lock` held.
    private func writeSizes() {
        PrivateFile.write(fd, le32(36 + bytes), at: 4)
        PrivateFile.write(fd, le32(bytes), at: 40)
        bytesAtLastHeader = bytes
    }

    private func le32(_ v: Int) -> Data { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { Data($0) } }
}
