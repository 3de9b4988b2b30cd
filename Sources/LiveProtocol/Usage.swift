import Foundation

/// `usageMetadata`, alone or riding along another server message. Vertex names the
/// response side `candidates…`; `responseTokens` reads either.
public struct UsageMetadata: Codable, Hashable, Sendable {
    public var promptTokenCount: Int?
    public var cachedContentTokenCount: Int?
    public var responseTokenCount: Int?
    public var candidatesTokenCount: Int?
    public var toolUsePromptTokenCount: Int?
    public var thoughtsTokenCount: Int?
    public var totalTokenCount: Int?
    public var promptTokensDetails: [ModalityTokenCount]?
    public var cacheTokensDetails: [ModalityTokenCount]?
    public var responseTokensDetails: [ModalityTokenCount]?
    public var candidatesTokensDetails: [ModalityTokenCount]?
    public var toolUsePromptTokensDetails: [ModalityTokenCount]?
    /// Vertex: `ON_DEMAND`, `ON_DEMAND_PRIORITY`, `ON_DEMAND_FLEX`, `ON_DEMAND_OFFPEAK`, `PROVISIONED_THROUGHPUT`, …
    public var trafficType: String?
    /// `unspecified`, `flex`, `standard`, `priority` (lower case on the wire, as the SDK sends).
    public var serviceTier: String?

    public init(promptTokenCount: Int? = nil, responseTokenCount: Int? = nil, totalTokenCount: Int? = nil,
                promptTokensDetails: [ModalityTokenCount]? = nil,
                responseTokensDetails: [ModalityTokenCount]? = nil) {
        self.promptTokenCount = promptTokenCount
        self.responseTokenCount = responseTokenCount
        self.totalTokenCount = totalTokenCount
        self.promptTokensDetails = promptTokensDetails
        self.responseTokensDetails = responseTokensDetails
    }

    public var responseTokens: Int? { responseTokenCount ?? candidatesTokenCount }
}

public struct ModalityTokenCount: Codable, Hashable, Sendable {
    public var modality: Modality?
    public var tokenCount: Int?
    public init(modality: Modality?, tokenCount: Int?) {
        self.modality = modality
        self.tokenCount = tokenCount
    }
}
