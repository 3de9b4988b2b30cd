import Foundation
import Logging

/// `livetalk [options]`: config file, logging, signals, the plan, then the runtime.
public enum ClientMain {
    /// Runs one client and returns its exit status; every problem is worded on stderr.
    public static func run(flags: ClientFlags, configPath: String?, edges: ClientEdges,
                           environment: [String: String] = ProcessInfo.processInfo.environment,
                           interactive: Bool = isatty(0) == 1 && isatty(1) == 1) async -> Int32 {
        let file: FileConfig
        do { file = try FileConfig.load(path: configPath ?? FileConfig.defaultPath(environment: environment)) } catch {
            edges.err("livetalk: " + ClientWording.problem(.config(error)))
            return ExitStatus.usage
        }
        let plan: ClientPlan
        switch ClientPlan.make(flags: flags, file: file, surroundings: ClientSurroundings(interactive: interactive, environment: environment)) {
        case .success(let p): plan = p
        case .failure(let problem):
            edges.err("livetalk: " + ClientWording.problem(problem))
            return problem.exitStatus
        }
        if let problem = LogSetup.bootstrap(path: plan.logFile ?? LogSetup.defaultPath(environment: environment),
                                            level: Logger.Level(rawValue: plan.logLevel) ?? .info) {
            edges.err("livetalk: " + ClientWording.notice(.logOff(reason: problem)))
        }
        // Signals first: from here on Ctrl-C, SIGTERM and SIGHUP end the process within 2 s.
        edges.shutdown.install()
        return await ClientRuntime(plan: plan, edges: edges).run()
    }
}
