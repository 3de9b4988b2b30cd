import AudioCore
import Foundation
import LiveProtocol
import Speech

/// Streams one reply (`TurnMachine.Reply`) in real time: paced 24 kHz audio chunks with their
/// `outputTranscription` (AUDIO modality), or the words as text parts (TEXT). The mid-reply
/// faults (`dropMidReply`, `stall`) fire here. Every message goes through `send`, which says
/// whether the turn is still current: the stream stops as soon as it is not.
struct ReplyStreamer: Sendable {
    let synthesizer: any SpeechSynthesizing
    let chunkMilliseconds: Int
    let faults: FaultPlan
    let shared: EmulatorState

    /// Sends a message of the reply; false when the turn was cut off (nothing was sent).
    typealias Send = @Sendable (ServerMessage) async -> Bool

    /// True when the whole reply went out; false when cut off (barge-in, close, a fault).
    func stream(_ reply: TurnMachine.Reply, replyNumber: Int, send: Send, drop: @Sendable () async -> Void) async -> Bool {
        let words = reply.text.split(separator: " ").map(String.init)
        if reply.asText {
            for (i, w) in words.enumerated() {
                let piece = (i == 0 ? "" : " ") + w
                guard await send(.serverContent(ServerContent(modelTurn: Content(role: "model", parts: [Part(text: piece)])))) else {
                    return false
                }
                try? await Task.sleep(for: .milliseconds(15))
            }
            return !Task.isCancelled
        }
        // R7: the reply is synthesised a piece (a sentence, or at most `pieceCharacters`) at a
        // time, the next piece while the current one streams, so one long reply never holds the
        // process-wide espeak-ng queue (other connections' replies interleave) nor the connection.
        let pieces = Self.speechPieces(reply.text)
        guard !pieces.isEmpty else { return !Task.isCancelled }
        let synthesizer = self.synthesizer
        func synthesize(_ piece: String) -> Task<SpokenText, Never> {
            Task.detached(priority: .medium) {
                await synthesizer.speak(piece, voiceName: reply.voiceName, languageCode: reply.languageCode, rate: 24000)
            }
        }
        let chunk = max(1, 24000 * chunkMilliseconds / 1000)
        let clock = ContinuousClock()
        var start: ContinuousClock.Instant?
        var samplesSent = 0
        var upcoming: Task<SpokenText, Never>? = synthesize(pieces[0])
        defer { upcoming?.cancel() }
        for p in pieces.indices {
            guard let current = upcoming else { break }
            let voiced = await current.value
            upcoming = p + 1 < pieces.count ? synthesize(pieces[p + 1]) : nil
            guard !Task.isCancelled else { return false }
            let audio = voiced.samples
            var spokenWords = voiced.words
            if p > 0, !spokenWords.isEmpty { spokenWords[0].text = " " + spokenWords[0].text }
            let chunkCount = (audio.count + chunk - 1) / chunk
            // Faults fire in the middle of the first piece (the whole reply when it is one piece).
            let dropAt = p == 0 && faults.dropMidReply == replyNumber ? max(1, chunkCount / 2) : nil
            let stallAt = p == 0 && faults.stall != nil ? max(1, chunkCount / 2) : nil
            var wordIndex = 0
            if start == nil { start = clock.now }
            for i in 0..<chunkCount {
                guard !Task.isCancelled else { return false }
                if i == dropAt, await shared.fireOnce("dropMidReply") {
                    await drop()
                    return false
                }
                if i == stallAt, let stall = faults.stall, await shared.fireOnce("stall") {
                    try? await Task.sleep(for: stall)
                }
                let c = Array(audio[(i * chunk)..<min((i + 1) * chunk, audio.count)])
                guard await send(.serverContent(ServerContent(modelTurn: Content(parts: [
                    Part(inlineData: Blob(mimeType: Blob.pcm24kMime, data: PCM.data(c))),
                ])))) else { return false }
                if reply.transcribe {
                    // The words whose sound starts in this chunk (the last chunk carries any rest).
                    let end = i == chunkCount - 1 ? Int.max : (i + 1) * chunk
                    let due = spokenWords[wordIndex...].prefix { $0.startSample < end }.count
                    if due > 0 {
                        let piece = spokenWords[wordIndex..<(wordIndex + due)].map(\.text).joined()
                        guard await send(.serverContent(ServerContent(outputTranscription: Transcription(text: piece)))) else {
                            return false
                        }
                        wordIndex += due
                    }
                }
                samplesSent += c.count
                if let start {
                    try? await Task.sleep(until: start + .microseconds(Int64(samplesSent) * 1_000_000 / 24000), clock: clock)
                }
            }
            if reply.transcribe, wordIndex < spokenWords.count {
                // A piece with no audio still says its words.
                let rest = spokenWords[wordIndex...].map(\.text).joined()
                guard await send(.serverContent(ServerContent(outputTranscription: Transcription(text: rest)))) else { return false }
            }
        }
        return !Task.isCancelled
    }

    /// Longest piece of a reply synthesised at once (see `stream`).
    static let pieceCharacters = 240

    /// A reply cut into pieces for synthesis: whole sentences, packed up to `pieceCharacters`;
    /// a longer sentence is cut between words (a longer word on its own). Joined with single
    /// spaces, the pieces are the reply's words joined with single spaces.
    static func speechPieces(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        for word in text.split(whereSeparator: { $0.isWhitespace }) {
            if !current.isEmpty, current.count + 1 + word.count > pieceCharacters {
                pieces.append(current)
                current = ""
            }
            current += (current.isEmpty ? "" : " ") + word
            if let last = word.last, ".!?".contains(last), current.count >= pieceCharacters / 4 {
                pieces.append(current)
                current = ""
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }
}
