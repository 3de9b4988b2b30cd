// MCPTools — MCP servers as tools (issue 12), the edge: spawns each configured stdio server
// (or reaches a streamable HTTP one), speaks MCP through the official Swift SDK, restarts a
// server that exits, and runs calls with a timeout and cancellation. App sees it as `ToolServers`.
import App
import Foundation
import LiveProtocol
import LiveSession
import Logging
import MCP

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Every configured MCP server, each under its own supervisor.
public final class MCPToolServers: ToolServers, @unchecked Sendable {
    private let supervisors: [String: ServerSupervisor]
    private let order: [String]
    public let news: AsyncStream<ToolServerNews>
    private let newsSink: AsyncStream<ToolServerNews>.Continuation

    public init(configs: [MCPServerConfig]) {
        signal(SIGPIPE, SIG_IGN)   // a server gone must fail a write, not kill livetalk
        (news, newsSink) = AsyncStream.makeStream(of: ToolServerNews.self, bufferingPolicy: .bufferingNewest(100))
        var s: [String: ServerSupervisor] = [:]
        for c in configs { s[c.name] = ServerSupervisor(config: c, news: newsSink) }
        supervisors = s
        order = configs.map(\.name)
    }

    public func start(deadline: Duration) async -> [String: [MCPToolInfo]] {
        for name in order { await supervisors[name]?.launch() }
        let until = ContinuousClock.now + deadline
        var out: [String: [MCPToolInfo]] = [:]
        for name in order {
            guard let s = supervisors[name] else { continue }
            if let tools = await s.waitSettled(until: until) { out[name] = tools }
        }
        return out
    }

    public func currentTools() async -> [String: [MCPToolInfo]] {
        var out: [String: [MCPToolInfo]] = [:]
        for name in order { if let t = await supervisors[name]?.readyTools { out[name] = t } }
        return out
    }

    public func call(server: String, tool: String, args: JSONValue?) async throws -> JSONValue {
        guard let s = supervisors[server] else { throw ToolFailure("no MCP server named \(server)") }
        return try await s.call(tool: tool, args: args)
    }

    public func stop() async {
        await withTaskGroup(of: Void.self) { g in
            for s in supervisors.values { g.addTask { await s.stop() } }
        }
        newsSink.finish()
    }

    public func killNow() {
        for s in supervisors.values { s.pids.killAll() }
    }
}

/// The pids of a server's live children, readable from any thread (the exit of last resort).
final class PidBox: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var pids: Set<Int32> = []
    func add(_ p: Int32) { lock.withLock { _ = pids.insert(p) } }
    func remove(_ p: Int32) { lock.withLock { _ = pids.remove(p) } }
    func killAll() {
        for p in lock.withLock({ pids }) { kill(p, SIGKILL) }
    }
}

/// One resolved result, whichever comes first: the server's answer, the timeout, a cancel, the
/// server's exit.
final class OneShot<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var result: Result<T, any Error>?
    /// Guarded by `lock`.
    private var waiter: CheckedContinuation<T, any Error>?

    func resolve(_ r: Result<T, any Error>) {
        let w: CheckedContinuation<T, any Error>? = lock.withLock {
            guard result == nil else { return nil }
            result = r
            defer { waiter = nil }
            return waiter
        }
        w?.resume(with: r)
    }

    func wait() async throws -> T {
        try await withCheckedThrowingContinuation { c in
            let done: Result<T, any Error>? = lock.withLock {
                if let result { return result }
                waiter = c
                return nil
            }
            if let done { c.resume(with: done) }
        }
    }
}

/// One server: start, list tools, watch for its exit, restart with a back-off, run calls.
actor ServerSupervisor {
    let config: MCPServerConfig
    private let newsSink: AsyncStream<ToolServerNews>.Continuation
    private let logger: Logger
    nonisolated let pids = PidBox()

    private(set) var readyTools: [MCPToolInfo]?
    private var client: Client?
    private var process: Process?
    private var stdinPipe: Pipe?
    private var generation = 0
    private var stopping = false
    private var launched = false
    private var backoff = RestartBackoff()
    private var startedAt = ContinuousClock.now
    private var restartTask: Task<Void, Never>?
    /// Calls in flight, failed at once when the server exits.
    private var inflight: [Int: OneShot<CallTool.Result>] = [:]
    private var nextCall = 0
    /// Waiting for the first outcome of a start (ready or failed).
    private var settledWaiters: [CheckedContinuation<Void, Never>] = []
    private var settled = false
    /// The HTTP transport's session (streamable HTTP servers).
    private var httpTransport: HTTPClientTransport?

    init(config: MCPServerConfig, news: AsyncStream<ToolServerNews>.Continuation) {
        self.config = config
        self.newsSink = news
        self.logger = Logger(label: "livetalk.mcp.\(config.name)")
    }

    func launch() {
        guard !launched else { return }
        launched = true
        startOnce()
    }

    /// The tools once the first start is settled, or nil (failed, or `until` passed).
    func waitSettled(until: ContinuousClock.Instant) async -> [MCPToolInfo]? {
        if !settled {
            let timer = Task { [weak self] in
                try? await Task.sleep(until: until)
                await self?.settle()
            }
            await withCheckedContinuation { settledWaiters.append($0) }
            timer.cancel()
        }
        return readyTools
    }

    private func settle() {
        settled = true
        for w in settledWaiters { w.resume() }
        settledWaiters.removeAll()
    }

    // MARK: starting

    private func startOnce() {
        generation += 1
        let gen = generation
        startedAt = .now
        Task { await self.start(generation: gen) }
    }

    private func start(generation gen: Int) async {
        guard !stopping, gen == generation else { return }
        do {
            let client = Client(name: "livetalk", version: "1.0")
            let transport: any MCP.Transport
            if let url = config.url {
                let t = HTTPClientTransport(endpoint: URL(string: url)!, streaming: false, logger: logger)
                httpTransport = t
                transport = t
            } else {
                transport = try spawn(generation: gen)
            }
            self.client = client
            try await withDeadline(.seconds(30), what: "the MCP handshake") {
                _ = try await client.connect(transport: transport)
            }
            var tools: [MCPToolInfo] = []
            var cursor: String?
            repeat {
                let at = cursor
                let page = try await withDeadline(.seconds(30), what: "tools/list") { try await client.listTools(cursor: at) }
                tools += page.tools.map { MCPToolInfo(name: $0.name, description: $0.description, inputSchema: Self.json($0.inputSchema)) }
                cursor = page.nextCursor
            } while cursor != nil && tools.count < 1_000
            tools = Array(tools.prefix(1_000))   // a hostile server's list is bounded
            guard gen == generation, !stopping else { return }
            readyTools = tools
            logger.info("ready with \(tools.count) tools: \(tools.map(\.name).joined(separator: ", "))")
            newsSink.yield(.ready(server: config.name, tools: tools.count))
            settle()
        } catch {
            guard gen == generation, !stopping else { return }
            let reason = Self.describe(error)
            logger.error("could not start: \(reason)")
            await teardown()
            let retry = backoff.next(ranFor: ContinuousClock.now - startedAt)
            newsSink.yield(.failed(server: config.name, reason: reason, retryIn: retry))
            settle()
            scheduleRestart(after: retry)
        }
    }

    private func spawn(generation gen: Int) throws -> PipeTransport {
        guard let command = config.command else { throw ToolFailure("no command") }
        let p = Process()
        if command.contains("/") {
            p.executableURL = URL(fileURLWithPath: command)
            p.arguments = config.args
        } else {
            // A bare name is looked up in PATH (as a shell would).
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [command] + config.args
        }
        var env = ProcessInfo.processInfo.environment
        for key in ["GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_OAUTH_ACCESS_TOKEN", "LIVETALK_SERVE_KEY"] { env[key] = nil }
        for (k, v) in config.env { env[k] = v }
        p.environment = env
        if let cwd = config.cwd { p.currentDirectoryURL = URL(fileURLWithPath: (cwd as NSString).expandingTildeInPath) }
        let (input, output, errors) = (Pipe(), Pipe(), Pipe())
        p.standardInput = input
        p.standardOutput = output
        p.standardError = errors
        p.terminationHandler = { [weak self] proc in
            let status = proc.terminationReason == .uncaughtSignal ? "signal \(proc.terminationStatus)" : "status \(proc.terminationStatus)"
            Task { await self?.exited(generation: gen, pid: proc.processIdentifier, status: status) }
        }
        do { try p.run() } catch { throw ToolFailure("cannot run \(command): \(error.localizedDescription)") }
        pids.add(p.processIdentifier)
        process = p
        stdinPipe = input
        logger.info("started pid \(p.processIdentifier): \(command) \(config.args.joined(separator: " "))")
        // The server's stderr goes to the log, never the screen.
        let errFD = dup(errors.fileHandleForReading.fileDescriptor)   // the thread's own, closed when it ends
        let log = logger
        let t = Thread {
            var pending = Data()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(errFD, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                pending.append(contentsOf: buffer[0..<n])
                while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    log.notice("stderr: \(String(decoding: pending[pending.startIndex..<nl].prefix(2_000), as: UTF8.self))")
                    pending = Data(pending[(nl + 1)...])
                }
                if pending.count > 8_192 {
                    log.notice("stderr: \(String(decoding: pending.prefix(2_000), as: UTF8.self))")
                    pending.removeAll()
                }
            }
            if !pending.isEmpty { log.notice("stderr: \(String(decoding: pending.prefix(2_000), as: UTF8.self))") }
            close(errFD)
        }
        t.name = "livetalk-mcp-stderr"
        t.start()
        return PipeTransport(output: output, input: input, logger: logger)
    }

    /// The process ended (crash, exit, or our stop).
    private func exited(generation gen: Int, pid: Int32, status: String) async {
        pids.remove(pid)
        guard gen == generation else { return }
        let wasReady = readyTools != nil
        readyTools = nil
        failInflight(ToolFailure("the MCP server \(config.name) exited during the call (\(status))"))
        let c = client
        client = nil
        process = nil
        stdinPipe = nil
        await c?.disconnect()
        guard !stopping else { return }
        logger.error("exited (\(status))")
        let retry = backoff.next(ranFor: ContinuousClock.now - startedAt)
        if wasReady {
            newsSink.yield(.exited(server: config.name, status: status, retryIn: retry))
        } else {
            generation += 1   // the start under way fails through here, once
            newsSink.yield(.failed(server: config.name, reason: "exited while starting (\(status))", retryIn: retry))
            settle()
        }
        scheduleRestart(after: retry)
    }

    private func scheduleRestart(after d: Duration) {
        restartTask?.cancel()
        restartTask = Task { [weak self] in
            try? await Task.sleep(for: d)
            if Task.isCancelled { return }
            await self?.restart()
        }
    }

    private func restart() {
        guard !stopping else { return }
        startOnce()
    }

    /// Ends what a failed start left (a process still running, a client).
    private func teardown() async {
        let c = client
        client = nil
        await c?.disconnect()
        if let p = process, p.isRunning {
            generation += 1   // its exit is ours, not news
            terminate(p)
        }
        process = nil
        stdinPipe = nil
    }

    private func terminate(_ p: Process) {
        let pid = p.processIdentifier
        try? stdinPipe?.fileHandleForWriting.close()   // MCP's stdio shutdown: close stdin first
        kill(pid, SIGTERM)
        let box = pids
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) {
            if p.isRunning { kill(pid, SIGKILL) }
            box.remove(pid)
        }
    }

    // MARK: calls

    func call(tool: String, args: JSONValue?) async throws -> JSONValue {
        // A server being restarted is waited for, within the call's timeout.
        let until = ContinuousClock.now + config.timeout
        while readyTools == nil, !stopping, ContinuousClock.now < until {
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let client, readyTools != nil else {
            throw ToolFailure("the MCP server \(config.name) is not running (it is being restarted)")
        }
        let arguments: [String: Value]?
        switch args {
        case nil, .null?: arguments = nil
        case .object(let o)?: arguments = o.mapValues(Self.value)
        default: throw ToolFailure("arguments must be an object")
        }
        nextCall += 1
        let key = nextCall
        let shot = OneShot<CallTool.Result>()
        inflight[key] = shot
        defer { inflight[key] = nil }
        let context: RequestContext<CallTool.Result> = try await client.callTool(name: tool, arguments: arguments)
        let waiter = Task { do { shot.resolve(.success(try await context.value)) } catch { shot.resolve(.failure(error)) } }
        let timeout = config.timeout
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { shot.resolve(.failure(CallTimeout())) }
        }
        defer { timer.cancel() }
        do {
            let result = try await withTaskCancellationHandler {
                try await shot.wait()
            } onCancel: {
                shot.resolve(.failure(CancellationError()))
            }
            return try Self.summary(result)
        } catch is CallTimeout {
            logger.warning("\(tool) timed out after \(timeout): cancelling it")
            try? await client.cancelRequest(context.requestID, reason: "timed out after \(timeout)")
            waiter.cancel()
            throw ToolFailure("\(tool) did not answer within \(Self.seconds(timeout)) s: cancelled")
        } catch is CancellationError {
            // toolCallCancellation (or quitting): MCP's notifications/cancelled for this request.
            logger.info("\(tool) cancelled: telling the server")
            try? await client.cancelRequest(context.requestID, reason: "cancelled by the model")
            waiter.cancel()
            throw CancellationError()
        }
    }

    private func failInflight(_ e: any Error) {
        for s in inflight.values { s.resolve(.failure(e)) }
    }

    func stop() async {
        stopping = true
        restartTask?.cancel()
        settle()
        failInflight(ToolFailure("livetalk is quitting"))
        let c = client
        client = nil
        if let t = httpTransport { await t.disconnect() }
        guard let p = process else { await c?.disconnect(); return }
        process = nil
        let pid = p.processIdentifier
        try? stdinPipe?.fileHandleForWriting.close()   // MCP's stdio shutdown: stdin closed, then SIGTERM, then SIGKILL
        let deadline = ContinuousClock.now + .milliseconds(500)
        while p.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if p.isRunning { kill(pid, SIGTERM) }
        let hard = ContinuousClock.now + .milliseconds(700)
        while p.isRunning, ContinuousClock.now < hard { try? await Task.sleep(for: .milliseconds(20)) }
        if p.isRunning { kill(pid, SIGKILL) }
        await c?.disconnect()
        pids.remove(pid)
    }

    // MARK: conversions

    struct CallTimeout: Error {}

    static func seconds(_ d: Duration) -> String {
        let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        return s == s.rounded() ? String(Int(s)) : String(format: "%.1f", s)
    }

    /// A call's result for the model: the structured content when the server gives one, else the
    /// text parts as `{"result": …}`; an error result is a `ToolFailure` with its text.
    static func summary(_ r: CallTool.Result) throws -> JSONValue {
        var texts: [String] = []
        for c in r.content {
            switch c {
            case .text(let t, _, _): texts.append(t)
            case .image(_, let mime, _, _): texts.append("[image \(mime)]")
            case .audio(_, let mime, _, _): texts.append("[audio \(mime)]")
            case .resource(let res, _, _): texts.append(res.text ?? "[resource \(res.uri)]")
            case .resourceLink(let uri, let name, _, _, _, _): texts.append("[\(name): \(uri)]")
            }
        }
        let text = String(texts.joined(separator: "\n").prefix(100_000))
        if r.isError == true { throw ToolFailure(text.isEmpty ? "the tool reported an error" : text) }
        if let s = r.structuredContent, case .object = s { return json(s) }
        return ["result": .string(text)]
    }

    static func json(_ v: Value) -> JSONValue {
        switch v {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .double(let d): .double(d)
        case .string(let s): .string(s)
        case .data(_, let d): .string(d.base64EncodedString())
        case .array(let a): .array(a.map(json))
        case .object(let o): .object(o.mapValues(json))
        }
    }

    static func value(_ v: JSONValue) -> Value {
        switch v {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .double(let d): .double(d)
        case .string(let s): .string(s)
        case .array(let a): .array(a.map(value))
        case .object(let o): .object(o.mapValues(value))
        }
    }

    static func describe(_ e: any Error) -> String {
        if let f = e as? ToolFailure { return f.message }
        if let m = e as? MCPError { return m.errorDescription ?? "\(m)" }
        return "\(e)"
    }
}

/// Runs `body`, failing with a `ToolFailure` when it takes longer than `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let shot = OneShot<T>()
    let work = Task { do { shot.resolve(.success(try await body())) } catch { shot.resolve(.failure(error)) } }
    let timer = Task {
        try? await Task.sleep(for: limit)
        if !Task.isCancelled { shot.resolve(.failure(ToolFailure("no answer to \(what) within \(ServerSupervisor.seconds(limit)) s"))) }
    }
    defer { timer.cancel() }
    do { return try await shot.wait() } catch { work.cancel(); throw error }
}
