import Foundation

/// What a terminal sends the screen face.
public enum TerminalInput: Sendable, Equatable {
    case key(Key)
    case resize(width: Int, height: Int)
}

/// Where the screen face draws and reads keys. `CursesBackend` (the Curses target) is the real
/// one; `RecordingBackend` (TestSupport) takes scripted keys and keeps every screen it is shown.
public protocol TerminalBackend: AnyObject, Sendable {
    /// Keys and size changes, in order (the size at start first); finishes when the backend stops.
    var input: AsyncStream<TerminalInput> { get }
    /// Colours the terminal has (0 = none): fewer than 8 means the monochrome theme.
    var colors: Int { get }
    /// The terminal reports key releases (kitty keyboard protocol): Space is then hold-to-talk.
    var keyReleases: Bool { get }
    /// The next frame to draw; a backend may skip frames that a newer one replaces.
    func show(_ screen: Screen)
    /// Restores the terminal. Idempotent, callable from any thread (also from a signal finaliser).
    func stop()
}
