import App
import Foundation
import LiveProtocol
import LiveSession
import TerminalUI
import Testing
import TestSupport

/// The runtime over the in-memory transport: no socket, no emulator, a scripted server end.
struct InMemoryRuntimeTests {
    static func plan(_ lines: Bool = true) throws -> ClientPlan {
        var f = ClientFlags()
        f.endpoint = "ws://127.0.0.1:9"
        f.audio = .null
        f.noTUI = true
        f.text = true
        return try ClientPlan.make(flags: f, file: FileConfig(),
                                   surroundings: ClientSurroundings(interactive: false, environment: ["HOME": "/nonexistent"])).get()
    }

    /// Answers setup, then every text turn with "echo: …" as a text reply.
    static func serve(_ transport: InMemoryTransport, closeWith: (code: UInt16, reason: String)? = nil) -> Task<Void, Never> {
        Task {
            for await end in transport.accepted {
                for await data in end.received {
                    let text = String(decoding: data, as: UTF8.self)
                    if text.contains("\"setup\"") {
                        if let closeWith {
                            end.close(code: closeWith.code, reason: closeWith.reason)
                            break
                        }
                        end.send(#"{"setupComplete":{}}"#)
                    } else if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                              let input = object["realtimeInput"] as? [String: Any], let said = input["text"] as? String {
                        end.send(#"{"serverContent":{"modelTurn":{"parts":[{"text":"echo: \#(said)"}]}}}"#)
                        end.send(#"{"serverContent":{"turnComplete":true}}"#)
                    }
                }
            }
        }
    }

    @Test func aLineModeConversationWithNoSocket() async throws {
        let transport = InMemoryTransport()
        let server = Self.serve(transport)
        defer { server.cancel() }
        let out = Printed()
        let lines = AsyncStream<String> { c in
            for l in ["hello", "/help", "again"] { c.yield(l) }
            c.finish()
        }
        let edges = ClientEdges(transport: { _, _ in transport }, openTerminal: { throw CancellationError() },
                                lines: { lines }, out: { out.add($0) }, err: { _ in }, shutdown: Shutdown())
        let code = await ClientRuntime(plan: try Self.plan(), edges: edges).run()
        #expect(code == 0, "\(out.text)")
        #expect(out.text.contains("model> echo: hello"))
        #expect(out.text.contains("model> echo: again"))
        #expect(out.text.contains("[help] /quit"))
        #expect(out.all.last == "[state] CLOSED")
    }

    @Test func aFatalCloseIsWordedForLineModeAndExitsOne() async throws {
        let transport = InMemoryTransport()
        let server = Self.serve(transport, closeWith: (1008, "session not found"))
        defer { server.cancel() }
        let out = Printed()
        let lines = AsyncStream<String> { c in c.yield("hello"); c.finish() }
        let edges = ClientEdges(transport: { _, _ in transport }, openTerminal: { throw CancellationError() },
                                lines: { lines }, out: { out.add($0) }, err: { _ in }, shutdown: Shutdown())
        let code = await ClientRuntime(plan: try Self.plan(), edges: edges).run()
        #expect(code == 1)
        #expect(out.text.contains("[state] CLOSED: the resumption handle is no longer valid — /reset starts a new session"), "\(out.text)")
    }
}
