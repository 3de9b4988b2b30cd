import Foundation

/// Where a session connects and how it authenticates. Secrets live in `headers` or the URL
/// query; never print `url` or `headers` — use `redactedDescription`.
public struct Endpoint: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case gemini = "Gemini"
        case vertex = "Vertex"
        case emulator = "emulator"
        case custom = "custom"
    }

    public var kind: Kind
    public var url: URL
    public var headers: [String: String]
    /// What `setup.model` must say for this endpoint, given a bare model id.
    public var modelPrefix: String

    public static let developerHost = "generativelanguage.googleapis.com"
    public static let defaultAPIVersion = "v1beta"
    public static let ephemeralAPIVersion = "v1alpha"
    public static let vertexAPIVersion = "v1beta1"

    public static func developerPath(version: String, constrained: Bool = false) -> String {
        "/ws/google.ai.generativelanguage.\(version).GenerativeService.BidiGenerateContent\(constrained ? "Constrained" : "")"
    }

    public static func vertexPath(version: String) -> String {
        "/ws/google.cloud.aiplatform.\(version).LlmBidiService/BidiGenerateContent"
    }

    /// Gemini Developer API with an API key in `x-goog-api-key` (never in the URL).
    public static func developer(apiKey: String, apiVersion: String = defaultAPIVersion) throws(EndpointError) -> Endpoint {
        try checkVersion(apiVersion)
        return Endpoint(kind: .gemini, url: try url("wss://\(developerHost)\(developerPath(version: apiVersion))"),
                        headers: ["x-goog-api-key": apiKey], modelPrefix: "models/")
    }

    /// An ephemeral token (`auth_tokens/…`) on the Constrained method, `?access_token=`.
    /// `base` (a custom endpoint) keeps its scheme, host and port; an IPv6 literal keeps its brackets.
    public static func ephemeral(token: String, apiVersion: String = ephemeralAPIVersion,
                                 base: String? = nil) throws(EndpointError) -> Endpoint {
        try checkVersion(apiVersion)
        var comps: URLComponents
        if let base {
            guard let c = URLComponents(string: base), c.host?.isEmpty == false else { throw .notAURL(base) }
            comps = c
            comps.user = nil
            comps.password = nil
            comps.fragment = nil
        } else {
            comps = URLComponents()
            comps.scheme = "wss"
            comps.host = developerHost
        }
        comps.path = developerPath(version: apiVersion, constrained: true)
        comps.queryItems = [URLQueryItem(name: "access_token", value: token)]
        guard let u = comps.url else { throw .notAURL(base ?? developerHost) }
        return Endpoint(kind: base == nil ? .gemini : .emulator, url: u, headers: [:], modelPrefix: "models/")
    }

    /// Vertex AI host rules: `global` → aiplatform.googleapis.com; `us`/`eu` → aiplatform.{us|eu}.rep.googleapis.com;
    /// a region → {region}-aiplatform.googleapis.com.
    public static func vertexHost(location: String) -> String {
        switch location {
        case "global": "aiplatform.googleapis.com"
        case "us", "eu": "aiplatform.\(location).rep.googleapis.com"
        default: "\(location)-aiplatform.googleapis.com"
        }
    }

    public static func vertex(project: String, location: String, accessToken: String,
                              apiVersion: String = vertexAPIVersion) throws(EndpointError) -> Endpoint {
        // The location becomes part of the host name: only a region name may go there, or
        // `--location 127.0.0.1:8/x?` would send the bearer token anywhere.
        guard !location.isEmpty, location.count <= 63,
              location.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else {
            throw .badLocation(location)
        }
        guard !project.isEmpty, project.count <= 100, project.unicodeScalars.allSatisfy({
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_.:".unicodeScalars.contains($0)
        }) else {
            throw .badProject(project)
        }
        try checkVersion(apiVersion)
        return Endpoint(kind: .vertex,
                        url: try url("wss://\(vertexHost(location: location))\(vertexPath(version: apiVersion))"),
                        headers: ["Authorization": "Bearer \(accessToken)"],
                        modelPrefix: "projects/\(project)/locations/\(location)/publishers/google/models/")
    }

    /// A custom `ws://` or `wss://` URL (the emulator, a relay). A bare host gets the developer path.
    public static func custom(_ text: String, apiKey: String?, apiVersion: String = defaultAPIVersion,
                              kind: Kind = .custom) throws(EndpointError) -> Endpoint {
        guard var comps = URLComponents(string: text), let scheme = comps.scheme?.lowercased() else {
            throw .notAURL(text)
        }
        guard scheme == "ws" || scheme == "wss" else { throw .badScheme(text, scheme) }
        guard let host = comps.host, !host.isEmpty else { throw .noHost(text) }
        _ = host
        if comps.path.isEmpty || comps.path == "/" {
            try checkVersion(apiVersion)
            comps.path = developerPath(version: apiVersion)
        }
        guard let url = comps.url else { throw .notAURL(text) }
        var headers: [String: String] = [:]
        if let apiKey { headers["x-goog-api-key"] = apiKey }
        return Endpoint(kind: kind, url: url, headers: headers, modelPrefix: "models/")
    }

    static func checkVersion(_ v: String) throws(EndpointError) {
        guard !v.isEmpty, v.count <= 32, v.unicodeScalars.allSatisfy({
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "_"
        }) else { throw .badAPIVersion(v) }
    }

    static func url(_ text: String) throws(EndpointError) -> URL {
        guard let u = URL(string: text) else { throw .notAURL(text) }
        return u
    }

    /// Where a credential may go without asking: Google's API hosts (over TLS) and loopback.
    public enum HostTrust: Sendable, Hashable {
        case google, loopback, other
    }

    public static func trust(ofHost host: String) -> HostTrust {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]."))
        if h == "localhost" || h == "::1" || h.hasPrefix("127.") && h.split(separator: ".").count == 4
            && h.split(separator: ".").allSatisfy({ UInt8($0) != nil }) {
            return .loopback
        }
        if h == "googleapis.com" || h.hasSuffix(".googleapis.com") { return .google }
        return .other
    }

    public var hostTrust: HostTrust { Self.trust(ofHost: url.host ?? "") }

    /// The `setup.model` value for a bare id (`gemini-…`) or an already-qualified name.
    public func modelName(_ model: String) -> String {
        if model.hasPrefix("models/") || model.hasPrefix("projects/") || model.hasPrefix("publishers/") {
            return model
        }
        return modelPrefix + model
    }

    public var isTLS: Bool { url.scheme?.lowercased() == "wss" }

    /// The URL with secrets removed, for logs and the screen.
    public var redactedDescription: String {
        guard var comps = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "<endpoint>" }
        comps.queryItems = comps.queryItems?.map { item in
            ["key", "access_token"].contains(item.name) ? URLQueryItem(name: item.name, value: "REDACTED") : item
        }
        if comps.queryItems?.isEmpty == true { comps.queryItems = nil }
        return comps.string ?? "<endpoint>"
    }
}

/// A bad `--endpoint` value.
public enum EndpointError: Error, Hashable, Sendable, CustomStringConvertible {
    case notAURL(String)
    case badScheme(String, String)
    case noHost(String)
    case badLocation(String)
    case badProject(String)
    case badAPIVersion(String)

    public var description: String {
        switch self {
        case .notAURL(let s): "--endpoint \"\(s)\" is not a URL: use ws://HOST:PORT or wss://HOST[:PORT][/path]"
        case .badScheme(let s, let scheme):
            "--endpoint \"\(s)\" uses \(scheme)://: only ws:// and wss:// are supported"
        case .noHost(let s): "--endpoint \"\(s)\" has no host: use ws://HOST:PORT or wss://HOST[:PORT][/path]"
        case .badLocation(let s):
            "--location \"\(s.prefix(80))\" is not a Vertex AI location: use a region such as us-central1, or us, eu, global"
        case .badProject(let s): "--project \"\(s.prefix(80))\" is not a Google Cloud project id (letters, digits, -)"
        case .badAPIVersion(let s): "--api-version \"\(s.prefix(40))\" is not an API version: use e.g. v1beta or v1alpha"
        }
    }
}
