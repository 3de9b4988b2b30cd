import AudioCore
import Foundation
import LiveSession
import LiveProtocol

public enum Layout {
    public static let minWidth = 80
    public static let minHeight = 24

    public struct Areas: Sendable {
        public var status, user, model, session, meters, tools, input, hints: Rect
    }

    public static func areas(width: Int, height: Int) -> Areas {
        let midTop = 1
        let midHeight = max(0, height - 3)
        let leftW = max(0, width * 2 / 3)
        let rightW = max(0, width - leftW)
        let userH = max(5, midHeight / 3)
        let sessionH = min(midHeight, height >= 40 ? 10 : 9)
        let metersH = min(max(0, midHeight - sessionH), 5)
        return Areas(
            status: Rect(x: 0, y: 0, width: width, height: 1),
            user: Rect(x: 0, y: midTop, width: leftW, height: min(userH, midHeight)),
            model: Rect(x: 0, y: midTop + userH, width: leftW, height: max(0, midHeight - userH)),
            session: Rect(x: leftW, y: midTop, width: rightW, height: sessionH),
            meters: Rect(x: leftW, y: midTop + sessionH, width: rightW, height: metersH),
            tools: Rect(x: leftW, y: midTop + sessionH + metersH, width: rightW, height: max(0, midHeight - sessionH - metersH)),
            input: Rect(x: 0, y: height - 2, width: width, height: 1),
            hints: Rect(x: 0, y: height - 1, width: width, height: 1))
    }
}

/// The whole screen for a model.
public func render(_ m: AppModel) -> Screen {
    var s = Screen(width: m.width, height: m.height)
    guard m.width >= Layout.minWidth, m.height >= Layout.minHeight else {
        renderTooSmall(m, into: &s)
        return s
    }
    let a = Layout.areas(width: m.width, height: m.height)
    renderStatusLine(m, a.status, &s)
    renderTranscript(m, .user, a.user, &s)
    renderTranscript(m, .model, a.model, &s)
    renderSession(m, a.session, &s)
    renderMeters(m, a.meters, &s)
    renderTools(m, a.tools, &s)
    renderInput(m, a.input, &s)
    renderHints(m, a.hints, &s)
    if m.showHelp { renderHelp(m, &s) }
    return s
}

func renderTooSmall(_ m: AppModel, into s: inout Screen) {
    let lines = ["Enlarge the terminal", "to at least \(Layout.minWidth)×\(Layout.minHeight)", "(now \(m.width)×\(m.height))", "q quits"]
    let top = max(0, (m.height - lines.count) / 2)
    for (i, l) in lines.enumerated() {
        let x = max(0, (m.width - DisplayWidth.of(l)) / 2)
        s.put(l, x: x, y: top + i, style: m.theme.style(i == 0 ? .title : .text))
    }
}

public func renderStatusLine(_ m: AppModel, _ r: Rect, _ s: inout Screen) {
    guard !r.isEmpty else { return }
    let st = m.theme.style(.statusBar)
    s.fill(r, style: st)
    let mode = m.pushToTalk ? "PTT" : "VAD"
    let left = " livetalk · \(m.modelName) · \(m.endpointKind) · \(mode) · mic \(m.micState.rawValue)"
    s.put(left, x: r.x, y: r.y, style: st, clip: r)
    var right = "? help "
    if let rec = m.recording { right = "● REC \(fmtDuration(max(0, m.now.timeIntervalSince(rec.since)))) · " + right }
    s.put(right, x: r.x + r.width - DisplayWidth.of(right), y: r.y, style: st, clip: r)
}

func stateRole(_ st: SessionState) -> Role {
    switch st {
    case .connecting: .stateConnecting
    case .connected: .stateConnected
    case .interrupted: .stateInterrupted
    case .closing: .stateClosing
    case .closed: .stateClosed
    case .disconnected: .stateDisconnected
    }
}

func frame(_ m: AppModel, _ pane: Pane?, _ title: String, _ r: Rect, _ s: inout Screen) -> Rect {
    let focused = pane == m.focus
    s.box(r, title: title, style: m.theme.style(focused ? .borderFocused : .border),
          titleStyle: m.theme.style(focused ? .borderFocused : .title), ascii: m.theme.ascii)
    return r.inset(1)
}

func fmtDuration(_ seconds: Double) -> String {
    let t = Int(seconds.rounded(.down))
    if t < 60 { return "\(t)s" }
    if t < 3600 { return "\(t / 60)m\(String(format: "%02d", t % 60))s" }
    return "\(t / 3600)h\(String(format: "%02d", t / 60 % 60))m"
}

public func renderSession(_ m: AppModel, _ r: Rect, _ s: inout Screen) {
    guard r.width >= 2, r.height >= 2 else { return }
    let inner = frame(m, .session, "4 Session", r, &s)
    var lines: [(String, Role)] = []
    var stateText = m.shownState.name
    if case .connecting(let a) = m.state, a > 0 { stateText += " (attempt \(a))" }
    lines.append(("● " + stateText, stateRole(m.shownState)))
    lines.append(("endpoint: \(m.endpointKind)", .text))
    if let since = m.connectedSince {
        lines.append(("connected: \(fmtDuration(m.now.timeIntervalSince(since)))", .text))
    }
    lines.append(("resumption: \(m.handleHeld ? "handle held" : "none")", .text))
    if let d = m.goAwayDeadline, m.state.isLive {
        lines.append(("goAway: closes in \(fmtDuration(max(0, d.timeIntervalSince(m.now))))", .stateClosing))
    }
    if m.reconnects > 0 { lines.append(("reconnects: \(m.reconnects)", .text)) }
    if m.echoCancellation { lines.append((Wording.echoReduction(m.echoReductionDB), .text)) }
    for l in Wording.latencyLines(m.latency) { lines.append((l, .text)) }
    if let e = m.lastError {
        for l in DisplayWidth.wrap(e.headline, columns: inner.width) { lines.append((l, .error)) }
        let hint = Wording.hint(e, face: .screen)
        if !hint.isEmpty { for l in DisplayWidth.wrap(hint, columns: inner.width) { lines.append((l, .hint)) } }
    } else if let w = m.lastWarning {
        for l in DisplayWidth.wrap(w, columns: inner.width) { lines.append((l, .hint)) }
    }
    for (i, (text, role)) in lines.prefix(inner.height).enumerated() {
        s.put(text, x: inner.x, y: inner.y + i, style: m.theme.style(role), clip: inner)
    }
}

/// A dBFS bar: -60…0 dBFS, zones green < -18, yellow < -6, red above; the held peak as a marker.
public func meterBar(_ r: MeterReading, width: Int, ascii: Bool) -> [(String, Role)] {
    guard width > 0 else { return [] }
    func col(_ db: Double) -> Int { Int(((max(-60, min(0, db)) + 60) / 60 * Double(width)).rounded()) }
    let fill = col(r.rmsDBFS)
    let peak = r.heldPeakDBFS > -60 ? min(width - 1, col(r.heldPeakDBFS)) : -1
    return (0..<width).map { i in
        let db = Double(i) / Double(width) * 60 - 60
        let zone: Role = db >= -6 ? .meterHigh : db >= -18 ? .meterMid : .meterLow
        if i == peak { return (ascii ? "|" : "▌", .meterPeak) }
        if i < fill { return (ascii ? "#" : "█", zone) }
        return (ascii ? "." : "·", .dim)
    }
}

public func renderMeters(_ m: AppModel, _ r: Rect, _ s: inout Screen) {
    guard r.width >= 2, r.height >= 2 else { return }
    let inner = frame(m, nil, "Levels dBFS", r, &s)
    guard inner.width > 12 else { return }
    let barW = inner.width - 10
    for (i, (label, reading)) in [("mic", m.mic), ("spk", m.speaker)].enumerated() where i < inner.height {
        let y = inner.y + i
        s.put(label, x: inner.x, y: y, style: m.theme.style(.text), clip: inner)
        for (j, (ch, role)) in meterBar(reading, width: barW, ascii: m.theme.ascii).enumerated() {
            s.put(ch, x: inner.x + 4 + j, y: y, style: m.theme.style(role), clip: inner)
        }
        let db = reading.rmsDBFS <= Level.floor ? "  -∞" : String(format: "%4.0f", reading.rmsDBFS)
        s.put(db, x: inner.x + 5 + barW, y: y, style: m.theme.style(.dim), clip: inner)
    }
    if inner.height >= 3 {
        let scale = "-60" + String(repeating: " ", count: max(0, barW - 4)) + "0"
        s.put(scale, x: inner.x + 4, y: inner.y + 2, style: m.theme.style(.dim), clip: inner)
    }
}

public func renderTools(_ m: AppModel, _ r: Rect, _ s: inout Screen) {
    guard r.width >= 2, r.height >= 2 else { return }
    let inner = frame(m, .tools, "3 Tools", r, &s)
    guard !inner.isEmpty else { return }
    if m.tools.isEmpty {
        s.put("no tool calls yet", x: inner.x, y: inner.y, style: m.theme.style(.dim), clip: inner)
        return
    }
    var rows: [(String, Role)] = []
    for t in m.tools {
        let role: Role = switch t.status {
        case .asking, .running: .toolRunning
        case .done: .toolDone
        case .failed: .toolFailed
        case .cancelled: .toolCancelled
        }
        let d = t.duration.map { d in
            let ms = d.milliseconds
            return ms < 1000 ? " \(ms)ms" : String(format: " %.1fs", Double(ms) / 1000)
        } ?? ""
        rows.append(("\(t.name) \(t.status.rawValue)\(d)", role))
        if !t.args.isEmpty { rows.append(("  " + t.args, .dim)) }
        if t.status == .asking {
            rows.append(("  allow? y/n", .toolRunning))
        } else if !t.detail.isEmpty, t.status != .running || t.detail != "background" {
            rows.append(("  → " + t.detail, t.status == .failed ? .toolFailed : .dim))
        }
    }
    let visible = window(rows.count, height: inner.height, scroll: m.scroll[.tools] ?? 0)
    for (i, row) in rows[visible].enumerated() {
        s.put(row.0, x: inner.x, y: inner.y + i, style: m.theme.style(row.1), clip: inner)
    }
}

/// The slice of `count` lines shown in `height` rows, `scroll` lines up from the bottom.
func window(_ count: Int, height: Int, scroll: Int) -> Range<Int> {
    let end = max(0, count - min(scroll, max(0, count - height)))
    return max(0, end - height)..<end
}

public func renderTranscript(_ m: AppModel, _ pane: Pane, _ r: Rect, _ s: inout Screen) {
    guard r.width >= 2, r.height >= 2 else { return }
    let isUser = pane == .user
    let inner = frame(m, pane, isUser ? "1 You" : "2 Model", r, &s)
    guard inner.width > 0, inner.height > 0 else { return }
    // Wrap from the newest entry back, only as far as the rows shown plus the scroll offset need
    // (a pane may hold thousands of entries; the frame clock renders 30 times a second).
    let needed = inner.height + max(0, m.scroll[pane] ?? 0)
    var newestFirst: [[(String, Role)]] = []
    var count = 0
    for e in (isUser ? m.userEntries : m.modelEntries).reversed() {
        if count >= needed { break }
        let role: Role = isUser ? .user : (e.thought ? .dim : e.interrupted ? .modelInterrupted : .model)
        let text = (e.thought ? Wording.thoughtPrefix : "") + e.text + (e.interrupted ? " [interrupted]" : "") + (e.live ? " ▍" : "")
        var wrapped = DisplayWidth.wrap(text, columns: inner.width).map { ($0, role) }
        for c in e.citations { wrapped += DisplayWidth.wrap(c, columns: inner.width).map { ($0, Role.hint) } }
        count += wrapped.count
        newestFirst.append(wrapped)
    }
    let lines: [(String, Role)] = newestFirst.reversed().flatMap { $0 }
    let visible = window(lines.count, height: inner.height, scroll: m.scroll[pane] ?? 0)
    for (i, line) in lines[visible].enumerated() {
        s.put(line.0, x: inner.x, y: inner.y + i, style: m.theme.style(line.1), clip: inner)
    }
    if (m.scroll[pane] ?? 0) > 0, inner.width > 10 {
        s.put("↓ more", x: inner.x + inner.width - 6, y: inner.y + inner.height - 1, style: m.theme.style(.hint), clip: inner)
    }
}

public func renderInput(_ m: AppModel, _ r: Rect, _ s: inout Screen) {
    guard !r.isEmpty else { return }
    if let text = m.input {
        let prompt = m.inputPurpose == .imagePath ? Wording.imagePrompt : "> "
        let avail = max(0, r.width - DisplayWidth.of(prompt) - 1)
        let (shown, width) = visibleSuffix(text, columns: avail)
        s.put(prompt + shown, x: r.x, y: r.y, style: m.theme.style(.input), clip: r)
        s.cursor = (r.x + DisplayWidth.of(prompt) + width, r.y)
    } else {
        let idle = m.pushToTalk
            ? (m.talking ? "● talking — Space to send" : "i or Enter to type · Space to talk")
            : "i or Enter to type · speak any time (voice detection)"
        s.put(idle, x: r.x, y: r.y, style: m.theme.style(.dim), clip: r)
    }
}

/// The longest end of `text` that fits in `columns`, and its width: one pass from the end (R17: a
/// 10,000-character paste is rendered on every key, so this must be linear, not quadratic).
func visibleSuffix(_ text: String, columns: Int) -> (Substring, Int) {
    var width = 0
    var start = text.endIndex
    while start > text.startIndex {
        let before = text.index(before: start)
        let w = DisplayWidth.of(text[before])
        if width + w > columns { break }
        width += w
        start = before
    }
    return (text[start...], width)
}

public func renderHints(_ m: AppModel, _ r: Rect, _ s: inout Screen) {
    guard !r.isEmpty else { return }
    let st = m.theme.style(.keyHint)
    s.fill(r, style: st)
    let hint = m.input != nil ? "Enter send · Esc cancel · ^U clear"
        : m.approvals.isEmpty ? Keymap.hint : "y allow the tool call · n refuse it (the model is told) · " + Keymap.hint
    s.put(hint, x: r.x, y: r.y, style: st, clip: r)
}

public func renderHelp(_ m: AppModel, _ s: inout Screen) {
    let lines = Keymap.helpLines
    let w = min(s.width - 2, (lines.map(DisplayWidth.of).max() ?? 0) + 4)
    let h = min(s.height - 2, lines.count + 2)
    guard w > 4, h > 2 else { return }
    let r = Rect(x: (s.width - w) / 2, y: (s.height - h) / 2, width: w, height: h)
    s.fill(r, style: m.theme.style(.overlay))
    s.box(r, title: "Keys (any key closes)", style: m.theme.style(.overlay), titleStyle: m.theme.style(.overlay), ascii: m.theme.ascii)
    for (i, l) in lines.prefix(h - 2).enumerated() {
        s.put(l, x: r.x + 2, y: r.y + 1 + i, style: m.theme.style(.overlay), clip: r.inset(1))
    }
}
