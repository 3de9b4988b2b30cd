import Foundation
import LiveProtocol

/// One numbered source of a model turn, from the server's `groundingMetadata` (Google Search).
public struct Citation: Sendable, Hashable {
    /// 1-based, in the order the sources first arrived in the turn.
    public var number: Int
    public var title: String
    /// The source's domain: the chunk's `domain`, else the URI's host.
    public var domain: String
    public var uri: String

    public init(number: Int, title: String, domain: String, uri: String) {
        self.number = number
        self.title = title
        self.domain = domain
        self.uri = uri
    }
}

/// The sources of one turn, numbered as they arrive: bounded and deduplicated by URI.
public struct CitationList: Sendable, Hashable {
    /// Sources kept per turn at most; more are dropped and counted in `dropped`.
    public static let maxPerTurn = 20
    public private(set) var citations: [Citation] = []
    public private(set) var dropped = 0

    public init() {}

    public mutating func add(_ g: GroundingMetadata) {
        for chunk in g.groundingChunks ?? [] {
            guard let web = chunk.web else { continue }
            let uri = web.uri ?? ""
            let domain = web.domain.flatMap { $0.isEmpty ? nil : $0 } ?? URL(string: uri)?.host ?? ""
            let title = web.title.flatMap { $0.isEmpty ? nil : $0 } ?? (domain.isEmpty ? uri : domain)
            guard !uri.isEmpty || !title.isEmpty else { continue }
            if citations.contains(where: { $0.uri == uri && $0.title == title }) { continue }
            guard citations.count < Self.maxPerTurn else { dropped += 1; continue }
            citations.append(Citation(number: citations.count + 1, title: title, domain: domain, uri: uri))
        }
    }

    public mutating func take() -> [Citation] {
        defer { citations = [] }
        return citations
    }
}
