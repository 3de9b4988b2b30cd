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

    /// Is a theme usable as is (every role styled)? Missing roles fall back to `text`.
    public var missingRoles: [Role] { Role.allCases.filter { styles[$0] == nil } }
}
