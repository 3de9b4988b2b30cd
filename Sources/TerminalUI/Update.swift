import AudioCore
import Foundation
import LiveProtocol
import LiveSession

/// The only place the model changes. Returns what the runtime must do.
public func update(_ m: inout AppModel, _ event: AppEvent) -> [Effect] {
    switch event {
    case .resize(let w, let h):
        m.width = max(0, w)
        m.height = max(0, h)
        return []
    case .tick(let now):
        m.now = now
        // Hold-to-talk inferred from auto-repeat: no repeat for `holdReleaseAfter` is the release.
        if m.holdingSpace, m.talking, let last = m.lastSpaceAt, now.timeIntervalSince(last) > AppModel.holdReleaseAfter {
            m.holdingSpace = false
            m.talking = false
            return [.stopTalking]
        }
        return []
    case .levels(let mic, let speaker):
        m.mic = mic
        m.speaker = speaker
        return []
    case .purged(let turn, let played):
        m.interruptedTurn = turn
        m.interruptedAt = m.now
        if let played {
            trimInterrupted(&m, turn: turn, played: played)
        } else if let i = m.modelEntries.lastIndex(where: { $0.turn == turn && !$0.thought }) {
            m.modelEntries[i].interrupted = true   // no speaker: everything received was shown
            m.modelEntries[i].live = false
        }
        return []
    case .key(let k):
        return key(&m, k)
    case .frame:
        return []
    case .session(let e):
        m.lastSessionEvent = m.now
        session(&m, e)
        if case .turnComplete(let turn, _, _) = e, let t = m.latency.turnComplete(turn: turn) { return [.latency(t)] }
        return []
    case .command(let c):
        return command(&m, c)
    case .lineInput(let input):
        switch input {
        case .command(let c): return command(&m, c)
        case .nothing: return []
        case .problem(let n): return notice(&m, n)
        }
    case .notice(let n):
        _ = notice(&m, n)
        return []
    case .recordingChanged(let mark, let n):
        m.recording = mark
        _ = notice(&m, n)
        return []
    case .toolLabels(let labels):
        m.toolLabels = labels
        return []
    case .approvalRequested(let id):
        guard let i = m.tools.lastIndex(where: { $0.id == id }), m.tools[i].status == .running else {
            return [.answerApproval(id: id, allowed: false)]   // gone already (cancelled, or scrolled away)
        }
        m.tools[i].status = .asking
        m.tools[i].detail = "allow? y/n"
        if !m.approvals.contains(id) { m.approvals.append(id) }
        return []
    case .echoReduction(let db):
        m.echoReductionDB = db
        return []
    case .userInputEnded(let at):
        m.latency.inputEnded(at: at)
        return []
    case .modelAudioStarted(let turn, let at):
        return m.latency.firstByte(turn: turn, at: at).map { [.latency($0)] } ?? []
    case .modelAudible(let turn, let at):
        return m.latency.audible(turn: turn, at: at).map { [.latency($0)] } ?? []
    case .line, .inputEnded, .signal, .sessionEnded, .toolServersStarted:
        return []   // the runtime's business
    }
}

/// Keeps a notice for the session pane (worded for the model's face) and asks the face to tell it.
private func notice(_ m: inout AppModel, _ n: Notice) -> [Effect] {
    m.lastWarning = Wording.notice(n, face: m.face)
    return [.notice(n)]
}

private func session(_ m: inout AppModel, _ e: SessionEvent) {
    switch e {
    case .state(let s, let held):
        if case .closed = s { m.sessionOver = true; m.awaitingConnection = false }
        if s == .connected { m.awaitingConnection = false }
        if case .connecting(let a) = s, a > 0, m.state != s { m.reconnects += 1 }
        if s == .connected, !m.state.isLive { m.connectedSince = m.now; m.goAwayDeadline = nil }
        if !s.isLive, s != .closing { m.connectedSince = nil }
        if case .closed(let f?) = s { m.lastError = clean(f) }
        if s == .connected { m.lastError = nil }
        m.state = s
        m.handleHeld = held
    case .inputTranscript(let t, let finished):
        appendLive(&m.userEntries, turn: -1, text: ScreenText.sanitize(t))
        if finished, let i = m.userEntries.indices.last { m.userEntries[i].live = false }
        bound(&m)
    case .userText:
        break   // the assembled `.turn` shows it
    case .outputTranscript(let t, let turn), .modelText(let t, let turn):
        m.modelActive = true
        appendLive(&m.modelEntries, turn: turn, text: ScreenText.sanitize(t))
        bound(&m)
    case .thought(let t, let turn):
        appendLive(&m.modelEntries, turn: turn, text: ScreenText.sanitize(t), thought: true)
        bound(&m)
    case .audio(let d, _, let turn):
        m.modelActive = true
        if m.receivedSamples[turn] == nil, m.receivedSamples.count >= AppModel.turnsKept,
           let oldest = m.receivedSamples.keys.min(), oldest < turn {
            m.receivedSamples[oldest] = nil
        }
        m.receivedSamples[turn, default: 0] += d.count / 2
    case .turn(var t):
        t.text = ScreenText.sanitize(t.text, limit: AppModel.maxEntryCharacters)
        defer { bound(&m) }
        switch t.role {
        case .user:
            if let i = m.userEntries.lastIndex(where: { $0.live || $0.turn == -1 }), m.userEntries[i].live || m.userEntries[i].turn == -1 {
                m.userEntries[i] = TranscriptEntry(turn: t.turn, text: t.text, live: false, interrupted: false)
            } else {
                m.userEntries.append(TranscriptEntry(turn: t.turn, text: t.text, live: false, interrupted: false))
            }
        case .model:
            let cited = t.citations.map { Wording.citation($0) }
            if let i = m.modelEntries.lastIndex(where: { $0.turn == t.turn && !$0.thought }) {
                if !m.modelEntries[i].interrupted { m.modelEntries[i].text = t.text }   // keep the trimmed text
                m.modelEntries[i].live = false
                m.modelEntries[i].citations = cited
            } else {
                m.modelEntries.append(TranscriptEntry(turn: t.turn, text: t.text, live: false, interrupted: t.interrupted,
                                                      citations: cited))
            }
        }
    case .turnComplete(let turn, let interrupted, let reason):
        m.modelActive = false
        if let reason, let why = Wording.turnEnded(reason) { m.lastWarning = why }
        m.turnsCompleted += 1
        for i in m.modelEntries.indices.reversed() where m.modelEntries[i].turn == turn && m.modelEntries[i].thought {
            m.modelEntries[i].live = false
        }
        if let i = m.modelEntries.lastIndex(where: { $0.turn == turn && !$0.thought }) {
            m.modelEntries[i].live = false
            if interrupted { m.modelEntries[i].interrupted = true }
        }
    case .purge:
        break   // the runtime follows up with `.purged` and the played sample count
    case .tool(let a):
        switch a {
        case .started(let id, let name, let args, let nb):
            m.toolsRunning += 1
            m.tools.append(ToolRow(id: id, name: ScreenText.sanitize(m.toolLabels[name] ?? name, limit: 200), args: args.map(shortArgs) ?? "",
                                   status: .running, duration: nil, detail: nb ? "background" : ""))
            if m.tools.count > AppModel.maxToolRows {
                let n = m.tools.count - AppModel.maxToolRows
                m.tools.removeFirst(n)
                m.droppedToolRows += n
                m.approvals.removeAll { id in !m.tools.contains { $0.id == id } }
            }
        case .finished(let id, _, let result, let d): setTool(&m, id, .done, d, resultSummary(result))
        case .failed(let id, _, let err, let d): setTool(&m, id, .failed, d, ScreenText.sanitize(err))
        case .cancelled(let id, _, let d): setTool(&m, id, .cancelled, d, "")
        }
        if case .started = a {} else {
            m.toolsRunning = max(0, m.toolsRunning - 1)
            m.approvals.removeAll { $0 == a.id }
        }
    case .goAway(let left):
        m.goAwayDeadline = m.now.addingTimeInterval(left.seconds)
    case .warning, .inputDropped:
        m.lastWarning = Wording.warning(e)
    case .ended(let f):
        m.sessionOver = true
        if let f { m.lastError = clean(f) }
    case .setupComplete, .generationComplete, .usage, .grounding, .voiceActivity, .replayed:
        break
    }
}

private func setTool(_ m: inout AppModel, _ id: String, _ s: ToolRow.Status, _ d: Duration, _ detail: String) {
    guard let i = m.tools.lastIndex(where: { $0.id == id }) else { return }
    m.tools[i].status = s
    m.tools[i].duration = d
    m.tools[i].detail = detail.isEmpty && m.tools[i].detail == "allow? y/n" ? "" : (detail.isEmpty ? m.tools[i].detail : detail)
}

/// A result in one line: a text result (`{"result": "…"}`, as MCP tools answer) by its lines
/// joined with ` / `, anything else as its JSON.
func resultSummary(_ v: JSONValue) -> String {
    if case .object(let o) = v, o.count == 1, case .string(let text)? = o["result"] {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return ScreenText.sanitize(lines.joined(separator: " / "), limit: 500)
    }
    return shortArgs(v)
}

/// Tool arguments and results as one sanitized line.
func shortArgs(_ v: JSONValue) -> String {
    let s = ScreenText.sanitize(v.description)
    return s == "{}" ? "" : s
}

/// A failure's wording can come from the peer (a close reason): sanitize it too.
private func clean(_ f: SessionFailure) -> SessionFailure {
    var f = f
    f.headline = ScreenText.sanitize(f.headline)
    return f
}

/// Keeps both transcript panes within `maxPaneEntries`, counting what is dropped.
private func bound(_ m: inout AppModel) {
    if m.userEntries.count > AppModel.maxPaneEntries {
        let n = m.userEntries.count - AppModel.maxPaneEntries
        m.userEntries.removeFirst(n)
        m.droppedEntries[.user, default: 0] += n
    }
    if m.modelEntries.count > AppModel.maxPaneEntries {
        let n = m.modelEntries.count - AppModel.maxPaneEntries
        m.modelEntries.removeFirst(n)
        m.droppedEntries[.model, default: 0] += n
    }
}

/// `text` is already sanitized; a live entry stops growing at `maxEntryCharacters`.
private func appendLive(_ entries: inout [TranscriptEntry], turn: Int, text: String, thought: Bool = false) {
    if let i = entries.indices.last, entries[i].live, entries[i].turn == turn, entries[i].thought == thought {
        let current = entries[i].text
        if current.utf8.count + text.utf8.count <= AppModel.maxEntryCharacters {
            entries[i].text += text
        } else if !current.hasSuffix("…") {
            entries[i].text = String((current + text).prefix(AppModel.maxEntryCharacters - 1)) + "…"
        }
    } else {
        entries.append(TranscriptEntry(turn: turn, text: text.trimmingCharacters(in: .whitespaces), live: true, interrupted: false,
                                       thought: thought))
    }
}

/// Cuts the model's turn back to the share of it that was actually played.
private func trimInterrupted(_ m: inout AppModel, turn: Int, played: Int) {
    guard let i = m.modelEntries.lastIndex(where: { $0.turn == turn && !$0.thought }) else { return }
    let received = max(1, m.receivedSamples[turn] ?? 0)
    let share = min(1, Double(played) / Double(received))
    let full = m.modelEntries[i].text
    var cut = String(full.prefix(Int((Double(full.count) * share).rounded())))
    if cut.count < full.count, let space = cut.lastIndex(of: " ") { cut = String(cut[..<space]) }
    m.modelEntries[i].text = cut.isEmpty ? "…" : cut + " …"
    m.modelEntries[i].interrupted = true
    m.modelEntries[i].live = false
}

private func key(_ m: inout AppModel, _ k: Key) -> [Effect] {
    if m.input != nil { return typing(&m, k) }
    if m.showHelp, k != .char("q"), k != .ctrl("c") {
        m.showHelp = false
        return []
    }
    if case .release(" ") = k {
        guard m.keyReleases, m.talking else { return [] }
        m.talking = false
        return [.stopTalking]
    }
    guard let action = Keymap.action(for: k) else { return [] }
    switch action {
    case .allowTool, .refuseTool:
        guard let id = m.approvals.first else { return [] }
        m.approvals.removeFirst()
        let allowed = action == .allowTool
        if let i = m.tools.lastIndex(where: { $0.id == id }) {
            m.tools[i].status = .running
            m.tools[i].detail = allowed ? "allowed" : "refused"
        }
        return [.answerApproval(id: id, allowed: allowed)]
    case .talk:
        if m.keyReleases, m.pushToTalk, m.talking { return [] }   // auto-repeat while held
        if !m.keyReleases, m.pushToTalk {
            // No key releases: a Space soon after the last one is the terminal's auto-repeat, so
            // Space is being held; the talk then ends when the repeats stop (see `.tick`).
            let repeated = m.lastSpaceAt.map { m.now.timeIntervalSince($0) < AppModel.holdRepeatWindow } ?? false
            m.lastSpaceAt = m.now
            if m.talking, repeated {
                m.holdingSpace = true
                return []
            }
            m.holdingSpace = false
        }
        return command(&m, .talk)
    case .mode: return command(&m, .mode(pushToTalk: nil))
    case .mute: return command(&m, .mute)
    case .reset: return command(&m, .reset)
    case .connection: return command(&m, .toggleConnection)
    case .record: return command(&m, .record)
    case .quit: return command(&m, .quit)
    case .help:
        m.showHelp.toggle()
        return []
    case .type:
        m.input = ""
        m.inputPurpose = .message
    case .image:
        return command(&m, .image(nil))
    case .scrollUp: m.scroll[m.focus, default: 0] += 1
    case .scrollDown: m.scroll[m.focus] = max(0, (m.scroll[m.focus] ?? 0) - 1)
    case .pageUp: m.scroll[m.focus, default: 0] += 10
    case .pageDown: m.scroll[m.focus] = max(0, (m.scroll[m.focus] ?? 0) - 10)
    case .nextPane: m.focus = Pane(rawValue: m.focus.rawValue % Pane.allCases.count + 1) ?? .user
    case .focus1: m.focus = .user
    case .focus2: m.focus = .model
    case .focus3: m.focus = .tools
    case .focus4: m.focus = .session
    }
    return []
}

/// What a user command does, from either face.
public func command(_ m: inout AppModel, _ c: UserCommand) -> [Effect] {
    switch c {
    case .talk:
        guard m.pushToTalk else { return notice(&m, .talkNeedsPushToTalk) }
        guard !m.muted else { return [] }
        if m.talking {
            m.talking = false
            return [.stopTalking]
        }
        guard m.state.isLive else { return notice(&m, .notConnected) }
        m.talking = true
        return [.startTalking]
    case .endTalk:
        guard m.talking else { return [] }
        m.talking = false
        return [.stopTalking]
    case .mode(let want):
        let ptt = want ?? !m.pushToTalk
        guard ptt != m.pushToTalk else { return [] }
        m.pushToTalk = ptt
        var out: [Effect] = []
        if m.talking { m.talking = false; out.append(.stopTalking) }
        m.awaitingConnection = true
        return out + [.switchMode(pushToTalk: ptt)]
    case .mute:
        m.muted.toggle()
        var out: [Effect] = []
        if m.muted, m.talking { m.talking = false; out.append(.stopTalking) }
        return out + [.setMuted(m.muted)]
    case .reset:
        m.interruptedTurn = nil
        m.interruptedAt = nil
        m.userEntries.removeAll()
        m.modelEntries.removeAll()
        m.tools.removeAll()
        m.approvals.removeAll()
        m.droppedEntries.removeAll()
        m.droppedToolRows = 0
        m.receivedSamples.removeAll()
        m.scroll.removeAll()
        m.lastError = nil
        m.lastWarning = nil
        m.talking = false
        m.sessionOver = false
        m.modelActive = false
        m.toolsRunning = 0
        m.turnsCompleted = m.repliesAwaited
        m.awaitingConnection = true
        return [.reset]
    case .disconnect:
        switch m.state {
        // While closing (a reset on its way to a new session) the session decides: a disconnect
        // asked then wins over the reset's reconnect.
        case .connected, .interrupted, .connecting, .closing: return [.disconnect]
        default: return []
        }
    case .connect:
        switch m.state {
        case .disconnected, .closed:
            m.sessionOver = false
            m.awaitingConnection = true
            return [.connect]
        default: return []
        }
    case .toggleConnection:
        switch m.state {
        case .connected, .interrupted, .connecting: return command(&m, .disconnect)
        case .disconnected, .closed: return command(&m, .connect)
        case .closing: return command(&m, .disconnect)
        }
    case .record:
        return [.toggleRecording]
    case .quit:
        m.quitting = true
        return [.quit]
    case .help:
        if m.face == .screen { m.showHelp.toggle() }
        return [.showHelp]
    case .send(let text):
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { return [] }
        m.repliesAwaited += 1
        return [.sendText(t)]
    case .image(let path?):
        // Context for the next turn, as with the Live API: no reply is awaited for it alone.
        guard m.state.isLive else { return notice(&m, .notConnected) }
        return [.sendImage(path: path)]
    case .image(nil):
        m.input = ""
        m.inputPurpose = .imagePath
        return []
    }
}

private func typing(_ m: inout AppModel, _ k: Key) -> [Effect] {
    switch k {
    case .escape:
        m.input = nil
        m.inputPurpose = .message
    case .enter:
        let text = m.input ?? ""
        m.input = nil
        if m.inputPurpose == .imagePath {
            m.inputPurpose = .message
            let path = text.trimmingCharacters(in: .whitespaces)
            return path.isEmpty ? [] : command(&m, .image(path))
        }
        return command(&m, .send(text))
    case .backspace:
        if m.input?.isEmpty == false { m.input?.removeLast() }
    case .ctrl("c"):
        m.quitting = true
        return [.quit]
    case .ctrl("u"):
        m.input = ""
    case .char(let c):
        m.input?.append(c)
    default:
        break
    }
    return []
}
