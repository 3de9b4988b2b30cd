// livetalk-bench decode — the wire format of the steady state: serverContent audio messages decoded
// per second (the client's receive path), and realtimeInput audio messages encoded per second (its
// microphone path); each also through the general Codable path, for comparison with the fast paths.
import ArgumentParser
import Foundation
import LiveProtocol

struct DecodeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "serverContent audio messages (40 ms of 24 kHz PCM) decoded and microphone messages (20 ms) encoded per second.")

    func run() throws { try benchDecode() }
}

/// Median of 5 rounds of `n` calls, per second.
private func rate(_ n: Int, _ body: () throws -> Void) rethrows -> Double {
    var rates: [Double] = []
    for _ in 0..<5 {
        let t0 = ContinuousClock.now
        for _ in 0..<n { try body() }
        rates.append(Double(n) / (ContinuousClock.now - t0).seconds)
    }
    return median(rates)
}

/// serverContent audio messages (40 ms of 24 kHz PCM, as the emulator sends) decoded per second;
/// realtimeInput audio (20 ms of 16 kHz PCM, as the microphone sends) encoded per second.
func benchDecode() throws {
    let pcm = Data((0..<1920).map { UInt8(truncatingIfNeeded: $0 &* 7) })
    let msg = ServerMessage.serverContent(ServerContent(modelTurn: Content(parts: [Part(inlineData: Blob(mimeType: Blob.pcm24kMime, data: pcm))])))
    let data = try LiveCoder.encode(msg)
    var bytes = 0
    func audioBytes(_ m: ServerMessage) -> Int {
        if case .serverContent(let c) = m.payload { return c.modelTurn?.parts?.first?.inlineData?.data.count ?? 0 }
        return 0
    }
    let r = try rate(20_000) { bytes += audioBytes(try LiveCoder.decodeServer(data)) }
    let codable = try rate(20_000) { bytes += audioBytes(try LiveCoder.decodeServerCodable(data)) }
    precondition(bytes == 2 * 5 * 20_000 * 1920)
    report("decode.audio_messages_per_s", r, "msg/s")
    report("decode.wire_MB_per_s", r * Double(data.count) / 1e6, "MB/s")
    report("decode.pcm_MB_per_s", r * 1920 / 1e6, "MB/s")
    report("decode.codable_audio_messages_per_s", codable, "msg/s")

    let mic = ClientMessage.realtimeInput(.audio(pcm16k: Data(pcm.prefix(640))))
    var size = 0
    let e = try rate(50_000) { size += try LiveCoder.encode(mic).count }
    let eCodable = try rate(50_000) { size += try LiveCoder.encodeCodable(mic).count }
    precondition(size > 0)
    report("encode.mic_audio_messages_per_s", e, "msg/s")
    report("encode.codable_mic_audio_messages_per_s", eCodable, "msg/s")
}
