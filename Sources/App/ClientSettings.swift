import Emulator
import Foundation
import LiveProtocol
import LiveSession

/// Everything a client run needs, after flags, environment and config file are merged.
public struct ClientSettings: Sendable, Equatable {
    public var model = "gemini-2.5-flash-native-audio-preview-12-2025"
    public var voice = "Puck"
    public var apiVersion: String?
    public var endpoint: String?
    public var system: String?
    public var pushToTalk = false
    public var textModality = false
    public var caFile: String?
    public var vertex = false
    public var project: String?
    public var location: String?
    public var nonBlockingScheduling: FunctionResponseScheduling = .whenIdle
    /// `--trust-endpoint`: send the key or token to a custom endpoint that is not Google or loopback.
    public var trustEndpoint = false
    /// Every session setting of issue 12 (voice detection, compression, thinking, search, …).
    public var knobs = SessionKnobs()

    public init() {}
}

/// Where the key came from (never the key itself).
public enum Credential: Sendable {
    case apiKey(String, source: String)
    case ephemeralToken(String, source: String)
    case none
}

public enum Settings {
    /// The key: `GEMINI_API_KEY`, then `GOOGLE_API_KEY`, then the config file. Never argv.
    /// A value starting with `auth_tokens/` is an ephemeral token.
    public static func credential(environment: [String: String], file: FileConfig) -> Credential {
        let found: (String, String)? =
            environment["GEMINI_API_KEY"].flatMap { $0.isEmpty ? nil : ($0, "GEMINI_API_KEY") }
            ?? environment["GOOGLE_API_KEY"].flatMap { $0.isEmpty ? nil : ($0, "GOOGLE_API_KEY") }
            ?? file.apiKey.flatMap { $0.isEmpty ? nil : ($0, "config file") }
        guard let (value, source) = found else { return .none }
        return value.hasPrefix("auth_tokens/") ? .ephemeralToken(value, source: source) : .apiKey(value, source: source)
    }

    /// Push-to-talk turns the server's activity detection off (the one place this is built).
    public static func realtimeInput(pushToTalk: Bool) -> RealtimeInputConfig? {
        pushToTalk ? RealtimeInputConfig(automaticActivityDetection: AutomaticActivityDetection(disabled: true)) : nil
    }

    /// The endpoint to use, or nil when the embedded emulator should be started, with the hosts
    /// the key was withheld from.
    ///
    /// A key or token goes only to Google's hosts, to loopback, or to a custom endpoint the user
    /// trusts with `--trust-endpoint`; never over plaintext `ws://` to another host (an error).
    public static func endpoint(settings s: ClientSettings, credential: Credential,
                                environment: [String: String], file: FileConfig) throws(ClientProblem) -> (Endpoint?, [String]) {
        do {
            if let text = s.endpoint {
                var notices: [String] = []
                // Where may the credential go?
                let probe = try Endpoint.custom(text, apiKey: nil, apiVersion: s.apiVersion ?? Endpoint.defaultAPIVersion)
                let host = probe.url.host ?? "?"
                var send: Bool
                switch credential {
                case .none: send = false
                case .apiKey, .ephemeralToken:
                    switch probe.hostTrust {
                    case .loopback: send = true
                    case .google: send = probe.isTLS
                    case .other: send = s.trustEndpoint && probe.isTLS
                    }
                    if !probe.isTLS, probe.hostTrust != .loopback {
                        throw ClientProblem.plaintextKey(endpoint: probe.redactedDescription, host: host)
                    }
                    if !send { notices.append(host) }
                }
                if send, case .ephemeralToken(let t, _) = credential {
                    return (try Endpoint.ephemeral(token: t, apiVersion: s.apiVersion ?? Endpoint.ephemeralAPIVersion, base: text), notices)
                }
                let key: String? = if send, case .apiKey(let k, _) = credential { k } else { nil }
                return (try Endpoint.custom(text, apiKey: key, apiVersion: s.apiVersion ?? Endpoint.defaultAPIVersion), notices)
            }
            if s.vertex {
                guard let project = s.project ?? file.vertexProject else { throw ClientProblem.vertexNeedsProject }
                let location = s.location ?? file.vertexLocation ?? "us-central1"
                guard let token = environment["GOOGLE_OAUTH_ACCESS_TOKEN"] ?? file.vertexAccessToken else { throw ClientProblem.vertexNeedsToken }
                return (try Endpoint.vertex(project: project, location: location, accessToken: token,
                                            apiVersion: s.apiVersion ?? Endpoint.vertexAPIVersion), [])
            }
            switch credential {
            case .apiKey(let k, _): return (try Endpoint.developer(apiKey: k, apiVersion: s.apiVersion ?? Endpoint.defaultAPIVersion), [])
            case .ephemeralToken(let t, _): return (try Endpoint.ephemeral(token: t, apiVersion: s.apiVersion ?? Endpoint.ephemeralAPIVersion), [])
            case .none: return (nil, [])
            }
        } catch let e as ClientProblem {
            throw e
        } catch let e as EndpointError {
            throw .endpoint(e)
        } catch {
            throw .emulatorFailed(reason: "\(error)")
        }
    }

    /// The `setup` message for these settings; the session adds resumption and the tools.
    public static func setup(_ s: ClientSettings, endpoint: Endpoint, system: String?) -> Setup {
        var setup = baseSetup(s, endpoint: endpoint, system: system)
        s.knobs.apply(to: &setup, pushToTalk: s.pushToTalk, textModality: s.textModality)
        return setup
    }

    static func baseSetup(_ s: ClientSettings, endpoint: Endpoint, system: String?) -> Setup {
        Setup(
            model: endpoint.modelName(s.model),
            generationConfig: GenerationConfig(
                responseModalities: [s.textModality ? .text : .audio],
                speechConfig: s.textModality ? nil : SpeechConfig(voiceName: s.voice)),
            systemInstruction: system.map { Content(role: "user", parts: [Part(text: $0)]) },
            realtimeInputConfig: realtimeInput(pushToTalk: s.pushToTalk),
            sessionResumption: SessionResumptionConfig(),
            inputAudioTranscription: AudioTranscriptionConfig(),
            outputAudioTranscription: s.textModality ? nil : AudioTranscriptionConfig())
    }
}

/// The emulator started inside the client when no key is set.
public final class EmbeddedEmulator: Sendable {
    public let port: Int
    public let server: EmulatorServer
    private let task: Task<Void, Never>

    private init(port: Int, server: EmulatorServer, task: Task<Void, Never>) {
        self.port = port
        self.server = server
        self.task = task
    }

    /// Starts on 127.0.0.1 with a free port; returns once it listens.
    public static func start(options: EmulatorOptions = EmulatorOptions()) async throws -> EmbeddedEmulator {
        let (server, port, task) = try await EmulatorServer.start(options: options)
        return EmbeddedEmulator(port: port, server: server, task: task)
    }

    public var url: String { "ws://127.0.0.1:\(port)" }

    public func endpoint(apiVersion: String = Endpoint.defaultAPIVersion) throws(EndpointError) -> Endpoint {
        try Endpoint.custom(url, apiKey: nil, apiVersion: apiVersion, kind: .emulator)
    }

    public func stop() { task.cancel() }
}
