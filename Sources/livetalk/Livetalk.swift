// livetalk — the executable: ArgumentParser commands and nothing else. Behaviour lives in App.
import App
import ArgumentParser
import Dispatch
import Emulator
import Foundation
import LiveProtocol
import LiveSession
import Logging
import PulseAudio
import Curses
import TerminalUI
import WebSocketTransport

extension AudioChoice: ExpressibleByArgument {}

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
            as text turns and prints both sides of the conversation, tool activity and state changes.

            Config file: $XDG_CONFIG_HOME/livetalk/config.toml (flags > environment > file).

            EXIT CODES
              0    the conversation ended normally (EOF, q, Ctrl-D)
              1    the session failed (fatal close code, gave up reconnecting)
              64   bad flags, config file or input file
              69   could not start (the embedded emulator or a local resource failed)
              130  interrupted by SIGINT/SIGTERM (after a clean close)
            """,
        subcommands: [Talk.self, Serve.self, Devices.self, Themes.self, Token.self, Info.self],
        defaultSubcommand: Talk.self)
}

/// `livetalk [options]` (the default) — talk to Gemini or the embedded emulator.
struct Talk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to the model (the default command: `livetalk [options]`).",
        discussion: Livetalk.configuration.discussion)

    @OptionGroup var client: ClientOptions

    mutating func run() async throws {
        let code = await client.runClient()
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
    @Flag(help: "Use Vertex AI (token in GOOGLE_OAUTH_ACCESS_TOKEN).") var vertex = false
    @Option(help: "Vertex AI project.") var project: String?
    @Option(help: "Vertex AI location: a region, us, eu or global (default us-central1).") var location: String?
    @Option(help: "PEM file of CA certificates to trust for wss://.") var caFile: String?
    @Option(help: "Config file (default $XDG_CONFIG_HOME/livetalk/config.toml).") var config: String?
    @Option(help: "Log file (default $XDG_STATE_HOME/livetalk/livetalk.log).") var logFile: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String?
    @Flag(name: .customLong("no-tui"), help: "Line mode: stdin lines are text turns, output is plain lines.") var noTUI = false
    @Option(help: "Audio backend: auto (PulseAudio if a server answers), pulse, wav (files only) or null.")
    var audio: AudioChoice = .auto
    @Option(help: "PulseAudio source to record (see `livetalk devices`; default: the server's default).") var mic: String?
    @Option(help: "PulseAudio sink to play to (see `livetalk devices`; default: the server's default).") var speaker: String?
    @Option(help: "Target playback device latency in ms (default 50).") var playbackBufferMs = 50
    @Option(help: "Colour theme: a name from `livetalk themes` or a path to a .toml file (default dark).") var theme: String?
    @Flag(help: "Send the API key or token to a custom wss:// --endpoint that is not a Google host (never over plaintext ws://).")
    var trustEndpoint = false
    @Option(help: ArgumentHelp("Seconds for TCP + TLS + WebSocket upgrade (default 10).", visibility: .hidden)) var connectTimeout: Double?
    @Option(help: ArgumentHelp("Seconds from the socket opening to setupComplete (default 10).", visibility: .hidden)) var setupTimeout: Double?
    @Option(help: ArgumentHelp("Seconds for the close handshake (default 2).", visibility: .hidden)) var closeTimeout: Double?
    @Option(help: ArgumentHelp("Seconds between WebSocket pings (default 15).", visibility: .hidden)) var pingInterval: Double?
    @Option(help: ArgumentHelp("Seconds with no inbound frame before the connection counts as dead (default 45).", visibility: .hidden))
    var inactivityTimeout: Double?
    @Option(help: ArgumentHelp("Line mode: seconds with no event while a reply is awaited before giving up (default 30).",
                               visibility: .hidden)) var replyTimeout: Double?

    enum TurnMode: String, EnumerableFlag {
        case vad, ptt
        static func help(for value: TurnMode) -> ArgumentHelp? {
            value == .vad ? "Server voice activity detection." : "Push-to-talk (activityStart/activityEnd)."
        }
    }

    func validate() throws {
        guard (10...1000).contains(playbackBufferMs) else {
            throw ValidationError("--playback-buffer-ms \(playbackBufferMs): use 10–1000")
        }
        if let l = logLevel, Logger.Level(rawValue: l) == nil {
            throw ValidationError("--log-level \(l): use one of trace, debug, info, notice, warning, error, critical")
        }
        if let e = endpoint {
            do { _ = try Endpoint.custom(e, apiKey: nil) } catch { throw ValidationError(error.description) }
        }
        for (flag, path) in [("--input-wav", inputWav), ("--ca-file", caFile)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw ValidationError("\(flag) \(path): no such readable file")
            }
        }
        for (flag, v) in [("--connect-timeout", connectTimeout), ("--setup-timeout", setupTimeout),
                          ("--close-timeout", closeTimeout), ("--ping-interval", pingInterval),
                          ("--inactivity-timeout", inactivityTimeout), ("--reply-timeout", replyTimeout)] {
            if let v, !(v.isFinite && v >= 0.05 && v <= 86_400) {
                throw ValidationError("\(flag) \(v): use a number of seconds from 0.05 to 86400")
            }
        }
    }

    static func duration(_ seconds: Double?, _ fallback: Duration) -> Duration {
        guard let seconds, seconds.isFinite, seconds > 0 else { return fallback }
        return .milliseconds(Int64((min(seconds, 86_400) * 1000).rounded()))
    }

    var deadlines: Deadlines {
        var d = Deadlines()
        d.connect = Self.duration(connectTimeout, d.connect)
        d.setup = Self.duration(setupTimeout, d.setup)
        d.close = Self.duration(closeTimeout, d.close)
        d.pingInterval = Self.duration(pingInterval, d.pingInterval)
        d.inactivity = Self.duration(inactivityTimeout, d.inactivity)
        return d
    }

    /// Runs the client and returns its exit code.
    func runClient() async -> Int32 {
        let env = ProcessInfo.processInfo.environment
        let file: FileConfig
        do { file = try FileConfig.load(path: config ?? FileConfig.defaultPath(environment: env)) } catch {
            sayErr("livetalk: \(error)")
            return ExitStatus.usage
        }
        if let problem = LogSetup.bootstrap(path: logFile ?? file.logFile,
                                            level: Logger.Level(rawValue: logLevel ?? file.logLevel ?? "info") ?? .info) {
            sayErr("livetalk: warning: \(problem); logging is off")
        }
        let logger = Logger(label: "livetalk")
        for w in file.warnings { sayErr("livetalk: warning: \(w)") }

        var s = ClientSettings()
        s.model = model ?? file.model ?? s.model
        s.voice = voice ?? file.voice ?? s.voice
        s.apiVersion = apiVersion ?? file.apiVersion
        s.endpoint = endpoint ?? file.endpoint
        s.pushToTalk = (mode?.rawValue ?? file.mode) == "ptt"
        s.textModality = text
        s.caFile = caFile ?? file.caFile
        s.vertex = vertex
        s.project = project
        s.location = location
        s.trustEndpoint = trustEndpoint
        // Signals first: from here on Ctrl-C, SIGTERM and SIGHUP end the process within 2 s.
        let shutdown = Shutdown.shared
        shutdown.install()

        // Full screen unless --no-tui or stdin/stdout is not a terminal; a bad theme stops here, before curses.
        var fullScreen: (backend: CursesBackend, theme: Theme)?
        var chosenTheme: Theme = .monochrome
        let fileFlags = [("--transcript", transcript), ("--input-wav", inputWav), ("--output-wav", outputWav)]
            .filter { $0.1 != nil }.map(\.0)
        if !noTUI, isatty(0) == 1, isatty(1) == 1, !fileFlags.isEmpty {
            // The full-screen UI does not write these files yet: never drop what the user asked for.
            sayErr("livetalk: \(fileFlags.joined(separator: ", ")) run in line mode")
        }
        if !noTUI, isatty(0) == 1, isatty(1) == 1, fileFlags.isEmpty {
            do {
                if env["NO_COLOR"].map({ !$0.isEmpty }) == true {
                    chosenTheme = (try? ThemeLoader.resolve("monochrome")) ?? .monochrome
                } else {
                    chosenTheme = try ThemeLoader.resolve(theme ?? file.theme ?? "dark")
                }
            } catch {
                sayErr("livetalk: theme \(error)")
                return ExitStatus.usage
            }
            do {
                let backend = try CursesBackend()
                if backend.colors < 8 { chosenTheme = (try? ThemeLoader.resolve("monochrome")) ?? .monochrome }
                fullScreen = (backend, chosenTheme)
            } catch {
                sayErr("livetalk: full screen unavailable (\(error)); using line mode")
            }
        }
        // From here on, a failure must restore the terminal first.
        func fail(_ message: String, _ code: Int32) -> Int32 {
            fullScreen?.backend.stop()
            sayErr(message)
            return code
        }

        let credential = Settings.credential(environment: env, file: file)
        let systemText: String?
        var endpointValue: Endpoint?
        var notices: [String] = []
        do {
            systemText = try Settings.systemInstruction(system ?? file.system)
            (endpointValue, notices) = try Settings.endpoint(settings: s, credential: credential, environment: env, file: file)
        } catch {
            return fail("livetalk: \(error)", ExitStatus.usage)
        }
        var embedded: EmbeddedEmulator?
        if endpointValue == nil {
            let started: EmbeddedEmulator
            do {
                started = try await EmbeddedEmulator.start()
                endpointValue = try started.endpoint(apiVersion: s.apiVersion ?? Endpoint.defaultAPIVersion)
            } catch {
                return fail("livetalk: cannot start the embedded emulator: \(error)", ExitStatus.startFailed)
            }
            embedded = started
            logger.info("no API key set: using the embedded emulator at \(started.url)")
        }
        guard let ep = endpointValue else { return fail("livetalk: no endpoint", ExitStatus.startFailed) }
        logger.info("endpoint \(ep.redactedDescription) model \(s.model)")
        for n in notices {
            logger.notice("\(n)")
            if fullScreen == nil { sayErr("livetalk: \(n)") }
        }
        let setup = Settings.setup(s, endpoint: ep, system: systemText)
        let deadlines = self.deadlines
        let session = Session(
            config: SessionConfig(endpoint: ep, setup: setup, apiVersion: s.apiVersion ?? Endpoint.defaultAPIVersion,
                                  deadlines: deadlines),
            transport: WebSocketTransport(caFile: s.caFile, deadlines: deadlines, logger: Logger(label: "livetalk.transport")),
            tools: ToolRegistry.builtins(timerScheduling: s.nonBlockingScheduling))

        var lineOptions = LineModeOptions()
        lineOptions.transcriptPath = transcript
        lineOptions.inputWav = inputWav
        lineOptions.outputWav = outputWav
        lineOptions.pushToTalk = s.pushToTalk
        lineOptions.endpointKind = ep.kind
        lineOptions.replyTimeout = Self.duration(replyTimeout, lineOptions.replyTimeout)
        if embedded != nil && fullScreen == nil {
            sayErr("livetalk: no API key set (GEMINI_API_KEY / GOOGLE_API_KEY): talking to the embedded emulator")
        }
        var pulse = PulseOptions()
        pulse.mic = mic
        pulse.speaker = speaker
        pulse.playbackBufferMs = playbackBufferMs
        pulse.captureEnabled = inputWav == nil && !s.pushToTalk   // line mode has no talk key: PTT is text or WAV only
        let (device, notice, shortNotice) = AudioSetup.open(audio, options: pulse)
        if let notice, fullScreen == nil { sayErr("livetalk: \(notice)") }
        let bridge = device.map { AudioBridge(session: session, device: $0, mode: s.pushToTalk ? .pushToTalk : .vad) }

        if let ui = fullScreen {
            if bridge != nil { await bridge?.startMicrophone() }
            var model = AppModel()
            model.theme = ui.theme
            model.modelName = s.model
            model.endpointKind = embedded != nil ? "emulator" : ep.kind.rawValue
            model.pushToTalk = s.pushToTalk
            model.audioAvailable = bridge != nil
            model.lastWarning = shortNotice ?? notices.first
            let backend = ui.backend
            let restore = shutdown.addFinalizer { backend.stop() }
            let code = await UIRuntime(session: session, audio: bridge, backend: ui.backend, model: model,
                                       signals: shutdown.requests).run()
            shutdown.remove(restore)
            embedded?.stop()
            return code
        }
        if let pulse = device as? PulseAudioDevice {
            // The sound server may go away and come back (a restart, suspend/resume): one line
            // each way; the conversation goes on in text meanwhile.
            Task {
                for await e in pulse.events {
                    switch e {
                    case .lost(let why): say("[audio] \(why); the conversation goes on in text, retrying every second")
                    case .recovered(let what): say("[audio] \(what) is back")
                    }
                }
            }
        }
        if pulse.captureEnabled { await bridge?.startMicrophone() }
        let code = await LineMode(session: session, options: lineOptions, audio: bridge)
            .run(lines: standardInputLines(), interrupts: shutdown.requests, shutdown: shutdown)
        embedded?.stop()
        return code
    }
}

func sayErr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
func say(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }

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
            parameter); anything else: "I heard: …".

            TOOLS  A user turn calls a declared function when its words contain the function's name, with \
            underscores read as spaces: "please get current time" calls get_current_time. Arguments come \
            from key=value words in the same turn (key="two words" for spaces; numbers and true/false keep \
            their type): "start timer seconds=2". BLOCKING calls are awaited, then the reply uses the result; \
            NON_BLOCKING calls let the reply go on, and their result is spoken per its scheduling \
            (SILENT, WHEN_IDLE, INTERRUPT). An interruption cancels pending calls (toolCallCancellation).

            KEYS  --require-key takes the key from LIVETALK_SERVE_KEY (or GEMINI_API_KEY), never argv. \
            A missing key closes with 1008, a wrong one with 1008 "API key not valid". A --host that is not \
            loopback needs --require-key (or --insecure). Without --require-key, tokens are minted only for \
            loopback peers.

            LIMITS  At --max-connections, a new session is closed at once with 1013 (open ones carry on). A \
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
    @Option(help: "Most utterances transcribed at once (others become \"[speech N s]\").") var maxListeners = 4
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
        guard case .apiKey(let key, _) = Settings.credential(environment: env, file: file) else {
            throw ValidationError("minting a token needs an API key in GEMINI_API_KEY, GOOGLE_API_KEY or the config file")
        }
        var base = endpoint ?? file.endpoint ?? "https://generativelanguage.googleapis.com"
        base = base.replacingOccurrences(of: "wss://", with: "https://").replacingOccurrences(of: "ws://", with: "http://")
        guard var comps = URLComponents(string: base), let host = comps.host, !host.isEmpty else {
            throw ValidationError("--endpoint \(base) is not a URL")
        }
        // R9: the key goes only to Google over TLS, to loopback, or to a host the user trusts,
        // and never in cleartext to another machine.
        let trust = Endpoint.trust(ofHost: host)
        let tls = comps.scheme?.lowercased() == "https"
        if trust != .loopback, !tls {
            throw ValidationError("--endpoint \(base) is plaintext to \(host): refusing to send your API key there; use https:// or wss://")
        }
        if trust == .other, !trustEndpoint {
            throw ValidationError("--endpoint \(host) is not a Google host: pass --trust-endpoint to send your API key to it")
        }
        comps.path = "/v1alpha/auth_tokens"
        let f = ISO8601DateFormatter()
        let body: [String: Any] = [
            "uses": uses,
            "expireTime": f.string(from: Date() + Double(expireMinutes * 60)),
            "newSessionExpireTime": f.string(from: Date() + Double(newSessionMinutes * 60)),
        ]
        guard let url = comps.url else {
            throw ValidationError("--endpoint \(base): cannot build the token URL from it (an IPv6 host needs [brackets])")
        }
        let minted = try await TokenClient.mint(url: url, key: key, body: body)
        print(minted)
    }
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show config and log paths, and where the key would come from.")

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        let path = FileConfig.defaultPath(environment: env)
        print("livetalk 0.1.0")
        print("config file: \(path)\(FileManager.default.fileExists(atPath: path) ? "" : " (absent)")")
        print("log file:    \(LogSetup.defaultPath(environment: env))")
        let file = (try? FileConfig.load(path: path)) ?? FileConfig()
        switch Settings.credential(environment: env, file: file) {
        case .apiKey(_, let source): print("key:         from \(source) (Gemini Developer API)")
        case .ephemeralToken(_, let source): print("key:         ephemeral token from \(source)")
        case .none: print("key:         none — livetalk will start its embedded emulator")
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
