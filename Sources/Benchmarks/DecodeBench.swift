// livetalk-bench decode — serverContent audio messages decoded per second (the client's receive path).
import ArgumentParser
import Foundation
import LiveProtocol

struct DecodeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode", abstract: "serverContent audio messages (40 ms of 24 kHz PCM) decoded per second.")

    func run() throws { try benchDecode() }
}

/// serverContent audio messages (40 ms of 24 kHz PCM, as the emulator sends) decoded per second.
func benchDecode() throws {
    let pcm = Data((0..<1920).map { UInt8(truncatingIfNeeded: $0 &* 7) })
    let msg = ServerMessage.serverContent(ServerContent(modelTurn: Content(parts: [Part(inlineData: Blob(mimeType: Blob.pcm24kMime, data: pcm))])))
    let data = try LiveCoder.encode(msg)
    var rates: [Double] = []
    for _ in 0..<5 {
        let n = 20_000
        let t0 = ContinuousClock.now
        var bytes = 0
        for _ in 0..<n {
            let m = try LiveCoder.decodeServer(data)
            if case .serverContent(let c) = m.payload { bytes += c.modelTurn?.parts?.first?.inlineData?.data.count ?? 0 }
        }
        rates.append(Double(n) / (ContinuousClock.now - t0).seconds)
        precondition(bytes == n * 1920)
    }
    let r = median(rates)
    report("decode.audio_messages_per_s", r, "msg/s")
    report("decode.wire_MB_per_s", r * Double(data.count) / 1e6, "MB/s")
    report("decode.pcm_MB_per_s", r * 1920 / 1e6, "MB/s")
}
