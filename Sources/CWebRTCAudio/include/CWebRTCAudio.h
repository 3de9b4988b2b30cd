// CWebRTCAudio — a plain C face for Debian's WebRTC audio processing 0.3 (C++).
// Echo cancellation (AEC) and noise suppression (NS) on 10 ms frames of mono int16.
// No C++ type or exception crosses this header: every entry point catches and reports.
#ifndef CWEBRTC_AUDIO_H
#define CWEBRTC_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An opaque processor: one webrtc::AudioProcessing and a frame per direction.
typedef struct cwa_processor cwa_processor;

/// Return codes: 0 is success; the negative values are webrtc::AudioProcessing::Error.
enum {
    CWA_OK = 0,
    CWA_ERR_UNSPECIFIED = -1,
    CWA_ERR_BAD_PARAMETER = -6,
    CWA_ERR_BAD_SAMPLE_RATE = -7,
    CWA_ERR_BAD_DATA_LENGTH = -8,
    CWA_ERR_NOT_ENABLED = -12,
    /// Not fatal: the frame was processed, a stream parameter (e.g. the delay) was clamped.
    CWA_WARN_BAD_STREAM_PARAMETER = -13,
    /// A C++ exception was caught in the shim.
    CWA_ERR_EXCEPTION = -100,
};

typedef struct cwa_config {
    int sample_rate_hz;            ///< 8000, 16000, 32000 or 48000 (the Swift layer allows 16000 only)
    int echo_cancellation;         ///< 0/1: the full AEC (not the mobile AECM)
    int noise_suppression;         ///< 0/1
    int extended_filter;           ///< 0/1: webrtc::ExtendedFilter (longer tail, more robust to delay error)
    int delay_agnostic;            ///< 0/1: webrtc::DelayAgnostic (estimates the delay itself)
    int echo_suppression_level;    ///< 0 low, 1 moderate, 2 high (the AEC's non-linear processor)
    int noise_suppression_level;   ///< 0 low, 1 moderate, 2 high, 3 very high
    int high_pass_filter;          ///< 0/1: remove DC and rumble below ~80 Hz from the capture
} cwa_config;

/// Creates a processor, or NULL (then *error, when given, says why).
cwa_processor *cwa_create(const cwa_config *config, int *error);
void cwa_destroy(cwa_processor *p);

/// Samples in one 10 ms frame (sample_rate_hz / 100).
int cwa_frame_samples(const cwa_processor *p);

/// The far-end (render) reference: exactly one 10 ms frame.
int cwa_process_reverse(cwa_processor *p, const int16_t *frame, size_t count);

/// The delay, in ms, between a far-end frame given to cwa_process_reverse and the capture frame
/// holding its echo; must be set before every cwa_process_stream (clamped to 0...500).
int cwa_set_stream_delay_ms(cwa_processor *p, int delay_ms);
int cwa_stream_delay_ms(const cwa_processor *p);

/// The near-end (capture) microphone: exactly one 10 ms frame, processed in place.
int cwa_process_stream(cwa_processor *p, int16_t *frame, size_t count);

/// 1 when the last capture frame might contain echo, 0 when it almost certainly does not.
int cwa_stream_has_echo(const cwa_processor *p);

typedef struct cwa_echo_metrics {
    /// Echo return loss enhancement, dB: 10 log10(P_echo / P_out).
    int erle_instant, erle_average, erle_max, erle_min;
    /// Echo return loss, dB: 10 log10(P_far / P_echo).
    int erl_instant, erl_average;
    /// Suppression before the non-linear processor, dB.
    int a_nlp_average;
    /// 1 when erle_average is a measured value, 0 when the library has none yet (its -100 dB).
    int erle_known;
} cwa_echo_metrics;

/// The AEC's metrics: CWA_OK, CWA_ERR_NOT_ENABLED (no AEC), or an error.
int cwa_echo_metrics_get(cwa_processor *p, cwa_echo_metrics *out);

/// The calling thread's CPU time, in seconds (for cost accounting).
double cwa_thread_cpu_seconds(void);

#ifdef __cplusplus
}
#endif

#endif
