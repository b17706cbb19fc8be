//! A JPEG's Y, Cb and Cr planes decoded and resized a few rows at a time, on two threads:
//! libjpeg-turbo decodes an iMCU row at a time on the caller's while another resizes each plane
//! a strip at a time as its rows come (`RowResizer`) and hands the output rows on. Decoding is
//! most of a rendition's time, so resizing and encoding beside it cost little more; and only a
//! window of source rows is ever held.

use std::sync::mpsc;

use fast_image_resize::PixelType;

use super::CodecError;
use super::decode::{Markers, shrink_on_load, turned};
use super::resize::{RowResizer, STRIP_SOURCE_ROWS};
use super::strips::{PLANES, PlaneRows};

/// Chroma planes at half the output's width and height (rounded up), or at all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chroma {
    Half,
    Full,
}

/// Luma rows decoded before they are handed to the resizing thread.
const BATCH_ROWS: usize = 16;

/// Batches in flight at most, so memory stays bounded if resizing falls behind. The resizing
/// side works a strip (up to `STRIP_SOURCE_ROWS` source rows) at a time; room for a strip's
/// rows lets the decoder go on meanwhile instead of waiting (with two, a 2560 px WebP of a 16 MP
/// photo took 15 % longer).
const BATCHES_IN_FLIGHT: usize = STRIP_SOURCE_ROWS as usize / BATCH_ROWS;

/// A JPEG's Y, Cb and Cr planes being decoded and resized to the output, as stored (the
/// orientation is the caller's).
pub struct Planes<'a> {
    rows: PlaneRows<'a>,
    resizers: [RowResizer; PLANES],
    /// Each plane's size at the output.
    pub sizes: [(u32, u32); PLANES],
}

impl<'a> Planes<'a> {
    /// `None` when the picture is not Y'CbCr (greyscale, or colours stored otherwise).
    pub fn open(
        bytes: &'a [u8],
        markers: &Markers,
        size: (u32, u32),
        chroma_at: Chroma,
    ) -> Result<Option<Self>, CodecError> {
        let header = turbojpeg::read_header(bytes).map_err(CodecError::corrupt)?;
        if header.colorspace != turbojpeg::Colorspace::YCbCr || header.is_lossless {
            return Ok(None);
        }
        let (width, height) = turned(markers.orientation, size);
        let scale = shrink_on_load(markers.stored_size, (width, height));
        let rows = PlaneRows::open(bytes, scale)?;
        let g = rows.geometry;
        let picture = (f64::from(g.width), f64::from(g.height));
        let step = match chroma_at {
            Chroma::Half => 2,
            Chroma::Full => 1,
        };
        let sizes: [(u32, u32); PLANES] = std::array::from_fn(|i| match i {
            0 => (width, height),
            _ => (width.div_ceil(step), height.div_ceil(step)),
        });
        // Planes are padded to whole samples: resize only the picture's share of each. An
        // output sample covers `step` output pixels, also past an odd edge, so its share of
        // the source is what those pixels map to (clamped to the plane, a fraction of a
        // sample at most).
        let resizers = std::array::from_fn(|i| {
            let step = if i == 0 { 1 } else { step };
            let (across, down) = g.ratio(i);
            let plane = (g.plane_width[i], g.plane_height[i]);
            let share = (
                (f64::from(sizes[i].0 * step) * picture.0 / f64::from(width) * across)
                    .min(f64::from(plane.0)),
                (f64::from(sizes[i].1 * step) * picture.1 / f64::from(height) * down)
                    .min(f64::from(plane.1)),
            );
            RowResizer::new(plane, PixelType::U8, share, sizes[i])
        });
        Ok(Some(Planes {
            rows,
            resizers,
            sizes,
        }))
    }

    /// Decodes on this thread while another resizes each plane as its rows come, adding them to
    /// `made` and handing that to `sink` after each batch (it takes what it can use); returns
    /// the rows `sink` left.
    pub fn resize(
        self,
        made: [Vec<u8>; PLANES],
        sink: impl FnMut(&mut [Vec<u8>; PLANES]) -> Result<(), CodecError> + Send,
    ) -> Result<[Vec<u8>; PLANES], CodecError> {
        let Planes { rows, resizers, .. } = self;
        // Resized on a pool of one thread: `fast_image_resize` splits its work over every
        // thread of the pool it runs in, which would take turns with the decoder that the
        // whole rendition waits for.
        let one_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "sous-resize".into())
            .build()
            .map_err(|e| CodecError::TooMuchMemory(format!("no thread to resize on: {e}")))?;
        let (batch_out, batches) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
        let (spent_out, spent) = mpsc::channel();
        let mut resized = None;
        one_thread.in_place_scope(|scope| {
            let resized = &mut resized;
            scope.spawn(move |_| {
                *resized = Some(resize_batches(batches, &spent_out, resizers, made, sink));
            });
            // Decoded here meanwhile; returns once the resizing side stops listening, if early.
            decode(rows, batch_out, &spent);
        });
        resized.expect("the resizing task ran to its end")
    }
}

/// Resizes each batch's rows as they come, hands the output made so far to `sink`, and gives
/// the batch's buffers back to the decoder; stops at the first error, which drops `batches` and
/// so stops the decoder too.
fn resize_batches(
    batches: mpsc::Receiver<Result<[Vec<u8>; PLANES], CodecError>>,
    spent: &mpsc::Sender<[Vec<u8>; PLANES]>,
    mut resizers: [RowResizer; PLANES],
    mut made: [Vec<u8>; PLANES],
    mut sink: impl FnMut(&mut [Vec<u8>; PLANES]) -> Result<(), CodecError>,
) -> Result<[Vec<u8>; PLANES], CodecError> {
    for batch in batches {
        let batch = batch?;
        for ((resizer, rows), out) in resizers.iter_mut().zip(&batch).zip(&mut made) {
            resizer.push(rows);
            resizer.resize_ready(out);
        }
        sink(&mut made)?;
        // The decoder may be gone already.
        let _ = spent.send(batch);
    }
    if resizers.iter().all(RowResizer::is_done) {
        Ok(made)
    } else {
        Err(CodecError::corrupt(
            "the picture has fewer rows than it says",
        ))
    }
}

/// Decodes every row into batches, reusing the buffers of batches spent, until the picture
/// ends, decoding fails, or the other side stops listening.
fn decode(
    mut rows: PlaneRows,
    batches: mpsc::SyncSender<Result<[Vec<u8>; PLANES], CodecError>>,
    spent: &mpsc::Receiver<[Vec<u8>; PLANES]>,
) {
    let luma_row = rows.geometry.plane_width[0] as usize;
    loop {
        let mut batch: [Vec<u8>; PLANES] = spent.try_recv().unwrap_or_default();
        batch.iter_mut().for_each(Vec::clear);
        let mut more = true;
        while more && batch[0].len() < BATCH_ROWS * luma_row {
            match rows.read(&mut batch) {
                Ok(read) => more = read,
                Err(error) => {
                    let _ = batches.send(Err(error));
                    return;
                }
            }
        }
        if batch.iter().any(|plane| !plane.is_empty()) && batches.send(Ok(batch)).is_err() {
            return;
        }
        if !more {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::codec::decode::markers;

    fn jpeg(width: usize, height: usize) -> Vec<u8> {
        let pixels: Vec<u8> = (0..width * height * 3).map(|i| (i % 251) as u8).collect();
        let mut compressor = turbojpeg::Compressor::new().unwrap();
        compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
        compressor
            .compress_to_vec(turbojpeg::Image {
                pixels: pixels.as_slice(),
                width,
                pitch: width * 3,
                height,
                format: turbojpeg::PixelFormat::RGB,
            })
            .unwrap()
    }

    fn planes(bytes: &[u8], size: (u32, u32)) -> Planes<'_> {
        let markers = markers(&mut jpeg_decoder::Decoder::new(bytes)).unwrap();
        Planes::open(bytes, &markers, size, Chroma::Half)
            .unwrap()
            .expect("a Y'CbCr JPEG")
    }

    #[test]
    fn every_row_of_every_plane_is_made() {
        let bytes = jpeg(1203, 907);
        for size in [(1203, 907), (601, 453), (150, 113), (1, 1)] {
            let made = planes(&bytes, size)
                .resize(Default::default(), |_| Ok(()))
                .unwrap();
            let (cw, ch) = (size.0.div_ceil(2), size.1.div_ceil(2));
            let expected = [size.0 * size.1, cw * ch, cw * ch].map(|n| n as usize);
            assert_eq!(made.map(|plane| plane.len()), expected, "{size:?}");
        }
    }

    #[test]
    fn a_sink_that_fails_stops_the_decoder_and_its_error_comes_back() {
        let bytes = jpeg(640, 2000);
        let mut calls = 0;
        let result = planes(&bytes, (640, 2000)).resize(Default::default(), |_| {
            calls += 1;
            Err(CodecError::Corrupt("stop".into()))
        });
        assert!(matches!(result, Err(CodecError::Corrupt(m)) if m == "stop"));
        assert_eq!(calls, 1);
    }
}
