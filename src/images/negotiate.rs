//! `format=auto`: the format the client prefers among those sous serves, from `Accept`.
//!
//! AVIF and WebP are chosen only when the client names them: browsers that cannot show them
//! still send `image/*` and `*/*`. Otherwise JPEG, or PNG when the picture has transparency. At
//! equal quality AVIF comes first (smallest), then WebP. A client that refuses everything
//! (`q=0` all round) still gets the fallback: an image beats a 406.

use super::transform::OutputFormat;

/// The best format for a client sending `accept`, for a picture with or without transparency;
/// AVIF only `with_avif`.
pub fn negotiate(accept: Option<&str>, has_alpha: bool, with_avif: bool) -> OutputFormat {
    let fallback = if has_alpha {
        OutputFormat::Png
    } else {
        OutputFormat::Jpeg
    };
    let Some(accept) = accept else {
        return fallback;
    };
    let ranges: Vec<MediaRange> = accept.split(',').filter_map(MediaRange::parse).collect();
    let other = if has_alpha {
        OutputFormat::Jpeg
    } else {
        OutputFormat::Png
    };
    // In order of preference: the first of the highest quality wins.
    let mut best = (fallback, 0.0);
    let candidates = [OutputFormat::Avif, OutputFormat::Webp, fallback, other];
    for format in candidates
        .into_iter()
        .filter(|f| with_avif || *f != OutputFormat::Avif)
    {
        let q = quality(&ranges, format);
        if q > best.1 {
            best = (format, q);
        }
    }
    best.0
}

/// The quality the client gives `format`: that of the most specific range naming it.
fn quality(ranges: &[MediaRange], format: OutputFormat) -> f32 {
    let subtypes: &[&str] = match format {
        OutputFormat::Jpeg => &["jpeg", "jpg"],
        OutputFormat::Webp => &["webp"],
        OutputFormat::Avif => &["avif"],
        OutputFormat::Png => &["png"],
    };
    let wildcards_count = matches!(format, OutputFormat::Jpeg | OutputFormat::Png);
    ranges
        .iter()
        .filter_map(|range| {
            let specificity = match (range.kind.as_str(), range.subtype.as_str()) {
                ("image", sub) if subtypes.contains(&sub) => 2,
                ("image", "*") if wildcards_count => 1,
                ("*", "*") if wildcards_count => 0,
                _ => return None,
            };
            Some((specificity, range.q))
        })
        .max_by_key(|(specificity, _)| *specificity)
        .map_or(0.0, |(_, q)| q)
}

struct MediaRange {
    kind: String,
    subtype: String,
    q: f32,
}

impl MediaRange {
    /// One element of `Accept`; a malformed one is skipped, as RFC 9110 allows.
    fn parse(element: &str) -> Option<MediaRange> {
        let mut parts = element.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let mut q = 1.0;
        for param in parts {
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("q") {
                q = value
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q))?;
            }
        }
        Some(MediaRange {
            kind: kind.trim().to_ascii_lowercase(),
            subtype: subtype.trim().to_ascii_lowercase(),
            q,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OutputFormat::*;

    const CHROME: &str = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
    const FIREFOX: &str = "image/avif,image/webp,*/*";
    const OLD_SAFARI: &str = "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5";

    #[test]
    fn browsers_that_name_webp_get_webp() {
        assert_eq!(negotiate(Some(CHROME), false, false), Webp);
        assert_eq!(negotiate(Some(FIREFOX), true, false), Webp);
    }

    #[test]
    fn wildcards_never_choose_webp() {
        assert_eq!(negotiate(Some("*/*"), false, false), Jpeg);
        assert_eq!(negotiate(Some("image/*"), true, false), Png);
        assert_eq!(negotiate(Some(OLD_SAFARI), true, false), Png);
        assert_eq!(negotiate(None, false, false), Jpeg);
        assert_eq!(negotiate(None, true, false), Png);
    }

    #[test]
    fn a_named_format_beats_a_wildcard() {
        // Old Safari names PNG at q=1 and everything else at 0.8 at most.
        assert_eq!(negotiate(Some(OLD_SAFARI), false, false), Png);
        assert_eq!(negotiate(Some("image/jpeg"), true, false), Jpeg);
        assert_eq!(
            negotiate(Some("image/jpg;q=0.9, image/png;q=0.5"), true, false),
            Jpeg
        );
    }

    #[test]
    fn qualities_order_the_choice() {
        assert_eq!(
            negotiate(Some("image/webp;q=0.5, image/jpeg"), false, false),
            Jpeg
        );
        assert_eq!(
            negotiate(Some("image/webp;q=0.9, image/*;q=0.8"), false, false),
            Webp
        );
        assert_eq!(negotiate(Some("image/webp;q=0, */*"), false, false), Jpeg);
        // Equal quality: WebP first, then the fallback.
        assert_eq!(negotiate(Some("image/png, image/jpeg"), false, false), Jpeg);
        assert_eq!(
            negotiate(Some("image/png, image/jpeg, image/webp"), true, false),
            Webp
        );
    }

    #[test]
    fn refusing_everything_still_gets_the_fallback() {
        assert_eq!(negotiate(Some("image/*;q=0"), false, false), Jpeg);
        assert_eq!(negotiate(Some("text/html"), true, false), Png);
        assert_eq!(negotiate(Some(""), false, false), Jpeg);
    }

    #[test]
    fn malformed_ranges_are_skipped() {
        assert_eq!(
            negotiate(Some("image/webp;q=2, image/png"), false, false),
            Png
        );
        assert_eq!(
            negotiate(Some("webp, ;;, image/webp;q=abc"), false, false),
            Jpeg
        );
        assert_eq!(negotiate(Some(" IMAGE/WEBP ; Q=0.7 "), false, false), Webp);
    }

    #[test]
    fn avif_is_preferred_where_named_and_allowed() {
        assert_eq!(negotiate(Some(CHROME), false, true), Avif);
        assert_eq!(negotiate(Some(FIREFOX), true, true), Avif);
        // Not yet made, say: the next best.
        assert_eq!(negotiate(Some(CHROME), false, false), Webp);
        assert_eq!(negotiate(Some("*/*"), false, true), Jpeg);
        assert_eq!(negotiate(Some(OLD_SAFARI), true, true), Png);
        assert_eq!(
            negotiate(Some("image/avif;q=0.5, image/webp"), false, true),
            Webp
        );
        assert_eq!(negotiate(Some("image/avif;q=0, */*"), false, true), Jpeg);
    }
}
