import Foundation
import LiveProtocol

/// What a client sends, read as the emulator reads it (`TurnMachine`, on `received`): tolerant
/// decoding (snake_case keys, URL-safe base64). Whatever decodes is re-encoded, as the
/// emulator's transcripts and tests do.
enum ClientMessageFuzz {
    static func run(_ bytes: [UInt8]) {
        guard let message = try? LiveCoder.decodeClient(Data(bytes), mode: .tolerant) else { return }
        _ = message.kind
        _ = try? LiveCoder.encode(message)
    }
}
