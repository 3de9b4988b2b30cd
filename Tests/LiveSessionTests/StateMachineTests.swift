import Foundation
import LiveProtocol
import Testing
@testable import LiveSession

typealias A = SessionStateMachine.Action

/// A machine that has connected and received setupComplete.
func connectedMachine(handle: String? = "h1") -> SessionStateMachine {
    var m = SessionStateMachine(policy: ReconnectPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(2), maxAttempts: 3, jitter: 0))
    _ = m.connectRequested()
    _ = m.socketOpened()
    _ = m.setupCompleted()
    if let handle { _ = m.receivedResumptionUpdate(handle: handle, resumable: true) }
    return m
}

struct StateMachineTests {
    @Test func firstConnect() {
        var m = SessionStateMachine()
        #expect(m.state == .disconnected)
        #expect(m.connectRequested() == [.openSocket(attempt: 0)])
        #expect(m.state == .connecting(attempt: 0))
        #expect(m.connectRequested() == [])   // a second press is harmless
        #expect(m.socketOpened() == [.sendSetup(resumeWith: nil)])
        #expect(m.setupCompleted() == [.flushPending])
        #expect(m.state == .connected)
    }

    @Test func keepsOnlyResumableHandles() {
        var m = connectedMachine(handle: nil)
        _ = m.receivedResumptionUpdate(handle: "a", resumable: true)
        _ = m.receivedResumptionUpdate(handle: "", resumable: false)
        _ = m.receivedResumptionUpdate(handle: "b", resumable: false)
        #expect(m.resumptionHandle == "a")
    }

    @Test func unexpectedCloseReconnectsWithHandleAndBackoff() {
        var m = connectedMachine()
        #expect(m.socketClosed(code: 1006, reason: "", random: 0.5) == [.reconnect(after: .milliseconds(100), attempt: 1)])
        #expect(m.state == .connecting(attempt: 1))
        #expect(m.reconnectTimerFired(attempt: 1) == [.openSocket(attempt: 1)])
        #expect(m.reconnectTimerFired(attempt: 7) == [])   // a stale timer does nothing
        #expect(m.socketOpened() == [.sendSetup(resumeWith: "h1")])
        _ = m.setupCompleted()
        #expect(m.attempt == 0)
    }

    @Test func retriesGiveUpAfterMaxAttempts() {
        var m = connectedMachine()
        var delays: [Duration] = []
        for _ in 0..<3 {
            guard case .reconnect(let d, let a)? = m.socketClosed(code: 1011, reason: "Internal error", random: 0).first else {
                Issue.record("expected reconnect"); return
            }
            delays.append(d)
            _ = m.reconnectTimerFired(attempt: a)
            _ = m.socketOpened()
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400)])
        let last = m.socketClosed(code: 1011, reason: "Internal error", random: 0)
        guard case .fail(let f)? = last.first else { Issue.record("expected fail"); return }
        #expect(f.headline.contains("gave up after 3"))
        #expect(f.gaveUpAfter == 3)
        #expect(f.reason == .connectionLost(detail: "Internal error"))
        #expect(m.state == .closed(f))
    }

    @Test func backoffIsCappedAndJittered() {
        let p = ReconnectPolicy(initialDelay: .milliseconds(250), maxDelay: .seconds(8), maxAttempts: 50, jitter: 0.3)
        #expect(p.delay(attempt: 30, random: 0.999_999) <= .seconds(8))
        #expect(p.delay(attempt: 30, random: 0) == .seconds(8) * 0.7)
        #expect(p.delay(attempt: 1, random: 0.5) > p.delay(attempt: 1, random: 0))
    }

    @Test func userDisconnectClosesWith1000AndStays() {
        var m = connectedMachine()
        #expect(m.disconnectRequested() == [.closeSocket(code: 1000)])
        #expect(m.state == .closing)
        #expect(m.socketClosed(code: 1000, reason: "", random: 0) == [])
        #expect(m.state == .disconnected)
        #expect(m.resumptionHandle == "h1")   // reconnecting later may still resume
        #expect(m.connectRequested() == [.openSocket(attempt: 0)])
        #expect(m.socketOpened() == [.sendSetup(resumeWith: "h1")])
    }

    @Test func resetForgetsHandleAndReconnectsFresh() {
        var m = connectedMachine()
        #expect(m.resetRequested() == [.dropUnconfirmed, .closeSocket(code: 1000)])
        #expect(m.resumptionHandle == nil)
        #expect(m.socketClosed(code: 1000, reason: "", random: 0) == [.openSocket(attempt: 0)])
        #expect(m.socketOpened() == [.sendSetup(resumeWith: nil)])
    }

    /// `r` then `d` at once: the disconnect, asked while the reset still closes the old socket,
    /// wins — the session stays disconnected instead of reconnecting (a flaky screen test found it).
    @Test func aDisconnectDuringAResetStaysDisconnected() {
        var m = connectedMachine()
        _ = m.resetRequested()
        #expect(m.disconnectRequested() == [])
        #expect(m.socketClosed(code: 1000, reason: "", random: 0) == [])
        #expect(m.state == .disconnected)
        #expect(m.resumptionHandle == nil)   // the reset still forgot the old session
        #expect(m.connectRequested() == [.openSocket(attempt: 0)])
        #expect(m.socketOpened() == [.sendSetup(resumeWith: nil)])
    }

    @Test func reconnectRequestResumesWithTheHandle() {
        var m = connectedMachine()
        #expect(m.reconnectRequested() == [.closeSocket(code: 1000)])
        #expect(m.socketClosed(code: 1000, reason: "", random: 0) == [.openSocket(attempt: 0)])
        #expect(m.socketOpened() == [.sendSetup(resumeWith: "h1")])
    }

    @Test func handleArrivingAfterResetIsIgnored() {
        var m = connectedMachine()
        _ = m.resetRequested()
        _ = m.receivedResumptionUpdate(handle: "late-from-old-socket", resumable: true)
        _ = m.socketClosed(code: 1000, reason: "", random: 0)
        #expect(m.socketOpened() == [.sendSetup(resumeWith: nil)])
    }

    @Test func quitEndsClosed() {
        var m = connectedMachine()
        #expect(m.quitRequested() == [.closeSocket(code: 1000)])
        _ = m.disconnectRequested()   // quit wins
        #expect(m.socketClosed(code: 1000, reason: "", random: 0) == [])
        #expect(m.state == .closed(nil))
        var failed = connectedMachine()
        _ = failed.socketClosed(code: 1008, reason: "x", random: 0)
        _ = failed.quitRequested()
        #expect({ if case .closed(let f?) = failed.state { f.code == 1008 } else { false } }())
        var idle = SessionStateMachine()
        #expect(idle.quitRequested() == [])
        #expect(idle.state == .closed(nil))
    }

    @Test func goAwayAtSafePointReconnectsAtOnce() {
        var m = connectedMachine()
        #expect(m.receivedGoAway(timeLeft: .seconds(10)) == [.closeSocket(code: 1000)])
        #expect(m.socketClosed(code: 1000, reason: "", random: 0) == [.openSocket(attempt: 0)])
        #expect(m.socketOpened() == [.sendSetup(resumeWith: "h1")])
    }

    @Test func goAwayMidTurnWaitsForTurnEndOrDeadline() {
        var m = connectedMachine()
        m.modelOutputStarted()
        #expect(m.receivedGoAway(timeLeft: .seconds(10)) == [.armGoAwayDeadline(after: .seconds(10) - .milliseconds(750))])
        #expect(m.state == .connected)
        #expect(m.turnCompleted() == [.closeSocket(code: 1000)])

        var n = connectedMachine()
        n.toolCallsStarted(1)
        _ = n.receivedGoAway(timeLeft: .milliseconds(500))   // deadline already inside the margin → arm at zero
        #expect(n.goAwayDeadlineReached() == [.closeSocket(code: 1000)])
    }

    @Test func interruptionPurgesAndReturnsToConnectedAtTurnEnd() {
        var m = connectedMachine()
        m.modelOutputStarted()
        #expect(m.interrupted(turn: 4) == [.purgePlayback(turn: 4)])
        #expect(m.state == .interrupted)
        #expect(m.turnCompleted() == [])
        #expect(m.state == .connected)
    }

    @Test func fatalCloseDuringSetupEndsWithHint() {
        var m = SessionStateMachine(apiVersion: "v1beta", model: "models/nope")
        _ = m.connectRequested()
        _ = m.socketOpened()
        let a = m.socketClosed(code: 1008, reason: "models/nope is not found for API version v1beta, or is not supported", random: 0)
        guard case .fail(let f)? = a.first else { Issue.record(); return }
        #expect(f.headline == "model not found for v1beta")
        #expect(f.reason == .modelNotFound(apiVersion: "v1beta", model: m.model))
    }

    @Test func connectFailureRetriesOnlyWhenRetryable() {
        var m = SessionStateMachine()
        _ = m.connectRequested()
        let f = SessionFailure(code: nil, headline: "x", reason: .closed)
        guard case .reconnect? = m.connectFailed(failure: f, retryable: true, random: 0).first else { Issue.record(); return }
        _ = m.reconnectTimerFired(attempt: 1)
        #expect(m.connectFailed(failure: f, retryable: false, random: 0) == [.fail(f)])
    }

    @Test func disconnectWhileWaitingOutBackoff() {
        var m = connectedMachine()
        _ = m.socketClosed(code: 1006, reason: "", random: 0)
        #expect(m.disconnectRequested() == [.closeSocket(code: 1000)])
        #expect(m.socketClosed(code: 1000, reason: "", random: 0) == [])
        #expect(m.state == .disconnected)
    }
}

struct CloseCodeTests {
    /// The close fixtures of ../shared/protocol (copied here as data), plus the other codes of PROTOCOL.md §6.
    static let table: [(UInt16, String, CloseClass, String)] = [
        (1007, "Request contains an invalid argument.", .fatal, "the server rejected a message as invalid"),
        (1007, "API key not valid. Please pass a valid API key.", .fatal, "the server refused the API key"),
        (1008, "BidiGenerateContent session not found", .fatal, "the resumption handle is no longer valid"),
        (1008, "models/error-1008-xxxx is not found for API version v1beta, or is not", .fatal, "model not found for v1beta"),
        (1008, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key", .fatal, "the server refused the API key"),
        (1008, "The operation was aborted.", .fatal, "the server refused the session"),
        (1011, "Internal error encountered.", .retryable, ""),
        (1006, "", .retryable, ""),
        (1000, "", .retryable, ""),
        (1001, "", .retryable, ""),
        (1012, "", .retryable, ""),
        (1013, "", .retryable, ""),
        (1002, "", .fatal, ""),
        (1009, "", .fatal, "a message was too large"),
    ]

    @Test(arguments: 0..<table.count)
    func classify(_ i: Int) {
        let (code, reason, cls, headline) = Self.table[i]
        #expect(CloseCodes.classify(code) == cls)
        if cls == .fatal && !headline.isEmpty {
            let f = CloseCodes.failure(code: code, reason: reason, apiVersion: "v1beta", model: "m")
            #expect(f.headline.hasPrefix(headline))
            #expect(f.code == code)
        }
    }

    @Test func retryableCloseRetriesFatalStops() {
        for (code, reason, cls, _) in Self.table {
            var m = connectedMachine()
            let a = m.socketClosed(code: code, reason: reason, random: 0)
            switch cls {
            case .fatal: #expect({ if case .fail = a.first { true } else { false } }())
            case .retryable: #expect({ if case .reconnect = a.first { true } else { false } }())
            }
        }
    }
}

/// R22: a back-off timer that was superseded (by a manual reconnect, a reset, a disconnect) never
/// opens a second socket; and a socket that opens in an unexpected state is not a trap.
struct R22StateMachineTests {
    @Test func testR22_aStaleBackoffTimerDoesNotOpenASecondSocket() {
        var m = connectedMachine()
        let f = SessionFailure(code: nil, headline: "x", reason: .closed)
        // The connection drops: back-off #1 is armed for attempt 1.
        #expect(m.socketClosed(code: 1006, reason: "", random: 0) == [.reconnect(after: .milliseconds(100), attempt: 1)])
        // The user reconnects by hand during the back-off: a socket opens at once …
        #expect(m.reconnectRequested() == [.closeSocket(code: 1000)])
        #expect(m.socketClosed(code: 1000, reason: "", random: 0) == [.openSocket(attempt: 0)])
        // … and fails, arming back-off #2, again for attempt 1.
        #expect(m.connectFailed(failure: f, retryable: true, random: 0) == [.reconnect(after: .milliseconds(100), attempt: 1)])
        // Both timers fire: exactly one socket opens.
        let first = m.reconnectTimerFired(attempt: 1)
        let second = m.reconnectTimerFired(attempt: 1)
        #expect(first + second == [.openSocket(attempt: 1)])
    }

    @Test func testR22_aTimerAfterADisconnectDoesNothing() {
        var m = connectedMachine()
        _ = m.socketClosed(code: 1006, reason: "", random: 0)
        _ = m.disconnectRequested()
        _ = m.socketClosed(code: 1000, reason: "", random: 0)
        #expect(m.reconnectTimerFired(attempt: 1) == [])
        #expect(m.state == .disconnected)
    }

    @Test func aSocketOpeningInAnUnexpectedStateIsNotATrap() {
        var m = connectedMachine()
        #expect(m.socketOpened() == [])
        #expect(m.state == .connected)
    }
}
