import Foundation
import LiveProtocol
import LiveSession
import Testing
import TestSupport
import WebSocketTransport
import Emulator

/// R19: for an IP-literal endpoint the certificate must name that IP address. A certificate for
/// "localhost" (mkcert's, any local CA's) must not pass for every IP. Real TLS over loopback
/// against the emulator, with certificates made by openssl.
@Suite(.serialized)
struct TLSIdentityTests {
    /// A throwaway CA and a server certificate with the given subjectAltName.
    static func certificates(san: String) async throws -> (dir: URL, ca: String, cert: String, key: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("livetalk-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func run(_ args: [String]) async throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["openssl"] + args
            p.currentDirectoryURL = dir
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            // Wait without blocking a thread of the (2-thread) cooperative pool.
            let status: Int32 = try await bounded(seconds: 60, "openssl \(args.first ?? "")") {
                await withCheckedContinuation { (c: CheckedContinuation<Int32, Never>) in
                    p.terminationHandler = { c.resume(returning: $0.terminationStatus) }
                    do { try p.run() } catch { p.terminationHandler = nil; c.resume(returning: -1) }
                }
            }
            guard status == 0 else { throw TestTimeout(what: "openssl \(args.first ?? "") to succeed") }
        }
        try await run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=livetalk test CA",
                 "-keyout", "ca.key", "-out", "ca.pem"])
        try await run(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test server", "-keyout", "server.key", "-out", "server.csr"])
        try "subjectAltName=\(san)\n".write(to: dir.appendingPathComponent("ext.cnf"), atomically: true, encoding: .utf8)
        try await run(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem"])
        return (dir, dir.appendingPathComponent("ca.pem").path, dir.appendingPathComponent("server.pem").path,
                dir.appendingPathComponent("server.key").path)
    }

    static func connect(san: String) async throws -> Result<Void, TransportError> {
        let c = try await certificates(san: san)
        defer { try? FileManager.default.removeItem(at: c.dir) }
        let h = try await EmulatorHarness.start {
            $0.tlsCertFile = c.cert
            $0.tlsKeyFile = c.key
            $0.speech = .tones
        }
        defer { h.stop() }
        let endpoint = try Endpoint.custom("wss://127.0.0.1:\(h.port)", apiKey: nil)
        let transport = WebSocketTransport(caFile: c.ca)
        return try await bounded(seconds: 20, "a TLS connect to finish") {
            do throws(TransportError) {
                let conn = try await transport.connect(to: endpoint)
                await conn.close(code: 1000, reason: "")
                return .success(())
            } catch {
                return .failure(error)
            }
        }
    }

    @Test func testR19_aLocalhostCertificateDoesNotPassForAnIPAddress() async throws {
        let r = try await Self.connect(san: "DNS:localhost")
        guard case .failure(let e) = r else { Issue.record("a DNS:localhost certificate was accepted for wss://127.0.0.1"); return }
        guard case .tls = e else { Issue.record("expected a TLS failure, got \(e)"); return }
        #expect(!e.retryable)
    }

    @Test func testR19_aCertificateForTheIPAddressPasses() async throws {
        let r = try await Self.connect(san: "IP:127.0.0.1")
        if case .failure(let e) = r { Issue.record("an IP:127.0.0.1 certificate was refused: \(e)") }
    }
}
