// The C shim over webrtc::AudioProcessing (Debian's webrtc-audio-processing 0.3).
// Every entry point catches C++ exceptions: none may unwind into C or Swift.
#include "CWebRTCAudio.h"

#include <time.h>

#include <cstring>
#include <memory>
#include <new>

// Found through -isystem /usr/include/webrtc_audio_processing; they need WEBRTC_POSIX (platform_file.h)
// and WEBRTC_AUDIO_PROCESSING_ONLY_BUILD (module_common_types.h), both defined by Package.swift.
#include <webrtc/common.h>
#include <webrtc/modules/audio_processing/include/audio_processing.h>
#include <webrtc/modules/interface/module_common_types.h>

struct cwa_processor {
    std::unique_ptr<webrtc::AudioProcessing> apm;
    int sample_rate_hz = 0;
    size_t frame_samples = 0;
    // One frame per direction, so render and capture may come from different threads
    // (webrtc::AudioProcessing locks internally).
    webrtc::AudioFrame render_frame;
    webrtc::AudioFrame capture_frame;
};

namespace {

bool is_native_rate(int rate) {
    return rate == 8000 || rate == 16000 || rate == 32000 || rate == 48000;
}

void fill(webrtc::AudioFrame &frame, int rate, const int16_t *samples, size_t count) {
    frame.sample_rate_hz_ = rate;
    frame.num_channels_ = 1;
    frame.samples_per_channel_ = count;
    frame.interleaved_ = true;
    std::memcpy(frame.data_, samples, count * sizeof(int16_t));
}

}  // namespace

extern "C" {

cwa_processor *cwa_create(const cwa_config *config, int *error) {
    int dummy = 0;
    int &err = error ? *error : dummy;
    err = CWA_OK;
    if (!config) { err = CWA_ERR_BAD_PARAMETER; return nullptr; }
    if (!is_native_rate(config->sample_rate_hz)) { err = CWA_ERR_BAD_SAMPLE_RATE; return nullptr; }
    if (config->echo_suppression_level < 0 || config->echo_suppression_level > 2 ||
        config->noise_suppression_level < 0 || config->noise_suppression_level > 3) {
        err = CWA_ERR_BAD_PARAMETER;
        return nullptr;
    }
    try {
        std::unique_ptr<cwa_processor> p(new cwa_processor());
        p->sample_rate_hz = config->sample_rate_hz;
        p->frame_samples = static_cast<size_t>(config->sample_rate_hz / 100);

        webrtc::Config wconfig;   // takes ownership of the options
        wconfig.Set<webrtc::ExtendedFilter>(new webrtc::ExtendedFilter(config->extended_filter != 0));
        wconfig.Set<webrtc::DelayAgnostic>(new webrtc::DelayAgnostic(config->delay_agnostic != 0));
        p->apm.reset(webrtc::AudioProcessing::Create(wconfig));
        if (!p->apm) { err = CWA_ERR_UNSPECIFIED; return nullptr; }

        const int rate = config->sample_rate_hz;
        using AP = webrtc::AudioProcessing;
        if ((err = p->apm->Initialize(rate, rate, rate, AP::kMono, AP::kMono, AP::kMono)) != AP::kNoError) return nullptr;

        webrtc::EchoCancellation *ec = p->apm->echo_cancellation();
        if (config->echo_cancellation) {
            static const webrtc::EchoCancellation::SuppressionLevel levels[] = {
                webrtc::EchoCancellation::kLowSuppression,
                webrtc::EchoCancellation::kModerateSuppression,
                webrtc::EchoCancellation::kHighSuppression,
            };
            if ((err = ec->set_suppression_level(levels[config->echo_suppression_level])) != AP::kNoError) return nullptr;
            if ((err = ec->enable_metrics(true)) != AP::kNoError) return nullptr;
            if ((err = ec->enable_drift_compensation(false)) != AP::kNoError) return nullptr;
        }
        if ((err = ec->Enable(config->echo_cancellation != 0)) != AP::kNoError) return nullptr;

        webrtc::NoiseSuppression *ns = p->apm->noise_suppression();
        if (config->noise_suppression) {
            static const webrtc::NoiseSuppression::Level levels[] = {
                webrtc::NoiseSuppression::kLow,
                webrtc::NoiseSuppression::kModerate,
                webrtc::NoiseSuppression::kHigh,
                webrtc::NoiseSuppression::kVeryHigh,
            };
            if ((err = ns->set_level(levels[config->noise_suppression_level])) != AP::kNoError) return nullptr;
        }
        if ((err = ns->Enable(config->noise_suppression != 0)) != AP::kNoError) return nullptr;

        if ((err = p->apm->high_pass_filter()->Enable(config->high_pass_filter != 0)) != AP::kNoError) return nullptr;
        // Everything else (gain control, level estimator, voice detection) stays off.
        return p.release();
    } catch (...) {
        err = CWA_ERR_EXCEPTION;
        return nullptr;
    }
}

void cwa_destroy(cwa_processor *p) {
    try {
        delete p;
    } catch (...) {
    }
}

int cwa_frame_samples(const cwa_processor *p) {
    return p ? static_cast<int>(p->frame_samples) : 0;
}

int cwa_process_reverse(cwa_processor *p, const int16_t *frame, size_t count) {
    if (!p || !frame) return CWA_ERR_BAD_PARAMETER;
    if (count != p->frame_samples) return CWA_ERR_BAD_DATA_LENGTH;
    try {
        fill(p->render_frame, p->sample_rate_hz, frame, count);
        return p->apm->ProcessReverseStream(&p->render_frame);
    } catch (...) {
        return CWA_ERR_EXCEPTION;
    }
}

int cwa_set_stream_delay_ms(cwa_processor *p, int delay_ms) {
    if (!p) return CWA_ERR_BAD_PARAMETER;
    try {
        return p->apm->set_stream_delay_ms(delay_ms);
    } catch (...) {
        return CWA_ERR_EXCEPTION;
    }
}

int cwa_stream_delay_ms(const cwa_processor *p) {
    if (!p) return 0;
    try {
        return p->apm->stream_delay_ms();
    } catch (...) {
        return 0;
    }
}

int cwa_process_stream(cwa_processor *p, int16_t *frame, size_t count) {
    if (!p || !frame) return CWA_ERR_BAD_PARAMETER;
    if (count != p->frame_samples) return CWA_ERR_BAD_DATA_LENGTH;
    try {
        fill(p->capture_frame, p->sample_rate_hz, frame, count);
        const int err = p->apm->ProcessStream(&p->capture_frame);
        // The frame is processed unless the error is fatal; a warning (e.g. a clamped delay) still is.
        if (err == webrtc::AudioProcessing::kNoError || err == webrtc::AudioProcessing::kBadStreamParameterWarning) {
            if (p->capture_frame.samples_per_channel_ != count || p->capture_frame.num_channels_ != 1) {
                return CWA_ERR_BAD_DATA_LENGTH;
            }
            std::memcpy(frame, p->capture_frame.data_, count * sizeof(int16_t));
        }
        return err;
    } catch (...) {
        return CWA_ERR_EXCEPTION;
    }
}

int cwa_stream_has_echo(const cwa_processor *p) {
    if (!p) return 0;
    try {
        const webrtc::EchoCancellation *ec = p->apm->echo_cancellation();
        return ec->is_enabled() && ec->stream_has_echo() ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

int cwa_echo_metrics_get(cwa_processor *p, cwa_echo_metrics *out) {
    if (!p || !out) return CWA_ERR_BAD_PARAMETER;
    try {
        std::memset(out, 0, sizeof(*out));
        webrtc::EchoCancellation::Metrics m;
        std::memset(&m, 0, sizeof(m));
        const int err = p->apm->echo_cancellation()->GetMetrics(&m);
        if (err != webrtc::AudioProcessing::kNoError) return err;
        out->erle_instant = m.echo_return_loss_enhancement.instant;
        out->erle_average = m.echo_return_loss_enhancement.average;
        out->erle_max = m.echo_return_loss_enhancement.maximum;
        out->erle_min = m.echo_return_loss_enhancement.minimum;
        out->erl_instant = m.echo_return_loss.instant;
        out->erl_average = m.echo_return_loss.average;
        out->a_nlp_average = m.a_nlp.average;
        // The AEC reports its offset level, -100 dB, until it has a measurement.
        out->erle_known = m.echo_return_loss_enhancement.average > -100 ? 1 : 0;
        return CWA_OK;
    } catch (...) {
        return CWA_ERR_EXCEPTION;
    }
}

double cwa_thread_cpu_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // extern "C"
