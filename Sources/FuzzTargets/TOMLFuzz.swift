import App
import Foundation
import TerminalUI

/// `config.toml` and theme files, read as `FileConfig.load` and `ThemeLoader.load` read them:
/// only valid UTF-8 reaches the parser.
enum TOMLFuzz {
    static func runConfig(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        do {
            let c = try FileConfig.parse(text, path: "fuzz.toml")
            _ = c.mode
        } catch {
            _ = error.description
        }
    }

    static func runTheme(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        do {
            let t = try ThemeLoader.parse(text, path: "fuzz.toml")
            _ = t.missingRoles
        } catch {
            _ = error.description
        }
    }
}
