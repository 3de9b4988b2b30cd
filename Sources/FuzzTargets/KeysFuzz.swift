import Foundation
import TerminalUI

/// Terminal input through `KeyDecoder`, as `CursesBackend` feeds it: one Unicode scalar at a time.
/// The byte 0xFF (never valid UTF-8) stands for a quiet moment: the bytes before it are decoded
/// as UTF-8 and fed, then `flush()` is called, as the backend does when input pauses.
enum KeysFuzz {
    static func run(_ bytes: [UInt8]) {
        var decoder = KeyDecoder()
        var keys = 0
        for chunk in bytes.split(separator: 0xFF, omittingEmptySubsequences: false) {
            for scalar in String(decoding: chunk, as: UTF8.self).unicodeScalars {
                keys += decoder.feed(scalar).count
            }
            keys += decoder.flush().count
            // After a flush nothing may be left pending.
            precondition(decoder.flush().isEmpty, "KeyDecoder.flush() left input pending")
        }
        _ = keys
    }
}
