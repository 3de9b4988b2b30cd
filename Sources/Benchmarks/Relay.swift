// A TCP relay between a client under test and `livetalk serve`: the soak cuts it for real
// drops, the stream bench counts what crosses it.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum RelayDirection: Sendable { case toServer, toClient }

/// Sees the bytes of one direction of one relayed connection, only ever on that direction's pump thread.
protocol RelaySink: AnyObject, Sendable {
    func bytes(_ chunk: UnsafeRawBufferPointer)
}

/// Makes a sink per connection and direction (called on the accept thread).
protocol RelayTap: Sendable {
    func sink(connection: Int, direction: RelayDirection) -> any RelaySink
}

/// 127.0.0.1:port → 127.0.0.1:target, two blocking pump threads per connection. `cut()` shuts
/// every relayed connection down: the client gets a FIN with no WebSocket close frame (1006),
/// the emulator sees its socket end and keeps the session's resumption snapshot (the soak).
/// A `tap` sees every byte relayed, per connection and direction (the stream bench counts frames).
final class DropRelay: @unchecked Sendable {
    let port: Int
    private let listenFD: Int32
    private let target: Int
    private let tap: (any RelayTap)?
    private let lock = NSLock()
    // Guarded by lock.
    private var pairs: [Int: (client: Int32, server: Int32, finished: Int)] = [:]
    private var nextId = 0
    private var stopped = false
    private var acceptedCount = 0

    init(targetPort: Int, tap: (any RelayTap)? = nil) throws {
        target = targetPort
        self.tap = tap
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("relay: socket() failed: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw BenchError("relay: bind/listen failed: errno \(errno)")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        listenFD = fd
        Thread { [self] in acceptLoop() }.start()
    }

    static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }

    var accepted: Int {
        lock.lock()
        defer { lock.unlock() }
        return acceptedCount
    }

    private func acceptLoop() {
        while true {
            let c = accept(listenFD, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                return   // closed by stop()
            }
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = Self.loopback(port: target)
            let ok = s >= 0 && withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
            guard ok else {
                close(c)
                if s >= 0 { close(s) }
                continue
            }
            var one: Int32 = 1
            setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            lock.lock()
            if stopped {
                lock.unlock()
                close(c)
                close(s)
                return
            }
            nextId += 1
            acceptedCount += 1
            let id = nextId
            pairs[id] = (c, s, 0)
            lock.unlock()
            let up = tap?.sink(connection: id, direction: .toServer), down = tap?.sink(connection: id, direction: .toClient)
            Thread { [self] in pump(from: c, to: s, id: id, sink: up) }.start()
            Thread { [self] in pump(from: s, to: c, id: id, sink: down) }.start()
        }
    }

    private func pump(from: Int32, to: Int32, id: Int, sink: (any RelaySink)?) {
        let size = 64 << 10
        let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buf.deallocate() }
        copying: while true {
            let n = read(from, buf, size)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            sink?.bytes(UnsafeRawBufferPointer(start: buf, count: n))
            var off = 0
            while off < n {
                let w = send(to, buf + off, n - off, Int32(MSG_NOSIGNAL))
                if w < 0 && errno == EINTR { continue }
                if w <= 0 { break copying }
                off += w
            }
        }
        shutdown(from, Int32(SHUT_RDWR))
        shutdown(to, Int32(SHUT_RDWR))
        lock.lock()
        var closeBoth = false
        if var p = pairs[id] {
            p.finished += 1
            if p.finished == 2 {
                pairs[id] = nil
                closeBoth = true
            } else {
                pairs[id] = p
            }
        }
        lock.unlock()
        if closeBoth {
            close(from)
            close(to)
        }
    }

    /// Drops every relayed connection now; returns how many there were.
    @discardableResult func cut() -> Int {
        lock.lock()
        defer { lock.unlock() }
        for (_, p) in pairs where p.finished == 0 {
            shutdown(p.client, Int32(SHUT_RDWR))
            shutdown(p.server, Int32(SHUT_RDWR))
        }
        return pairs.values.filter { $0.finished == 0 }.count
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
        cut()
    }
}
