import Foundation

/// What a key does.
public enum Action: String, Sendable, CaseIterable {
    case talk, mode, mute, reset, connection, type, scrollUp, scrollDown, pageUp, pageDown
    case nextPane, focus1, focus2, focus3, focus4, quit, help
}

/// The key bindings; the help overlay is generated from this table.
public enum Keymap {
    public struct Binding: Sendable {
        public var keys: [Key]
        public var label: String
        public var action: Action
        public var help: String
    }

    public static let bindings: [Binding] = [
        Binding(keys: [.char(" ")], label: "Space", action: .talk,
                help: "push-to-talk: press to talk, again to send (hold where the terminal reports releases)"),
        Binding(keys: [.char("v")], label: "v", action: .mode, help: "switch push-to-talk ↔ voice detection (reconnects)"),
        Binding(keys: [.char("m")], label: "m", action: .mute, help: "mute / unmute the microphone"),
        Binding(keys: [.char("r")], label: "r", action: .reset, help: "reset: a fresh session, nothing resumed"),
        Binding(keys: [.char("d")], label: "d", action: .connection, help: "disconnect / reconnect"),
        Binding(keys: [.char("i"), .enter], label: "i Enter", action: .type, help: "type a message (Enter sends, Esc cancels)"),
        Binding(keys: [.up], label: "↑", action: .scrollUp, help: "scroll the focused pane up"),
        Binding(keys: [.down], label: "↓", action: .scrollDown, help: "scroll the focused pane down"),
        Binding(keys: [.pageUp], label: "PgUp", action: .pageUp, help: "scroll a page up"),
        Binding(keys: [.pageDown], label: "PgDn", action: .pageDown, help: "scroll a page down"),
        Binding(keys: [.tab], label: "Tab", action: .nextPane, help: "focus the next pane"),
        Binding(keys: [.char("1")], label: "1", action: .focus1, help: "focus You"),
        Binding(keys: [.char("2")], label: "2", action: .focus2, help: "focus Model"),
        Binding(keys: [.char("3")], label: "3", action: .focus3, help: "focus Tools"),
        Binding(keys: [.char("4")], label: "4", action: .focus4, help: "focus Session"),
        Binding(keys: [.char("q"), .ctrl("c")], label: "q ^C", action: .quit, help: "quit (closes the session cleanly)"),
        Binding(keys: [.char("?")], label: "?", action: .help, help: "show / hide this help"),
    ]

    public static func action(for key: Key) -> Action? {
        bindings.first { $0.keys.contains(key) }?.action
    }

    /// Lines of the help overlay.
    public static var helpLines: [String] {
        let w = bindings.map { DisplayWidth.of($0.label) }.max() ?? 0
        return bindings.map { b in b.label + String(repeating: " ", count: w - DisplayWidth.of(b.label) + 2) + b.help }
    }

    /// The short hint line at the bottom.
    public static let hint = "Space talk · i type · v mode · m mute · r reset · d connect · Tab focus · q quit · ? help"
}
