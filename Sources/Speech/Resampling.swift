// Speech — the emulator's offline voice and ears: espeak-ng synthesis, pocketsphinx recognition,
// speexdsp resampling. Only the Emulator (and its tests and benchmarks) link this target; the
// client talks to any Live API server through the wire protocol and never calls into it.
import CSpeexDSP

/// One-shot sample-rate conversion with speexdsp (quality 5), latency-compensated so the output
/// lines up with the input: same start, `count × to / from` samples long.
public enum SpeexResample {
    public static func convert(_ input: [Int16], from: Int, to: Int, quality: Int32 = 5) -> [Int16] {
        guard from != to, !input.isEmpty, from > 0, to > 0 else { return input }
        var err: Int32 = 0
        guard let st = speex_resampler_init(1, UInt32(from), UInt32(to), quality, &err) else { return input }
        defer { speex_resampler_destroy(st) }
        let inLatency = Int(speex_resampler_get_input_latency(st))
        let outLatency = Int(speex_resampler_get_output_latency(st))
        // Pad the input so the filter's tail comes out, then drop the output latency at the front.
        let padded = input + [Int16](repeating: 0, count: inLatency)
        let expected = Int((Double(input.count) * Double(to) / Double(from)).rounded())
        var out = [Int16](repeating: 0, count: expected + outLatency + 64)
        var inLen = UInt32(padded.count)
        var outLen = UInt32(out.count)
        padded.withUnsafeBufferPointer { ip in
            out.withUnsafeMutableBufferPointer { op in
                _ = speex_resampler_process_int(st, 0, ip.baseAddress, &inLen, op.baseAddress, &outLen)
            }
        }
        let produced = Int(outLen)
        let start = min(outLatency, produced)
        let end = min(produced, start + expected)
        var result = Array(out[start..<end])
        if result.count < expected { result += [Int16](repeating: 0, count: expected - result.count) }
        return result
    }
}
