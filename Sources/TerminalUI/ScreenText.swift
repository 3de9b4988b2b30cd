import Foundation

/// Text from the session (transcripts, tool arguments and results, warnings) is untrusted: a peer
/// could send terminal escape sequences (clear the screen, set the window title, move the cursor)
/// or megabytes of it. Everything that enters the model from a `SessionEvent` goes through
/// `sanitize` first, so the screen only ever shows printable text of bounded length.
public enum ScreenText {
    /// The most characters one fragment (one event's text) may bring into the model.
    public static let maxFragmentCharacters = 2_000
    /// What a tab becomes (the screen has no tab stops).
    public static let tab = "    "

    /// `text` without escape sequences (CSI, OSC, DCS/SOS/PM/APC strings and two-byte ESC
    /// sequences, in their 7-bit and C1 forms), without other C0/C1 control characters and DEL,
    /// with tabs as spaces, newlines kept, cut to `limit` characters (then ending in "…").
    public static func sanitize(_ text: String, limit: Int = maxFragmentCharacters) -> String {
        let limit = max(0, limit)
        // Fast path: plain printable text that fits.
        if text.utf8.count <= limit, text.utf8.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x0A }) { return text }
        enum State { case text, escape, csi, string, stringEscape }
        var state = State.text
        var out = String.UnicodeScalarView()
        var emitted = 0
        // Stop converting well past the limit; the final cut is by characters below.
        let scalarBudget = limit * 4 + 16
        for u in text.unicodeScalars {
            if emitted > scalarBudget { break }
            let v = u.value
            switch state {
            case .text:
                switch v {
                case 0x1B: state = .escape
                case 0x9B: state = .csi
                case 0x90, 0x98, 0x9D, 0x9E, 0x9F: state = .string   // DCS, SOS, OSC, PM, APC
                case 0x0A: out.append(u); emitted += 1
                case 0x09: out.append(contentsOf: tab.unicodeScalars); emitted += 4
                case 0..<0x20, 0x7F..<0xA0: break                      // other C0, DEL, C1
                default: out.append(u); emitted += 1
                }
            case .escape:
                switch v {
                case 0x5B: state = .csi                                // ESC [
                case 0x50, 0x58, 0x5D, 0x5E, 0x5F: state = .string     // ESC P, X, ], ^, _
                case 0x20...0x2F: break                                // intermediates: wait for the final byte
                default: state = .text                                 // ESC + one character: dropped
                }
            case .csi:
                // Parameters and intermediates 0x20–0x3F; a final byte 0x40–0x7E ends it; anything else aborts it.
                if (0x40...0x7E).contains(v) || !(0x20...0x3F).contains(v) { state = .text }
            case .string:
                if v == 0x07 || v == 0x9C { state = .text } else if v == 0x1B { state = .stringEscape }
            case .stringEscape:
                state = v == 0x5C ? .text : .string                    // ESC \ ends it
            }
        }
        let s = String(out)
        guard s.count > limit else { return s }
        return limit == 0 ? "" : String(s.prefix(limit - 1)) + "…"
    }
}
