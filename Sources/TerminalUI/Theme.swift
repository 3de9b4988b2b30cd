import Foundation

/// What a colour means, not which colour it is. Themes map roles to styles.
public enum Role: String, CaseIterable, Sendable, Hashable {
    case text, dim, border, borderFocused, title, statusBar
    case stateConnecting = "state_connecting", stateConnected = "state_connected"
    case stateInterrupted = "state_interrupted", stateClosing = "state_closing"
    case stateClosed = "state_closed", stateDisconnected = "state_disconnected"
    case user, model, modelInterrupted = "model_interrupted"
    case error, hint
    case meterLow = "meter_low", meterMid = "meter_mid", meterHigh = "meter_high", meterPeak = "meter_peak"
    case toolRunning = "tool_running", toolDone = "tool_done", toolFailed = "tool_failed", toolCancelled = "tool_cancelled"
    case input, keyHint = "key_hint", overlay

    /// The TOML key (snake_case).
    public var key: String {
        switch self {
        case .borderFocused: "border_focused"
        case .statusBar: "status_bar"
        default: rawValue
        }
    }
}

/// A named mapping from roles to styles, plus whether to draw with ASCII only.
public struct Theme: Sendable, Hashable {
    public var name: String
    public var styles: [Role: Style]
    /// Box drawing and meter bars in plain ASCII.
    public var ascii: Bool

    public init(name: String, styles: [Role: Style], ascii: Bool = false) {
        self.name = name
        self.styles = styles
        self.ascii = ascii
    }

    public func style(_ r: Role) -> Style { styles[r] ?? styles[.text] ?? .plain }

    /// No colours at all: bold/reverse/underline/dim carry the meaning (NO_COLOR, colourless terminals).
    public static let monochrome = Theme(name: "monochrome", styles: [
        .text: .plain, .dim: Style(dim: true), .border: .plain, .borderFocused: Style(bold: true),
        .title: Style(bold: true), .statusBar: Style(reverse: true),
        .stateConnecting: Style(underline: true), .stateConnected: Style(bold: true),
        .stateInterrupted: Style(bold: true, reverse: true), .stateClosing: Style(underline: true),
        .stateClosed: Style(reverse: true), .stateDisconnected: Style(dim: true),
        .user: Style(bold: true), .model: .plain, .modelInterrupted: Style(dim: true),
        .error: Style(bold: true, reverse: true), .hint: Style(dim: true),
        .meterLow: .plain, .meterMid: Style(bold: true), .meterHigh: Style(reverse: true), .meterPeak: Style(bold: true),
        .toolRunning: Style(bold: true), .toolDone: .plain, .toolFailed: Style(reverse: true), .toolCancelled: Style(dim: true),
        .input: Style(underline: true), .keyHint: Style(reverse: true), .overlay: Style(reverse: true),
    ])

    /// The default theme, built in so that an installed binary without `themes/` still starts in
    /// colour (R18). Identical to `themes/dark.toml` (a test compares them); change both together.
    public static let dark = Theme(name: "dark", styles: [
        .text: .plain,
        .dim: Style(fg: .index(8)),
        .border: Style(fg: .index(8)),
        .borderFocused: Style(fg: .index(14), bold: true),
        .title: Style(fg: .index(6), bold: true),
        .statusBar: Style(fg: .index(0), bg: .index(6)),
        .stateConnecting: Style(fg: .index(3), bold: true),
        .stateConnected: Style(fg: .index(2), bold: true),
        .stateInterrupted: Style(fg: .index(5), bold: true),
        .stateClosing: Style(fg: .index(3)),
        .stateClosed: Style(fg: .index(1), bold: true),
        .stateDisconnected: Style(fg: .index(8), bold: true),
        .user: Style(fg: .index(15), bold: true),
        .model: Style(fg: .index(14)),
        .modelInterrupted: Style(fg: .index(6), dim: true),
        .error: Style(fg: .index(9), bold: true),
        .hint: Style(fg: .index(3)),
        .meterLow: Style(fg: .index(2)),
        .meterMid: Style(fg: .index(3)),
        .meterHigh: Style(fg: .index(1)),
        .meterPeak: Style(fg: .index(15), bold: true),
        .toolRunning: Style(fg: .index(3), bold: true),
        .toolDone: Style(fg: .index(2)),
        .toolFailed: Style(fg: .index(1), bold: true),
        .toolCancelled: Style(fg: .index(8)),
        .input: Style(fg: .index(15)),
        .keyHint: Style(fg: .index(0), bg: .index(8)),
        .overlay: Style(fg: .index(15), bg: .index(4)),
    ])

    /// Is a theme usable as is (every role styled)? Missing roles fall back to `text`.
    public var missingRoles: [Role] { Role.allCases.filter { styles[$0] == nil } }
}
