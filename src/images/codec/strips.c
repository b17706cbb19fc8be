/*
 * JPEGs a few rows at a time, through libjpeg-turbo's raw-data API (TurboJPEG, which the rest
 * of sous uses, reads and writes whole pictures only):
 *   - sous_planes_*: a Y'CbCr JPEG decoded to its Y, Cb and Cr planes, one iMCU row per call;
 *   - sous_jpeg_out_*: a 4:2:0 JPEG encoded from Y, Cb and Cr rows (one iMCU row per call)
 *     or from RGB rows, set up as TurboJPEG's compressor is (same markers, tables and DCT), so
 *     the bytes are those TurboJPEG makes from the same planes or pixels.
 * Compiled by build.rs against the libjpeg-turbo that turbojpeg-sys builds and links. libjpeg
 * reports errors by calling error_exit, which must not return: it longjmps back into the
 * function here that called libjpeg, which hands the message to Rust. No Rust frame is ever
 * between the two.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpeglib.h"

#define PLANES 3

struct failure {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void fail(j_common_ptr info) {
    struct failure *failure = (struct failure *)info->err;
    info->err->format_message(info, failure->message);
    longjmp(failure->jump, 1);
}

/* Warnings (a corrupt byte, data ending early) are not printed; the picture is what it is. */
static void stay_quiet(j_common_ptr info) { (void)info; }

static void set_up_failure(struct failure *failure, j_common_ptr info) {
    info->err = jpeg_std_error(&failure->manager);
    failure->manager.error_exit = fail;
    failure->manager.output_message = stay_quiet;
}

static void copy_message(const struct failure *failure, char *error, size_t error_len) {
    if (error_len > 0) {
        strncpy(error, failure->message, error_len - 1);
        error[error_len - 1] = '\0';
    }
}

/* Rows of `width` samples for one plane, each padded as libjpeg needs them. */
static JSAMPARRAY rows_of(size_t width, unsigned count, JSAMPLE **memory) {
    JSAMPARRAY rows = malloc(sizeof(JSAMPROW) * count);
    *memory = malloc(width * count);
    if (rows == NULL || *memory == NULL) {
        free(rows);
        free(*memory);
        *memory = NULL;
        return NULL;
    }
    for (unsigned i = 0; i < count; i++) {
        rows[i] = *memory + width * i;
    }
    return rows;
}

/* ---- Decoding to planes ---- */

struct sous_planes {
    /* First, so that libjpeg's pointer to it is also a pointer to the whole. */
    struct jpeg_decompress_struct info;
    struct failure failure;
    struct jpeg_progress_mgr progress;
    int max_scans;
    /* One iMCU row of each plane, as wide as its whole blocks. */
    JSAMPARRAY rows[PLANES];
    JSAMPLE *memory[PLANES];
    unsigned rows_per_read[PLANES];
};

/* A progressive JPEG of thousands of scans costs minutes to decode: stop past the limit. */
static void count_scans(j_common_ptr common) {
    struct sous_planes *planes = (struct sous_planes *)common;
    if (planes->info.input_scan_number > planes->max_scans) {
        snprintf(planes->failure.message, sizeof planes->failure.message,
                 "more than %d progressive scans", planes->max_scans);
        longjmp(planes->failure.jump, 1);
    }
}

void sous_planes_close(struct sous_planes *planes) {
    if (planes != NULL) {
        jpeg_destroy_decompress(&planes->info);
        for (int i = 0; i < PLANES; i++) {
            free(planes->rows[i]);
            free(planes->memory[i]);
        }
        free(planes);
    }
}

/* What a caller needs to know of the planes being decoded. */
struct sous_plane_geometry {
    /* The picture as decoded (scaled), in luma samples. */
    unsigned width, height;
    /* Each plane's size in samples (whole blocks, so a little past the picture), and the most
     * rows one read gives it. */
    unsigned plane_width[PLANES], plane_height[PLANES];
    unsigned rows_per_read[PLANES];
    /* A plane's samples per luma sample are across[i] / unit_across and rows_per_read[i] /
     * unit_down; libjpeg may decode chroma at more than its stored share when scaling down
     * (it then upsamples through the IDCT). */
    unsigned across[PLANES];
    unsigned unit_across, unit_down;
};

/*
 * Starts decoding `size` bytes of a three-component Y'CbCr JPEG at scale_num/scale_denom; the
 * bytes must outlive the decoder. Fills `geometry`. NULL on failure, with the reason in
 * `error`.
 */
struct sous_planes *sous_planes_open(const unsigned char *jpeg, unsigned long size,
                                     unsigned scale_num, unsigned scale_denom, int max_scans,
                                     struct sous_plane_geometry *geometry, char *error,
                                     size_t error_len) {
    /* volatile: read again after a longjmp, so it must not live only in a register. */
    struct sous_planes *volatile planes = calloc(1, sizeof *planes);
    if (planes == NULL) {
        snprintf(error, error_len, "out of memory");
        return NULL;
    }
    set_up_failure(&planes->failure, (j_common_ptr)&planes->info);
    planes->max_scans = max_scans;
    if (setjmp(planes->failure.jump)) {
        copy_message(&planes->failure, error, error_len);
        sous_planes_close(planes);
        return NULL;
    }
    jpeg_create_decompress(&planes->info);
    planes->progress.progress_monitor = count_scans;
    planes->info.progress = &planes->progress;
    jpeg_mem_src(&planes->info, jpeg, size);
    jpeg_read_header(&planes->info, TRUE);
    if (planes->info.num_components != PLANES || planes->info.jpeg_color_space != JCS_YCbCr) {
        snprintf(planes->failure.message, sizeof planes->failure.message,
                 "not a Y'CbCr JPEG");
        longjmp(planes->failure.jump, 1);
    }
    planes->info.raw_data_out = TRUE;
    planes->info.scale_num = scale_num;
    planes->info.scale_denom = scale_denom;
    /* As TurboJPEG decodes by default: the accurate DCT. */
    planes->info.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&planes->info);
    geometry->width = planes->info.output_width;
    geometry->height = planes->info.output_height;
    geometry->unit_across =
        (unsigned)(planes->info.max_h_samp_factor * planes->info.min_DCT_scaled_size);
    geometry->unit_down =
        (unsigned)(planes->info.max_v_samp_factor * planes->info.min_DCT_scaled_size);
    for (int i = 0; i < PLANES; i++) {
        jpeg_component_info *component = &planes->info.comp_info[i];
        unsigned count = (unsigned)(component->v_samp_factor * component->DCT_scaled_size);
        size_t width = (size_t)component->width_in_blocks * component->DCT_scaled_size;
        planes->rows[i] = rows_of(width, count, &planes->memory[i]);
        if (planes->rows[i] == NULL) {
            snprintf(planes->failure.message, sizeof planes->failure.message,
                     "out of memory");
            longjmp(planes->failure.jump, 1);
        }
        planes->rows_per_read[i] = count;
        /* Whole blocks, as TurboJPEG's planes are: the last block's samples past the picture
         * (the encoder's padding) are real decoded data, and a half-size output sample at an
         * odd edge reaches into them. */
        geometry->plane_width[i] = (unsigned)width;
        geometry->plane_height[i] = (unsigned)(component->height_in_blocks * component->DCT_scaled_size);
        geometry->rows_per_read[i] = count;
        geometry->across[i] = (unsigned)(component->h_samp_factor * component->DCT_scaled_size);
    }
    return planes;
}

/*
 * Decodes the next iMCU row into `out`: for each plane, up to its rows_per_read rows of its
 * width, packed; sets how many rows each plane got (0 for all once the picture is done).
 * Returns 0, or -1 with the reason in `error`.
 */
int sous_planes_read(struct sous_planes *planes, unsigned char *const out[PLANES],
                     unsigned written[PLANES], char *error, size_t error_len) {
    struct jpeg_decompress_struct *info = &planes->info;
    if (setjmp(planes->failure.jump)) {
        copy_message(&planes->failure, error, error_len);
        return -1;
    }
    if (info->output_scanline >= info->output_height) {
        memset(written, 0, sizeof(unsigned) * PLANES);
        return 0;
    }
    unsigned luma_row = info->output_scanline;
    unsigned luma_rows = (unsigned)(info->max_v_samp_factor * info->min_DCT_scaled_size);
    if (jpeg_read_raw_data(info, planes->rows, luma_rows) == 0) {
        snprintf(error, error_len, "the decoder gave no rows");
        return -1;
    }
    for (int i = 0; i < PLANES; i++) {
        jpeg_component_info *component = &info->comp_info[i];
        size_t width = (size_t)component->width_in_blocks * component->DCT_scaled_size;
        unsigned height = (unsigned)(component->height_in_blocks * component->DCT_scaled_size);
        /* This read's first row of the plane, and how many of its rows were decoded (the
         * last iMCU row may hold blocks past the plane's, which libjpeg leaves alone). */
        unsigned first = luma_row / luma_rows * planes->rows_per_read[i];
        unsigned count = planes->rows_per_read[i];
        if (first + count > height) {
            count = first < height ? height - first : 0;
        }
        for (unsigned row = 0; row < count; row++) {
            memcpy(out[i] + (size_t)row * width, planes->rows[i][row], width);
        }
        written[i] = count;
    }
    return 0;
}

/* ---- Encoding from planes ---- */

struct sous_jpeg_out {
    /* First, so that libjpeg's pointer to it is also a pointer to the whole. */
    struct jpeg_compress_struct info;
    struct failure failure;
    /* The JPEG so far, in memory owned here (libjpeg's own memory destination frees and
     * replaces its buffer as it grows, which a failure half-way would leak). */
    struct jpeg_destination_mgr destination;
    unsigned char *bytes;
    size_t capacity;
    /* One iMCU row of each plane, padded to whole blocks. */
    JSAMPARRAY rows[PLANES];
    JSAMPLE *memory[PLANES];
    size_t padded_width[PLANES];
};

static void start_output(j_compress_ptr info) { (void)info; }

/* The buffer is full: twice as much room, the bytes so far kept. */
static boolean grow_output(j_compress_ptr info) {
    struct sous_jpeg_out *out = (struct sous_jpeg_out *)info;
    unsigned char *grown = realloc(out->bytes, out->capacity * 2);
    if (grown == NULL) {
        snprintf(out->failure.message, sizeof out->failure.message, "out of memory");
        longjmp(out->failure.jump, 1);
    }
    out->destination.next_output_byte = grown + out->capacity;
    out->destination.free_in_buffer = out->capacity;
    out->bytes = grown;
    out->capacity *= 2;
    return TRUE;
}

static void end_output(j_compress_ptr info) { (void)info; }

void sous_jpeg_out_close(struct sous_jpeg_out *out) {
    if (out != NULL) {
        jpeg_destroy_compress(&out->info);
        free(out->bytes);
        for (int i = 0; i < PLANES; i++) {
            free(out->rows[i]);
            free(out->memory[i]);
        }
        free(out);
    }
}

/*
 * Starts a width×height 4:2:0 JPEG of `quality`, with optimised Huffman tables if `optimize`,
 * to be written from RGB rows if `rgb`, else from planes. NULL on failure, with the reason in
 * `error`.
 */
struct sous_jpeg_out *sous_jpeg_out_open(unsigned width, unsigned height, int quality,
                                         int optimize, int rgb, char *error,
                                         size_t error_len) {
    struct sous_jpeg_out *volatile out = calloc(1, sizeof *out);
    if (out == NULL) {
        snprintf(error, error_len, "out of memory");
        return NULL;
    }
    set_up_failure(&out->failure, (j_common_ptr)&out->info);
    if (setjmp(out->failure.jump)) {
        copy_message(&out->failure, error, error_len);
        sous_jpeg_out_close(out);
        return NULL;
    }
    jpeg_create_compress(&out->info);
    /* A q80 photo takes about a sixth of a byte per pixel; more room is made as needed. */
    out->capacity = (size_t)width * height / 6 + 4096;
    out->bytes = malloc(out->capacity);
    if (out->bytes == NULL) {
        snprintf(out->failure.message, sizeof out->failure.message, "out of memory");
        longjmp(out->failure.jump, 1);
    }
    out->destination.init_destination = start_output;
    out->destination.empty_output_buffer = grow_output;
    out->destination.term_destination = end_output;
    out->destination.next_output_byte = out->bytes;
    out->destination.free_in_buffer = out->capacity;
    out->info.dest = &out->destination;
    out->info.image_width = width;
    out->info.image_height = height;
    out->info.input_components = 3;
    out->info.in_color_space = rgb ? JCS_RGB : JCS_YCbCr;
    jpeg_set_defaults(&out->info);
    jpeg_set_quality(&out->info, quality, TRUE);
    out->info.dct_method = JDCT_ISLOW;
    jpeg_set_colorspace(&out->info, JCS_YCbCr);
    out->info.optimize_coding = optimize ? TRUE : FALSE;
    out->info.comp_info[0].h_samp_factor = 2;
    out->info.comp_info[0].v_samp_factor = 2;
    for (int i = 1; i < PLANES; i++) {
        out->info.comp_info[i].h_samp_factor = 1;
        out->info.comp_info[i].v_samp_factor = 1;
    }
    out->info.raw_data_in = rgb ? FALSE : TRUE;
    jpeg_start_compress(&out->info, TRUE);
    for (int i = 0; i < PLANES && !rgb; i++) {
        jpeg_component_info *component = &out->info.comp_info[i];
        out->padded_width[i] = (size_t)component->width_in_blocks * DCTSIZE;
        out->rows[i] = rows_of(out->padded_width[i],
                               (unsigned)component->v_samp_factor * DCTSIZE, &out->memory[i]);
        if (out->rows[i] == NULL) {
            snprintf(out->failure.message, sizeof out->failure.message, "out of memory");
            longjmp(out->failure.jump, 1);
        }
    }
    return out;
}

/*
 * Encodes the next iMCU row: 16 rows of luma (`width` samples each) and 8 of each chroma
 * plane (half as wide, rounded up), packed; fewer at the bottom of the picture, where `rows`
 * says how many luma rows are left. Edges are filled out by repeating the last sample and
 * row, as TurboJPEG does. Returns 0, or -1 with the reason in `error`.
 */
int sous_jpeg_out_write(struct sous_jpeg_out *out, const unsigned char *const in[PLANES],
                        unsigned rows, char *error, size_t error_len) {
    struct jpeg_compress_struct *info = &out->info;
    if (setjmp(out->failure.jump)) {
        copy_message(&out->failure, error, error_len);
        return -1;
    }
    for (int i = 0; i < PLANES; i++) {
        unsigned width = i == 0 ? info->image_width : (info->image_width + 1) / 2;
        unsigned count = i == 0 ? rows : (rows + 1) / 2;
        unsigned capacity = (unsigned)info->comp_info[i].v_samp_factor * DCTSIZE;
        if (count > capacity) count = capacity;
        for (unsigned row = 0; row < capacity; row++) {
            JSAMPROW to = out->rows[i][row];
            if (row < count) {
                memcpy(to, in[i] + (size_t)row * width, width);
                memset(to + width, to[width - 1], out->padded_width[i] - width);
            } else {
                memcpy(to, out->rows[i][count - 1], out->padded_width[i]);
            }
        }
    }
    jpeg_write_raw_data(info, out->rows, (JDIMENSION)info->max_v_samp_factor * DCTSIZE);
    return 0;
}

/* Encodes the next `count` RGB rows (each width * 3 bytes, packed). Returns 0, or -1 with the
 * reason in `error`. */
int sous_jpeg_out_write_rgb(struct sous_jpeg_out *out, const unsigned char *rows, unsigned count,
                            char *error, size_t error_len) {
    struct jpeg_compress_struct *info = &out->info;
    size_t stride = (size_t)info->image_width * 3;
    volatile unsigned done = 0;
    if (setjmp(out->failure.jump)) {
        copy_message(&out->failure, error, error_len);
        return -1;
    }
    while (done < count) {
        JSAMPROW pointers[16];
        unsigned asked = count - done < 16 ? count - done : 16;
        for (unsigned i = 0; i < asked; i++) {
            pointers[i] = (JSAMPROW)(rows + (size_t)(done + i) * stride);
        }
        done += jpeg_write_scanlines(info, pointers, asked);
    }
    return 0;
}

/*
 * Finishes the picture once every row is written; `bytes` and `size` then point at the JPEG,
 * which lives until the encoder is closed. Returns 0, or -1 with the reason in `error`.
 */
int sous_jpeg_out_finish(struct sous_jpeg_out *out, const unsigned char **bytes,
                         unsigned long *size, char *error, size_t error_len) {
    if (setjmp(out->failure.jump)) {
        copy_message(&out->failure, error, error_len);
        return -1;
    }
    jpeg_finish_compress(&out->info);
    *bytes = out->bytes;
    *size = out->capacity - out->destination.free_in_buffer;
    return 0;
}
