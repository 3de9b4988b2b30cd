import Foundation

// The index of the wire protocol (PROTOCOL.md §3–4). Each message family lives in its own file:
//
//   client → server                         server → client
//   Setup.swift          setup              SessionLifecycle.swift  setupComplete, goAway,
//   ClientContent.swift  clientContent,                             sessionResumptionUpdate,
//                        contextUpdate                              voiceActivity(+DetectionSignal)
//   RealtimeInput.swift  realtimeInput      ServerContent.swift     serverContent
//   ToolMessages.swift   toolResponse       ToolMessages.swift      toolCall, toolCallCancellation
//                                           Usage.swift             usageMetadata
//   Content.swift        Content, Part, Blob (shared)
//   Coding.swift         canonical encoding, strict and tolerant decoding
//   AudioFastPath.swift  microphone audio out and model audio in without Codable (same bytes, same values)

/// A message from client to server: exactly one top-level field.
public enum ClientMessage: Hashable, Sendable {
    case setup(Setup)
    case clientContent(ClientContent)
    case realtimeInput(RealtimeInput)
    case toolResponse(ToolResponse)
    case contextUpdate(ContextUpdate)
    /// A top-level key this build does not know: logged, never fatal.
    case unknown(keys: [String])

    /// A short name for logs and close reasons.
    public var kind: String {
        switch self {
        case .setup: "setup"
        case .clientContent: "clientContent"
        case .realtimeInput: "realtimeInput"
        case .toolResponse: "toolResponse"
        case .contextUpdate: "contextUpdate"
        case .unknown(let keys): "unknown(\(keys.joined(separator: ",")))"
        }
    }
}

extension ClientMessage: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case setup, clientContent, realtimeInput, toolResponse, contextUpdate
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        let known = c.allKeys.compactMap { CodingKeys(stringValue: $0.stringValue) }
        if known.count > 1 {
            throw LiveProtocolError.multipleFields(known.map(\.stringValue).sorted())
        }
        let kc = try decoder.container(keyedBy: CodingKeys.self)
        switch known.first {
        case .setup: self = .setup(try kc.decode(Setup.self, forKey: .setup))
        case .clientContent: self = .clientContent(try kc.decode(ClientContent.self, forKey: .clientContent))
        case .realtimeInput: self = .realtimeInput(try kc.decode(RealtimeInput.self, forKey: .realtimeInput))
        case .toolResponse: self = .toolResponse(try kc.decode(ToolResponse.self, forKey: .toolResponse))
        case .contextUpdate: self = .contextUpdate(try kc.decode(ContextUpdate.self, forKey: .contextUpdate))
        case nil: self = .unknown(keys: c.allKeys.map(\.stringValue).sorted())
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .setup(let v): try c.encode(v, forKey: .setup)
        case .clientContent(let v): try c.encode(v, forKey: .clientContent)
        case .realtimeInput(let v): try c.encode(v, forKey: .realtimeInput)
        case .toolResponse(let v): try c.encode(v, forKey: .toolResponse)
        case .contextUpdate(let v): try c.encode(v, forKey: .contextUpdate)
        case .unknown: break
        }
    }
}

/// A message from server to client: one payload, with `usageMetadata` optionally alongside.
public struct ServerMessage: Hashable, Sendable {
    public enum Payload: Hashable, Sendable {
        case setupComplete(SetupComplete)
        case serverContent(ServerContent)
        case toolCall(ToolCall)
        case toolCallCancellation(ToolCallCancellation)
        case goAway(GoAway)
        case sessionResumptionUpdate(SessionResumptionUpdate)
        case voiceActivity(VoiceActivity)
        case voiceActivityDetectionSignal(VoiceActivityDetectionSignal)
        /// `usageMetadata` arrived alone.
        case usageOnly
        /// Top-level keys this build does not know (e.g. `{"error": …}`): logged, never fatal.
        case unknown(keys: [String])
    }

    public var payload: Payload
    public var usageMetadata: UsageMetadata?

    public init(_ payload: Payload, usageMetadata: UsageMetadata? = nil) {
        self.payload = payload
        self.usageMetadata = usageMetadata
    }

    public static func serverContent(_ c: ServerContent, usage: UsageMetadata? = nil) -> ServerMessage {
        ServerMessage(.serverContent(c), usageMetadata: usage)
    }
}

extension ServerMessage: Codable {
    enum CodingKeys: String, CodingKey {
        case setupComplete, serverContent, toolCall, toolCallCancellation, goAway, sessionResumptionUpdate
        case voiceActivity, voiceActivityDetectionSignal, usageMetadata
    }

    public init(from decoder: any Decoder) throws {
        let any = try decoder.container(keyedBy: AnyKey.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        usageMetadata = try c.decodeIfPresent(UsageMetadata.self, forKey: .usageMetadata)
        let payloadKeys = any.allKeys.compactMap { CodingKeys(stringValue: $0.stringValue) }.filter { $0 != .usageMetadata }
        if payloadKeys.count > 1 {
            throw LiveProtocolError.multipleFields(payloadKeys.map(\.stringValue).sorted())
        }
        switch payloadKeys.first {
        case .setupComplete: payload = .setupComplete(try c.decode(SetupComplete.self, forKey: .setupComplete))
        case .serverContent: payload = .serverContent(try c.decode(ServerContent.self, forKey: .serverContent))
        case .toolCall: payload = .toolCall(try c.decode(ToolCall.self, forKey: .toolCall))
        case .toolCallCancellation:
            payload = .toolCallCancellation(try c.decode(ToolCallCancellation.self, forKey: .toolCallCancellation))
        case .goAway: payload = .goAway(try c.decode(GoAway.self, forKey: .goAway))
        case .sessionResumptionUpdate:
            payload = .sessionResumptionUpdate(try c.decode(SessionResumptionUpdate.self, forKey: .sessionResumptionUpdate))
        case .voiceActivity: payload = .voiceActivity(try c.decode(VoiceActivity.self, forKey: .voiceActivity))
        case .voiceActivityDetectionSignal:
            payload = .voiceActivityDetectionSignal(
                try c.decode(VoiceActivityDetectionSignal.self, forKey: .voiceActivityDetectionSignal))
        case .usageMetadata, nil:
            let others = any.allKeys.map(\.stringValue).filter { $0 != "usageMetadata" }.sorted()
            payload = others.isEmpty && usageMetadata != nil ? .usageOnly : .unknown(keys: others)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch payload {
        case .setupComplete(let v): try c.encode(v, forKey: .setupComplete)
        case .serverContent(let v): try c.encode(v, forKey: .serverContent)
        case .toolCall(let v): try c.encode(v, forKey: .toolCall)
        case .toolCallCancellation(let v): try c.encode(v, forKey: .toolCallCancellation)
        case .goAway(let v): try c.encode(v, forKey: .goAway)
        case .sessionResumptionUpdate(let v): try c.encode(v, forKey: .sessionResumptionUpdate)
        case .voiceActivity(let v): try c.encode(v, forKey: .voiceActivity)
        case .voiceActivityDetectionSignal(let v): try c.encode(v, forKey: .voiceActivityDetectionSignal)
        case .usageOnly, .unknown: break
        }
        try c.encodeIfPresent(usageMetadata, forKey: .usageMetadata)
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
