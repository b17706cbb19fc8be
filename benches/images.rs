//! Renditions per second, in process: decode (JPEG shrunk while decoding), resize, encode, for
//! a 16 MP photo (the real one in `../shared/eval-photos` when present, else a generated one of
//! the same size) to 320 and 2560 px wide WebP and JPEG and 320 px AVIF, and a 320 px WebP from the 640 px
//! ladder rung, as deliveries do once the ladder exists; the same JPEG and WebP renditions
//! through decoded RGB, the peer of the Y'CbCr planes path renditions take. Plus the
//! request-side work: parsing a query and negotiating a format.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sous::images::codec::{self, Limits};
use sous::images::negotiate::negotiate;
use sous::images::transform::{Dimension, Focus, OutputFormat, TransformSpec, Variant};
use sous::images::variants::render;

const PHOTO: &str = "../shared/eval-photos/food/recipes__PSOF5806.JPG";

fn photo() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PHOTO);
    if let Ok(bytes) = std::fs::read(&path) {
        return bytes;
    }
    eprintln!(
        "note: {} is absent; using a generated 16 MP image",
        path.display()
    );
    let (width, height) = (4896u16, 3264u16);
    let pixels: Vec<u8> = (0..u32::from(height))
        .flat_map(|y| (0..u32::from(width)).map(move |x| (x, y)))
        .flat_map(|(x, y)| [(x / 19) as u8, (y / 13) as u8, ((x ^ y) % 251) as u8])
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90)
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .expect("encodes");
    out
}

fn variant(query: &str, size: (u32, u32), format: OutputFormat) -> Variant {
    let long_side = Dimension::try_from(2560).expect("valid");
    TransformSpec::parse(query).expect("valid query").resolve(
        size,
        Focus::CENTRE,
        format,
        long_side,
    )
}

fn renditions(c: &mut Criterion) {
    let bytes = photo();
    let limits = Limits {
        max_pixels: 100_000_000,
        max_frames: 1,
    };
    let probe = codec::probe(&bytes, &limits).expect("a JPEG");
    let size = (probe.width, probe.height);
    let mut group = c.benchmark_group("16MP photo");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    for (name, query, format) in [
        ("320 webp", "w=320", OutputFormat::Webp),
        ("320 jpeg", "w=320", OutputFormat::Jpeg),
        ("2560 webp", "w=2560", OutputFormat::Webp),
        ("2560 jpeg", "w=2560", OutputFormat::Jpeg),
        ("320 avif", "w=320", OutputFormat::Avif),
    ] {
        let target = [variant(query, size, format)];
        group.bench_function(name, |b| {
            b.iter(|| render(black_box(&bytes), probe.format, size, &target).expect("renders"))
        });
    }
    // The peer of the planes path: the same renditions through decoded RGB.
    for (name, query, format) in [
        ("320 webp via RGB", "w=320", OutputFormat::Webp),
        ("320 jpeg via RGB", "w=320", OutputFormat::Jpeg),
        ("2560 webp via RGB", "w=2560", OutputFormat::Webp),
        ("2560 jpeg via RGB", "w=2560", OutputFormat::Jpeg),
    ] {
        let target = variant(query, size, format);
        let picture = target.picture_size(size);
        group.bench_function(name, |b| {
            b.iter(|| {
                let decoded =
                    codec::decode(black_box(&bytes), probe.format, Some(picture)).expect("decodes");
                let resized = codec::resize(&decoded.bitmap, target.region(size), picture);
                codec::encode(&resized, format, target.quality()).expect("encodes")
            })
        });
    }
    group.finish();

    // The 640 px rung, as the variants job makes it.
    let rung = variant("w=640&q=90", size, OutputFormat::Jpeg);
    let (_, rung_bytes) = render(&bytes, probe.format, size, &[rung])
        .expect("renders")
        .remove(0);
    let rung_size = (rung.width(), rung.height());
    let target = [variant("w=320", rung_size, OutputFormat::Webp)];
    c.bench_function("320 webp from the 640 rung", |b| {
        b.iter(|| {
            render(black_box(&rung_bytes), probe.format, rung_size, &target).expect("renders")
        })
    });
}

fn request_side(c: &mut Criterion) {
    let accept = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
    c.bench_function("parse query and negotiate", |b| {
        b.iter(|| {
            let spec =
                TransformSpec::parse(black_box("w=320&h=240&fit=cover&q=75")).expect("valid");
            let format = negotiate(Some(black_box(accept)), false, true);
            spec.resolve(
                (4896, 3264),
                Focus::CENTRE,
                format,
                Dimension::try_from(2560).expect("valid"),
            )
            .name()
        })
    });
}

criterion_group!(benches, renditions, request_side);
criterion_main!(benches);
