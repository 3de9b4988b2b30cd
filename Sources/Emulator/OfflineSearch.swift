import Foundation
import LiveProtocol

/// The emulator's stand-in for Google Search (issue 12): a small built-in index of pages that
/// are plainly examples — every source lives on example.org and says "offline example" in its
/// title — so nobody mistakes an answer for a real search result. Used when the setup declares
/// `googleSearch` and the user says "search for …".
public enum OfflineSearch {
    public struct Page: Sendable, Hashable {
        public var slug: String
        public var title: String
        public var keywords: [String]
        public var fact: String
        public var uri: String { "https://example.org/offline-search/\(slug)" }
        public static let domain = "example.org"
    }

    /// The whole index. Each fact is true and short, in plain words (no digits: the spoken
    /// transcript of a number is not its digits).
    public static let pages: [Page] = [
        Page(slug: "swift", title: "Swift programming language (offline example)", keywords: ["swift", "programming"],
             fact: "Swift is a programming language made by Apple."),
        Page(slug: "swift-concurrency", title: "Swift concurrency (offline example)", keywords: ["swift", "concurrency", "actors"],
             fact: "Swift concurrency brings async functions and actors."),
        Page(slug: "moon", title: "The Moon (offline example)", keywords: ["moon", "lunar"],
             fact: "The Moon is the only natural satellite of the Earth."),
        Page(slug: "paris", title: "Paris (offline example)", keywords: ["paris", "france"],
             fact: "Paris is the capital of France."),
        Page(slug: "tokyo", title: "Tokyo (offline example)", keywords: ["tokyo", "japan"],
             fact: "Tokyo is the capital of Japan."),
        Page(slug: "coffee", title: "Coffee (offline example)", keywords: ["coffee", "espresso"],
             fact: "Coffee is brewed from the roasted seeds of the coffee plant."),
        Page(slug: "gemini-live", title: "Gemini Live API (offline example)", keywords: ["gemini", "live"],
             fact: "The Gemini Live API streams audio both ways over a WebSocket."),
        Page(slug: "penguins", title: "Penguins (offline example)", keywords: ["penguin", "penguins"],
             fact: "Penguins are flightless birds that live almost only in the southern hemisphere."),
    ]

    /// Words that name a topic the index knows (for help texts).
    public static var topics: [String] { Array(Set(pages.flatMap(\.keywords))).sorted() }

    /// The query of a "search for …" (also "search the web for …", "look up …"), or nil.
    public static func query(in text: String) -> String? {
        let lower = text.lowercased()
        for lead in ["search the web for ", "search for ", "google ", "look up "] {
            if let r = lower.range(of: lead) {
                let q = lower[r.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters))
                return q.isEmpty ? nil : q
            }
        }
        return nil
    }

    /// The pages matching a query, best first (most keyword hits), at most 3.
    public static func search(_ query: String) -> [Page] {
        let words = Set(query.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init))
        let scored = pages.map { p in (p, p.keywords.filter(words.contains).count) }.filter { $0.1 > 0 }
        return scored.sorted { $0.1 > $1.1 }.prefix(3).map(\.0)
    }

    /// The spoken answer and its grounding metadata.
    public static func answer(_ query: String) -> (reply: String, grounding: GroundingMetadata) {
        let found = search(query)
        let reply = found.isEmpty
            ? "The offline example index has nothing on \(query)."
            : "From the offline example index: " + found.map(\.fact).joined(separator: " ")
        let chunks = found.map {
            GroundingMetadata.GroundingChunk(web: .init(uri: $0.uri, title: $0.title, domain: Page.domain))
        }
        let g = GroundingMetadata(
            webSearchQueries: [query], groundingChunks: chunks.isEmpty ? nil : chunks,
            searchEntryPoint: .init(renderedContent: "<div class=\"offline-example\">Offline example results for \(escape(query))</div>"))
        return (reply, g)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
