import Foundation
import FuzzTargets
import XCTest

/// Replays the fuzz seeds (in process: they must simply run) and every kept crasher (each in a
/// `livetalk-fuzz` subprocess, so that a crasher whose bug is not fixed yet fails its test instead
/// of killing the whole test run). Inputs live in Tests/FuzzCorpus:
///   seeds/<target>/*       the starting corpus (written by make-seeds.py)
///   crashers/<target>/*    inputs that made a target trap or hang (NAME.sig: the trap's first line);
///                          crashers/FINDINGS.md says what each is and where the bug lives
final class FuzzRegressionTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("FuzzCorpus")

    static func files(_ kind: String, _ target: FuzzTarget) -> [URL] {
        let dir = corpus.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && !$0.hasSuffix(".sig") && !$0.hasSuffix(".md") }.sorted().map { dir.appendingPathComponent($0) }
    }

    // MARK: seeds, in process

    func replaySeeds(_ target: FuzzTarget, file: StaticString = #filePath, line: UInt = #line) throws {
        let seeds = Self.files("seeds", target)
        XCTAssertFalse(seeds.isEmpty, "no seeds for \(target.rawValue) in \(Self.corpus.path)", file: file, line: line)
        for url in seeds {
            let bytes = [UInt8](try Data(contentsOf: url))
            XCTAssertLessThanOrEqual(bytes.count, target.maxLength, "\(url.lastPathComponent) exceeds -max_len",
                                     file: file, line: line)
            target.run(bytes)
        }
    }

    func testSessionSeeds() throws { try replaySeeds(.session) }
    func testClientMessageSeeds() throws { try replaySeeds(.clientMessage) }
    func testWAVSeeds() throws { try replaySeeds(.wav) }
    func testConfigSeeds() throws { try replaySeeds(.config) }
    func testThemeSeeds() throws { try replaySeeds(.theme) }
    func testKeysSeeds() throws { try replaySeeds(.keys) }

    /// The session body splits on 0x00 and marks binary frames with 0x01.
    func testSessionInputFraming() {
        let bytes: [UInt8] = Array(#"{"a":1}"#.utf8) + [0, 0, 1] + Array("xy".utf8) + [0]
        let frames = SessionFuzzFraming.describe(bytes)
        XCTAssertEqual(frames, [#"text {"a":1}"#, "binary 2"])
    }

    // MARK: crashers, each in a subprocess

    /// Runs every kept crasher of `target`; each must now run without trapping.
    func replayCrashers(_ target: FuzzTarget, file: StaticString = #filePath, line: UInt = #line) throws {
        for url in Self.files("crashers", target) {
            let result = try Self.replayInSubprocess(target, url)
            let signature = (try? String(contentsOf: url.appendingPathExtension("sig"), encoding: .utf8)) ?? "?\n"
            XCTAssert(result.ok,
                      """
                      KNOWN FUZZ FINDING, open until fixed (Tests/FuzzCorpus/crashers/FINDINGS.md): \
                      \(target.rawValue) crasher \(url.lastPathComponent) still traps (\(result.how)).
                      first trap line when found: \(signature)last output:
                      \(result.tail)
                      """, file: file, line: line)
        }
    }

    func testSessionCrashers() throws { try replayCrashers(.session) }
    func testClientMessageCrashers() throws { try replayCrashers(.clientMessage) }
    func testWAVCrashers() throws { try replayCrashers(.wav) }
    func testConfigCrashers() throws { try replayCrashers(.config) }
    func testThemeCrashers() throws { try replayCrashers(.theme) }
    func testKeysCrashers() throws { try replayCrashers(.keys) }

    /// The directory holding the built products (`livetalk-fuzz` sits beside the test bundle).
    static var productsDirectory: URL {
        #if os(macOS)
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        #endif
        return Bundle.main.bundleURL
    }

    static func replayInSubprocess(_ target: FuzzTarget, _ input: URL) throws -> (ok: Bool, how: String, tail: String) {
        let binary = productsDirectory.appendingPathComponent("livetalk-fuzz")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("\(binary.path) is not built (swift build --product livetalk-fuzz)")
        }
        let p = Process()
        p.executableURL = binary
        p.arguments = ["--target", target.rawValue, input.path]
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"   // the trap's own line, not a long backtrace
        p.environment = environment
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let tail = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(12).joined(separator: "\n")
        let signalled = p.terminationReason == .uncaughtSignal
        let how = signalled ? "killed by signal \(p.terminationStatus)" : "exit status \(p.terminationStatus)"
        return (!signalled && p.terminationStatus == 0, how, tail)
    }
}
