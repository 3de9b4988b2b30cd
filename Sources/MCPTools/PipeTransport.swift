import Foundation
import Logging
import MCP

/// MCP's stdio transport over a child's pipes: newline-delimited JSON-RPC.
///
/// Written here rather than taking the SDK's `StdioTransport`: that one polls non-blocking file
/// descriptors every 10 ms and, at the child's end of file, finishes its stream without an error,
/// after which the SDK client's receive loop spins on the finished stream. This one reads on its
/// own thread with blocking reads (no polling) and ends with `MCPError.connectionClosed`, so the
/// client's loop stops when the server goes.
actor PipeTransport: MCP.Transport {
    /// The SDK's client logs through this: only critical lines (it calls the end of every
    /// connection, ours included, an error).
    nonisolated let logger: Logger
    /// This transport's own lines.
    private let log: Logger
    /// A descriptor of its own (dup), closed by the read thread when it ends.
    private let readFD: Int32
    /// The child's stdin: closing it is how a stdio server is told to end.
    nonisolated let input: Pipe
    private let stream: AsyncThrowingStream<Data, any Error>
    private let continuation: AsyncThrowingStream<Data, any Error>.Continuation
    private var started = false
    /// A line longer than this is a broken or hostile server: the connection is closed.
    static let maxMessageBytes = 16 << 20

    init(output: Pipe, input: Pipe, logger: Logger) {
        self.readFD = dup(output.fileHandleForReading.fileDescriptor)
        self.input = input
        self.log = logger
        var quiet = Logger(label: logger.label + ".sdk")
        quiet.logLevel = .critical
        self.logger = quiet
        (stream, continuation) = AsyncThrowingStream.makeStream(of: Data.self, bufferingPolicy: .bufferingOldest(1_000))
    }

    func connect() async throws {
        guard !started else { return }
        started = true
        let (fd, cont, logger) = (readFD, continuation, log)
        let t = Thread {
            var pending = Data()
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                pending.append(contentsOf: buffer[0..<n])
                while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[pending.startIndex..<nl]
                    pending = Data(pending[(nl + 1)...])
                    if !line.isEmpty, case .dropped = cont.yield(Data(line)) {
                        logger.warning("dropped a message: 1,000 are waiting to be read")
                    }
                }
                if pending.count > Self.maxMessageBytes {
                    logger.error("a message over 16 MiB: closing the connection")
                    break
                }
            }
            close(fd)
            cont.finish(throwing: MCPError.connectionClosed)
        }
        t.name = "livetalk-mcp-read"
        t.start()
    }

    func disconnect() async {
        continuation.finish()
    }

    func send(_ data: Data) async throws {
        var out = data
        out.append(UInt8(ascii: "\n"))
        let fd = input.fileHandleForWriting.fileDescriptor
        // SIGPIPE is ignored (MCPToolServers), so a server gone makes this fail with EPIPE.
        let ok = out.withUnsafeBytes { raw -> Bool in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { return false }
                off += n
            }
            return true
        }
        if !ok { throw MCPError.connectionClosed }
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { stream }
}
