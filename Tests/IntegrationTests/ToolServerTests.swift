@testable import App
import Foundation
import LiveProtocol
import LiveSession
import Testing

/// The pure parts of MCP servers as tools (issue 12): config, names, schemas, the allow-list,
/// the approval desk and the restart back-off. The servers themselves run in `test_mcp.py`.
struct ToolServerTests {
    // MARK: config

    @Test func mcpTablesParse() throws {
        let c = try FileConfig.parse("""
            model = "m"
            [mcp.time]
            command = "uvx"
            args = ["mcp-server-time", "--local-timezone", "Europe/Paris"]
            allow = ["*"]
            [mcp.git]
            command = "/usr/bin/mcp-server-git"
            env = { GIT_AUTHOR_NAME = "Ada" }
            cwd = "~/src"
            timeout = 5.5
            [mcp.remote]
            url = "http://127.0.0.1:8000/mcp"
            timeout = 10
            """, path: "c.toml")
        #expect(c.mcp.map(\.name) == ["git", "remote", "time"])
        let time = try #require(c.mcp.first { $0.name == "time" })
        #expect(time.command == "uvx" && time.args == ["mcp-server-time", "--local-timezone", "Europe/Paris"])
        #expect(time.allow == ["*"] && time.timeout == .seconds(30))
        let git = try #require(c.mcp.first { $0.name == "git" })
        #expect(git.env == ["GIT_AUTHOR_NAME": "Ada"] && git.cwd == "~/src" && git.timeout == .milliseconds(5500))
        #expect(git.allow.isEmpty)
        #expect(c.mcp.first { $0.name == "remote" }?.url == "http://127.0.0.1:8000/mcp")
    }

    @Test func badMcpTablesNameTheLineAndKey() {
        func problem(_ text: String) -> ConfigError? {
            do { _ = try FileConfig.parse(text, path: "c.toml"); return nil } catch { return error }
        }
        #expect(problem("[mcp.a]\nargs = [\"x\"]\n")?.description == "c.toml:1: [mcp.a] needs command = \"…\" (stdio) or url = \"…\" (HTTP)")
        #expect(problem("[mcp.a]\ncommand = \"x\"\nurl = \"http://h/\"\n")?.message.contains("has both command and url") == true)
        #expect(problem("[mcp.a]\ncommand = \"x\"\nargs = \"y\"\n")?.description == "c.toml:3: mcp.a.args must be an array of strings: [\"a\", \"b\"]")
        #expect(problem("[mcp.a]\ncommand = \"x\"\ntimeout = 0\n")?.message == "mcp.a.timeout must be a number of seconds from 0.1 to 3600")
        #expect(problem("[mcp.a]\ncommand = \"x\"\nallow = [1]\n")?.line == 3)
        #expect(problem("[mcp.a]\ncommand = \"x\"\nfoo = 1\n")?.message.hasPrefix("mcp.a.foo is not a known key") == true)
        #expect(problem("[mcp.a]\nurl = \"ftp://h/x\"\n")?.message == "mcp.a.url must be an http:// or https:// URL")
        #expect(problem("mcp = 3\n")?.message == "mcp must hold tables: [mcp.NAME]")
        #expect(problem("[mcp.a]\ncommand = \"x\"\nenv = { A = 1 }\n")?.message.contains("table of strings") == true)
    }

    @Test func planCarriesServersAndYesTools() throws {
        var file = FileConfig()
        file.mcp = [MCPServerConfig(name: "t", command: "x")]
        var f = ClientFlags()
        f.yesTools = true
        let p = try ClientPlan.make(flags: f, file: file, surroundings: ClientSurroundings(interactive: false, environment: ["HOME": "/h"])).get()
        #expect(p.tools.servers == file.mcp && p.tools.yesTools)
    }

    // MARK: names

    @Test func namesArePrefixedOnlyWhenTheyCollide() {
        let n = ToolCatalog.names(builtins: ["get_current_time", "start_timer"], servers: [
            (server: "time", tools: ["get_current_time", "convert_time"]),
            (server: "git", tools: ["git_status", "search"]),
            (server: "web", tools: ["search", "fetch"]),
        ])
        #expect(n["time"] == ["get_current_time": "time_get_current_time", "convert_time": "convert_time"])
        #expect(n["git"] == ["git_status": "git_status", "search": "git_search"])
        #expect(n["web"] == ["search": "web_search", "fetch": "fetch"])
    }

    @Test func namesAreMadeValidAndStayUnique() {
        #expect(ToolCatalog.sanitize("read file") == "read_file")
        #expect(ToolCatalog.sanitize("9lives") == "_9lives")
        #expect(ToolCatalog.sanitize("") == "_")
        #expect(ToolCatalog.sanitize("ns:tool.v2-x") == "ns:tool.v2-x")
        #expect(ToolCatalog.sanitize(String(repeating: "a", count: 100)).count == 64)
        // "a b" and "a_b" sanitise to the same name: prefixed; a prefixed name already taken gets _2.
        let n = ToolCatalog.names(builtins: ["s_x"], servers: [(server: "s", tools: ["x", "x "]), (server: "t", tools: ["x"])])
        let all = n.values.flatMap(\.values)
        #expect(Set(all).count == all.count)
        #expect(!all.contains("s_x") || n["s"]?["x"] != "s_x")
        #expect(n["t"]?["x"] == "t_x")
    }

    // MARK: schemas

    @Test func inputSchemasBecomeParametersJsonSchema() {
        let mcp: JSONValue = ["$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "title": "Args",
                              "properties": ["timezone": ["type": "string", "description": "IANA name"]],
                              "required": ["timezone"], "$defs": ["T": ["type": "string"]]]
        let out = ToolCatalog.parametersSchema(mcp)
        #expect(out["$schema"] == nil)
        #expect(out["type"] == "object" && out["required"] == ["timezone"])
        #expect(out["properties"]?["timezone"]?["description"] == "IANA name")
        #expect(out["$defs"] != nil && out["title"] == "Args")   // the rest as the server gave it
        let empty: JSONValue = ["type": "object", "properties": [:]]
        #expect(ToolCatalog.parametersSchema(nil) == empty)
        #expect(ToolCatalog.parametersSchema(["type": "object"]) == empty)
        #expect(ToolCatalog.parametersSchema([:]) == empty)
        #expect(ToolCatalog.parametersSchema(["type": "string"]) == empty)   // not an object: any object
        #expect(ToolCatalog.parametersSchema("nonsense") == empty)
        let huge: JSONValue = ["type": "object", "properties": ["p": ["description": .string(String(repeating: "x", count: 40_000))]]]
        #expect(ToolCatalog.parametersSchema(huge) == empty)
    }

    @Test func registryDeclaresServerToolsAfterTheBuiltins() {
        let tools: [String: [MCPToolInfo]] = [
            "time": [MCPToolInfo(name: "get_current_time", description: "Get current time\nin a zone", inputSchema: ["type": "object"])],
        ]
        let r = ToolCatalog.registry(builtins: .builtins(), configs: [MCPServerConfig(name: "time", command: "x")], tools: tools,
                                     servers: nil, approve: { _ in true })
        #expect(r.declarations.map(\.name) == ["get_current_time", "start_timer", "time_get_current_time"])
        let t = r["time_get_current_time"]
        #expect(t?.label == "time › get_current_time" && t?.summary == "Get current time")
        #expect(t?.declaration.parametersJsonSchema == ["type": "object", "properties": [:]])
        #expect(t?.declaration.parameters == nil)
        #expect(r["get_current_time"]?.label == "get_current_time" && r["get_current_time"]?.source == nil)
        let lines = ToolCatalog.listing(r, configs: [MCPServerConfig(name: "time", command: "x")])
        #expect(lines[0].hasPrefix("NAME"))
        #expect(lines.contains { $0.hasPrefix("time_get_current_time") && $0.contains("time › get_current_time") && $0.contains("asks") })
    }

    // MARK: who decides

    @Test func allowListDecides() {
        #expect(AllowList.decide(allow: ["*"], tool: "git_commit", declared: "git_commit") == .run)
        #expect(AllowList.decide(allow: ["git_status"], tool: "git_status", declared: "git_status") == .run)
        #expect(AllowList.decide(allow: ["git_status"], tool: "git_commit", declared: "git_commit") == .ask)
        #expect(AllowList.decide(allow: ["time_get_current_time"], tool: "get_current_time", declared: "time_get_current_time") == .run)
        #expect(AllowList.decide(allow: [], tool: "x", declared: "x") == .ask)
        #expect(AllowList.decide(allow: ["X"], tool: "x", declared: "x") == .ask)   // names are exact
    }

    @Test func refusedCallsFailWithAnErrorTheModelCanExplain() async throws {
        let cfg = MCPServerConfig(name: "git", command: "x", allow: ["git_status"])
        let tools = ["git": [MCPToolInfo(name: "git_commit", description: nil, inputSchema: nil),
                             MCPToolInfo(name: "git_status", description: nil, inputSchema: nil)]]
        let asked = Asked()
        let r = ToolCatalog.registry(builtins: ToolRegistry(), configs: [cfg], tools: tools, servers: nil,
                                     approve: { req in await asked.add(req); return false })
        let commit = try #require(r["git_commit"])
        await #expect(throws: ToolFailure.self) { _ = try await commit.invoke(ToolInvocation(id: "c1", args: ["message": "m"])) }
        do { _ = try await commit.invoke(ToolInvocation(id: "c2", args: nil)) } catch let f as ToolFailure {
            #expect(f.message == "the user did not allow this call of git_commit (MCP server git); do not retry it unless the user asks")
        }
        #expect(await asked.all.map(\.id) == ["c1", "c2"])
        #expect(await asked.all.first?.args == ["message": "m"])
        // Allowed: no question (and with no server running, a plain failure).
        do { _ = try await r["git_status"]!.invoke(ToolInvocation(id: "s1", args: nil)) } catch let f as ToolFailure {
            #expect(f.message == "the MCP server git is not running")
        }
        #expect(await asked.all.count == 2)
    }

    actor Asked {
        var all: [ApprovalRequest] = []
        func add(_ r: ApprovalRequest) { all.append(r) }
    }

    @Test func approvalDeskAnswersCancelsAndRefusesAll() async {
        let desk = ApprovalDesk()
        let announced = Asked()
        let yes = Task { await desk.ask("a") { Task { await announced.add(ApprovalRequest(id: "a", server: "s", tool: "t", args: nil)) } } }
        while await announced.all.isEmpty { await Task.yield() }
        desk.answer("a", true)
        #expect(await yes.value)
        desk.answer("early", false)   // answered before it asks (a cancel that won the race)
        #expect(await desk.ask("early") {} == false)
        let cancelled = Task { await desk.ask("c") {} }
        cancelled.cancel()
        #expect(await cancelled.value == false)
        let pending = Task { await desk.ask("q") {} }
        try? await Task.sleep(for: .milliseconds(20))
        desk.refuseAll()
        desk.answer("q", false)   // harmless whether or not it was still waiting
        #expect(await pending.value == false)
    }

    // MARK: restarts

    @Test func restartBackoffDoublesToThirtySecondsAndResetsWhenStable() {
        var b = RestartBackoff()
        let waits = (0..<7).map { _ in b.next(ranFor: .seconds(2)) }
        #expect(waits == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30)])
        #expect(b.next(ranFor: .seconds(61)) == .seconds(1))   // a minute up: a fresh start
        #expect(b.next(ranFor: .seconds(1)) == .seconds(2))
        for _ in 0..<100 { _ = b.next(ranFor: .zero) }
        #expect(b.next(ranFor: .zero) == .seconds(30))          // no overflow however many failures
    }
}
