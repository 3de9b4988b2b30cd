// swift-tools-version: 6.1
// livetalk — a terminal voice client for the Gemini Live API, with an offline emulator.
// Target shape: see ../shared/ARCHITECTURE.md (mirrored in README "Layout").
import PackageDescription

let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6), .enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "livetalk",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "livetalk", targets: ["livetalk"]),
        .executable(name: "livetalk-bench", targets: ["Benchmarks"]),
        .executable(name: "livetalk-fuzz", targets: ["Fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
    ],
    targets: [
        // ── pure core (Foundation only) ──
        .target(name: "LiveProtocol", swiftSettings: swift6),
        .target(name: "AudioCore", swiftSettings: swift6),
        .target(name: "LiveSession", dependencies: ["LiveProtocol"], swiftSettings: swift6),
        .target(name: "TerminalUI", dependencies: ["LiveSession", "LiveProtocol", "AudioCore"], swiftSettings: swift6),

        // ── edges ──
        .target(name: "WebSocketTransport", dependencies: [
            "LiveProtocol", "LiveSession",
            .product(name: "WSClient", package: "swift-websocket"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),

        .systemLibrary(name: "CPulseSimple", providers: [.apt(["libpulse-dev"])]),
        .target(name: "PulseAudio", dependencies: ["CPulseSimple", "AudioCore"], swiftSettings: swift6),

        .systemLibrary(name: "CNcursesw", providers: [.apt(["libncurses-dev"])]),
        .target(name: "CursesShim", dependencies: ["CNcursesw"],
                cSettings: [.define("NCURSES_WIDECHAR", to: "1"), .define("_XOPEN_SOURCE", to: "600"), .define("_DEFAULT_SOURCE")],
                linkerSettings: [.linkedLibrary("ncursesw"), .linkedLibrary("tinfo")]),
        .target(name: "Curses", dependencies: ["CursesShim", "TerminalUI"], swiftSettings: swift6),

        // Offline speech for the emulator only (PLATFORM.md §4).
        .systemLibrary(name: "CEspeakNG", providers: [.apt(["libespeak-ng-dev"])]),
        .systemLibrary(name: "CPocketSphinx", pkgConfig: "pocketsphinx", providers: [.apt(["libpocketsphinx-dev"])]),
        .systemLibrary(name: "CSpeexDSP", providers: [.apt(["libspeexdsp-dev"])]),
        .target(name: "Speech", dependencies: ["CEspeakNG", "CPocketSphinx", "CSpeexDSP"], swiftSettings: swift6),

        // In-process echo cancellation and noise suppression: WebRTC audio processing 0.3 (C++, Debian's
        // libwebrtc-audio-processing-dev) behind a C shim. The defines are the .pc file's Cflags, which
        // SwiftPM refuses to take from pkg-config (it allows only -I/-L/-l there).
        .target(name: "CWebRTCAudio",
                cxxSettings: [.define("WEBRTC_POSIX"), .define("WEBRTC_AUDIO_PROCESSING_ONLY_BUILD"),
                              .unsafeFlags(["-isystem", "/usr/include/webrtc_audio_processing"])],
                linkerSettings: [.linkedLibrary("webrtc_audio_processing")]),
        .target(name: "EchoCancel", dependencies: ["CWebRTCAudio", "AudioCore"], swiftSettings: swift6),

        // MCP servers as tools (issue 12): spawns stdio servers (or reaches streamable HTTP ones)
        // through the official MCP Swift SDK; the `livetalk` target injects it as App's `ToolServers`.
        .target(name: "MCPTools", dependencies: [
            "App", "LiveProtocol", "LiveSession",
            .product(name: "MCP", package: "swift-sdk"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        // Images (issue 12): ImageMagick 6's MagickWand reads JPEG/PNG, scales and re-encodes JPEG for
        // `realtimeInput.video`; the emulator reads an image's size with it.
        // The include paths are the .pc file's (pkg-config's -fopenmp and -D flags are refused by SwiftPM).
        .target(name: "CImageMagick",
                cSettings: [.unsafeFlags(["-isystem", "/usr/include/ImageMagick-6",
                                          "-isystem", "/usr/include/x86_64-linux-gnu/ImageMagick-6",
                                          "-isystem", "/usr/include/aarch64-linux-gnu/ImageMagick-6"])],
                linkerSettings: [.linkedLibrary("MagickWand-6.Q16"), .linkedLibrary("MagickCore-6.Q16")]),
        .target(name: "Imaging", dependencies: ["CImageMagick"], swiftSettings: swift6),

        // ── composition ──
        .target(name: "Emulator", dependencies: [
            "LiveProtocol", "AudioCore", "Speech", "Imaging",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOFoundationEssentialsCompat", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        // The client runtime: never imports an edge (WebSocket, PulseAudio, curses); `livetalk` injects them.
        .target(name: "App", dependencies: [
            "LiveProtocol", "LiveSession", "AudioCore", "Emulator", "TerminalUI",
            .product(name: "TOMLKit", package: "TOMLKit"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        .executableTarget(name: "livetalk", dependencies: [
            "App", "Emulator", "LiveSession", "PulseAudio", "EchoCancel", "TerminalUI", "Curses", "WebSocketTransport", "MCPTools",
            "Imaging",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
        .executableTarget(name: "Benchmarks", dependencies: [
            "App", "Emulator", "LiveProtocol", "LiveSession", "WebSocketTransport", "PulseAudio", "AudioCore", "CPulseSimple",
            "Speech", "EchoCancel", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: swift6),
        .target(name: "TestSupport", dependencies: [
            "LiveProtocol", "LiveSession", "Emulator", "WebSocketTransport", "TerminalUI",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
        ], swiftSettings: swift6),

        // Fuzz target bodies (also replayed by FuzzRegressionTests) and their libFuzzer driver;
        // scripts/fuzz builds the driver with -sanitize=fuzzer -DFUZZING.
        .target(name: "FuzzTargets", dependencies: ["LiveProtocol", "LiveSession", "AudioCore", "TerminalUI", "App"],
                swiftSettings: swift6),
        .executableTarget(name: "Fuzz", dependencies: ["FuzzTargets"], swiftSettings: swift6),

        // ── tests ──
        .testTarget(name: "LiveProtocolTests", dependencies: ["LiveProtocol"],
                    resources: [.copy("Fixtures")], swiftSettings: swift6),
        .testTarget(name: "LiveSessionTests", dependencies: ["LiveSession", "LiveProtocol"], swiftSettings: swift6),
        .testTarget(name: "AudioCoreTests", dependencies: ["AudioCore"], swiftSettings: swift6),
        .testTarget(name: "TerminalUITests", dependencies: ["TerminalUI", "LiveSession", "LiveProtocol", "AudioCore"],
                    exclude: ["Snapshots"], swiftSettings: swift6),
        .testTarget(name: "PulseAudioTests", dependencies: ["PulseAudio", "AudioCore", "CPulseSimple"], swiftSettings: swift6),
        .testTarget(name: "EmulatorTests", dependencies: ["Emulator", "LiveProtocol", "Speech",
                                                          .product(name: "NIOCore", package: "swift-nio")], swiftSettings: swift6),
        .testTarget(name: "SpeechTests", dependencies: ["Speech", "AudioCore"], swiftSettings: swift6),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"], resources: [.copy("Fixtures")], swiftSettings: swift6),
        .testTarget(name: "EchoCancelTests", dependencies: ["EchoCancel"], swiftSettings: swift6),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets"], swiftSettings: swift6),
        .testTarget(name: "IntegrationTests", dependencies: [
            "TestSupport", "LiveSession", "LiveProtocol", "Emulator", "WebSocketTransport", "App", "AudioCore", "Speech",
            "TerminalUI", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swift6),
    ]
)
