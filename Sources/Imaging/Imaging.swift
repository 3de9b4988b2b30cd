// Imaging — images for `realtimeInput.video` (issue 12), through ImageMagick 6's MagickWand (the
// `CImageMagick` shim): a JPEG or PNG file becomes a JPEG frame no larger than the Live API's
// recommended 768×768, and the emulator reads a frame's size. No pixel is touched by hand.
import CImageMagick
import Foundation

public enum ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String)
    case tooLarge(bytes: Int)
    case notJPEGOrPNG
    case failed(String)

    public var description: String {
        switch self {
        case .unreadable(let p): "cannot read \(p)"
        case .tooLarge(let b): "the file is \(b / 1_048_576) MiB; images up to \(JPEGFrame.maxFileBytes / 1_048_576) MiB are sent"
        case .notJPEGOrPNG: "not a JPEG or PNG image"
        case .failed(let why): why
        }
    }
}

/// One frame for the model: JPEG bytes and their size in pixels.
public struct JPEGFrame: Sendable, Equatable {
    public var jpeg: Data
    public var width: Int
    public var height: Int

    /// Largest file read (a bigger one is refused before it is decoded).
    public static let maxFileBytes = 32 * 1_048_576
    /// The longest side sent; larger images are scaled down, keeping their shape.
    public static let maxSide = 768
    public static let quality = 85

    /// Reads a JPEG or PNG file and re-encodes it as a JPEG frame of at most `maxSide` pixels a
    /// side (transparency over white, no metadata). Images over 16384 pixels a side are refused.
    public static func make(path: String, maxSide: Int = maxSide) throws(ImageError) -> JPEGFrame {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
        return try make(data: data, maxSide: maxSide)
    }

    public static func make(data: Data, maxSide: Int = maxSide) throws(ImageError) -> JPEGFrame {
        guard data.count <= maxFileBytes else { throw .tooLarge(bytes: data.count) }
        guard let format = kind(of: data) else { throw .notJPEGOrPNG }
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0, width = 0, height = 0
        var err = [CChar](repeating: 0, count: 512)
        let rc = data.withUnsafeBytes { raw in
            lt_image_to_jpeg(raw.baseAddress, raw.count, format, max(1, maxSide), quality, &out, &length, &width, &height, &err, err.count)
        }
        guard rc == 0, let out else {
            throw .failed(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { lt_image_free(out) }
        return JPEGFrame(jpeg: Data(bytes: out, count: length), width: width, height: height)
    }

    /// The size of a JPEG or PNG image from its header (nil: not one, or unreadable).
    public static func size(of data: Data) -> (width: Int, height: Int)? {
        guard data.count <= maxFileBytes, let format = kind(of: data) else { return nil }
        var width = 0, height = 0
        let rc = data.withUnsafeBytes { lt_image_size($0.baseAddress, $0.count, format, &width, &height) }
        return rc == 0 ? (width, height) : nil
    }

    /// "JPEG" or "PNG" from the first bytes; only these two formats reach ImageMagick's decoders.
    public static func kind(of data: Data) -> String? {
        let b = [UInt8](data.prefix(8))
        if b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF { return "JPEG" }
        if b == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return "PNG" }
        return nil
    }
}
