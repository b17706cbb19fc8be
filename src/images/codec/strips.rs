//! JPEGs a few rows at a time, through libjpeg-turbo's raw-data and scanline APIs
//! (`strips.c`): a Y'CbCr JPEG decoded to its planes an iMCU row at a time (`PlaneRows`), and a
//! 4:2:0 JPEG encoded from planes or RGB rows as they come (`JpegOut`). Neither holds a whole
//! picture.

use std::ffi::{c_char, c_int, c_uint, c_ulong};
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::CodecError;
use super::decode::MAX_SCANS;

/// libjpeg's longest message (`JMSG_LENGTH_MAX`).
const MESSAGE: usize = 200;

/// Y, Cb and Cr.
pub const PLANES: usize = 3;

#[repr(C)]
struct Handle {
    _private: [u8; 0],
}

/// What a decoder says of its planes (`struct sous_plane_geometry`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Geometry {
    /// The picture as decoded (scaled), in luma samples.
    pub width: c_uint,
    pub height: c_uint,
    pub plane_width: [c_uint; PLANES],
    pub plane_height: [c_uint; PLANES],
    pub rows_per_read: [c_uint; PLANES],
    /// A plane's samples per luma sample are `across / unit_across` and
    /// `rows_per_read / unit_down`.
    pub across: [c_uint; PLANES],
    pub unit_across: c_uint,
    pub unit_down: c_uint,
}

impl Geometry {
    /// Plane `i`'s samples per luma sample, across and down.
    pub fn ratio(&self, i: usize) -> (f64, f64) {
        (
            f64::from(self.across[i]) / f64::from(self.unit_across),
            f64::from(self.rows_per_read[i]) / f64::from(self.unit_down),
        )
    }
}

unsafe extern "C" {
    fn sous_planes_open(
        jpeg: *const u8,
        size: c_ulong,
        scale_num: c_uint,
        scale_denom: c_uint,
        max_scans: c_int,
        geometry: *mut Geometry,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut Handle;
    fn sous_planes_read(
        planes: *mut Handle,
        out: *const *mut u8,
        written: *mut c_uint,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn sous_planes_close(planes: *mut Handle);

    fn sous_jpeg_out_open(
        width: c_uint,
        height: c_uint,
        quality: c_int,
        optimize: c_int,
        rgb: c_int,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut Handle;
    fn sous_jpeg_out_write_rgb(
        out: *mut Handle,
        rows: *const u8,
        count: c_uint,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn sous_jpeg_out_write(
        out: *mut Handle,
        planes: *const *const u8,
        rows: c_uint,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn sous_jpeg_out_finish(
        out: *mut Handle,
        bytes: *mut *const u8,
        size: *mut c_ulong,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn sous_jpeg_out_close(out: *mut Handle);
}

/// Calls into `strips.c` with room for libjpeg's message: a non-zero status is a failure, and
/// the message says why.
fn checked(call: impl FnOnce(*mut c_char, usize) -> c_int) -> Result<(), String> {
    let mut error = [0 as c_char; MESSAGE];
    match call(error.as_mut_ptr(), error.len()) {
        0 => Ok(()),
        _ => Err(message(&error)),
    }
}

/// Opens a decoder or an encoder with room for libjpeg's message: no handle is a failure.
fn opened(open: impl FnOnce(*mut c_char, usize) -> *mut Handle) -> Result<NonNull<Handle>, String> {
    let mut error = [0 as c_char; MESSAGE];
    NonNull::new(open(error.as_mut_ptr(), error.len())).ok_or_else(|| message(&error))
}

fn message(error: &[c_char]) -> String {
    let bytes: Vec<u8> = error
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A three-component Y'CbCr JPEG being decoded to its planes, top to bottom.
pub struct PlaneRows<'a> {
    handle: NonNull<Handle>,
    pub geometry: Geometry,
    _jpeg: PhantomData<&'a [u8]>,
}

// SAFETY: the decoder's state is its own (no thread-locals in libjpeg); it is used by one
// thread at a time, which `&mut self` ensures.
unsafe impl Send for PlaneRows<'_> {}

impl<'a> PlaneRows<'a> {
    pub fn open(jpeg: &'a [u8], scale: turbojpeg::ScalingFactor) -> Result<Self, CodecError> {
        let mut geometry = Geometry::default();
        // SAFETY: the decoder reads `jpeg` until it is closed, which the lifetime 'a outlives;
        // the other pointers are to locals that live through the call.
        let handle = opened(|error, error_len| unsafe {
            sous_planes_open(
                jpeg.as_ptr(),
                jpeg.len() as c_ulong,
                scale.num() as c_uint,
                scale.denom() as c_uint,
                MAX_SCANS as c_int,
                &mut geometry,
                error,
                error_len,
            )
        })
        .map_err(CodecError::corrupt)?;
        Ok(PlaneRows {
            handle,
            geometry,
            _jpeg: PhantomData,
        })
    }

    /// Decodes the next iMCU row onto the end of `planes` (each a plane's whole rows); returns
    /// whether there was one.
    pub fn read(&mut self, planes: &mut [Vec<u8>; PLANES]) -> Result<bool, CodecError> {
        let g = &self.geometry;
        let starts: [usize; PLANES] = std::array::from_fn(|i| planes[i].len());
        for (i, plane) in planes.iter_mut().enumerate() {
            let room = g.rows_per_read[i] as usize * g.plane_width[i] as usize;
            plane.resize(plane.len() + room, 0);
        }
        let out: [*mut u8; PLANES] = std::array::from_fn(|i| planes[i][starts[i]..].as_mut_ptr());
        let mut written = [0 as c_uint; PLANES];
        // SAFETY: each `out[i]` has room for the plane's rows_per_read rows of its width, as
        // the C side writes; the handle is open.
        checked(|error, error_len| unsafe {
            sous_planes_read(
                self.handle.as_ptr(),
                out.as_ptr(),
                written.as_mut_ptr(),
                error,
                error_len,
            )
        })
        .map_err(CodecError::corrupt)?;
        for (i, plane) in planes.iter_mut().enumerate() {
            plane.truncate(starts[i] + written[i] as usize * g.plane_width[i] as usize);
        }
        Ok(written.iter().any(|&rows| rows > 0))
    }
}

impl Drop for PlaneRows<'_> {
    fn drop(&mut self) {
        // SAFETY: opened by `open`, closed only here.
        unsafe { sous_planes_close(self.handle.as_ptr()) }
    }
}

/// What a JPEG is encoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Y, Cb and Cr planes, chroma at half the width and height (rounded up).
    Planes,
    /// RGB pixels, converted and subsampled by libjpeg.
    Rgb,
}

/// A 4:2:0 JPEG being encoded from its rows, top to bottom.
pub struct JpegOut {
    handle: NonNull<Handle>,
    input: Input,
    width: u32,
    height: u32,
    written: u32,
}

// SAFETY: the encoder's state is its own (no thread-locals in libjpeg); it is used by one
// thread at a time, which `&mut self` ensures.
unsafe impl Send for JpegOut {}

impl JpegOut {
    /// Rows of luma one write from planes takes (an iMCU row); chroma takes half as many.
    const ROWS: u32 = 16;

    pub fn open(
        width: u32,
        height: u32,
        quality: u8,
        optimize: bool,
        input: Input,
    ) -> Result<Self, CodecError> {
        // SAFETY: plain values, and an error buffer that lives through the call.
        let handle = opened(|error, error_len| unsafe {
            sous_jpeg_out_open(
                width,
                height,
                c_int::from(quality),
                c_int::from(optimize),
                c_int::from(input == Input::Rgb),
                error,
                error_len,
            )
        })
        .map_err(encode_failed)?;
        Ok(JpegOut {
            handle,
            input,
            width,
            height,
            written: 0,
        })
    }

    /// Encodes the whole RGB rows in `rows` (the picture's next ones), removing them.
    pub fn write_rgb_from(&mut self, rows: &mut Vec<u8>) -> Result<(), CodecError> {
        assert_eq!(self.input, Input::Rgb, "opened for RGB rows");
        let stride = self.width as usize * 3;
        let count = ((rows.len() / stride) as u32).min(self.height - self.written);
        // SAFETY: `rows` holds `count` rows of `stride` bytes; the handle is open.
        checked(|error, error_len| unsafe {
            sous_jpeg_out_write_rgb(self.handle.as_ptr(), rows.as_ptr(), count, error, error_len)
        })
        .map_err(encode_failed)?;
        rows.drain(..count as usize * stride);
        self.written += count;
        Ok(())
    }

    /// Encodes as many whole iMCU rows as `planes` hold (and the last, shorter one once the
    /// picture's rows are all there), removing them from `planes`.
    pub fn write_from(&mut self, planes: &mut [Vec<u8>; PLANES]) -> Result<(), CodecError> {
        assert_eq!(self.input, Input::Planes, "opened for planes");
        let luma_row = self.width as usize;
        let chroma_row = self.width.div_ceil(2) as usize;
        let mut used = [0usize; PLANES];
        while self.written < self.height {
            let rows = Self::ROWS.min(self.height - self.written);
            let wanted = [
                rows as usize * luma_row,
                rows.div_ceil(2) as usize * chroma_row,
                rows.div_ceil(2) as usize * chroma_row,
            ];
            if (0..PLANES).any(|i| planes[i].len() - used[i] < wanted[i]) {
                break;
            }
            let rows_in: [*const u8; PLANES] =
                std::array::from_fn(|i| planes[i][used[i]..].as_ptr());
            // SAFETY: each plane holds the rows the C side reads (checked above); the handle
            // is open.
            checked(|error, error_len| unsafe {
                sous_jpeg_out_write(
                    self.handle.as_ptr(),
                    rows_in.as_ptr(),
                    rows,
                    error,
                    error_len,
                )
            })
            .map_err(encode_failed)?;
            for i in 0..PLANES {
                used[i] += wanted[i];
            }
            self.written += rows;
        }
        for (plane, used) in planes.iter_mut().zip(used) {
            plane.drain(..used);
        }
        Ok(())
    }

    /// The JPEG, once every row is written.
    pub fn finish(self) -> Result<Vec<u8>, CodecError> {
        if self.written < self.height {
            return Err(CodecError::Encode {
                format: "jpeg",
                reason: format!("{} of {} rows written", self.written, self.height),
            });
        }
        let mut bytes = std::ptr::null();
        let mut size: c_ulong = 0;
        // SAFETY: the handle is open.
        checked(|error, error_len| unsafe {
            sous_jpeg_out_finish(
                self.handle.as_ptr(),
                &mut bytes,
                &mut size,
                error,
                error_len,
            )
        })
        .map_err(encode_failed)?;
        // SAFETY: `bytes` points at `size` bytes that live until the handle is closed, which
        // `self`'s drop does after the copy.
        Ok(unsafe { std::slice::from_raw_parts(bytes, size as usize) }.to_vec())
    }
}

impl Drop for JpegOut {
    fn drop(&mut self) {
        // SAFETY: opened by `open`, closed only here.
        unsafe { sous_jpeg_out_close(self.handle.as_ptr()) }
    }
}

fn encode_failed(reason: String) -> CodecError {
    CodecError::Encode {
        format: "jpeg",
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Planes of a `width`×`height` 4:2:0 picture with detail everywhere, up to the odd edges.
    fn planes(width: u32, height: u32) -> [Vec<u8>; PLANES] {
        let plane = |w: u32, h: u32, seed: u32| -> Vec<u8> {
            (0..h)
                .flat_map(|y| (0..w).map(move |x| ((x * 7 + y * 13 + seed) % 251) as u8))
                .collect()
        };
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        [
            plane(width, height, 0),
            plane(cw, ch, 50),
            plane(cw, ch, 100),
        ]
    }

    #[test]
    fn rows_encode_to_the_bytes_turbojpeg_makes_of_the_whole_planes() {
        for (width, height, optimize) in [
            (64, 48, true),
            (333, 101, false),
            (1, 1, true),
            (17, 35, true),
        ] {
            let [y, u, v] = planes(width, height);
            let mut compressor = turbojpeg::Compressor::new().unwrap();
            compressor.set_quality(80).unwrap();
            compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
            compressor.set_optimize(optimize).unwrap();
            // TurboJPEG reads whole chroma samples' worth of luma: padded by the last column
            // and row, as the encoder here pads on its own.
            let (pw, ph) = (width.div_ceil(2) * 2, height.div_ceil(2) * 2);
            let padded: Vec<u8> = (0..ph)
                .flat_map(|r| (0..pw).map(move |c| (c.min(width - 1), r.min(height - 1))))
                .map(|(c, r)| y[(r * width + c) as usize])
                .collect();
            let expected = compressor
                .compress_yuv_planes_to_vec(&turbojpeg::YuvPlanesImage {
                    y_plane: padded.as_slice(),
                    u_plane: u.as_slice(),
                    v_plane: v.as_slice(),
                    width: width as usize,
                    height: height as usize,
                    y_stride: pw as usize,
                    u_stride: width.div_ceil(2) as usize,
                    v_stride: width.div_ceil(2) as usize,
                    subsamp: turbojpeg::Subsamp::Sub2x2,
                })
                .unwrap();
            // Rows handed over a few at a time, as a resizer makes them.
            let mut out = JpegOut::open(width, height, 80, optimize, Input::Planes).unwrap();
            let mut pending: [Vec<u8>; PLANES] = Default::default();
            let source = [y, u, v];
            let rows = [
                width as usize * 6,
                width.div_ceil(2) as usize * 3,
                width.div_ceil(2) as usize * 3,
            ];
            for step in 0.. {
                let mut any = false;
                for i in 0..PLANES {
                    let chunk = source[i].chunks(rows[i]).nth(step);
                    if let Some(chunk) = chunk {
                        pending[i].extend_from_slice(chunk);
                        any = true;
                    }
                }
                out.write_from(&mut pending).unwrap();
                if !any {
                    break;
                }
            }
            assert_eq!(out.finish().unwrap(), expected, "{width}×{height}");
        }
    }

    #[test]
    fn rgb_rows_encode_to_the_bytes_turbojpeg_makes_of_the_whole_picture() {
        for (width, height, optimize) in [(64, 48, true), (333, 101, false), (1, 1, true)] {
            let rgb: Vec<u8> = (0..width * height * 3)
                .map(|i| (i * 31 % 253) as u8)
                .collect();
            let mut compressor = turbojpeg::Compressor::new().unwrap();
            compressor.set_quality(80).unwrap();
            compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
            compressor.set_optimize(optimize).unwrap();
            let expected = compressor
                .compress_to_vec(turbojpeg::Image {
                    pixels: rgb.as_slice(),
                    width: width as usize,
                    pitch: width as usize * 3,
                    height: height as usize,
                    format: turbojpeg::PixelFormat::RGB,
                })
                .unwrap();
            let mut out = JpegOut::open(width, height, 80, optimize, Input::Rgb).unwrap();
            let mut pending = Vec::new();
            for rows in rgb.chunks(width as usize * 3 * 5) {
                pending.extend_from_slice(rows);
                out.write_rgb_from(&mut pending).unwrap();
            }
            assert!(pending.is_empty());
            assert_eq!(out.finish().unwrap(), expected, "{width}×{height}");
        }
    }

    #[test]
    fn an_unfinished_picture_is_an_error_not_a_short_jpeg() {
        let mut out = JpegOut::open(40, 40, 80, true, Input::Planes).unwrap();
        let mut some = planes(40, 20);
        out.write_from(&mut some).unwrap();
        assert!(matches!(out.finish(), Err(CodecError::Encode { .. })));
    }

    #[test]
    fn libjpeg_errors_come_back_as_messages() {
        // Start and end of image, nothing between.
        let Err(error) = PlaneRows::open(&[0xFF, 0xD8, 0xFF, 0xD9], turbojpeg::ScalingFactor::ONE)
        else {
            panic!("an empty JPEG opened");
        };
        assert!(
            matches!(&error, CodecError::Corrupt(m) if m.contains("no image")),
            "{error}"
        );
    }
}
