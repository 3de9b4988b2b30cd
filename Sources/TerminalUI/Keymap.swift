import Foundation

/// What a key does.
public enum KeyAction: String, Sendable, CaseIterable {
    case talk, mode, mute, reset, connection, record, type, scrollUp, scrollDown, pageUp, pageDown
    case nextPane, focus1, focus2, focus3, focus4, quit, help, allowTool, refuseTool, image
}

/// The key bindings; the help overlay is generated from this table.
public enum Keymap {
    public struct Binding: Sendable {
        public var keys: [Key]
        public var label: String
        public var action: KeyAction
        public var help: String
        /// Line mode's command for the same action (nil: the screen only).
        public var slash: String?
        init(keys: [Key], label: String, action: KeyAction, help: String, slash: String? = nil) {
            self.keys = keys
            self.label = label
            self.action = action
            self.help = help
            self.slash = slash
        }
    }

    public static let bindings: [Binding] = [
        Binding(keys: [.char(" ")], label: "Space", action: .talk,
                help: "push-to-talk: press to talk, again to send (hold where the terminal reports releases)",
                slash: "/talk"),
        Binding(keys: [.char("v")], label: "v", action: .mode, help: "switch push-to-talk ↔ voice detection (reconnects)",
                slash: "/mode vad|ptt"),
        Binding(keys: [.char("m")], label: "m", action: .mute, help: "mute / unmute the microphone", slash: "/mute"),
        Binding(keys: [.char("r")], label: "r", action: .reset, help: "reset: a fresh session, nothing resumed", slash: "/reset"),
        Binding(keys: [.char("d")], label: "d", action: .connection, help: "disconnect / reconnect",
                slash: "/disconnect /connect"),
        Binding(keys: [.char("R")], label: "R", action: .record,
                help: "record the session to a folder (again to stop)", slash: "/record"),
        Binding(keys: [.char("i"), .enter], label: "i Enter", action: .type, help: "type a message (Enter sends, Esc cancels)"),
        Binding(keys: [.char("o")], label: "o", action: .image,
                help: "send an image: asks for a JPEG or PNG path (Enter sends, Esc cancels)", slash: "/image PATH"),
        Binding(keys: [.up], label: "↑", action: .scrollUp, help: "scroll the focused pane up"),
        Binding(keys: [.down], label: "↓", action: .scrollDown, help: "scroll the focused pane down"),
        Binding(keys: [.pageUp], label: "PgUp", action: .pageUp, help: "scroll a page up"),
        Binding(keys: [.pageDown], label: "PgDn", action: .pageDown, help: "scroll a page down"),
        Binding(keys: [.tab], label: "Tab", action: .nextPane, help: "focus the next pane"),
        Binding(keys: [.char("1")], label: "1", action: .focus1, help: "focus You"),
        Binding(keys: [.char("2")], label: "2", action: .focus2, help: "focus Model"),
        Binding(keys: [.char("3")], label: "3", action: .focus3, help: "focus Tools"),
        Binding(keys: [.char("4")], label: "4", action: .focus4, help: "focus Session"),
        Binding(keys: [.char("y")], label: "y", action: .allowTool,
                help: "allow the tool call that asks (tool pane; line mode: --yes-tools)"),
        Binding(keys: [.char("n")], label: "n", action: .refuseTool, help: "refuse the tool call that asks: the model is told"),
        Binding(keys: [.char("q"), .ctrl("c")], label: "q ^C", action: .quit, help: "quit (closes the session cleanly)", slash: "/quit"),
        Binding(keys: [.char("?")], label: "?", action: .help, help: "show / hide this help", slash: "/help"),
    ]

    public static func action(for key: Key) -> KeyAction? {
        bindings.first { $0.keys.contains(key) }?.action
    }

    /// Lines of the help overlay.
    public static var helpLines: [String] {
        let w = bindings.map { DisplayWidth.of($0.label) }.max() ?? 0
        return bindings.map { b in b.label + String(repeating: " ", count: w - DisplayWidth.of(b.label) + 2) + b.help }
    }

    /// The short hint line at the bottom.
    public static let hint = "Space talk · i type · v mode · m mute · r reset · d connect · R record · q quit · ? help"
}
