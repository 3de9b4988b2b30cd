import Foundation
import LiveSession
import TerminalUI

/// An image ready to go out as `realtimeInput.video`: JPEG bytes and their size in pixels.
public struct PreparedImage: Sendable, Equatable {
    public var jpeg: Data
    public var width: Int
    public var height: Int
    public init(jpeg: Data, width: Int, height: Int) {
        self.jpeg = jpeg
        self.width = width
        self.height = height
    }
}

struct ImageUnavailable: Error, CustomStringConvertible {
    var description: String { "this build cannot read images" }
}

extension Conversation {
    /// The shortest time between two images sent (the Live API takes about one frame a second).
    static let imageInterval: Duration = .seconds(1)

    /// Reads, re-encodes and sends one image, waiting out the rest of the second after the last
    /// one (no queue: the next command waits at most that long). Says what was sent, or why not.
    func sendImage(_ path: String) async {
        if let last = lastImageAt {
            try? await Task.sleep(until: last + Self.imageInterval, clock: .continuous)
        }
        let prepare = edges.prepareImage
        let expanded = path.hasPrefix("~/") ? NSHomeDirectory() + path.dropFirst() : path
        let result: Result<PreparedImage, any Error> = await Task.detached { Result { try prepare(expanded) } }.value
        lastImageAt = .now
        switch result {
        case .success(let image):
            await session.sendImage(jpeg: image.jpeg)
            sink.yield(.notice(.imageSent(path: path, width: image.width, height: image.height, bytes: image.jpeg.count)))
        case .failure(let e):
            sink.yield(.notice(.imageFailed(path: path, reason: "\(e)")))
        }
    }
}
