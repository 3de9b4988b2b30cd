// PulseAudio — the `AudioDevice` of AudioCore over libpulse-simple: one thread per stream, each
// `pa_simple` pointer created, used and freed on its own thread. Never imports UI or network code.
import AudioCore
import CPulseSimple
import Foundation

/// Why PulseAudio could not be used, worded for the user.
public struct PulseError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable { case noServer, noSuchDevice, other }
    public var kind: Kind
    public var message: String

    public var description: String { message }

    static func from(code: Int32, device: String?, direction: String, server: String? = nil) -> PulseError {
        let text = String(cString: pa_strerror(code))
        switch code {
        case Int32(PA_ERR_CONNECTIONREFUSED.rawValue), Int32(PA_ERR_CONNECTIONTERMINATED.rawValue), Int32(PA_ERR_INVALIDSERVER.rawValue):
            return PulseError(kind: .noServer, message: "no PulseAudio server at \(server ?? serverDescription): start one, or use --audio wav|null")
        case Int32(PA_ERR_NOENTITY.rawValue):
            return PulseError(kind: .noSuchDevice,
                              message: "no PulseAudio \(direction) named \"\(device ?? "")\": see `livetalk devices`")
        default:
            return PulseError(kind: .other, message: "PulseAudio \(direction)\(device.map { " \"\($0)\"" } ?? ""): \(text)")
        }
    }

    /// `$PULSE_SERVER`, or the default socket.
    public static var serverDescription: String {
        ProcessInfo.processInfo.environment["PULSE_SERVER"] ?? "the default socket (\(ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"] ?? "/run/user/…")/pulse/native)"
    }
}

/// What the device threads need from a stream: the real `PulseStream`, or a fake in tests.
/// Not thread-safe: one thread at a time uses it, except `flush`, which may come from another
/// thread beside a blocked `write` (pa_simple locks its mainloop per call; PLATFORM.md).
protocol DeviceStream: AnyObject {
    /// Reads exactly `count` samples; throws when the device went away.
    func read(count: Int) throws(PulseError) -> [Int16]
    func write(_ samples: [Int16]) throws(PulseError)
    func flush()
    func drain()
    /// Microseconds of audio between the application and the speaker; throws when the stream is dead.
    func latencyMicros() throws(PulseError) -> Int
}

/// One `pa_simple` stream. Not thread-safe by design: create, use and free it on one thread
/// (or hand it over whole from the thread that opened it to the one that uses it).
final class PulseStream: DeviceStream {
    let handle: OpaquePointer
    let bytesPerSecond: Int

    init(record: Bool, rate: Int, device: String?, name: String, fragmentMs: Int, targetLatencyMs: Int,
         server: String? = nil) throws(PulseError) {
        guard (1...384_000).contains(rate), (0...10_000).contains(fragmentMs), (0...10_000).contains(targetLatencyMs) else {
            throw PulseError(kind: .other, message: "PulseAudio: unsupported stream parameters (rate \(rate))")
        }
        var spec = pa_sample_spec(format: PA_SAMPLE_S16LE, rate: UInt32(rate), channels: 1)
        let none = UInt32.max
        let bytesPerMs = UInt32(rate * 2 / 1000)
        var attr = record
            ? pa_buffer_attr(maxlength: none, tlength: none, prebuf: none, minreq: none, fragsize: bytesPerMs * UInt32(fragmentMs))
            : pa_buffer_attr(maxlength: none, tlength: targetLatencyMs > 0 ? bytesPerMs * UInt32(targetLatencyMs) : none, prebuf: none,
                             minreq: bytesPerMs * UInt32(fragmentMs), fragsize: none)
        var err: Int32 = 0
        let h = pa_simple_new(server, "livetalk", record ? PA_STREAM_RECORD : PA_STREAM_PLAYBACK, device, name, &spec, nil, &attr, &err)
        guard let h else { throw PulseError.from(code: err, device: device, direction: record ? "source" : "sink", server: server) }
        handle = h
        bytesPerSecond = rate * 2
    }

    deinit { pa_simple_free(handle) }

    func read(count: Int) throws(PulseError) -> [Int16] {
        var out = [Int16](repeating: 0, count: count)
        var err: Int32 = 0
        let r = out.withUnsafeMutableBytes { pa_simple_read(handle, $0.baseAddress, $0.count, &err) }
        if r < 0 { throw PulseError.from(code: err, device: nil, direction: "source") }
        return out
    }

    func write(_ samples: [Int16]) throws(PulseError) {
        var err: Int32 = 0
        let r = samples.withUnsafeBytes { pa_simple_write(handle, $0.baseAddress, $0.count, &err) }
        if r < 0 { throw PulseError.from(code: err, device: nil, direction: "sink") }
    }

    func flush() {
        var err: Int32 = 0
        _ = pa_simple_flush(handle, &err)
    }

    func drain() {
        var err: Int32 = 0
        _ = pa_simple_drain(handle, &err)
    }

    func latencyMicros() throws(PulseError) -> Int {
        var err: Int32 = 0
        let raw = pa_simple_get_latency(handle, &err)
        return try Self.latency(raw: raw, error: err)
    }

    /// `pa_simple_get_latency` returns `(pa_usec_t)-1` once the context or stream is dead (R2):
    /// that is a lost stream, never a number. Anything else is clamped into `Int`.
    static func latency(raw: UInt64, error: Int32) throws(PulseError) -> Int {
        guard raw != UInt64.max else {
            let code = error != 0 ? error : Int32(PA_ERR_CONNECTIONTERMINATED.rawValue)
            throw PulseError.from(code: code, device: nil, direction: "sink")
        }
        return Int(clamping: raw)
    }
}
