import AudioCore
import Curses
import Foundation
import LiveProtocol
import LiveSession
import PulseAudio
import TerminalUI

/// The full-screen runtime: merges session, key, level, signal and tick streams into one
/// `AppEvent` stream, runs `update`, hands `render(model)` to the curses backend, carries out effects.
public final class UIRuntime: Sendable {
    let session: Session
    let audio: AudioBridge?
    let backend: CursesBackend
    let initial: AppModel
    let signals: AsyncStream<Int32>

    public init(session: Session, audio: AudioBridge?, backend: CursesBackend, model: AppModel, signals: AsyncStream<Int32>) {
        self.session = session
        self.audio = audio
        self.backend = backend
        self.initial = model
        self.signals = signals
    }

    /// App events waiting for the update loop at most.
    public static let maxQueuedEvents = 50_000
    /// App events dropped because the queue was full.
    let dropped = Counter()
    public var droppedEvents: Int { dropped.value }

    /// Runs until the user quits (exit 0), a signal arrives (130). The terminal is restored before returning.
    public func run() async -> Int32 {
        // Bounded (a stalled loop must not grow memory); what does not fit is dropped and counted.
        // A signal still ends the process: `Shutdown` exits by itself after its grace period.
        let (events, queue) = AsyncStream.makeStream(of: AppEvent.self, bufferingPolicy: .bufferingOldest(Self.maxQueuedEvents))
        let dropped = self.dropped
        let sink = EventSink { e in
            if case .dropped = queue.yield(e) { dropped.add() }
        }
        let session = self.session
        let audio = self.audio
        let device = audio?.device
        var tasks: [Task<Void, Never>] = []
        tasks.append(Task {
            for await e in session.events {
                audio?.handle(e)
                if case .purge(let turn) = e {
                    sink.yield(.purged(turn: turn, playedSamples: device?.playedSamples(turn: turn)))
                }
                sink.yield(.session(e))
            }
        })
        let input = backend.input
        tasks.append(Task {
            for await i in input {
                switch i {
                case .key(let k): sink.yield(.key(k))
                case .resize(let w, let h): sink.yield(.resize(width: w, height: h))
                }
            }
        })
        tasks.append(Task {
            while !Task.isCancelled {
                sink.yield(.tick(Date()))
                try? await Task.sleep(for: .milliseconds(250))
            }
        })
        if let device {
            tasks.append(Task {
                var last: (MeterReading, MeterReading)?
                while !Task.isCancelled {
                    let (mic, spk) = device.levels()
                    if last.map({ $0.0 != mic || $0.1 != spk }) ?? true {
                        sink.yield(.levels(mic: mic, speaker: spk))
                        last = (mic, spk)
                    }
                    try? await Task.sleep(for: .milliseconds(33))
                }
            })
        }
        // The frame clock: render at most 30 times a second, and only when something changed.
        let (frames, frameSink) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        tasks.append(Task {
            while !Task.isCancelled {
                frameSink.yield(())
                try? await Task.sleep(for: .milliseconds(33))
            }
        })
        tasks.append(Task {
            for await _ in frames { sink.yield(.frame) }
        })
        if let pulse = device as? PulseAudioDevice {
            // Never print under curses: device news goes to the session pane like any warning.
            tasks.append(Task {
                for await e in pulse.events {
                    switch e {
                    case .lost(let why): sink.yield(.session(.warning("audio lost (\(why)); text still works, retrying")))
                    case .recovered(let what): sink.yield(.session(.warning("audio: \(what) is back")))
                    }
                }
            })
        }
        let signalStream = signals
        let signalled = SignalFlag()
        tasks.append(Task {
            for await _ in signalStream {
                signalled.set()
                sink.yield(.key(.ctrl("c")))
            }
        })

        var model = initial
        model.keyReleases = backend.kittyKeyboard
        await session.connect()
        backend.show(render(model))
        var dirty = false
        loop: for await event in events {
            if case .frame = event {
                if dirty { backend.show(render(model)) }
                dirty = false
                continue
            }
            let effects = update(&model, event)
            if event.isVisible { dirty = true }
            if case .key = event { backend.show(render(model)); dirty = false }   // keys answer at once
            for effect in effects {
                if effect == .quit { break loop }
                await perform(effect, model: model)
            }
        }
        for t in tasks { t.cancel() }
        // The terminal first: whatever the peer does, the user gets their shell back at once.
        audio?.device.stop()
        backend.stop()
        await session.quit()   // bounded by the close deadline
        return signalled.isSet ? ExitStatus.interrupted : ExitStatus.ok
    }

    private func perform(_ effect: Effect, model: AppModel) async {
        switch effect {
        case .sendText(let t): await session.sendText(t)
        case .startTalking:
            if let audio { await audio.pressToTalk() } else { await session.activityStart() }
        case .stopTalking:
            if let audio { await audio.releaseToTalk() } else { await session.activityEnd() }
        case .setMuted(let m): await audio?.setMuted(m)
        case .switchMode(let ptt):
            await audio?.setMode(ptt ? .pushToTalk : .vad)
            var setup = await session.setup
            setup.realtimeInputConfig = ptt
                ? RealtimeInputConfig(automaticActivityDetection: AutomaticActivityDetection(disabled: true))
                : nil
            await session.reconfigure(setup)
        case .reset: await session.reset()
        case .disconnect: await session.disconnect()
        case .connect: await session.connect()
        case .quit: break
        }
    }
}

final class SignalFlag: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// Forwards to a bounded stream, counting what did not fit.
struct EventSink: Sendable {
    let put: @Sendable (AppEvent) -> Void
    init(_ put: @escaping @Sendable (AppEvent) -> Void) { self.put = put }
    func yield(_ e: AppEvent) { put(e) }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}
