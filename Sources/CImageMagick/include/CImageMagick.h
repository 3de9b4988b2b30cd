// A small C face on ImageMagick 6's MagickWand (Debian's libmagickwand-6.q16-dev) for the
// `Imaging` target: this header includes no ImageMagick header, so Swift never imports them.
#ifndef LT_CIMAGEMAGICK_H
#define LT_CIMAGEMAGICK_H
#include <stddef.h>

/// Decodes `data` with the decoder named by `format` ("JPEG" or "PNG"), flattens transparency
/// onto white, scales it down to at most `max_side` pixels a side (keeping its shape) and encodes
/// JPEG at `quality` without metadata. On success returns 0, `*out` (free with lt_image_free),
/// `*out_len` and the frame's size; on failure returns -1 with a message in `err`.
int lt_image_to_jpeg(const void *data, size_t len, const char *format, size_t max_side, size_t quality,
                     unsigned char **out, size_t *out_len, size_t *width, size_t *height, char *err, size_t err_len);

/// The size of an image from its header only. Returns 0 on success.
int lt_image_size(const void *data, size_t len, const char *format, size_t *width, size_t *height);

void lt_image_free(void *p);

#endif
