import Foundation

/// A strict check of TOML text before it reaches TOMLKit.
///
/// TOMLKit 0.6.0 vendors toml++ 3.4.0, whose parser asserts its own preconditions: some malformed
/// inputs (`[*`, `x=[}`, a broken time) abort the process instead of failing (fuzz finding F1,
/// `Tests/FuzzCorpus/crashers/FINDINGS.md`). A config or theme file is input from outside, so it
/// must give a clear error, never a trap. This gate accepts the part of TOML that livetalk's files
/// use: comments, `[table]` and `[[array]]` headers, dotted keys (bare or quoted), and values that
/// are single-line strings, integers, floats, booleans, arrays and inline tables. Everything else
/// (multi-line strings, dates and times, hex/octal/binary numbers) is refused with its line number,
/// so toml++ only ever sees well-formed text of that subset.
public enum TOMLGate {
    public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Largest file accepted.
    public static let maxBytes = 1 << 20
    /// Deepest nesting of arrays and inline tables.
    public static let maxDepth = 32

    public static func check(_ text: String) throws(Rejection) {
        guard text.utf8.count <= maxBytes else { throw Rejection(line: 1, message: "the file is larger than 1 MiB") }
        var s = Scanner(Array(text.unicodeScalars))
        try s.document()
    }

    struct Scanner {
        let c: [Unicode.Scalar]
        var i = 0
        var line = 1

        init(_ c: [Unicode.Scalar]) { self.c = c }

        var peek: Unicode.Scalar? { i < c.count ? c[i] : nil }
        func peek(_ k: Int) -> Unicode.Scalar? { i + k < c.count ? c[i + k] : nil }

        func fail(_ m: String) -> Rejection { Rejection(line: line, message: m) }

        mutating func advance() {
            if c[i] == "\n" { line += 1 }
            i += 1
        }

        mutating func spaces() { while let p = peek, p == " " || p == "\t" { advance() } }

        /// Spaces, comments and newlines (inside arrays).
        mutating func blank() throws(Rejection) {
            while let p = peek {
                if p == " " || p == "\t" || p == "\n" { advance() } else if p == "\r", peek(1) == "\n" { advance() } else if p == "#" {
                    try comment()
                } else { return }
            }
        }

        mutating func comment() throws(Rejection) {
            advance()   // #
            while let p = peek, p != "\n" {
                if p == "\r", peek(1) == "\n" { return }
                if Self.isControl(p), p != "\t" { throw fail("a control character in a comment") }
                advance()
            }
        }

        /// End of a line: optional spaces and comment, then a newline or the end.
        mutating func endOfLine() throws(Rejection) {
            spaces()
            if peek == "#" { try comment() }
            if peek == "\r", peek(1) == "\n" { advance() }
            guard let p = peek else { return }
            guard p == "\n" else { throw fail("unexpected \(Self.show(p)) after the value (one key = value per line)") }
            advance()
        }

        static func isControl(_ p: Unicode.Scalar) -> Bool { p.value < 0x20 || p.value == 0x7F }

        static func show(_ p: Unicode.Scalar) -> String {
            isControl(p) || p.value > 0x7E ? String(format: "U+%04X", p.value) : "'\(Character(p))'"
        }

        mutating func document() throws(Rejection) {
            while true {
                spaces()
                guard let p = peek else { return }
                switch p {
                case "\n": advance()
                case "\r" where peek(1) == "\n": advance(); advance()
                case "#": try comment()
                case "[": try header()
                default:
                    try keyValue()
                    try endOfLine()
                }
            }
        }

        mutating func header() throws(Rejection) {
            advance()   // [
            let array = peek == "["
            if array { advance() }
            spaces()
            try dottedKey()
            spaces()
            guard peek == "]" else { throw fail("a table header must end with ]") }
            advance()
            if array {
                guard peek == "]" else { throw fail("an array-of-tables header must end with ]]") }
                advance()
            }
            try endOfLine()
        }

        mutating func dottedKey() throws(Rejection) {
            try key()
            while true {
                spaces()
                guard peek == "." else { return }
                advance()
                spaces()
                try key()
            }
        }

        mutating func key() throws(Rejection) {
            guard let p = peek else { throw fail("a key is missing") }
            if p == "\"" { try basicString(); return }
            if p == "'" { try literalString(); return }
            var n = 0
            while let q = peek, Self.isBare(q) {
                advance()
                n += 1
            }
            guard n > 0 else { throw fail("\(Self.show(p)) cannot start a key (use letters, digits, _ and -, or quotes)") }
        }

        static func isBare(_ p: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(p) || ("A"..."Z").contains(p) || ("0"..."9").contains(p) || p == "_" || p == "-"
        }

        mutating func keyValue() throws(Rejection) {
            try dottedKey()
            spaces()
            guard peek == "=" else { throw fail("expected = after the key") }
            advance()
            spaces()
            try value(depth: 0)
        }

        mutating func value(depth: Int) throws(Rejection) {
            guard depth < TOMLGate.maxDepth else { throw fail("values nested deeper than \(TOMLGate.maxDepth)") }
            guard let p = peek else { throw fail("a value is missing") }
            switch p {
            case "\"":
                if peek(1) == "\"", peek(2) == "\"" { throw fail("multi-line strings are not supported here") }
                try basicString()
            case "'":
                if peek(1) == "'", peek(2) == "'" { throw fail("multi-line strings are not supported here") }
                try literalString()
            case "[": try array(depth: depth + 1)
            case "{": try inlineTable(depth: depth + 1)
            case "t", "f": try word()
            default: try number()
            }
        }

        mutating func word() throws(Rejection) {
            var w = ""
            while let p = peek, ("a"..."z").contains(p) {
                w.unicodeScalars.append(p)
                advance()
            }
            guard w == "true" || w == "false" else { throw fail("\"\(w.prefix(20))\" is not a value (strings need quotes)") }
        }

        /// Decimal integers and floats: [+-] digits [_digits]* [. digits] [e [+-] digits]. No dates.
        mutating func number() throws(Rejection) {
            if peek == "+" || peek == "-" { advance() }
            guard try digits() else {
                throw fail(peek.map { "\(Self.show($0)) does not start a value (strings need quotes)" } ?? "a value is missing")
            }
            if peek == "." {
                advance()
                guard try digits() else { throw fail("a digit must follow the decimal point") }
            }
            if peek == "e" || peek == "E" {
                advance()
                if peek == "+" || peek == "-" { advance() }
                guard try digits() else { throw fail("a digit must follow the exponent") }
            }
            if let p = peek, p == "-" || p == ":" || p == "x" || p == "o" || p == "b" || Self.isBare(p) {
                throw fail("dates, times and hex/octal/binary numbers are not supported here")
            }
        }

        /// Digits with single underscores between them; false if none.
        mutating func digits() throws(Rejection) -> Bool {
            var n = 0
            var lastUnderscore = false
            while let p = peek {
                if ("0"..."9").contains(p) {
                    n += 1
                    lastUnderscore = false
                } else if p == "_", n > 0, !lastUnderscore {
                    lastUnderscore = true
                } else { break }
                advance()
            }
            if lastUnderscore { throw fail("an underscore must sit between digits") }
            return n > 0
        }

        mutating func basicString() throws(Rejection) {
            advance()   // "
            while let p = peek {
                switch p {
                case "\"":
                    advance()
                    return
                case "\\":
                    advance()
                    guard let e = peek else { throw fail("an unfinished escape") }
                    advance()
                    switch e {
                    case "b", "t", "n", "f", "r", "\"", "\\": break
                    case "u": try hex(4)
                    case "U": try hex(8)
                    default: throw fail("\\\(Self.show(e)) is not an escape TOML knows")
                    }
                case "\n": throw fail("a string must end on its line (missing \")")
                default:
                    if Self.isControl(p), p != "\t" { throw fail("a control character in a string (use an escape)") }
                    advance()
                }
            }
            throw fail("a string must end on its line (missing \")")
        }

        mutating func hex(_ n: Int) throws(Rejection) {
            var v: UInt32 = 0
            for _ in 0..<n {
                guard let p = peek, let d = Self.hexValue(p) else { throw fail("\\u needs \(n) hex digits") }
                v = v &* 16 &+ d
                advance()
            }
            guard Unicode.Scalar(v) != nil else { throw fail("\\u escape of a value that is not a character") }
        }

        static func hexValue(_ p: Unicode.Scalar) -> UInt32? {
            switch p {
            case "0"..."9": p.value - 48
            case "a"..."f": p.value - 87
            case "A"..."F": p.value - 55
            default: nil
            }
        }

        mutating func literalString() throws(Rejection) {
            advance()   // '
            while let p = peek {
                if p == "'" {
                    advance()
                    return
                }
                if p == "\n" { break }
                if Self.isControl(p), p != "\t" { throw fail("a control character in a string") }
                advance()
            }
            throw fail("a string must end on its line (missing ')")
        }

        mutating func array(depth: Int) throws(Rejection) {
            advance()   // [
            try blank()
            if peek == "]" {
                advance()
                return
            }
            while true {
                try value(depth: depth)
                try blank()
                guard let p = peek else { throw fail("an array must end with ]") }
                if p == "]" {
                    advance()
                    return
                }
                guard p == "," else { throw fail("expected , or ] in the array, found \(Self.show(p))") }
                advance()
                try blank()
                if peek == "]" {
                    advance()
                    return
                }
            }
        }

        mutating func inlineTable(depth: Int) throws(Rejection) {
            advance()   // {
            spaces()
            if peek == "}" {
                advance()
                return
            }
            while true {
                try keyValueInline(depth: depth)
                spaces()
                guard let p = peek else { throw fail("an inline table must end with }") }
                if p == "}" {
                    advance()
                    return
                }
                guard p == "," else { throw fail("expected , or } in the inline table, found \(Self.show(p))") }
                advance()
                spaces()
            }
        }

        mutating func keyValueInline(depth: Int) throws(Rejection) {
            try dottedKey()
            spaces()
            guard peek == "=" else { throw fail("expected = after the key") }
            advance()
            spaces()
            try value(depth: depth)
        }
    }
}
