// What every bench shares: printing figures, CPU time of this process and of others, running
// `livetalk serve` (and other programs) next to the bench, and small statistics.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One figure: `name value unit`, the line README and scripts quote.
func report(_ name: String, _ value: Double, _ unit: String) {
    print("\(name) \(String(format: "%.3f", value)) \(unit)")
    fflush(nil)
}

/// A comment line in the bench's output.
func note(_ s: String) {
    print("# \(s)")
    fflush(nil)
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
}

/// User + system CPU time of this process, seconds.
func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}

/// utime + stime of a process (all its threads, those that ended included), seconds; nan when
/// the process is gone.
func processCPU(_ pid: String) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return .nan }
    let f = stat[stat.index(after: close)...].split(separator: " ")
    // fields after the command: state(0) … utime(11) stime(12), in clock ticks
    guard f.count > 12, let user = Double(f[11]), let system = Double(f[12]) else { return .nan }
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    return (user + system) / ticks
}

func processCPU(_ p: Process) -> Double { processCPU(String(p.processIdentifier)) }

/// The directory of this executable (the build's products).
func executableDirectory() -> URL {
    (Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])).resolvingSymlinksInPath().deletingLastPathComponent()
}

/// A program built next to this executable (`livetalk`).
func sibling(_ name: String) throws -> URL {
    let url = executableDirectory().appendingPathComponent(name)
    guard FileManager.default.isExecutableFile(atPath: url.path) else {
        throw BenchError("no \(name) next to the bench (\(url.path)): swift build --product \(name)")
    }
    return url
}

/// The checkout this bench was built in (the directory holding Package.swift above the executable).
func checkoutRoot() -> URL? {
    var dir = executableDirectory()
    while dir.path != "/" {
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
        dir.deleteLastPathComponent()
    }
    return nil
}

@discardableResult
func sh(_ command: String) -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try? p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Runs `command` with /bin/sh, output to /dev/null, and waits for that shell only: for a command
/// that may start a daemon (the first `tmux new-session` starts the tmux server), which inherits
/// the descriptors Foundation's `Process` watches, so `Process.waitUntilExit` would never return.
func shDetached(_ command: String) {
    var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let args: [String] = ["/bin/sh", "-c", command]
    let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ) == 0 else { return }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
}

// MARK: reading a child's output

/// Everything a pipe delivers, read on its own thread (a chatty child never blocks on a full
/// pipe); a wait for a line that contains some text can be bounded.
final class PipeReader: @unchecked Sendable {
    private let cond = NSCondition()
    /// Guarded by `cond`: the output so far (the first `limit` bytes) and whether it ended.
    private var text = ""
    private var ended = false
    private let limit: Int

    init(_ handle: FileHandle, limit: Int = 1 << 20) {
        self.limit = limit
        Thread { [self] in
            while true {
                let d = handle.availableData
                if d.isEmpty { break }
                cond.lock()
                if text.utf8.count < limit { text += String(decoding: d, as: UTF8.self) }
                cond.unlock()
                cond.broadcast()
            }
            cond.lock()
            ended = true
            cond.unlock()
            cond.broadcast()
        }.start()
    }

    var value: String { cond.withLock { text } }

    /// Waits until the output holds a line containing `needle`; false at EOF or after `timeout` seconds.
    func wait(for needle: String, timeout: Double) -> Bool {
        let deadline = Date() + timeout
        cond.lock()
        defer { cond.unlock() }
        while true {
            if text.split(separator: "\n", omittingEmptySubsequences: false).contains(where: { $0.contains(needle) }) { return true }
            if ended || Date() >= deadline { return false }
            _ = cond.wait(until: min(deadline, Date() + 0.1))
        }
    }

    /// Waits until the pipe ends (the child closed it or exited), at most `timeout` seconds.
    func waitEnd(timeout: Double) -> Bool {
        let deadline = Date() + timeout
        cond.lock()
        defer { cond.unlock() }
        while !ended && Date() < deadline { _ = cond.wait(until: min(deadline, Date() + 0.1)) }
        return ended
    }
}

// MARK: the emulator in its own process

/// `livetalk serve` next to this executable, in its own process so only the client's CPU is
/// counted; `arguments` come after `serve --port 0 --log-level error`. Returns it and its port.
func startEmulator(_ arguments: [String] = [], bound: Double = 15) throws -> (Process, Int) {
    let p = Process()
    p.executableURL = try sibling("livetalk")
    p.arguments = ["serve", "--port", "0", "--log-level", "error"] + arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardInput = FileHandle.nullDevice
    try p.run()
    BenchChildren.shared.track(p)
    let reader = PipeReader(out.fileHandleForReading)
    guard reader.wait(for: "listening on", timeout: bound * 2) else {
        p.terminate()
        let text = reader.value
        throw BenchError("livetalk serve did not start within \(Int(bound * 2)) s: \(text.isEmpty ? "(no output)" : text)")
    }
    let text = reader.value
    guard let r = text.range(of: #"listening on wss?://[^\s:]+:(\d+)"#, options: .regularExpression),
          let colon = text[r].lastIndex(of: ":"), let port = Int(text[r][text.index(after: colon)...]) else {
        p.terminate()
        throw BenchError("livetalk serve did not start: \(text)")
    }
    return (p, port)
}

/// The long-lived children of the bench (emulators, clients), stopped if the bench is interrupted.
/// Foundation starts each child in a process group of its own, so a signal to the bench's group
/// (Ctrl-C, `timeout`) does not reach them: an `echo` bench cut short by `timeout` left its
/// `livetalk serve` running. The first child tracked installs SIGINT/SIGTERM/SIGHUP handlers
/// that SIGTERM every tracked child and exit 128+signal. Bound: only running children are kept.
final class BenchChildren: @unchecked Sendable {
    static let shared = BenchChildren()
    private let lock = NSLock()
    private var pids: Set<Int32> = []
    private var sources: [any DispatchSourceSignal] = []

    func track(_ p: Process) {
        lock.withLock {
            pids.insert(p.processIdentifier)
            guard sources.isEmpty else { return }
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { [self] in
                    let running = lock.withLock { pids }
                    for pid in running { kill(pid, SIGTERM) }
                    note("interrupted (signal \(sig)): stopped \(running.count) child process(es)")
                    exit(128 + sig)
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    func forget(_ p: Process) { _ = lock.withLock { pids.remove(p.processIdentifier) } }
}

/// SIGTERM, then SIGKILL if it has not exited within `bound` seconds.
func stopProcess(_ p: Process, bound: Double = 15) {
    defer { BenchChildren.shared.forget(p) }
    guard p.isRunning else { return }
    p.terminate()
    let deadline = Date() + bound
    while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if p.isRunning {
        note("\(p.executableURL?.lastPathComponent ?? "child") (pid \(p.processIdentifier)) did not exit within \(Int(bound)) s of SIGTERM; sending SIGKILL")
        kill(p.processIdentifier, SIGKILL)
    }
}
