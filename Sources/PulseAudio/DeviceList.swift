import CPulseSimple
import Foundation

/// A source or sink as `livetalk devices` shows it.
public struct PulseDeviceInfo: Sendable, Hashable {
    public var name: String
    public var description: String
    public var isDefault: Bool
    public var isMonitor: Bool
}

/// Sources and sinks of the server, via the libpulse introspection API (a private mainloop).
public enum PulseDeviceList {
    final class Box {
        var sinks: [PulseDeviceInfo] = []
        var sources: [PulseDeviceInfo] = []
        var defaultSink = ""
        var defaultSource = ""
    }

    public static func list() throws(PulseError) -> (sources: [PulseDeviceInfo], sinks: [PulseDeviceInfo]) {
        guard let ml = pa_mainloop_new() else { throw PulseError(kind: .other, message: "cannot create a PulseAudio mainloop") }
        defer { pa_mainloop_free(ml) }
        guard let ctx = pa_context_new(pa_mainloop_get_api(ml), "livetalk") else {
            throw PulseError(kind: .other, message: "cannot create a PulseAudio context")
        }
        defer { pa_context_unref(ctx) }
        guard pa_context_connect(ctx, nil, PA_CONTEXT_NOAUTOSPAWN, nil) >= 0 else {
            throw PulseError.from(code: pa_context_errno(ctx), device: nil, direction: "server")
        }
        defer { pa_context_disconnect(ctx) }
        while true {
            let st = pa_context_get_state(ctx)
            if st == PA_CONTEXT_READY { break }
            if st == PA_CONTEXT_FAILED || st == PA_CONTEXT_TERMINATED {
                throw PulseError.from(code: pa_context_errno(ctx), device: nil, direction: "server")
            }
            pa_mainloop_iterate(ml, 1, nil)
        }
        let box = Box()
        let user = Unmanaged.passUnretained(box).toOpaque()
        func run(_ op: OpaquePointer?) {
            guard let op else { return }
            while pa_operation_get_state(op) == PA_OPERATION_RUNNING { pa_mainloop_iterate(ml, 1, nil) }
            pa_operation_unref(op)
        }
        run(pa_context_get_server_info(ctx, { _, info, user in
            guard let info, let user else { return }
            let b = Unmanaged<Box>.fromOpaque(user).takeUnretainedValue()
            b.defaultSink = info.pointee.default_sink_name.map { String(cString: $0) } ?? ""
            b.defaultSource = info.pointee.default_source_name.map { String(cString: $0) } ?? ""
        }, user))
        run(pa_context_get_sink_info_list(ctx, { _, info, eol, user in
            guard eol == 0, let info, let user else { return }
            let b = Unmanaged<Box>.fromOpaque(user).takeUnretainedValue()
            b.sinks.append(PulseDeviceInfo(name: String(cString: info.pointee.name),
                                           description: info.pointee.description.map { String(cString: $0) } ?? "",
                                           isDefault: false, isMonitor: false))
        }, user))
        run(pa_context_get_source_info_list(ctx, { _, info, eol, user in
            guard eol == 0, let info, let user else { return }
            let b = Unmanaged<Box>.fromOpaque(user).takeUnretainedValue()
            b.sources.append(PulseDeviceInfo(name: String(cString: info.pointee.name),
                                             description: info.pointee.description.map { String(cString: $0) } ?? "",
                                             isDefault: false, isMonitor: info.pointee.monitor_of_sink != UInt32.max))
        }, user))
        let sinks = box.sinks.map { var d = $0; d.isDefault = d.name == box.defaultSink; return d }
        let sources = box.sources.map { var d = $0; d.isDefault = d.name == box.defaultSource; return d }
        return (sources, sinks)
    }
}
