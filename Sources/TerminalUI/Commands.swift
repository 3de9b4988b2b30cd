import Foundation

/// What the user asks for, from a key (the screen) or a slash command (line mode). Both faces
/// turn their input into these, and `update` handles them in one place.
public enum UserCommand: Sendable, Equatable {
    /// Push-to-talk: start a turn, or end the one in progress.
    case talk
    /// End the push-to-talk turn in progress (line mode: an empty line).
    case endTalk
    /// Switch turn-taking; nil toggles.
    case mode(pushToTalk: Bool?)
    case mute
    case reset
    case disconnect
    case connect
    /// Disconnect when connected, connect otherwise (the `d` key).
    case toggleConnection
    /// Start or stop recording the session to a folder.
    case record
    case quit
    case help
    /// A text turn.
    case send(String)
    /// Send a JPEG or PNG file as an image (`realtimeInput.video`); nil asks for the path.
    case image(String?)
}

/// Something a face tells the user that is not a session event: a fact, worded by `Wording`.
public enum Notice: Sendable, Equatable {
    case talkNeedsPushToTalk
    case notConnected
    case unknownCommand(String)
    case badArgument(command: String, value: String, expected: String)
    case recordingStarted(folder: String)
    case recordingStopped(folder: String, seconds: Double)
    case recordingFailed(reason: String)
    case audioLost(reason: String)
    case audioBack(what: String)
    /// The echo canceller could not start; the microphone goes on unprocessed.
    case echoCancellerOff(reason: String)
    case noReply(after: Duration)
    /// The MCP servers are starting; the first connect waits for their tools.
    case toolServersStarting(servers: [String])
    /// An MCP server listed its tools.
    case toolServerReady(server: String, tools: Int)
    /// An MCP server could not start, or exited; it is started again after `retryIn` (nil: not again).
    case toolServerDown(server: String, reason: String, retryIn: Duration?)
    /// An image went out (as a JPEG of this size), or could not.
    case imageSent(path: String, width: Int, height: Int, bytes: Int)
    case imageFailed(path: String, reason: String)
}

/// What one line of line-mode input means.
public enum LineInput: Sendable, Equatable {
    case command(UserCommand)
    /// A line that asks for nothing (blank, outside a push-to-talk turn).
    case nothing
    case problem(Notice)
}

/// Line mode's slash commands: one per key of the screen, generated from `Keymap`.
public enum SlashCommands {
    /// `/name` → the key action it stands for, with an optional argument.
    public static func parse(_ raw: String, talking: Bool) -> LineInput {
        let line = raw.trimmingCharacters(in: .whitespaces)
        if line.isEmpty { return talking ? .command(.endTalk) : .nothing }
        if line.hasPrefix("//") { return .command(.send(String(line.dropFirst()))) }   // a literal "/…"
        guard line.hasPrefix("/") else { return .command(.send(line)) }
        let words = line.dropFirst().split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let name = words.first?.lowercased() ?? ""
        let arg = words.dropFirst().first?.lowercased()
        switch name {
        case "talk": return .command(.talk)
        case "mode":
            switch arg {
            case nil: return .command(.mode(pushToTalk: nil))
            case "ptt": return .command(.mode(pushToTalk: true))
            case "vad": return .command(.mode(pushToTalk: false))
            default: return .problem(.badArgument(command: "/mode", value: arg ?? "", expected: "vad or ptt"))
            }
        case "mute": return .command(.mute)
        case "reset": return .command(.reset)
        case "disconnect": return .command(.disconnect)
        case "connect": return .command(.connect)
        case "record": return .command(.record)
        case "quit", "exit": return .command(.quit)
        case "help", "?": return .command(.help)
        case "image":
            // The path keeps its spelling and spaces: everything after the command.
            let path = line.dropFirst().drop { !$0.isWhitespace }.trimmingCharacters(in: .whitespaces)
            return path.isEmpty ? .problem(.badArgument(command: "/image", value: "", expected: "/image PATH (a JPEG or PNG file)"))
                                : .command(.image(path))
        default: return .problem(.unknownCommand("/" + name))
        }
    }

    /// `/help`: the same table as the `?` overlay, with each key's command.
    public static var helpLines: [String] {
        let rows: [(String, String)] = Keymap.bindings.compactMap { b in b.slash.map { ($0, b.help) } }
            + [("//text", "send a line that starts with /"), ("(a line)", "send it as a text turn")]
        let w = rows.map { $0.0.count }.max() ?? 0
        return rows.map { $0.0 + String(repeating: " ", count: w - $0.0.count + 2) + $0.1 }
    }
}
