// See include/CImageMagick.h. Every pixel operation is ImageMagick's.
#define MAGICKCORE_HDRI_ENABLE 0
#define MAGICKCORE_QUANTUM_DEPTH 16
#include <wand/MagickWand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "CImageMagick.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void start(void) {
    MagickWandGenesis();
    // What one image may cost at most: a crafted header must not exhaust memory or time.
    MagickSetResourceLimit(WidthResource, 16384);
    MagickSetResourceLimit(HeightResource, 16384);
    MagickSetResourceLimit(AreaResource, 128UL * 1024 * 1024);
    MagickSetResourceLimit(MemoryResource, 512UL * 1024 * 1024);
    MagickSetResourceLimit(ListLengthResource, 16);
}

static void problem(MagickWand *w, const char *what, char *err, size_t err_len) {
    if (!err || err_len == 0) return;
    ExceptionType severity;
    char *text = w ? MagickGetException(w, &severity) : NULL;
    snprintf(err, err_len, "%s%s%s", what, text && *text ? ": " : "", text ? text : "");
    if (text) MagickRelinquishMemory(text);
}

int lt_image_to_jpeg(const void *data, size_t len, const char *format, size_t max_side, size_t quality,
                     unsigned char **out, size_t *out_len, size_t *width, size_t *height, char *err, size_t err_len) {
    pthread_once(&once, start);
    *out = NULL;
    *out_len = 0;
    MagickWand *w = NewMagickWand();
    if (!w) { problem(NULL, "ImageMagick did not start", err, err_len); return -1; }
    MagickSetFormat(w, format);   // the decoder the magic bytes named, never a guessed one
    if (MagickReadImageBlob(w, data, len) == MagickFalse) { problem(w, "cannot decode", err, err_len); DestroyMagickWand(w); return -1; }
    MagickResetIterator(w);
    MagickNextImage(w);   // the first frame
    size_t iw = MagickGetImageWidth(w), ih = MagickGetImageHeight(w);
    if (iw == 0 || ih == 0) { problem(w, "no pixels", err, err_len); DestroyMagickWand(w); return -1; }
    PixelWand *white = NewPixelWand();
    PixelSetColor(white, "white");
    MagickSetImageBackgroundColor(w, white);
    DestroyPixelWand(white);
    MagickSetImageAlphaChannel(w, RemoveAlphaChannel);
    size_t side = iw > ih ? iw : ih;
    size_t ow = iw, oh = ih;
    if (side > max_side) {
        ow = (size_t)((double)iw * max_side / side + 0.5);
        oh = (size_t)((double)ih * max_side / side + 0.5);
        if (ow == 0) ow = 1;
        if (oh == 0) oh = 1;
        if (MagickScaleImage(w, ow, oh) == MagickFalse) { problem(w, "cannot scale", err, err_len); DestroyMagickWand(w); return -1; }
    }
    MagickStripImage(w);   // no metadata (location, camera) leaves the machine
    // Both the image's and the wand's format: the blob is written in the wand's when it has one.
    if (MagickSetImageFormat(w, "JPEG") == MagickFalse || MagickSetFormat(w, "JPEG") == MagickFalse
        || MagickSetImageCompressionQuality(w, quality) == MagickFalse) {
        problem(w, "cannot encode JPEG", err, err_len);
        DestroyMagickWand(w);
        return -1;
    }
    size_t n = 0;
    unsigned char *blob = MagickGetImageBlob(w, &n);
    if (!blob || n == 0) { problem(w, "cannot encode JPEG", err, err_len); if (blob) MagickRelinquishMemory(blob); DestroyMagickWand(w); return -1; }
    *out = blob;
    *out_len = n;
    *width = ow;
    *height = oh;
    DestroyMagickWand(w);
    return 0;
}

int lt_image_size(const void *data, size_t len, const char *format, size_t *width, size_t *height) {
    pthread_once(&once, start);
    MagickWand *w = NewMagickWand();
    if (!w) return -1;
    MagickSetFormat(w, format);
    int rc = -1;
    if (MagickPingImageBlob(w, data, len) == MagickTrue) {
        MagickResetIterator(w);
        MagickNextImage(w);
        *width = MagickGetImageWidth(w);
        *height = MagickGetImageHeight(w);
        rc = (*width > 0 && *height > 0) ? 0 : -1;
    }
    DestroyMagickWand(w);
    return rc;
}

void lt_image_free(void *p) { if (p) MagickRelinquishMemory(p); }
