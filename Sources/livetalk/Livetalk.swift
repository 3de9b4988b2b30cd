// livetalk — the executable: ArgumentParser commands, and the real edges (WebSocket, PulseAudio,
// curses) handed to App. Nothing here wires or runs a conversation: that is App's `ClientRuntime`.
import App
import ArgumentParser
import Curses
import Emulator
import Foundation
import LiveProtocol
import LiveSession
import Logging
import PulseAudio
import EchoCancel
import MCPTools
import Imaging
import TerminalUI
import WebSocketTransport

extension AudioChoice: ExpressibleByArgument {}

enum OnOff: String, ExpressibleByArgument, CaseIterable {
    case on, off
}

@main
struct Livetalk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "livetalk",
        abstract: "A terminal voice assistant for the Gemini Live API (with an offline emulator).",
        discussion: """
            With GEMINI_API_KEY or GOOGLE_API_KEY set (or api_key in the config file) livetalk talks to \
            Gemini; with no key it starts its embedded emulator and says so. The key is never read from \
            the command line. A key starting with auth_tokens/ is used as an ephemeral token.

            Line mode (--no-tui, and whenever stdin or stdout is not a terminal) reads lines from stdin \
            and prints both sides of the conversation, tool activity and state changes. A line is a text \
            turn; each waits until the model has answered the one before. Slash commands do what the \
            screen's keys do: /talk (push-to-talk; an empty line or /talk again ends the turn), \
            /mode vad|ptt, /mute, /reset, /disconnect, /connect, /record, /image PATH (a JPEG or PNG; o on the \
            screen), /quit, /help. A line starting with // sends a literal /.

            Session settings (--search, --temperature, --vad-silence-ms, --include-thoughts, …, listed \
            below) are also config-file keys: --top-p is top_p. `livetalk info --setup [options]` prints \
            the setup JSON they make, secrets redacted.

            Recording (R in the screen, /record, or --record [DIR]) writes a folder with \
            conversation.jsonl, conversation.md and audio.wav (stereo 24 kHz: mic left, model right); \
            by default in $XDG_DATA_HOME/livetalk/recordings/<date-time>/. Files are private (0600).

            Config file: $XDG_CONFIG_HOME/livetalk/config.toml (flags > environment > file).

            MCP servers named in the config file ([mcp.NAME] with command/args/env/cwd, or url) are \
            started with livetalk and their tools declared to the model; `livetalk tools` lists them. A \
            call not in the server's allow = [...] asks first (y/n in the tool pane); line mode refuses \
            it unless --yes-tools.

            EXIT CODES
              0    the conversation ended normally (EOF, q, /quit)
              1    the session failed (fatal close code, gave up reconnecting, no reply)
              64   bad flags, config file or input file
              69   could not start (the embedded emulator or a local resource failed)
              130  interrupted by SIGINT/SIGTERM/SIGHUP
            """,
        subcommands: [Talk.self, Serve.self, Devices.self, Themes.self, Tools.self, Token.self, Info.self],
        defaultSubcommand: Talk.self)

    /// `--record` may stand alone (the default folder): ArgumentParser options need a value, so a
    /// bare `--record` becomes the hidden flag `--record-default`.
    static func main() async {
        var args = Array(CommandLine.arguments.dropFirst())
        for i in args.indices where args[i] == "--record" && (i + 1 == args.count || args[i + 1].hasPrefix("-")) {
            args[i] = "--record-default"
        }
        do {
            var command = try parseAsRoot(args)
            if var async = command as? any AsyncParsableCommand { try await async.run() } else { try command.run() }
        } catch {
            exit(withError: error)
        }
    }
}

/// `livetalk [options]` (the default) — talk to Gemini or the embedded emulator.
struct Talk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to the model (the default command: `livetalk [options]`).",
        discussion: Livetalk.configuration.discussion)

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let p = ClientPlan.check(client.flags) { throw ValidationError(ClientWording.problem(p)) }
    }

    mutating func run() async throws {
        let code = await ClientMain.run(flags: client.flags, configPath: client.config, edges: .real)
        if code != 0 { throw ExitCode(code) }
    }
}

struct ClientOptions: ParsableArguments {
    @Option(help: "ws:// or wss:// URL of the Live API, a relay or `livetalk serve`.") var endpoint: String?
    @Option(help: "API version in the path (default v1beta; v1alpha for ephemeral tokens).") var apiVersion: String?
    @Option(help: "Model id, e.g. gemini-2.5-flash-native-audio-preview-12-2025.") var model: String?
    @Option(help: "Prebuilt voice name (default Puck).") var voice: String?
    @Option(help: "System instruction: TEXT, or @FILE to read it from a file.") var system: String?
    @Flag(help: "Turn-taking: server voice activity detection (default) or push-to-talk.") var mode: TurnMode?
    @Flag(help: "Ask for TEXT replies instead of AUDIO.") var text = false
    @Option(help: "Write every event as one JSON object per line to this file.") var transcript: String?
    @Option(help: "Stream this WAV file as the microphone, in real time (resampled to 16 kHz mono).") var inputWav: String?
    @Option(help: "Record the model's audio (24 kHz) to this WAV file.") var outputWav: String?
    @Option(help: ArgumentHelp("Record the session from the start into DIR (alone: the default folder).", valueName: "DIR"))
    var record: String?
    @Flag(help: ArgumentHelp("--record with no DIR.", visibility: .private)) var recordDefault = false
    @Flag(help: "Use Vertex AI (token in GOOGLE_OAUTH_ACCESS_TOKEN).") var vertex = false
    @Option(help: "Vertex AI project.") var project: String?
    @Option(help: "Vertex AI location: a region, us, eu or global (default us-central1).") var location: String?
    @Option(help: "PEM file of CA certificates to trust for wss://.") var caFile: String?
    @Option(help: "Config file (default $XDG_CONFIG_HOME/livetalk/config.toml).") var config: String?
    @Option(help: "Log file (default $XDG_STATE_HOME/livetalk/livetalk.log).") var logFile: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String?
    @Flag(name: .customLong("no-tui"), help: "Line mode: stdin lines are text turns and slash commands, output is plain lines.") var noTUI = false
    @Option(help: "Audio backend: auto (PulseAudio if a server answers), pulse, wav (files only) or null.")
    var audio: AudioChoice = .auto
    @Option(help: "PulseAudio source to record (see `livetalk devices`; default: the server's default).") var mic: String?
    @Option(help: "PulseAudio sink to play to (see `livetalk devices`; default: the server's default).") var speaker: String?
    @Option(help: "Target playback device latency in ms (default 50).") var playbackBufferMs = 50
    @Option(help: "Echo cancellation of the speaker in the microphone: on (default with PulseAudio) or off.") var aec: OnOff?
    @Option(name: .customLong("local-bargein"),
            help: "Duck the model's voice the moment you speak over it: on (default with echo cancellation) or off.")
    var localBargeIn: OnOff?
    @Flag(help: "Suppress steady background noise in the microphone.") var noiseSuppression = false
    @Option(help: "Colour theme: a name from `livetalk themes` or a path to a .toml file (default dark).") var theme: String?
    @Flag(help: "Line mode: run MCP tool calls that the config's allow-lists do not cover (otherwise they are refused).")
    var yesTools = false
    @Flag(help: "Send the API key or token to a custom wss:// --endpoint that is not a Google host (never over plaintext ws://).")
    var trustEndpoint = false
    @OptionGroup(title: "Session settings (also in the config file: --top-p is top_p)") var knobs: KnobOptions
    @Option(help: ArgumentHelp("Seconds for TCP + TLS + WebSocket upgrade (default 10).", visibility: .hidden)) var connectTimeout: Double?
    @Option(help: ArgumentHelp("Seconds from the socket opening to setupComplete (default 10).", visibility: .hidden)) var setupTimeout: Double?
    @Option(help: ArgumentHelp("Seconds for the close handshake (default 2).", visibility: .hidden)) var closeTimeout: Double?
    @Option(help: ArgumentHelp("Seconds between WebSocket pings (default 15).", visibility: .hidden)) var pingInterval: Double?
    @Option(help: ArgumentHelp("Seconds with no inbound frame before the connection counts as dead (default 45).", visibility: .hidden))
    var inactivityTimeout: Double?
    @Option(help: ArgumentHelp("Line mode: seconds with no event while a reply is awaited before giving up (default 30).",
                               visibility: .hidden)) var replyTimeout: Double?
    @Option(help: ArgumentHelp("Seconds the start waits for the MCP servers to list their tools (default 15).", visibility: .hidden))
    var mcpStartTimeout: Double?

    enum TurnMode: String, EnumerableFlag {
        case vad, ptt
        static func help(for value: TurnMode) -> ArgumentHelp? {
            value == .vad ? "Server voice activity detection." : "Push-to-talk (activityStart/activityEnd)."
        }
    }

    var flags: ClientFlags {
        var f = ClientFlags()
        (f.endpoint, f.apiVersion, f.model, f.voice, f.system) = (endpoint, apiVersion, model, voice, system)
        f.pushToTalk = mode.map { $0 == .ptt }
        (f.text, f.transcript, f.inputWav, f.outputWav, f.record) = (text, transcript, inputWav, outputWav, recordDefault ? "" : record)
        (f.vertex, f.project, f.location, f.caFile) = (vertex, project, location, caFile)
        (f.logFile, f.logLevel, f.noTUI, f.audio) = (logFile, logLevel, noTUI, audio)
        (f.mic, f.speaker, f.playbackBufferMs, f.theme, f.trustEndpoint) = (mic, speaker, playbackBufferMs, theme, trustEndpoint)
        (f.echoCancellation, f.noiseSuppression) = (aec.map { $0 == .on }, noiseSuppression)
        f.localBargeIn = localBargeIn.map { $0 == .on }
        (f.yesTools, f.mcpStartTimeout) = (yesTools, mcpStartTimeout)
        (f.connectTimeout, f.setupTimeout, f.closeTimeout) = (connectTimeout, setupTimeout, closeTimeout)
        (f.pingInterval, f.inactivityTimeout, f.replyTimeout) = (pingInterval, inactivityTimeout, replyTimeout)
        f.knobs = knobs.values
        return f
    }
}

extension ClientEdges {
    /// The real edges: WebSocket over NIO, PulseAudio, curses, stdin.
    static var real: ClientEdges {
        var edges = ClientEdges(
            transport: { deadlines, caFile in
                WebSocketTransport(caFile: caFile, deadlines: deadlines, logger: Logger(label: "livetalk.transport"))
            },
            openAudio: { plan, capture in
                guard plan.choice == .auto || plan.choice == .pulse else { return AudioOpening() }
                var o = PulseOptions()
                (o.mic, o.speaker, o.playbackBufferMs, o.captureEnabled) = (plan.mic, plan.speaker, plan.playbackBufferMs, capture)
                // The echo canceller hears exactly what the speaker played (issue 11).
                var processor: WebRTCMicProcessor?
                var processorProblem: String?
                if capture, plan.echoCancellation || plan.noiseSuppression {
                    do throws(EchoCancelError) {
                        let p = try WebRTCMicProcessor(echoCancellation: plan.echoCancellation,
                                                       noiseSuppression: plan.noiseSuppression)
                        o.playbackTap = { p.played($0, rate: 24000) }
                        processor = p
                    } catch {
                        processorProblem = "\(error)"
                    }
                }
                do throws(PulseError) {
                    let device = try PulseAudioDevice(options: o)
                    let news = AsyncStream<Notice> { c in
                        if let processorProblem { c.yield(.echoCancellerOff(reason: processorProblem)) }
                        let t = Task {
                            for await e in device.events {
                                switch e {
                                case .lost(let why): c.yield(.audioLost(reason: why))
                                case .recovered(let what): c.yield(.audioBack(what: what))
                                }
                            }
                            c.finish()
                        }
                        c.onTermination = { _ in t.cancel() }
                    }
                    return AudioOpening(device: device, news: news, processor: processor)
                } catch {
                    return AudioOpening(offReason: error.message)
                }
            },
            openTerminal: { try CursesBackend() },
            toolServers: { MCPToolServers(configs: $0) })
        edges.prepareImage = { path in
            let f = try JPEGFrame.make(path: path)
            return PreparedImage(jpeg: f.jpeg, width: f.width, height: f.height)
        }
        return edges
    }
}

/// `livetalk tools` — every tool a conversation would declare: the built-ins and the tools of
/// the config's MCP servers (started for the listing, then stopped).
struct Tools: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the tools the model may call: built-in and from the config's MCP servers.",
        discussion: """
            Starts every [mcp.NAME] server of the config file, lists its tools and stops it. A tool is \
            declared under its own name, or as SERVER_NAME when another tool has that name. RUNS says \
            whether a call runs at once (a built-in, or allowed by the server's allow = [...]) or asks \
            first (the screen's y/n prompt; line mode refuses it unless --yes-tools). Exit 69 when a \
            server could not start.
            """)

    @Option(help: "Config file (default $XDG_CONFIG_HOME/livetalk/config.toml).") var config: String?
    @Option(help: "Log file (default $XDG_STATE_HOME/livetalk/livetalk.log): the servers' stderr goes there.") var logFile: String?
    @Option(help: ArgumentHelp("Seconds to wait for the servers to list their tools (default 15).", visibility: .hidden))
    var startTimeout: Double = 15

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        let file: FileConfig
        do { file = try FileConfig.load(path: config ?? FileConfig.defaultPath(environment: env)) } catch {
            throw ValidationError(ClientWording.problem(.config(error)))
        }
        if let problem = LogSetup.bootstrap(path: logFile ?? file.logFile ?? LogSetup.defaultPath(environment: env), level: .info) {
            sayErr("livetalk: " + ClientWording.notice(.logOff(reason: problem)))
        }
        var tools: [String: [MCPToolInfo]] = [:]
        let servers = file.mcp.isEmpty ? nil : MCPToolServers(configs: file.mcp)
        if let servers {
            Shutdown.shared.install()
            Shutdown.shared.addFinalizer { servers.killNow() }
            tools = await servers.start(deadline: .seconds(clamping: max(0.1, min(startTimeout, 600))))
        }
        let registry = ToolCatalog.registry(builtins: .builtins(), configs: file.mcp, tools: tools, servers: servers, approve: { _ in false })
        for line in ToolCatalog.listing(registry, configs: file.mcp) { print(line) }
        let missing = file.mcp.map(\.name).filter { tools[$0] == nil }
        for name in missing { sayErr("livetalk tools: the MCP server \(name) did not list its tools (see the log)") }
        await servers?.stop()
        if !missing.isEmpty { throw ExitCode(ExitStatus.startFailed) }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the offline Live API emulator (loopback by default).",
        discussion: """
            Speaks the BidiGenerateContent protocol on
              /ws/google.ai.generativelanguage.{VERSION}.GenerativeService.BidiGenerateContent[Constrained]
              /ws/google.cloud.aiplatform.{VERSION}.LlmBidiService/BidiGenerateContent
            (repeated slashes are collapsed, as the official SDK sends //ws/…), and
            POST /v1alpha/auth_tokens to mint ephemeral tokens.

            REPLIES  Every turn gets a streamed reply: 24 kHz PCM in ~40 ms chunks paced in real time, \
            spoken by espeak-ng in the voice the setup names (Puck, Kore, … mapped to espeak-ng variants), \
            with output transcription that follows the words as they are spoken; text parts in TEXT \
            modality. Audio is cut into turns by an energy VAD that honours the setup's sensitivity, prefix \
            padding and silence duration, or by activityStart/activityEnd when automatic detection is \
            disabled; pocketsphinx transcribes each turn (partial words while the user speaks). Sound \
            without recognisable words becomes "[speech 1.2 s]". User activity during a reply interrupts \
            it unless activityHandling is NO_INTERRUPTION. --speech tones replaces both with tones.

            AGENT  It answers: hello (and other greetings); what time is it; what can you do (lists these); \
            my name is … / do you know my name (kept across resumption); repeat after me …; what is the weather \
            in <city> (calls a declared function whose name contains "weather", the city in its location \
            parameter); search for … (when googleSearch is declared: facts from a small offline index of \
            example.org pages, with groundingMetadata); what do you see (the size of the last image sent \
            as realtimeInput.video, which the next reply also mentions); anything else: "I heard: …". \
            With thinkingConfig.includeThoughts each reply starts with a short thought part.
            Every setup field of the Live API is accepted; voice detection settings are honoured.

            TOOLS  A user turn calls a declared function when its words contain the function's name, with \
            underscores read as spaces: "please get current time" calls get_current_time. Arguments come \
            from key=value words in the same turn (key="two words" for spaces; numbers and true/false keep \
            their type): "start timer seconds=2". When two matching names end alike ("time get current time", \
            "get current time"), only the longer is called. BLOCKING calls are awaited, then the reply uses the result; \
            NON_BLOCKING calls let the reply go on, and their result is spoken per its scheduling \
            (SILENT, WHEN_IDLE, INTERRUPT). An interruption cancels pending calls (toolCallCancellation).

            KEYS  --require-key takes the key from LIVETALK_SERVE_KEY (or GEMINI_API_KEY), never argv. \
            A missing key closes with 1008, a wrong one with 1008 "API key not valid". A --host that is not \
            loopback needs --require-key (or --insecure). Without --require-key, tokens are minted only for \
            loopback peers.

            LIMITS  At --max-connections, a new session is closed with 1013 on its first message (open ones carry on). A \
            connection that sends no setup within --idle-timeout is closed (1008). WebSocket upgrades whose \
            Origin header is not loopback (or --allow-origin) are refused (400). Audio rates outside \
            8000-48000 Hz close with 1007. Texts and replies are cut to --max-text-chars. At most \
            --max-listeners utterances are transcribed at once (others become "[speech N s]"); an utterance \
            ends after --max-utterance seconds. Resumption handles: the latest per session, for \
            --resumption-ttl, at most --max-snapshots.
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 = any free port, printed on start).") var port = 8765
    @Option(help: "PEM certificate for wss://.") var tlsCert: String?
    @Option(help: "PEM private key for wss://.") var tlsKey: String?
    @Flag(help: "Require the key in LIVETALK_SERVE_KEY (or GEMINI_API_KEY) from clients.") var requireKey = false
    @Option(help: "Seconds a connection lives before the server closes it.") var connectionLifetime: Double = 600
    @Option(help: "Seconds before the end of a connection to send goAway.") var goAwayBefore: Double = 60
    @Option(help: "Fault: drop the connection (no close frame) this many ms after setupComplete.") var faultDropAfterMs: Int?
    @Option(help: "Fault: drop the connection in the middle of the Nth reply.") var faultDropMidReply: Int?
    @Option(help: "Fault: stall this many ms in the middle of the first reply.") var faultStallMs: Int?
    @Flag(help: "Fault: send a frame that is not JSON after setupComplete.") var faultGarbageFrame = false
    @Flag(help: "Fault: send an unknown top-level message after setupComplete.") var faultUnknownMessage = false
    @Option(help: "Fault: send one message of about this many bytes after setupComplete.") var faultOversizeBytes: Int?
    @Option(help: "Fault: close with this code after setupComplete (see --fault-close-after-ms).") var faultCloseCode: UInt16?
    @Option(help: "Fault: delay before --fault-close-code.") var faultCloseAfterMs: Int = 0
    @Option(help: "espeak (espeak-ng voice, pocketsphinx transcription) or tones (no speech libraries).")
    var speech: String = "espeak"
    @Option(help: "Log level on stderr.") var logLevel: String = "info"
    @Flag(help: "Allow a non-loopback --host without --require-key (anyone who can reach it may use it).")
    var insecure = false
    @Option(help: "Most WebSocket sessions at once; more are closed with 1013.") var maxConnections = 64
    @Option(help: "Seconds a connection may take to send setup before it is closed.") var idleTimeout: Double = 10
    @Option(help: "Longest input text and reply, in characters (longer ones are cut).") var maxTextChars = 2000
    @Option(help: "Most utterances transcribed at once (others become \"[speech N s]\"); default 4 per core.") var maxListeners = EmulatorOptions.defaultMaxListeners
    @Option(help: "Seconds after which an utterance is ended.") var maxUtterance: Double = 30
    @Option(help: "Resumption handles kept (least recently used go first).") var maxSnapshots = 1000
    @Option(help: "Seconds a resumption handle stays valid.") var resumptionTTL: Double = 7200
    @Option(help: "Live ephemeral tokens kept; more mints answer 429.") var maxTokens = 1000
    @Option(help: "A browser Origin allowed besides loopback ones (repeatable), e.g. https://app.example.")
    var allowOrigin: [String] = []

    /// Longest duration a flag may give (one day): finite, and far from `Int` overflow.
    static let maxSeconds: Double = 86_400

    static func seconds(_ value: Double, _ flag: String, min: Double) throws -> Duration {
        guard value.isFinite, value >= min, value <= maxSeconds else {
            throw ValidationError("\(flag) \(value): use \(min.formatted())…\(Int(maxSeconds)) seconds")
        }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    func validate() throws {
        guard EmulatorSpeech(rawValue: speech) != nil else { throw ValidationError("--speech \(speech): use espeak or tones") }
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port): use 0–65535") }
        _ = try Self.seconds(connectionLifetime, "--connection-lifetime", min: 0.001)
        _ = try Self.seconds(goAwayBefore, "--go-away-before", min: 0)
        guard goAwayBefore <= connectionLifetime else {
            throw ValidationError("--go-away-before must be between 0 and --connection-lifetime")
        }
        _ = try Self.seconds(idleTimeout, "--idle-timeout", min: 0.1)
        _ = try Self.seconds(maxUtterance, "--max-utterance", min: 1)
        _ = try Self.seconds(resumptionTTL, "--resumption-ttl", min: 1)
        for (value, flag, range) in [(maxConnections, "--max-connections", 1...100_000), (maxTextChars, "--max-text-chars", 1...1_000_000),
                                     (maxListeners, "--max-listeners", 0...64), (maxSnapshots, "--max-snapshots", 1...1_000_000),
                                     (maxTokens, "--max-tokens", 1...1_000_000)] where !range.contains(value) {
            throw ValidationError("\(flag) \(value): use \(range.lowerBound)…\(range.upperBound)")
        }
        for ms in [faultDropAfterMs, faultStallMs, faultCloseAfterMs].compactMap({ $0 }) where !(0...86_400_000).contains(ms) {
            throw ValidationError("fault delays are 0…86400000 ms")
        }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        // R21: on a reachable address, anyone could use the emulator and mint tokens.
        if !requireKey, !insecure, !ConnectionGate.isLoopback(host: host) {
            throw ValidationError("--host \(host) is reachable from other machines: add --require-key (key in LIVETALK_SERVE_KEY), or --insecure to serve it open")
        }
    }

    func run() async throws {
        _ = LogSetup.bootstrap(path: nil, level: Logger.Level(rawValue: logLevel) ?? .info, toStderr: true)
        var o = EmulatorOptions()
        o.host = host
        o.port = port
        o.tlsCertFile = tlsCert
        o.tlsKeyFile = tlsKey
        o.speech = EmulatorSpeech(rawValue: speech) ?? .espeak
        if requireKey {
            let env = ProcessInfo.processInfo.environment
            guard let key = env["LIVETALK_SERVE_KEY"] ?? env["GEMINI_API_KEY"], !key.isEmpty else {
                throw ValidationError("--require-key needs the key in LIVETALK_SERVE_KEY or GEMINI_API_KEY")
            }
            o.requireKey = key
        }
        o.connectionLifetime = try Self.seconds(connectionLifetime, "--connection-lifetime", min: 0.001)
        o.goAwayBefore = try Self.seconds(goAwayBefore, "--go-away-before", min: 0)
        o.idleTimeout = try Self.seconds(idleTimeout, "--idle-timeout", min: 0.1)
        o.maxUtterance = try Self.seconds(maxUtterance, "--max-utterance", min: 1)
        o.resumptionTTL = try Self.seconds(resumptionTTL, "--resumption-ttl", min: 1)
        o.maxConnections = maxConnections
        o.maxTextCharacters = maxTextChars
        o.maxListeners = maxListeners
        o.maxSnapshots = maxSnapshots
        o.maxTokens = maxTokens
        o.allowedOrigins = Set(allowOrigin)
        if insecure, !requireKey, !ConnectionGate.isLoopback(host: host) {
            sayErr("livetalk serve: warning: \(host) is reachable from other machines and needs no key (--insecure)")
        }
        o.faults.dropAfter = faultDropAfterMs.map { .milliseconds($0) }
        o.faults.dropMidReply = faultDropMidReply
        o.faults.stall = faultStallMs.map { .milliseconds($0) }
        o.faults.garbageFrame = faultGarbageFrame
        o.faults.unknownMessage = faultUnknownMessage
        o.faults.oversizeFrameBytes = faultOversizeBytes
        o.faults.closeCode = faultCloseCode
        o.faults.closeAfter = .milliseconds(faultCloseAfterMs)
        let scheme = tlsCert == nil ? "ws" : "wss"
        let options = o
        do {
            try await EmulatorServer(options: options).run(handleSignals: true) { port in
                FileHandle.standardOutput.write(Data("livetalk serve: listening on \(scheme)://\(options.host):\(port)\n".utf8))
            }
        } catch let e as EmulatorError {
            sayErr("livetalk serve: \(e)")
            throw ExitCode(ExitStatus.startFailed)
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mint an ephemeral token (auth_tokens/…) with the key from the environment or config file.",
        discussion: "Prints the token's name on stdout. Against `livetalk serve`, pass its ws:// URL with --endpoint.")

    @Option(help: "Emulator or relay URL (ws://, wss://, http:// or https://); default Google.") var endpoint: String?
    @Option(help: "Config file (default $XDG_CONFIG_HOME/livetalk/config.toml).") var config: String?
    @Option(help: "How many new sessions the token may start (0 = unlimited).") var uses = 1
    @Flag(help: "Send the API key to an --endpoint that is not a Google host (over TLS only).") var trustEndpoint = false
    @Option(help: "Minutes until the token expires (1–1200).") var expireMinutes = 30
    @Option(help: "Minutes within which new sessions may start (1–1200, at most --expire-minutes).") var newSessionMinutes = 1

    func validate() throws {
        // R15: the API allows at most 20 hours; larger numbers also overflowed `minutes * 60`.
        guard (1...1200).contains(expireMinutes) else { throw ValidationError("--expire-minutes \(expireMinutes): use 1…1200") }
        guard (1...1200).contains(newSessionMinutes), newSessionMinutes <= expireMinutes else {
            throw ValidationError("--new-session-minutes \(newSessionMinutes): use 1…\(expireMinutes) (not beyond --expire-minutes)")
        }
        guard uses >= 0, uses <= 1_000_000 else { throw ValidationError("--uses \(uses): use 0 (unlimited)…1000000") }
    }

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        let file = try FileConfig.load(path: config ?? FileConfig.defaultPath(environment: env))
        var r = TokenClient.Request()
        (r.endpoint, r.uses, r.expireMinutes, r.newSessionMinutes, r.trustEndpoint) = (endpoint, uses, expireMinutes, newSessionMinutes, trustEndpoint)
        do { print(try await TokenClient.mint(r, environment: env, file: file)) } catch { throw ValidationError(error.description) }
    }
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show config, log and recording paths, and where the key would come from.",
        discussion: "With --setup, print the exact setup message the client would send (with the talk options given), "
            + "as JSON, with secrets redacted.")
    @Flag(help: "Print the setup JSON that would be sent, with secrets redacted.") var setup = false
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if setup, let p = ClientPlan.check(client.flags) { throw ValidationError(ClientWording.problem(p)) }
    }

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        guard setup else {
            ClientInfo.lines(environment: env).forEach { print($0) }
            return
        }
        switch ClientInfo.setupJSON(flags: client.flags, configPath: client.config, environment: env) {
        case .success(let text): print(text)
        case .failure(let p):
            sayErr("livetalk: \(ClientWording.problem(p))")
            throw ExitCode(p.exitStatus)
        }
    }
}

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List PulseAudio sources (microphones) and sinks (speakers); * marks the defaults.")

    func run() throws {
        do {
            let (sources, sinks) = try PulseDeviceList.list()
            print("sources (--mic):")
            for d in sources where !d.isMonitor { print("  \(d.isDefault ? "*" : " ") \(d.name)  \(d.description)") }
            let monitors = sources.filter(\.isMonitor)
            if !monitors.isEmpty {
                print("monitors (also usable with --mic):")
                for d in monitors { print("  \(d.isDefault ? "*" : " ") \(d.name)  \(d.description)") }
            }
            print("sinks (--speaker):")
            for d in sinks { print("  \(d.isDefault ? "*" : " ") \(d.name)  \(d.description)") }
        } catch {
            sayErr("livetalk devices: \(error)")
            throw ExitCode(ExitStatus.startFailed)
        }
    }
}

struct Themes: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the colour themes and check that each file is valid.")

    func run() throws {
        let found = ThemeLoader.available()
        if found.isEmpty { print("no themes found in: \(ThemeLoader.searchPaths().joined(separator: ", "))") }
        var bad = 0
        for t in found {
            do {
                let theme = try ThemeLoader.load(path: t.path)
                print("ok    \(t.name)\(theme.ascii ? " (ascii)" : "")  \(t.path)")
            } catch {
                bad += 1
                print("error \(error)")
            }
        }
        if bad > 0 { throw ExitCode(ExitStatus.usage) }
    }
}

func sayErr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
