import Dispatch
import Foundation
import LiveProtocol
import LiveSession

/// Server messages fed into a `Session` over `InMemoryTransport`.
///
/// The input is split on the byte 0x00 (which JSON text never needs) into messages. A message
/// whose first byte is 0x01 goes out as a binary frame (without that byte); every other one as a
/// text frame (bytes read as UTF-8, invalid sequences replaced, as a WebSocket text frame cannot
/// carry them). The server end first waits for the client's `setup`, answers `setupComplete`,
/// sends the messages, then the client quits; every session event is drained.
///
/// Bounded: no sleeping; if the session has not ended `limit` after the last message, the run
/// traps with "hang", which is a finding like any other.
enum SessionFuzz {
    static let separator: UInt8 = 0x00
    static let binaryMarker: UInt8 = 0x01
    static let limit: DispatchTimeInterval = .seconds(5)

    static let endpoint: Endpoint = {
        do { return try Endpoint.custom("ws://127.0.0.1:9", apiKey: nil) } catch { fatalError("fuzz endpoint: \(error)") }
    }()

    enum Frame: Sendable {
        case text(String)
        case binary(Data)
    }

    static func frames(_ bytes: [UInt8]) -> [Frame] {
        bytes.split(separator: separator, omittingEmptySubsequences: true).map { chunk in
            if chunk.first == binaryMarker { return .binary(Data(chunk.dropFirst())) }
            return .text(String(decoding: chunk, as: UTF8.self))
        }
    }

    static func run(_ bytes: [UInt8]) {
        let frames = frames(bytes)
        let transport = InMemoryTransport()
        let config = SessionConfig(endpoint: endpoint, setup: Setup(model: "models/fuzz"),
                                   policy: ReconnectPolicy(initialDelay: .milliseconds(1), maxDelay: .milliseconds(2),
                                                           maxAttempts: 2, jitter: 0))
        let session = Session(config: config, transport: transport, tools: .builtins())
        let finished = DispatchSemaphore(value: 0)

        let drain = Task {
            var count = 0
            for await event in session.events {
                count += 1
                if case .audio(let d, let rate, _) = event { count += d.count & 1 + rate & 1 }
            }
            return count
        }
        Task {
            await session.connect()
            var ends = transport.accepted.makeAsyncIterator()
            if let server = await ends.next() {
                var received = server.received.makeAsyncIterator()
                _ = await received.next()   // the client's setup
                server.send(#"{"setupComplete":{}}"#)
                for frame in frames {
                    switch frame {
                    case .text(let s): server.send(s)
                    case .binary(let d): server.send(binary: d)
                    }
                }
            }
            await session.quit()
            _ = await drain.value
            finished.signal()
        }
        if finished.wait(timeout: .now() + limit) == .timedOut {
            fatalError("hang: the session did not end within 5 s of \(frames.count) server messages")
        }
    }
}

/// The session target's input framing, spelled out for tests and for writing seeds by hand.
public enum SessionFuzzFraming {
    /// One line per server message: `text <message>` or `binary <byte count>`.
    public static func describe(_ bytes: [UInt8]) -> [String] {
        SessionFuzz.frames(bytes).map {
            switch $0 {
            case .text(let s): "text \(s)"
            case .binary(let d): "binary \(d.count)"
            }
        }
    }
}
