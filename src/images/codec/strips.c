/*
 * A JPEG decoded a few rows at a time, through libjpeg-turbo's scanline API (TurboJPEG, which
 * the rest of sous uses, decodes whole pictures only). Compiled by build.rs against the
 * libjpeg-turbo that turbojpeg-sys builds and links. libjpeg reports errors by calling
 * error_exit, which must not return: it longjmps back into the function here that called
 * libjpeg, which hands the message to Rust. No Rust frame is ever between the two.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpeglib.h"

struct failure {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

struct sous_strips {
    /* First, so that libjpeg's pointer to it is also a pointer to the whole. */
    struct jpeg_decompress_struct info;
    struct failure failure;
    struct jpeg_progress_mgr progress;
    int max_scans;
};

static void fail(j_common_ptr info) {
    struct failure *failure = (struct failure *)info->err;
    info->err->format_message(info, failure->message);
    longjmp(failure->jump, 1);
}

/* Warnings (a corrupt byte, data ending early) are not printed; the picture is what it is. */
static void stay_quiet(j_common_ptr info) { (void)info; }

/* A progressive JPEG of thousands of scans costs minutes to decode: stop past the limit. */
static void count_scans(j_common_ptr common) {
    struct sous_strips *strips = (struct sous_strips *)common;
    if (strips->info.input_scan_number > strips->max_scans) {
        snprintf(strips->failure.message, sizeof strips->failure.message,
                 "more than %d progressive scans", strips->max_scans);
        longjmp(strips->failure.jump, 1);
    }
}

static void copy_message(const struct sous_strips *strips, char *error, size_t error_len) {
    if (error_len > 0) {
        strncpy(error, strips->failure.message, error_len - 1);
        error[error_len - 1] = '\0';
    }
}

/*
 * Starts decoding `size` bytes of JPEG at scale_num/scale_denom into 8-bit RGB; the bytes must
 * outlive the decoder. Sets the scaled size. NULL on failure, with the reason in `error`.
 */
struct sous_strips *sous_strips_open(const unsigned char *jpeg, unsigned long size,
                                     unsigned scale_num, unsigned scale_denom, int max_scans,
                                     unsigned *width, unsigned *height, char *error,
                                     size_t error_len) {
    /* volatile: read again after a longjmp, so it must not live only in a register. */
    struct sous_strips *volatile strips = calloc(1, sizeof *strips);
    if (strips == NULL) {
        snprintf(error, error_len, "out of memory");
        return NULL;
    }
    strips->info.err = jpeg_std_error(&strips->failure.manager);
    strips->failure.manager.error_exit = fail;
    strips->failure.manager.output_message = stay_quiet;
    strips->max_scans = max_scans;
    if (setjmp(strips->failure.jump)) {
        copy_message(strips, error, error_len);
        jpeg_destroy_decompress(&strips->info);
        free(strips);
        return NULL;
    }
    jpeg_create_decompress(&strips->info);
    strips->progress.progress_monitor = count_scans;
    strips->info.progress = &strips->progress;
    jpeg_mem_src(&strips->info, jpeg, size);
    jpeg_read_header(&strips->info, TRUE);
    strips->info.out_color_space = JCS_RGB;
    strips->info.scale_num = scale_num;
    strips->info.scale_denom = scale_denom;
    /* As TurboJPEG decodes by default: accurate DCT, smooth chroma upsampling. */
    strips->info.dct_method = JDCT_ISLOW;
    strips->info.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&strips->info);
    *width = strips->info.output_width;
    *height = strips->info.output_height;
    return strips;
}

/*
 * Decodes the next rows (at most `count`, each width * 3 bytes) into `rows`. Returns how many
 * it decoded (0 once the picture is done), or -1 with the reason in `error`.
 */
long sous_strips_read(struct sous_strips *strips, unsigned char *rows, unsigned count,
                      char *error, size_t error_len) {
    size_t stride = (size_t)strips->info.output_width * (size_t)strips->info.output_components;
    volatile unsigned done = 0;
    if (setjmp(strips->failure.jump)) {
        copy_message(strips, error, error_len);
        return -1;
    }
    while (done < count && strips->info.output_scanline < strips->info.output_height) {
        JSAMPROW pointers[8];
        unsigned asked = count - done < 8 ? count - done : 8;
        for (unsigned i = 0; i < asked; i++) {
            pointers[i] = rows + (size_t)(done + i) * stride;
        }
        done += jpeg_read_scanlines(&strips->info, pointers, asked);
    }
    return (long)done;
}

void sous_strips_close(struct sous_strips *strips) {
    if (strips != NULL) {
        jpeg_destroy_decompress(&strips->info);
        free(strips);
    }
}
