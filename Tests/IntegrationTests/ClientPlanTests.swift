import App
import Foundation
import LiveProtocol
import LiveSession
import Testing

/// `ClientPlan` is a pure value: flags, environment and file in, what to run out (no I/O here).
struct ClientPlanTests {
    func plan(_ f: ClientFlags = ClientFlags(), file: FileConfig = FileConfig(), env: [String: String] = ["HOME": "/home/u"],
              interactive: Bool = false) -> Result<ClientPlan, ClientProblem> {
        ClientPlan.make(flags: f, file: file, surroundings: ClientSurroundings(interactive: interactive, environment: env))
    }

    func ok(_ r: Result<ClientPlan, ClientProblem>) throws -> ClientPlan {
        switch r {
        case .success(let p): return p
        case .failure(let e): Issue.record("unexpected problem \(e)"); throw e
        }
    }

    @Test func noKeyMeansTheEmbeddedEmulatorAndSaysSo() throws {
        let p = try ok(plan())
        #expect(p.target == .embeddedEmulator(apiVersion: "v1beta"))
        #expect(p.notices.contains(.embeddedEmulator))
        #expect(p.face == .line)   // not a terminal
        #expect(p.recordingsFolder == "/home/u/.local/share/livetalk/recordings")
    }

    @Test func flagsBeatEnvironmentBeatFile() throws {
        var file = FileConfig()
        file.model = "file-model"
        file.voice = "Kore"
        file.mode = "ptt"
        file.theme = "file-theme"
        var f = ClientFlags()
        f.model = "flag-model"
        let p = try ok(plan(f, file: file, interactive: true))
        #expect(p.settings.model == "flag-model")
        #expect(p.settings.voice == "Kore")
        #expect(p.settings.pushToTalk)
        #expect(p.face == .screen(theme: "file-theme"))
        f.pushToTalk = false
        #expect(try ok(plan(f, file: file)).settings.pushToTalk == false)
        // The environment's key beats the file's.
        file.apiKey = "file-key"
        let withEnv = try ok(plan(f, file: file, env: ["GEMINI_API_KEY": "env-key", "HOME": "/h"]))
        guard case .endpoint(let e) = withEnv.target else { Issue.record("expected Google"); return }
        #expect(e.url.absoluteString.contains("generativelanguage.googleapis.com"))
        #expect(e.headers.values.contains("env-key"))
    }

    @Test func noColorAndNoTUIChooseTheFace() throws {
        var f = ClientFlags()
        f.theme = "dark"
        #expect(try ok(plan(f, env: ["NO_COLOR": "1"], interactive: true)).face == .screen(theme: "monochrome"))
        f.noTUI = true
        #expect(try ok(plan(f, interactive: true)).face == .line)
    }

    @Test func everyFailureIsAFactWithItsData() {
        var f = ClientFlags()
        f.playbackBufferMs = 5
        #expect(plan(f) == .failure(.flag(name: "--playback-buffer-ms", value: "5", expected: "10–1000")))
        f = ClientFlags()
        f.endpoint = "http://example.com"
        guard case .failure(.endpoint(.badScheme)) = plan(f) else { Issue.record("\(plan(f))"); return }
        f.endpoint = "ws://evil.example:9"
        guard case .failure(.plaintextKey(let shown, "evil.example")) = plan(f, env: ["GEMINI_API_KEY": "k"]) else {
            Issue.record("a key over plaintext ws:// to another host must be refused"); return
        }
        #expect(shown.hasPrefix("ws://evil.example:9") && !shown.contains("k&") && !shown.hasSuffix("=k"))
        f = ClientFlags()
        f.vertex = true
        #expect(plan(f) == .failure(.vertexNeedsProject))
        f.project = "p"
        #expect(plan(f) == .failure(.vertexNeedsToken))
        f = ClientFlags()
        f.replyTimeout = .infinity
        #expect(plan(f) == .failure(.flag(name: "--reply-timeout", value: "inf", expected: "a number of seconds from 0.05 to 86400")))
        // Each is worded for the CLI in one place, and picks its exit status.
        #expect(ClientWording.problem(.vertexNeedsProject).hasPrefix("--vertex needs --project"))
        #expect(ClientProblem.emulatorFailed(reason: "x").exitStatus == 69)
        #expect(ClientProblem.vertexNeedsToken.exitStatus == 64)
    }

    @Test func aKeyIsWithheldFromAnUntrustedHostAndTheNoticeSaysSo() throws {
        var f = ClientFlags()
        f.endpoint = "wss://relay.example"
        let p = try ok(plan(f, env: ["GEMINI_API_KEY": "secret"]))
        #expect(p.notices.contains(.keyWithheld(host: "relay.example")))
        guard case .endpoint(let e) = p.target else { Issue.record("expected an endpoint"); return }
        #expect(!e.url.absoluteString.contains("secret") && !e.headers.values.contains("secret"))
        f.trustEndpoint = true
        guard case .endpoint(let trusted) = try ok(plan(f, env: ["GEMINI_API_KEY": "secret"])).target else { return }
        #expect(trusted.headers.values.contains("secret") || trusted.url.absoluteString.contains("secret"))
    }

    @Test func writersDeadlinesAndSystemText() throws {
        var f = ClientFlags()
        f.record = ""
        f.transcript = "/t/x.jsonl"
        f.system = "@/etc/prompt.txt"
        f.connectTimeout = 2.5
        let p = try ok(plan(f, env: ["XDG_DATA_HOME": "/data", "HOME": "/h"]))
        #expect(p.writers.record == "")
        #expect(p.writers.transcript == "/t/x.jsonl")
        #expect(p.system == .file("/etc/prompt.txt"))
        #expect(p.deadlines.connect == .milliseconds(2500))
        #expect(p.deadlines.setup == .seconds(10))
        #expect(p.replyTimeout == .seconds(30))
        #expect(p.recordingsFolder == "/data/livetalk/recordings")
        f.system = "be brief"
        #expect(try ok(plan(f)).system == .text("be brief"))
    }
}
