import App
import Foundation
import Testing
import TerminalUI
import LiveSession

/// R18 and R20 on the App side: the built-in theme, private files, and a config holding a secret.
struct AppFilesTests {
    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("livetalk-app-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    static func mode(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_mode) & 0o777 : -1
    }

    @Test func testR18_darkWithNoThemesDirectoryIsTheBuiltInTheme() throws {
        let t = try ThemeLoader.resolve("dark", searchPaths: [])
        #expect(t == Theme.dark)
    }

    @Test func testR20_transcriptIsPrivateAndRefusesASymlink() throws {
        let d = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: d) }
        let path = d.appendingPathComponent("t.jsonl").path
        let w = try TranscriptWriter(path: path)
        w.write(.warning("hello"))
        w.close()
        #expect(Self.mode(path) == 0o600)
        let target = d.appendingPathComponent("victim").path
        _ = FileManager.default.createFile(atPath: target, contents: Data("keep".utf8))
        let link = d.appendingPathComponent("link.jsonl").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        #expect(throws: (any Error).self) { _ = try TranscriptWriter(path: link) }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep")
    }

    @Test func testR20_aConfigWithAKeyReadableByOthersWarns() throws {
        let d = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: d) }
        let path = d.appendingPathComponent("config.toml").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("api_key = \"AIzaSy-TEST\"\n".utf8))
        chmod(path, 0o644)
        let open = try FileConfig.load(path: path)
        #expect(open.warnings.count == 1)
        #expect(!open.warnings.joined().contains("AIzaSy-TEST"))
        chmod(path, 0o600)
        #expect(try FileConfig.load(path: path).warnings.isEmpty)
    }
}
