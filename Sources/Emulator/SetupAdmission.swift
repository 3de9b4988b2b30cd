import Foundation
import LiveProtocol

/// The checks a `setup` passes before `setupComplete`, against the upgrade request's
/// credentials and the server's shared state: the key, an ephemeral token (spent, and its
/// constraints applied), the model, and a resumption handle (its snapshot brought back).
/// `EmulatorBrain` runs them when its `TurnMachine` asks (`admit`) and answers with the result.
enum SetupAdmission {
    static func check(_ requested: Setup, auth: EmulatorAuth, apiVersion: String,
                      shared: EmulatorState) async -> TurnMachine.Event {
        var s = requested
        switch auth {
        case .ok: break
        case .missing:
            return .refused(code: 1008, reason: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
        case .wrongKey:
            return .refused(code: 1008, reason: "API key not valid. Please pass a valid API key.")
        case .token(let name):
            switch await shared.useToken(name, resuming: s.sessionResumption?.handle != nil) {
            case .ok(let constraint?):
                s.model = constraint.model.isEmpty ? s.model : constraint.model
                if let g = constraint.generationConfig { s.generationConfig = g }
                if let r = constraint.sessionResumption, s.sessionResumption == nil { s.sessionResumption = r }
            case .ok(nil): break
            case .unknown: return .refused(code: 1007, reason: "API key not valid. Please pass a valid API key.")
            case .expired: return .refused(code: 1007, reason: "API key expired. Please renew the API key.")
            case .used: return .refused(code: 1008, reason: "The ephemeral token has no uses left.")
            }
        }
        let id = s.model.split(separator: "/").last.map(String.init) ?? ""
        guard id.hasPrefix("gemini") else {
            return .refused(code: 1008, reason: "models/\(id) is not found for API version \(apiVersion), or is not supported for bidiGenerateContent. Call ListModels to see the list of available models and their supported methods.")
        }
        if let handle = s.sessionResumption?.handle {
            guard let snap = await shared.snapshot(for: handle) else {
                return .refused(code: 1008, reason: "BidiGenerateContent session not found")
            }
            return .admitted(TurnMachine.Admission(setup: s, session: snap.session, resumed: true,
                                                   history: snap.history, openCalls: snap.openCalls))
        }
        return .admitted(TurnMachine.Admission(setup: s, session: await shared.newSessionNumber()))
    }
}
