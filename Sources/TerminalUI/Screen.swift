// TerminalUI — the pure UI core: AppModel, AppEvent, Effect, update(&model, event) -> [Effect],
// render(model) -> Screen, panes, themes, keymap, key decoding. Never imports ncurses or any I/O.
import Foundation

/// A terminal colour: the default, or one of the 256 indexed colours.
public enum TermColor: Hashable, Sendable {
    case `default`
    case index(Int)

    static let names: [String: Int] = [
        "black": 0, "red": 1, "green": 2, "yellow": 3, "blue": 4, "magenta": 5, "cyan": 6, "white": 7,
        "bright-black": 8, "gray": 8, "grey": 8, "bright-red": 9, "bright-green": 10, "bright-yellow": 11,
        "bright-blue": 12, "bright-magenta": 13, "bright-cyan": 14, "bright-white": 15,
    ]

    /// "red", "bright-blue", "default", "0"–"255", or "#rrggbb" (mapped to the 256-colour cube).
    public init?(name: String) {
        let n = name.lowercased()
        if n == "default" || n == "none" { self = .default; return }
        if let i = Self.names[n] { self = .index(i); return }
        if let i = Int(n), (0...255).contains(i) { self = .index(i); return }
        if n.hasPrefix("#"), n.count == 7, let v = Int(n.dropFirst(), radix: 16) {
            func q(_ c: Int) -> Int { c < 48 ? 0 : c < 115 ? 1 : (c - 35) / 40 }
            self = .index(16 + 36 * q(v >> 16 & 255) + 6 * q(v >> 8 & 255) + q(v & 255))
            return
        }
        return nil
    }
}

/// How a cell looks.
public struct Style: Hashable, Sendable {
    public var fg: TermColor = .default
    public var bg: TermColor = .default
    public var bold = false
    public var dim = false
    public var reverse = false
    public var underline = false
    public init(fg: TermColor = .default, bg: TermColor = .default, bold: Bool = false, dim: Bool = false,
                reverse: Bool = false, underline: Bool = false) {
        self.fg = fg
        self.bg = bg
        self.bold = bold
        self.dim = dim
        self.reverse = reverse
        self.underline = underline
    }
    public static let plain = Style()
}

/// One cell. A wide character occupies its cell and a `continuation` cell after it.
public struct Cell: Hashable, Sendable {
    public var text: String
    public var style: Style
    public var continuation: Bool
    public static let blank = Cell(text: " ", style: .plain, continuation: false)
}

/// A rectangle of the screen.
public struct Rect: Hashable, Sendable {
    public var x, y, width, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }
    public var isEmpty: Bool { width <= 0 || height <= 0 }
    public func inset(_ d: Int) -> Rect { Rect(x: x + d, y: y + d, width: width - 2 * d, height: height - 2 * d) }
}

/// A grid of cells: what `render` produces and the curses backend diffs and draws.
public struct Screen: Hashable, Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]
    public var cursor: (x: Int, y: Int)? {
        get { cursorX.map { ($0, cursorY) } }
        set { cursorX = newValue?.x; cursorY = newValue?.y ?? 0 }
    }
    private var cursorX: Int?
    private var cursorY = 0

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: .blank, count: self.width * self.height)
    }

    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { cells[y * width + x] = newValue }
    }

    /// Writes `text` at (x, y), clipped to `clip` (by display columns); returns columns used.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style, clip: Rect? = nil) -> Int {
        let c = clip ?? bounds
        guard y >= c.y, y < c.y + c.height, y >= 0, y < height else { return 0 }
        var col = x
        let maxX = min(c.x + c.width, width)
        for ch in text {
            let w = DisplayWidth.of(ch)
            if w == 0 { continue }
            if col + w > maxX { break }
            if col >= max(c.x, 0) {
                self[col, y] = Cell(text: String(ch), style: style, continuation: false)
                if w == 2 { self[col + 1, y] = Cell(text: "", style: style, continuation: true) }
            }
            col += w
        }
        return col - x
    }

    public mutating func fill(_ r: Rect, style: Style, char: String = " ") {
        for yy in max(r.y, 0)..<min(r.y + r.height, height) {
            for xx in max(r.x, 0)..<min(r.x + r.width, width) { self[xx, yy] = Cell(text: char, style: style, continuation: false) }
        }
    }

    /// A box with a title on its top edge.
    public mutating func box(_ r: Rect, title: String, style: Style, titleStyle: Style, ascii: Bool = false) {
        guard r.width >= 2, r.height >= 2 else { return }
        let (h, v, tl, tr, bl, br) = ascii ? ("-", "|", "+", "+", "+", "+") : ("─", "│", "┌", "┐", "└", "┘")
        for xx in (r.x + 1)..<(r.x + r.width - 1) {
            put(h, x: xx, y: r.y, style: style)
            put(h, x: xx, y: r.y + r.height - 1, style: style)
        }
        for yy in (r.y + 1)..<(r.y + r.height - 1) {
            put(v, x: r.x, y: yy, style: style)
            put(v, x: r.x + r.width - 1, y: yy, style: style)
        }
        put(tl, x: r.x, y: r.y, style: style)
        put(tr, x: r.x + r.width - 1, y: r.y, style: style)
        put(bl, x: r.x, y: r.y + r.height - 1, style: style)
        put(br, x: r.x + r.width - 1, y: r.y + r.height - 1, style: style)
        if !title.isEmpty, r.width > 4 {
            put(" \(title) ", x: r.x + 2, y: r.y, style: titleStyle, clip: Rect(x: r.x + 1, y: r.y, width: r.width - 2, height: 1))
        }
    }

    /// Rows as plain text (continuation cells skipped) — for tests and snapshots.
    public var rows: [String] {
        (0..<height).map { y in (0..<width).map { self[$0, y] }.filter { !$0.continuation }.map(\.text).joined() }
    }

    public static func == (a: Screen, b: Screen) -> Bool {
        a.width == b.width && a.height == b.height && a.cells == b.cells && a.cursorX == b.cursorX && a.cursorY == b.cursorY
    }

    public func hash(into h: inout Hasher) {
        h.combine(width)
        h.combine(height)
        h.combine(cells)
    }
}

/// Terminal display width of a character (East Asian Wide/Fullwidth and emoji = 2, marks = 0).
public enum DisplayWidth {
    public static func of(_ ch: Character) -> Int {
        guard let s = ch.unicodeScalars.first else { return 0 }
        let v = s.value
        if v >= 0x20 && v < 0x7F { return 1 }   // ASCII fast path
        if v == 0 || (v < 32) || (0x7F..<0xA0).contains(v) { return 0 }
        if s.properties.generalCategory == .nonspacingMark || s.properties.generalCategory == .enclosingMark { return 0 }
        if (0x200B...0x200F).contains(v) || v == 0xFE0F || v == 0xFE0E { return 0 }
        if v < 0x1100 { return 1 }
        return wide.contains { $0.contains(v) } ? 2 : 1
    }

    static let wide: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x23E9...0x23EC, 0x23F0...0x23F0, 0x23F3...0x23F3,
        0x25FD...0x25FE, 0x2614...0x2615, 0x2648...0x2653, 0x267F...0x267F, 0x2693...0x2693, 0x26A1...0x26A1,
        0x26AA...0x26AB, 0x26BD...0x26BE, 0x26C4...0x26C5, 0x26CE...0x26CE, 0x26D4...0x26D4, 0x26EA...0x26EA,
        0x26F2...0x26F3, 0x26F5...0x26F5, 0x26FA...0x26FA, 0x26FD...0x26FD, 0x2705...0x2705, 0x270A...0x270B,
        0x2728...0x2728, 0x274C...0x274C, 0x274E...0x274E, 0x2753...0x2755, 0x2757...0x2757, 0x2795...0x2797,
        0x27B0...0x27B0, 0x27BF...0x27BF, 0x2B1B...0x2B1C, 0x2B50...0x2B50, 0x2B55...0x2B55,
        0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF, 0xA960...0xA97F,
        0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
        0x1F004...0x1F004, 0x1F0CF...0x1F0CF, 0x1F18E...0x1F18E, 0x1F191...0x1F19A, 0x1F200...0x1F251,
        0x1F300...0x1F320, 0x1F32D...0x1F335, 0x1F337...0x1F37C, 0x1F37E...0x1F393, 0x1F3A0...0x1F3CA,
        0x1F3CF...0x1F3D3, 0x1F3E0...0x1F3F0, 0x1F3F4...0x1F3F4, 0x1F3F8...0x1F43E, 0x1F440...0x1F440,
        0x1F442...0x1F4FC, 0x1F4FF...0x1F53D, 0x1F54B...0x1F54E, 0x1F550...0x1F567, 0x1F57A...0x1F57A,
        0x1F595...0x1F596, 0x1F5A4...0x1F5A4, 0x1F5FB...0x1F64F, 0x1F680...0x1F6C5, 0x1F6CC...0x1F6CC,
        0x1F6D0...0x1F6D2, 0x1F6D5...0x1F6D7, 0x1F6EB...0x1F6EC, 0x1F6F4...0x1F6FC, 0x1F7E0...0x1F7EB,
        0x1F90C...0x1F93A, 0x1F93C...0x1F945, 0x1F947...0x1F9FF, 0x1FA70...0x1FAFF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
    ]

    public static func of(_ s: String) -> Int { s.reduce(0) { $0 + of($1) } }

    /// The longest prefix of `s` that fits in `columns`.
    public static func prefix(_ s: String, columns: Int) -> String {
        var used = 0
        var out = ""
        for ch in s {
            let w = of(ch)
            if used + w > columns { break }
            used += w
            out.append(ch)
        }
        return out
    }

    /// Word-wraps `s` into lines of at most `columns` display columns.
    public static func wrap(_ s: String, columns: Int) -> [String] {
        guard columns > 0 else { return [] }
        var lines: [String] = []
        var line = ""
        var lineW = 0
        for word in s.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            var w = word
            var ww = of(w)
            let sep = line.isEmpty ? 0 : 1
            if lineW + sep + ww <= columns {
                line += (sep == 1 ? " " : "") + w
                lineW += sep + ww
                continue
            }
            if !line.isEmpty { lines.append(line) }
            line = ""
            lineW = 0
            while ww > columns {   // a word longer than the line: hard-break it
                let head = prefix(w, columns: columns)
                lines.append(head)
                w = String(w.dropFirst(head.count))
                ww = of(w)
            }
            line = w
            lineW = ww
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }
}
