import Foundation
import TerminalUI

/// A `TerminalBackend` for tests: keys go in from the test, every screen the face shows is kept,
/// and a test waits (with a deadline) for a screen that shows what it expects. No terminal, no tmux.
public final class RecordingBackend: TerminalBackend, @unchecked Sendable {
    public let input: AsyncStream<TerminalInput>
    private let inputContinuation: AsyncStream<TerminalInput>.Continuation
    public let colors: Int
    public let keyReleases: Bool
    private let lock = NSLock()
    // Guarded by `lock`:
    private var screens: [Screen] = []
    /// Guarded by `lock`: the text of every screen kept, and how many were dropped from the front.
    private var texts: [String] = []
    private var droppedScreens = 0
    /// Guarded by `lock`: where the next wait starts in the history (absolute index): the first
    /// screen after the last key, or the screen the last wait matched, whichever is later.
    private var cursor = 0
    private var stopped = 0
    private var waiters: [(id: Int, check: @Sendable (String) -> Bool, cont: CheckedContinuation<Bool, Never>)] = []
    private var nextId = 0
    /// Screens kept at most (the oldest go first).
    public static let maxScreens = 2_000

    public init(width: Int = 100, height: Int = 30, colors: Int = 256, keyReleases: Bool = false) {
        (input, inputContinuation) = AsyncStream.makeStream(of: TerminalInput.self)
        self.colors = colors
        self.keyReleases = keyReleases
        inputContinuation.yield(.resize(width: width, height: height))
    }

    public func show(_ screen: Screen) {
        let text = screen.rows.joined(separator: "\n")
        let ready: [CheckedContinuation<Bool, Never>] = lock.withLock {
            screens.append(screen)
            texts.append(text)
            if screens.count > Self.maxScreens {
                let n = screens.count - Self.maxScreens
                screens.removeFirst(n)
                texts.removeFirst(n)
                droppedScreens += n
            }
            let hit = waiters.filter { $0.check(text) }
            waiters.removeAll { w in hit.contains { $0.id == w.id } }
            if !hit.isEmpty { cursor = droppedScreens + screens.count - 1 }
            return hit.map(\.cont)
        }
        for c in ready { c.resume(returning: true) }
    }

    public func stop() {
        lock.withLock { stopped += 1 }
        inputContinuation.finish()
    }

    /// How many times `stop` was called (the terminal must be given back at least once).
    public var stopCount: Int { lock.withLock { stopped } }

    /// The last screen shown, as text (rows joined with newlines).
    public var lastScreen: String { lock.withLock { screens.last?.rows.joined(separator: "\n") ?? "" } }
    public var screenCount: Int { lock.withLock { screens.count } }

    public func press(_ keys: Key...) {
        lock.withLock { cursor = droppedScreens + screens.count }
        for k in keys { inputContinuation.yield(.key(k)) }
    }

    /// `i`, the text, Enter: a typed message.
    public func type(_ text: String) {
        press(.char("i"))
        for c in text { press(.char(c)) }
        press(.enter)
    }

    public func resize(_ width: Int, _ height: Int) { inputContinuation.yield(.resize(width: width, height: height)) }

    /// Waits until a screen shown since the last key (or the last screen before it) satisfies
    /// `check`: a state that showed briefly (INTERRUPTED) is not missed by a slow test. A hang
    /// guard, not a speed check.
    @discardableResult
    public func waitForScreen(_ what: String, seconds: Double = 60, _ check: @escaping @Sendable (String) -> Bool) async throws -> String {
        let id: Int = lock.withLock {
            nextId += 1
            return nextId
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            self?.expire(id)
        }
        defer { timer.cancel() }
        let ok = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            let resumeNow: Bool = lock.withLock {
                // From the screen at the cursor (or the one before it, still on screen when the key came).
                let from = min(max(0, cursor - droppedScreens - 1), texts.count)
                if let i = texts[from...].firstIndex(where: check) {
                    cursor = droppedScreens + i
                    return true
                }
                waiters.append((id, check, c))
                return false
            }
            if resumeNow { c.resume(returning: true) }
        }
        guard ok else { throw TestTimeout(what: "a screen showing \(what); last screen:\n\(lastScreen)") }
        return lastScreen
    }

    /// Waits for a screen containing `text`.
    @discardableResult
    public func waitFor(_ text: String, seconds: Double = 60) async throws -> String {
        try await waitForScreen("\"\(text)\"", seconds: seconds) { $0.contains(text) }
    }

    private func expire(_ id: Int) {
        let c: CheckedContinuation<Bool, Never>? = lock.withLock {
            guard let i = waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return waiters.remove(at: i).cont
        }
        c?.resume(returning: false)
    }
}
