import App
import Foundation
import Testing

/// Fuzz finding F1: toml++ (inside TOMLKit) aborts on some malformed input, so config and theme
/// files pass `TOMLGate` first. Malformed text is a clear error with a line number, never a trap.
struct TOMLGateTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: ["[*", "x=[}", "a=1979-05-27T\u{01}t07:3", "[[[a]]]", "a = \"unterminated", "a = '''x'''",
                      "a = \"\"\"x\"\"\"", "a = 0x10", "a = 1__0", "a = [1, 2", "a = {b = 1", "= 1", "a = inf",
                      "a = \"\\q\"", "a = \"\\uZZZZ\"", "a = \"\\uD800\"", "a.=1", "a = 1 b = 2", "[a]x",
                      String(repeating: "[", count: 10_000), "a = " + String(repeating: "[", count: 100)])
    func testF1_malformedTOMLIsRejectedBeforeTheParser(_ text: String) {
        #expect(throws: TOMLGate.Rejection.self) { try TOMLGate.check(text) }
    }

    @Test func testF1_malformedConfigAndThemeFilesAreErrorsWithALine() {
        do {
            _ = try FileConfig.parse("model = \"m\"\n[*\n", path: "c.toml")
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("c.toml"))
            #expect(error.description.contains("2"))
        }
        #expect(throws: ThemeError.self) { _ = try ThemeLoader.parse("x=[}", path: "t.toml") }
    }

    @Test func everyShippedThemeAndTheREADMEConfigPass() throws {
        let themes = Self.root.appendingPathComponent("themes")
        let files = try FileManager.default.contentsOfDirectory(atPath: themes.path).filter { $0.hasSuffix(".toml") }
        #expect(!files.isEmpty)
        for f in files {
            let text = try String(contentsOf: themes.appendingPathComponent(f), encoding: .utf8)
            #expect(throws: Never.self, "\(f)") { try TOMLGate.check(text) }
        }
        let config = """
            model = "gemini-2.5-flash-native-audio-preview-12-2025"
            voice = "Puck"   # a comment
            mode = "vad"
            n = -1_000
            f = 1.5e3
            on = true
            list = [ "a", 'b',
              1, [2, 3], # trailing comment
            ]
            inline = { a = 1, "b c" = "d" }
            [vertex]
            project = "my-project"
            [[servers]]
            name.first = "x"
            """
        #expect(throws: Never.self) { try TOMLGate.check(config) }
    }
}
