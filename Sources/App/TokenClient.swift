import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LiveProtocol

/// `livetalk token`: POST /v1alpha/auth_tokens with the key, to Google, loopback or a trusted host.
public enum TokenClient {
    public struct Request: Sendable {
        public var endpoint: String?
        public var uses = 1
        public var expireMinutes = 30
        public var newSessionMinutes = 1
        public var trustEndpoint = false
        public init() {}
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case noKey
        case notAURL(String)
        case plaintext(base: String, host: String)
        case untrusted(host: String)
        case unreachable(host: String, detail: String)
        case refused(String)

        public var description: String {
            switch self {
            case .noKey: "minting a token needs an API key in GEMINI_API_KEY, GOOGLE_API_KEY or the config file"
            case .notAURL(let b): "--endpoint \(b) is not a URL (an IPv6 host needs [brackets])"
            case .plaintext(let b, let h): "--endpoint \(b) is plaintext to \(h): refusing to send your API key there; use https:// or wss://"
            case .untrusted(let h): "--endpoint \(h) is not a Google host: pass --trust-endpoint to send your API key to it"
            case .unreachable(let h, let d): "cannot reach \(h): \(d)"
            case .refused(let m): "token request refused: \(m)"
            }
        }
    }

    /// Mints a token with the key from the environment or the config file; returns its name.
    public static func mint(_ r: Request, environment: [String: String], file: FileConfig) async throws(Failure) -> String {
        guard case .apiKey(let key, _) = Settings.credential(environment: environment, file: file) else { throw .noKey }
        var base = r.endpoint ?? file.endpoint ?? "https://generativelanguage.googleapis.com"
        base = base.replacingOccurrences(of: "wss://", with: "https://").replacingOccurrences(of: "ws://", with: "http://")
        guard var comps = URLComponents(string: base), let host = comps.host, !host.isEmpty else { throw .notAURL(base) }
        // R9: the key goes only to Google over TLS, to loopback, or to a host the user trusts,
        // and never in cleartext to another machine.
        let trust = Endpoint.trust(ofHost: host)
        if trust != .loopback, comps.scheme?.lowercased() != "https" { throw .plaintext(base: base, host: host) }
        if trust == .other, !r.trustEndpoint { throw .untrusted(host: host) }
        comps.path = "/v1alpha/auth_tokens"
        guard let url = comps.url else { throw .notAURL(base) }
        let f = ISO8601DateFormatter()
        let body: [String: Any] = [
            "uses": r.uses,
            "expireTime": f.string(from: Date() + Double(r.expireMinutes * 60)),
            "newSessionExpireTime": f.string(from: Date() + Double(r.newSessionMinutes * 60)),
        ]
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(key, forHTTPHeaderField: "x-goog-api-key")
        request.httpBody = try? JSONSerialization.data(withJSONObject: body)
        let data: Data
        let response: URLResponse
        do { (data, response) = try await URLSession.shared.data(for: request) } catch {
            throw .unreachable(host: url.host ?? "?", detail: error.localizedDescription)
        }
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        guard let http = response as? HTTPURLResponse, http.statusCode == 200, let name = object?["name"] as? String else {
            let msg = ((object?["error"] as? [String: Any])?["message"] as? String) ?? "HTTP \((response as? HTTPURLResponse)?.statusCode ?? 0)"
            throw .refused(msg)
        }
        return name
    }
}

/// `livetalk info`: where config, log and key come from (never the key itself).
public enum ClientInfo {
    public static func lines(environment env: [String: String]) -> [String] {
        let path = FileConfig.defaultPath(environment: env)
        var out = ["livetalk 0.1.0",
                   "config file: \(path)\(FileManager.default.fileExists(atPath: path) ? "" : " (absent)")",
                   "log file:    \(LogSetup.defaultPath(environment: env))",
                   "recordings:  \(XDG.dataHome(env))/livetalk/recordings"]
        let file = (try? FileConfig.load(path: path)) ?? FileConfig()
        switch Settings.credential(environment: env, file: file) {
        case .apiKey(_, let source): out.append("key:         from \(source) (Gemini Developer API)")
        case .ephemeralToken(_, let source): out.append("key:         ephemeral token from \(source)")
        case .none: out.append("key:         none — livetalk will start its embedded emulator")
        }
        return out
    }
}
