import Foundation

/// A key as the UI understands it.
public enum Key: Hashable, Sendable {
    case char(Character)
    case enter, escape, backspace, tab, backTab, delete
    case up, down, left, right, pageUp, pageDown, home, end
    case ctrl(Character)
    /// A key release (only from terminals speaking the kitty keyboard protocol).
    case release(Character)
}

/// Decodes terminal input (Unicode scalars as read) into keys: UTF-8 text, control keys,
/// CSI/SS3 sequences for arrows and paging, and kitty keyboard protocol `CSI code;mods:event u`
/// (event 3 = release). An Esc alone is reported when `flush()` is called after a quiet moment.
public struct KeyDecoder: Sendable {
    private var pending: [UnicodeScalar] = []

    public init() {}

    public mutating func feed(_ s: UnicodeScalar) -> [Key] {
        pending.append(s)
        return drain(final: false)
    }

    /// No more input for a while: a lone Esc is an Esc.
    public mutating func flush() -> [Key] { drain(final: true) }

    private mutating func drain(final: Bool) -> [Key] {
        var out: [Key] = []
        while !pending.isEmpty {
            let (key, used) = parse(pending, final: final)
            if used == 0 { break }
            pending.removeFirst(used)
            if let key { out.append(key) }
        }
        return out
    }

    private func parse(_ p: [UnicodeScalar], final: Bool) -> (Key?, Int) {
        let c = p[0]
        switch c.value {
        case 0x1B:
            guard p.count > 1 else { return final ? (.escape, 1) : (nil, 0) }
            if p[1] == "[" || p[1] == "O" { return parseCSI(p, final: final) }
            return (.escape, 1)   // Esc followed by something else: Esc, then that
        case 0x0D, 0x0A: return (.enter, 1)
        case 0x09: return (.tab, 1)
        case 0x7F, 0x08: return (.backspace, 1)
        case 0x01...0x1A: return (.ctrl(Character(UnicodeScalar(c.value + 0x60)!)), 1)
        default: return (.char(Character(c)), 1)
        }
    }

    private func parseCSI(_ p: [UnicodeScalar], final: Bool) -> (Key?, Int) {
        // Find the final byte (0x40–0x7E) after ESC [ or ESC O.
        var i = 2
        while i < p.count {
            let v = p[i].value
            if (0x40...0x7E).contains(v) && !(p[1] == "[" && i == 2 && v == 0x5B) { break }
            i += 1
        }
        guard i < p.count else { return final ? (.escape, 1) : (nil, 0) }
        let params = String(String.UnicodeScalarView(p[2..<i]))
        let used = i + 1
        switch p[i] {
        case "A": return (.up, used)
        case "B": return (.down, used)
        case "C": return (.right, used)
        case "D": return (.left, used)
        case "H": return (.home, used)
        case "F": return (.end, used)
        case "Z": return (.backTab, used)
        case "~":
            switch params.split(separator: ";").first {
            case "5": return (.pageUp, used)
            case "6": return (.pageDown, used)
            case "3": return (.delete, used)
            case "1", "7": return (.home, used)
            case "4", "8": return (.end, used)
            default: return (nil, used)
            }
        case "u":
            // kitty: CSI code[:alt] ; mods[:event] u
            let fields = params.split(separator: ";", omittingEmptySubsequences: false)
            guard let code = fields.first.flatMap({ Int($0.split(separator: ":").first ?? "") }),
                  let scalar = UnicodeScalar(code) else { return (nil, used) }
            let event = fields.count > 1 ? Int(fields[1].split(separator: ":").dropFirst().first ?? "1") ?? 1 : 1
            let mods = fields.count > 1 ? (Int(fields[1].split(separator: ":").first ?? "1") ?? 1) - 1 : 0
            let ch = Character(scalar)
            if event == 3 { return (.release(ch), used) }
            switch code {
            case 13: return (.enter, used)
            case 27: return (.escape, used)
            case 9: return (.tab, used)
            case 127: return (.backspace, used)
            default:
                if mods & 4 != 0, let l = ch.lowercased().first { return (.ctrl(l), used) }
                return (.char(ch), used)
            }
        default:
            return (nil, used)
        }
    }
}
