import Foundation
import TerminalUI
import TOMLKit

/// A bad theme file: names the file, the line and the key.
public struct ThemeError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var line: Int?
    public var key: String?
    public var message: String
    public var description: String {
        "\(path)\(line.map { ":\($0)" } ?? "")\(key.map { ": \($0)" } ?? ""): \(message)"
    }
}

/// Finds and reads `themes/*.toml`.
public enum ThemeLoader {
    /// Where themes are looked for, first match wins: $LIVETALK_THEMES, ~/.config/livetalk/themes,
    /// the `themes/` folder of the checkout the binary was built in, and beside the binary.
    public static func searchPaths(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var out: [String] = []
        if let p = environment["LIVETALK_THEMES"] { out.append(p) }
        out.append(XDG.configHome(environment) + "/livetalk/themes")
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        // .build/<triple>/debug/livetalk → the package root's themes/
        var dir = exe
        for _ in 0..<4 {
            out.append(dir.appendingPathComponent("themes").path)
            dir = dir.deletingLastPathComponent()
        }
        out.append("/usr/share/livetalk/themes")
        return out
    }

    /// Themes compiled into the binary, used when no file of that name is found (R18): an installed
    /// binary without a `themes/` folder still starts in colour.
    public static let builtIn: [String: Theme] = ["dark": .dark, "monochrome": .monochrome]

    /// Every theme file found, by name (first path wins).
    public static func available(searchPaths paths: [String] = searchPaths()) -> [(name: String, path: String)] {
        var seen: Set<String> = []
        var out: [(String, String)] = []
        for dir in paths {
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for f in files.sorted() where f.hasSuffix(".toml") {
                let name = String(f.dropLast(5))
                if seen.insert(name).inserted { out.append((name, dir + "/" + f)) }
            }
        }
        return out
    }

    /// `--theme NAME|PATH`. A file found on the search path wins; otherwise the built-in theme of that name.
    public static func resolve(_ nameOrPath: String, searchPaths paths: [String] = searchPaths()) throws(ThemeError) -> Theme {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".toml") { return try load(path: nameOrPath) }
        let found = available(searchPaths: paths)
        guard let hit = found.first(where: { $0.name == nameOrPath }) else {
            if let theme = builtIn[nameOrPath] { return theme }
            let names = Set(found.map(\.name)).union(builtIn.keys).sorted()
            throw ThemeError(path: nameOrPath, line: nil, key: nil,
                             message: "no such theme (available: \(names.joined(separator: ", ")))")
        }
        return try load(path: hit.path)
    }

    public static func load(path: String) throws(ThemeError) -> Theme {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ThemeError(path: path, line: nil, key: nil, message: "cannot read the file")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(ThemeError) -> Theme {
        // toml++ aborts on some malformed input (fuzz finding F1): only well-formed text of the
        // subset livetalk uses reaches it.
        do throws(TOMLGate.Rejection) { try TOMLGate.check(text) } catch let r { throw ThemeError(path: path, line: r.line, key: nil, message: r.message) }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw ThemeError(path: path, line: e.source.begin.line, key: nil, message: e.description)
        } catch {
            throw ThemeError(path: path, line: nil, key: nil, message: "\(error)")
        }
        func line(_ key: String) -> Int? { FileConfig.lineOf(key: key, in: text) }
        for k in table.keys where !["name", "ascii", "roles"].contains(k) {
            throw ThemeError(path: path, line: line(k), key: k, message: "unknown key (known: name, ascii, [roles])")
        }
        let name = table["name"]?.string ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let ascii = table["ascii"]?.bool ?? false
        guard let roles = table["roles"]?.table else {
            throw ThemeError(path: path, line: nil, key: "roles", message: "missing [roles] table")
        }
        var styles: [Role: Style] = [:]
        let byKey = Dictionary(uniqueKeysWithValues: Role.allCases.map { ($0.key, $0) })
        for k in roles.keys.sorted() {
            guard let role = byKey[k] else {
                throw ThemeError(path: path, line: line(k), key: "roles.\(k)", message: "unknown role")
            }
            guard let t = roles[k]?.table else {
                throw ThemeError(path: path, line: line(k), key: "roles.\(k)", message: "must be an inline table like { fg = \"red\", bold = true }")
            }
            var st = Style()
            for field in t.keys {
                switch field {
                case "fg", "bg":
                    let v = t[field]
                    let c: TermColor? = v?.string.flatMap { TermColor(name: $0) } ?? v?.int.flatMap { TermColor(name: String($0)) }
                    guard let c else {
                        throw ThemeError(path: path, line: line(k), key: "roles.\(k).\(field)",
                                         message: "not a colour (use a name like \"red\", 0–255 or \"#rrggbb\")")
                    }
                    if field == "fg" { st.fg = c } else { st.bg = c }
                case "bold", "dim", "reverse", "underline":
                    guard let b = t[field]?.bool else {
                        throw ThemeError(path: path, line: line(k), key: "roles.\(k).\(field)", message: "must be true or false")
                    }
                    switch field {
                    case "bold": st.bold = b
                    case "dim": st.dim = b
                    case "reverse": st.reverse = b
                    default: st.underline = b
                    }
                default:
                    throw ThemeError(path: path, line: line(k), key: "roles.\(k).\(field)",
                                     message: "unknown attribute (known: fg, bg, bold, dim, reverse, underline)")
                }
            }
            styles[role] = st
        }
        let theme = Theme(name: name, styles: styles, ascii: ascii)
        if let missing = theme.missingRoles.first {
            throw ThemeError(path: path, line: nil, key: "roles.\(missing.key)", message: "missing role")
        }
        return theme
    }
}
