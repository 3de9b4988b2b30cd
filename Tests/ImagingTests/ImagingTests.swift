import Foundation
import Imaging
import Testing

/// Issue 12, item 6: JPEG and PNG files become JPEG frames (≤ 768 a side) through MagickWand.
/// The PNG fixtures were written by Python's zlib (an independent encoder); the JPEG input is
/// made from one of them, unscaled, then sent through again.
struct ImagingTests {
    func fixture(_ name: String) -> String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name).path
    }

    @Test func pngWithTransparencyBecomesAJPEGOfTheSameSize() throws {
        let f = try JPEGFrame.make(path: fixture("half-transparent-320x200.png"))
        #expect(f.width == 320 && f.height == 200)
        #expect(JPEGFrame.kind(of: f.jpeg) == "JPEG")
        let size = try #require(JPEGFrame.size(of: f.jpeg))
        #expect(size.width == 320 && size.height == 200)
    }

    @Test func largeImagesAreScaledTo768KeepingTheirShape() throws {
        let png = try JPEGFrame.make(path: fixture("wide-1600x900.png"))
        #expect(png.width == 768 && png.height == 432)
        let bigJPEG = try JPEGFrame.make(path: fixture("wide-1600x900.png"), maxSide: 4000)
        #expect(bigJPEG.width == 1600 && bigJPEG.height == 900 && JPEGFrame.kind(of: bigJPEG.jpeg) == "JPEG")
        let f = try JPEGFrame.make(data: bigJPEG.jpeg)
        #expect(f.width == 768 && f.height == 432)
        let size = try #require(JPEGFrame.size(of: f.jpeg))
        #expect(size.width == 768 && size.height == 432)
    }

    @Test func otherFilesAreRefusedClearly() throws {
        #expect(throws: ImageError.notJPEGOrPNG) { try JPEGFrame.make(data: Data("GIF89a......".utf8)) }
        #expect(throws: ImageError.unreadable(path: "/nonexistent/x.png")) { try JPEGFrame.make(path: "/nonexistent/x.png") }
        // Right magic, broken body: an error, never a crash.
        #expect(throws: ImageError.self) { try JPEGFrame.make(data: Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3])) }
        #expect(throws: ImageError.self) { try JPEGFrame.make(data: Data([0xFF, 0xD8, 0xFF, 0, 0, 0])) }
        #expect(JPEGFrame.size(of: Data("hello".utf8)) == nil)
        #expect(throws: ImageError.tooLarge(bytes: JPEGFrame.maxFileBytes + 1)) {
            try JPEGFrame.make(data: Data(count: JPEGFrame.maxFileBytes + 1))
        }
    }
}
