import Foundation
import LiveProtocol
import LiveSession

extension ClientInfo {
    /// `livetalk info --setup`: the setup message the client would send first, as pretty JSON
    /// with sorted keys — the same value `Conversation` gives the session, with the session's
    /// additions (resumption asked for, the built-in tools declared). The key or token, and the
    /// Vertex access token, are replaced by `[REDACTED]` wherever they appear.
    public static func setupJSON(flags: ClientFlags, configPath: String?, environment env: [String: String])
        -> Result<String, ClientProblem>
    {
        let file: FileConfig
        do { file = try FileConfig.load(path: configPath ?? FileConfig.defaultPath(environment: env)) } catch {
            return .failure(.config(error))
        }
        let plan: ClientPlan
        switch ClientPlan.make(flags: flags, file: file, surroundings: ClientSurroundings(interactive: false, environment: env)) {
        case .success(let p): plan = p
        case .failure(let p): return .failure(p)
        }
        let system: String?
        switch plan.system {
        case .none: system = nil
        case .text(let t): system = t
        case .file(let path):
            guard let d = FileManager.default.contents(atPath: path), let s = String(data: d, encoding: .utf8) else {
                return .failure(.unreadable(flag: "--system @", path: path))
            }
            system = s.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let endpoint: Endpoint
        switch plan.target {
        case .endpoint(let e): endpoint = e
        case .embeddedEmulator(let v):
            do { endpoint = try Endpoint.custom("ws://127.0.0.1:1", apiKey: nil, apiVersion: v, kind: .emulator) } catch {
                return .failure(.endpoint(error))
            }
        }
        let setup = Session.wireSetup(Settings.setup(plan.settings, endpoint: endpoint, system: system),
                                      tools: ToolRegistry.builtins(timerScheduling: plan.settings.nonBlockingScheduling))
        // The wire bytes (what the session sends), then pretty-printed with sorted keys.
        guard let wire = try? LiveCoder.encode(ClientMessage.setup(setup)),
              let object = try? JSONSerialization.jsonObject(with: wire),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return .failure(.emulatorFailed(reason: "cannot encode the setup")) }
        var secrets: [String] = []
        switch Settings.credential(environment: env, file: file) {
        case .apiKey(let k, _), .ephemeralToken(let k, _): secrets.append(k)
        case .none: break
        }
        if let t = env["GOOGLE_OAUTH_ACCESS_TOKEN"] { secrets.append(t) }
        if let t = file.vertexAccessToken { secrets.append(t) }
        return .success(redact(String(decoding: data, as: UTF8.self), secrets: secrets))
    }

    /// Every occurrence of a secret (at least 4 characters) replaced by `[REDACTED]`.
    static func redact(_ text: String, secrets: [String]) -> String {
        var out = text
        for s in secrets where s.count >= 4 { out = out.replacingOccurrences(of: s, with: "[REDACTED]") }
        return out
    }
}
