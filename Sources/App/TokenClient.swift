import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `livetalk token`: POST /v1alpha/auth_tokens.
public enum TokenClient {
    public static func mint(url: URL, key: String, body: [String: Any]) async throws(SettingsError) -> String {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(key, forHTTPHeaderField: "x-goog-api-key")
        request.httpBody = try? JSONSerialization.data(withJSONObject: body)
        let data: Data
        let response: URLResponse
        do { (data, response) = try await URLSession.shared.data(for: request) } catch {
            throw .message("cannot reach \(url.host ?? "?"): \(error.localizedDescription)")
        }
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        guard let http = response as? HTTPURLResponse, http.statusCode == 200, let name = object?["name"] as? String else {
            let msg = ((object?["error"] as? [String: Any])?["message"] as? String) ?? "HTTP \((response as? HTTPURLResponse)?.statusCode ?? 0)"
            throw .message("token request refused: \(msg)")
        }
        return name
    }
}
