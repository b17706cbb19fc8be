//! Compiles the JPEG strip decoder (`src/images/codec/strips.c`) against the libjpeg-turbo that
//! `turbojpeg-sys` builds and links: its scanline API is not part of TurboJPEG's.

fn main() {
    println!("cargo:rerun-if-changed=src/images/codec/strips.c");
    let mut build = cc::Build::new();
    build.file("src/images/codec/strips.c").warnings(true);
    // Comma-separated, as turbojpeg-sys publishes it; absent when the headers are the system's.
    if let Ok(paths) = std::env::var("DEP_TURBOJPEG_INCLUDE") {
        for path in paths.split(',').filter(|p| !p.is_empty()) {
            build.include(path);
        }
    }
    build.compile("sous_strips");
}
