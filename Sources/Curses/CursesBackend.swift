// Curses — the terminal edge: one thread owns every ncurses call (drawing and reading keys),
// diffs Screens and draws at most 30 frames/s, only on change. Never imported by the core.
import CursesShim
import Foundation
import TerminalUI

/// Why the full-screen UI cannot run here (the caller falls back to line mode).
public struct TerminalUnavailable: Error, CustomStringConvertible {
    public var description: String
}

/// The curses backend. `show` hands over the latest Screen (a mutex slot); `input` delivers keys and sizes.
public final class CursesBackend: TerminalBackend, @unchecked Sendable {
    public let input: AsyncStream<TerminalInput>
    private let inputContinuation: AsyncStream<TerminalInput>.Continuation
    private let lock = NSLock()
    // Guarded by `lock`:
    private var latest: Screen?
    private var frameNumber = 0
    private var running = true
    private var frames = 0
    private let done = DispatchSemaphore(value: 0)
    private let started = DispatchSemaphore(value: 0)
    private var startError: String?
    /// Colours the terminal has (0 = none); set once the curses thread started.
    public private(set) var colors = 0
    public let kittyKeyboard: Bool
    /// With the kitty keyboard protocol the terminal may report releases (Space is then hold-to-talk).
    public var keyReleases: Bool { kittyKeyboard }

    /// Checks the terminal, then starts the curses thread.
    public init(kittyKeyboard: Bool = true) throws {
        var why = [CChar](repeating: 0, count: 200)
        guard cs_can_run_fullscreen(&why, Int32(why.count)) == 1 else {
            throw TerminalUnavailable(description: String(decoding: why.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        _ = cs_setlocale_utf8()
        (input, inputContinuation) = AsyncStream.makeStream(of: TerminalInput.self)
        self.kittyKeyboard = kittyKeyboard
        let box = ColorBox()
        let t = Thread { [self] in self.run(box) }
        t.name = "livetalk-curses"
        t.start()
        started.wait()
        colors = Int(box.colors)
        if let e = lock.withLock({ startError }) { throw TerminalUnavailable(description: e) }
        installCrashRestore()
    }

    /// The next frame to draw (drawn within 1/30 s if it differs from the last one).
    public func show(_ s: Screen) {
        lock.withLock {
            latest = s
            frameNumber += 1
        }
    }

    public var framesDrawn: Int { lock.withLock { frames } }

    /// Restores the terminal and stops the thread.
    public func stop() {
        let wasRunning = lock.withLock { () -> Bool in
            defer { running = false }
            return running
        }
        if wasRunning { done.wait() }
    }

    private func run(_ box: ColorBox) {
        guard cs_start() == 0 else {
            lock.withLock { startError = "cannot initialise the terminal" }
            started.signal()
            return
        }
        if kittyKeyboard { cs_write_raw("\u{1B}[>3u") }   // disambiguate + report event types (releases)
        box.colors = cs_has_colors() == 1 ? cs_colors() : 0
        started.signal()
        var rows: Int32 = 0
        var cols: Int32 = 0
        cs_size(&rows, &cols)
        inputContinuation.yield(.resize(width: Int(cols), height: Int(rows)))
        var drawn: Screen?
        var drawnFrameNumber = -1
        var decoder = KeyDecoder()
        var lastDraw = Date.distantPast
        var lastSizeCheck = Date()
        while lock.withLock({ running }) {
            var ch: UInt32 = 0
            let r = cs_get(30, &ch)
            if r == 1, let scalar = UnicodeScalar(ch) {
                for k in decoder.feed(scalar) { inputContinuation.yield(.key(k)) }
            } else if r == 0 {
                for k in decoder.flush() { inputContinuation.yield(.key(k)) }
            }
            let now = Date()
            if r == 2 || now.timeIntervalSince(lastSizeCheck) > 0.25 {
                lastSizeCheck = now
                var tr: Int32 = 0
                var tc: Int32 = 0
                if cs_term_size(&tr, &tc) == 0, tr != rows || tc != cols {
                    rows = tr
                    cols = tc
                    cs_resize(rows, cols)
                    drawn = nil
                    drawnFrameNumber = -1
                    inputContinuation.yield(.resize(width: Int(cols), height: Int(rows)))
                }
            }
            guard now.timeIntervalSince(lastDraw) >= 1.0 / 30 else { continue }
            let (next, gen) = lock.withLock { (latest, frameNumber) }
            guard gen != drawnFrameNumber, let screen = next, screen.width == Int(cols), screen.height == Int(rows) else { continue }
            drawnFrameNumber = gen
            if let d = drawn, d == screen { continue }
            draw(screen, over: drawn)
            drawn = screen
            lastDraw = now
            lock.withLock { frames += 1 }
        }
        if kittyKeyboard { cs_write_raw("\u{1B}[<u") }
        cs_end()
        inputContinuation.finish()
        done.signal()
    }

    /// Sends only the cells that changed (runs of equal style per row).
    private func draw(_ s: Screen, over old: Screen?) {
        for y in 0..<s.height {
            var x = 0
            while x < s.width {
                let c = s[x, y]
                if let old, old.width == s.width, old.height == s.height, old[x, y] == c { x += 1; continue }
                if c.continuation { x += 1; continue }
                var text = c.text
                var end = x + 1
                while end < s.width {
                    let n = s[end, y]
                    if n.style != c.style { break }
                    if let old, old.width == s.width, old.height == s.height, old[end, y] == n { break }
                    if !n.continuation { text += n.text }
                    end += 1
                }
                let st = c.style
                let pair = cs_pair(Self.index(st.fg), Self.index(st.bg))
                cs_put(Int32(y), Int32(x), text, pair, st.bold ? 1 : 0, st.dim ? 1 : 0, st.reverse ? 1 : 0, st.underline ? 1 : 0)
                x = end
            }
        }
        if let c = s.cursor { cs_move_cursor(Int32(c.y), Int32(c.x), 1) } else { cs_move_cursor(0, 0, 0) }
        cs_refresh()
    }

    static func index(_ c: TermColor) -> Int32 {
        switch c {
        case .default: -1
        case .index(let i): Int32(i)
        }
    }

    private func installCrashRestore() {
        // A crash anywhere must not leave the terminal raw: restore, then die with the same signal.
        for sig in [SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGTRAP] {
            signal(sig) { s in
                cs_emergency_restore()
                signal(s, SIG_DFL)
                raise(s)
            }
        }
        atexit { cs_emergency_restore() }
    }
}

private final class ColorBox: @unchecked Sendable {
    var colors: Int32 = 0   // written by the curses thread before `started` is signalled, read after
}
