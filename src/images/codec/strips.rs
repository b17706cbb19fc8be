//! JPEG pixels a few rows at a time (libjpeg-turbo's scanline API, through `strips.c`), resized
//! as they come. A 4:4:4 JPEG's Y'CbCr planes are as large as its RGB pixels, so the planes
//! path (`planar.rs`) saves it nothing; this path holds only a window of decoded rows and the
//! output instead of the whole decoded picture.

use std::ffi::{c_char, c_int, c_long, c_uint, c_ulong};
use std::marker::PhantomData;
use std::ptr::NonNull;

use fast_image_resize::PixelType;
use image::{DynamicImage, RgbImage};

use super::decode::{MAX_SCANS, Markers, shrink_on_load, turned};
use super::resize::from_rows;
use super::{Bitmap, CodecError};

/// libjpeg's longest message (`JMSG_LENGTH_MAX`).
const MESSAGE: usize = 200;

#[repr(C)]
struct Handle {
    _private: [u8; 0],
}

unsafe extern "C" {
    fn sous_strips_open(
        jpeg: *const u8,
        size: c_ulong,
        scale_num: c_uint,
        scale_denom: c_uint,
        max_scans: c_int,
        width: *mut c_uint,
        height: *mut c_uint,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut Handle;
    fn sous_strips_read(
        strips: *mut Handle,
        rows: *mut u8,
        count: c_uint,
        error: *mut c_char,
        error_len: usize,
    ) -> c_long;
    fn sous_strips_close(strips: *mut Handle);
}

/// A JPEG being decoded to 8-bit RGB rows, top to bottom.
struct Rows<'a> {
    handle: NonNull<Handle>,
    size: (u32, u32),
    _jpeg: PhantomData<&'a [u8]>,
}

impl<'a> Rows<'a> {
    fn open(jpeg: &'a [u8], scale: turbojpeg::ScalingFactor) -> Result<Self, CodecError> {
        let mut error = [0 as c_char; MESSAGE];
        let (mut width, mut height) = (0, 0);
        // SAFETY: the decoder reads `jpeg` until it is closed, which the lifetime 'a outlives;
        // the other pointers are to locals that live through the call.
        let handle = unsafe {
            sous_strips_open(
                jpeg.as_ptr(),
                jpeg.len() as c_ulong,
                scale.num() as c_uint,
                scale.denom() as c_uint,
                MAX_SCANS as c_int,
                &mut width,
                &mut height,
                error.as_mut_ptr(),
                error.len(),
            )
        };
        let handle = NonNull::new(handle).ok_or_else(|| CodecError::corrupt(message(&error)))?;
        Ok(Rows {
            handle,
            size: (width, height),
            _jpeg: PhantomData,
        })
    }

    /// Decodes the next rows into `rows`, as many whole rows as fit; returns how many (0 once
    /// the picture is done).
    fn read(&mut self, rows: &mut [u8]) -> Result<usize, CodecError> {
        let stride = self.size.0 as usize * 3;
        let count = c_uint::try_from(rows.len() / stride).unwrap_or(c_uint::MAX);
        let mut error = [0 as c_char; MESSAGE];
        // SAFETY: `rows` holds `count` rows of `stride` bytes; the handle is open.
        let done = unsafe {
            sous_strips_read(
                self.handle.as_ptr(),
                rows.as_mut_ptr(),
                count,
                error.as_mut_ptr(),
                error.len(),
            )
        };
        usize::try_from(done).map_err(|_| CodecError::corrupt(message(&error)))
    }
}

impl Drop for Rows<'_> {
    fn drop(&mut self) {
        // SAFETY: opened by `open`, closed only here.
        unsafe { sous_strips_close(self.handle.as_ptr()) }
    }
}

fn message(error: &[c_char]) -> String {
    let bytes: Vec<u8> = error
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The whole picture of a 4:4:4 Y'CbCr JPEG at `size` (as shown), upright, as RGB; `None` for
/// any other JPEG, which the planes path serves in less memory.
pub fn whole_444(
    bytes: &[u8],
    markers: &Markers,
    size: (u32, u32),
) -> Result<Option<Bitmap>, CodecError> {
    let turbo = |e: turbojpeg::Error| CodecError::corrupt(e);
    let header = turbojpeg::read_header(bytes).map_err(turbo)?;
    if header.colorspace != turbojpeg::Colorspace::YCbCr
        || header.subsamp != turbojpeg::Subsamp::None
        || header.is_lossless
    {
        return Ok(None);
    }
    let stored = turned(markers.orientation, size);
    let scale = shrink_on_load(markers.stored_size, stored);
    let mut rows = Rows::open(bytes, scale)?;
    let pixels = from_rows(rows.size, PixelType::U8x3, stored, |buffer| {
        rows.read(buffer)
    })?;
    let rgb = RgbImage::from_raw(stored.0, stored.1, pixels).expect("sized for the output");
    let mut upright = DynamicImage::ImageRgb8(rgb);
    upright.apply_orientation(markers.orientation);
    Ok(Some(Bitmap::new(upright)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::codec::{SourceFormat, decode, resize};
    use crate::images::transform::Region;

    fn jpeg(width: u32, height: u32, subsamp: turbojpeg::Subsamp) -> Vec<u8> {
        let pixels: Vec<u8> = (0..height)
            .flat_map(|y| {
                (0..width).flat_map(move |x| {
                    [
                        (x * 255 / width) as u8,
                        (y * 255 / height) as u8,
                        ((x + y) % 64 * 4) as u8,
                    ]
                })
            })
            .collect();
        let mut compressor = turbojpeg::Compressor::new().unwrap();
        compressor.set_quality(92).unwrap();
        compressor.set_subsamp(subsamp).unwrap();
        compressor
            .compress_to_vec(turbojpeg::Image {
                pixels: pixels.as_slice(),
                width: width as usize,
                pitch: width as usize * 3,
                height: height as usize,
                format: turbojpeg::PixelFormat::RGB,
            })
            .unwrap()
    }

    fn markers(bytes: &[u8]) -> Markers {
        super::super::decode::markers(&mut jpeg_decoder::Decoder::new(bytes)).unwrap()
    }

    #[test]
    fn a_444_picture_in_strips_is_the_whole_decode_resized() {
        let bytes = jpeg(1203, 907, turbojpeg::Subsamp::None);
        for size in [(1203, 907), (640, 483), (150, 113), (1, 1)] {
            let strips = whole_444(&bytes, &markers(&bytes), size).unwrap().unwrap();
            assert_eq!(strips.size(), size);
            let whole = decode(&bytes, SourceFormat::Jpeg, Some(size)).unwrap();
            let full = Region {
                left: 0.0,
                top: 0.0,
                width: 1.0,
                height: 1.0,
            };
            let expected = resize(&whole.bitmap, full, size);
            let off = strips
                .as_bytes()
                .iter()
                .zip(expected.as_bytes())
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert!(off <= 1, "{size:?}: a channel off by {off}");
        }
    }

    #[test]
    fn other_layouts_are_left_to_the_planes() {
        let bytes = jpeg(64, 48, turbojpeg::Subsamp::Sub2x2);
        assert!(
            whole_444(&bytes, &markers(&bytes), (32, 24))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn libjpeg_errors_come_back_as_messages() {
        // Start and end of image, nothing between.
        let Err(error) = Rows::open(&[0xFF, 0xD8, 0xFF, 0xD9], turbojpeg::ScalingFactor::ONE)
        else {
            panic!("an empty JPEG opened");
        };
        assert!(
            matches!(&error, CodecError::Corrupt(m) if m.contains("no image")),
            "{error}"
        );
    }
}
