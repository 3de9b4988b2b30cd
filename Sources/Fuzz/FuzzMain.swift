// livetalk-fuzz: the libFuzzer driver for the bodies in `FuzzTargets`.
//
// Fuzz build (`scripts/fuzz`, compiled with -sanitize=fuzzer -DFUZZING): libFuzzer owns `main`;
// this file only exports LLVMFuzzerTestOneInput, which runs the target named by the environment
// variable LIVETALK_FUZZ_TARGET.
//
// Plain build (`swift build`, CI): a small command that replays files through a target, so that
// crashers can be reproduced without a fuzz build:
//     livetalk-fuzz --target NAME FILE_OR_DIR...
// It exits 0 when every input ran without trapping (a trap ends the process, as under libFuzzer).
import FuzzTargets
import Foundation

#if FUZZING
nonisolated(unsafe) private var selected: FuzzTarget?

@_cdecl("LLVMFuzzerTestOneInput")
public func livetalkFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let target: FuzzTarget
    if let t = selected {
        target = t
    } else {
        let name = ProcessInfo.processInfo.environment["LIVETALK_FUZZ_TARGET"] ?? ""
        guard let t = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("livetalk-fuzz: set LIVETALK_FUZZ_TARGET to one of: \(names)\n".utf8))
            exit(2)
        }
        selected = t
        target = t
    }
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    target.run(bytes)
    return 0
}
#else
@main
struct ReplayMain {
    static func main() {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        var args = Array(CommandLine.arguments.dropFirst())
        var targetName = ProcessInfo.processInfo.environment["LIVETALK_FUZZ_TARGET"]
        if args.first == "--target", args.count >= 2 {
            targetName = args[1]
            args.removeFirst(2)
        }
        guard let targetName, let target = FuzzTarget(rawValue: targetName), !args.isEmpty else {
            fail(64, """
                usage: livetalk-fuzz --target NAME FILE_OR_DIR...
                Replays inputs through a fuzz target (one of: \(names)).
                This is a plain build; fuzzing itself needs scripts/fuzz.
                """)
        }
        var files: [String] = []
        for arg in args {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: arg, isDirectory: &isDir) else { fail(66, "\(arg): no such file") }
            if isDir.boolValue {
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: arg)) ?? []
                files += entries.sorted().filter { !$0.hasPrefix(".") }.map { arg + "/" + $0 }
            } else {
                files.append(arg)
            }
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { fail(66, "\(file): cannot read") }
            FileHandle.standardError.write(Data("\(target.rawValue): \(file)\n".utf8))
            target.run([UInt8](data))
        }
        print("\(target.rawValue): \(files.count) input(s) ran without trapping")
    }

    static func fail(_ code: Int32, _ message: String) -> Never {
        FileHandle.standardError.write(Data("livetalk-fuzz: \(message)\n".utf8))
        exit(code)
    }
}
#endif
