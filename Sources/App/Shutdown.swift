import Dispatch
import Foundation
import LiveProtocol

/// How the process ends on SIGINT, SIGTERM and SIGHUP, in every state (issue 9, "quit always works").
///
/// - The first signal is a request: it arrives on `requests`, and the runtime closes the session,
///   restores the terminal and finalises its files.
/// - If that has not finished within `grace` (2 s), or a second signal arrives, the process exits
///   at once with 130, after running the registered finalisers (files closed with correct headers;
///   the terminal is restored by the curses backend's `atexit`).
///
/// Finalisers must be thread-safe and idempotent: they may run on the signal queue while the
/// runtime is still using the object.
public final class Shutdown: @unchecked Sendable {
    public static let shared = Shutdown()

    public let requests: AsyncStream<Int32>
    private let requestsContinuation: AsyncStream<Int32>.Continuation
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var finalizers: [Int: @Sendable () -> Void] = [:]
    /// Guarded by `lock`.
    private var nextToken = 0
    /// Guarded by `lock`.
    private var signalsSeen = 0
    /// Guarded by `lock`.
    private var sources: [any DispatchSourceSignal] = []
    /// Guarded by `lock`.
    private var exiting = false
    public var grace: Duration = .seconds(2)

    public init() {
        (requests, requestsContinuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(4))
    }

    /// Routes SIGINT, SIGTERM and SIGHUP here (once per process).
    public func install() {
        lock.withLock {
            guard sources.isEmpty else { return }
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                signal(sig, SIG_IGN)
                let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                src.setEventHandler { [weak self] in self?.received(sig) }
                src.resume()
                sources.append(src)
            }
        }
    }

    /// Runs `body` if the process has to exit before the runtime finishes; returns a token for `remove`.
    @discardableResult
    public func addFinalizer(_ body: @escaping @Sendable () -> Void) -> Int {
        lock.withLock {
            nextToken += 1
            finalizers[nextToken] = body
            return nextToken
        }
    }

    public func remove(_ token: Int) { _ = lock.withLock { finalizers.removeValue(forKey: token) } }

    public var signalled: Bool { lock.withLock { signalsSeen > 0 } }

    func received(_ sig: Int32) {
        let n = lock.withLock { () -> Int in
            signalsSeen += 1
            return signalsSeen
        }
        if n == 1 {
            requestsContinuation.yield(sig)
            let grace = self.grace
            DispatchQueue.global().asyncAfter(deadline: .now() + Self.seconds(grace)) { [weak self] in
                self?.exitNow(ExitStatus.interrupted, why: "still closing after \(Self.seconds(grace)) s: exiting now")
            }
        } else {
            exitNow(ExitStatus.interrupted, why: nil)
        }
    }

    /// Runs the finalisers (each once) and exits with `code`.
    public func exitNow(_ code: Int32, why: String?) -> Never {
        let (run, first): ([@Sendable () -> Void], Bool) = lock.withLock {
            defer { exiting = true; finalizers.removeAll() }
            return (finalizers.sorted { $0.key > $1.key }.map(\.value), !exiting)
        }
        guard first else {
            // Another thread is already exiting; it ends the process.
            while true { sleep(60) }
        }
        for f in run { f() }
        if let why { FileHandle.standardError.write(Data("livetalk: \(why)\n".utf8)) }
        exit(code)
    }

    static func seconds(_ d: Duration) -> Double {
        d.seconds
    }
}
