//! QR codes, computed once when the tree is parsed.

use crate::labels::element::ErrorLevel;
use crate::labels::tree::Problem;

/// The largest module ESC/POS `GS ( k` accepts, in dots.
pub(crate) const MAX_MODULE_SIZE: u8 = 16;

/// A QR code with its symbol already computed, so every renderer draws the same modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Qr {
    pub payload: String,
    pub module_size: u8,
    pub level: ErrorLevel,
    /// Modules per side.
    pub width: usize,
    /// Row-major, `true` is dark.
    pub modules: Vec<bool>,
}

impl Qr {
    pub fn new(
        payload: String,
        module_size: u8,
        level: ErrorLevel,
        width_dots: u16,
    ) -> Result<Qr, Problem> {
        if !(1..=MAX_MODULE_SIZE).contains(&module_size) {
            return Err(Problem::ModuleSizeOutOfRange(module_size));
        }
        if payload.is_empty() {
            return Err(Problem::EmptyQrPayload);
        }
        if let Some(c) = payload.chars().find(|c| !c.is_ascii()) {
            return Err(Problem::NonAsciiQrPayload(c));
        }
        let ec_level = match level {
            ErrorLevel::L => qrcode::EcLevel::L,
            ErrorLevel::M => qrcode::EcLevel::M,
            ErrorLevel::Q => qrcode::EcLevel::Q,
            ErrorLevel::H => qrcode::EcLevel::H,
        };
        // Byte data with a free version choice can only fail by not fitting in version 40.
        let code =
            qrcode::QrCode::with_error_correction_level(&payload, ec_level).map_err(|_| {
                Problem::QrPayloadTooLong {
                    bytes: payload.len(),
                    level,
                }
            })?;
        let width = code.width();
        let dots = width * usize::from(module_size);
        if dots > usize::from(width_dots) {
            return Err(Problem::QrWiderThanSheet { dots, width_dots });
        }
        let modules = code
            .into_colors()
            .into_iter()
            .map(|color| color == qrcode::Color::Dark)
            .collect();
        Ok(Qr {
            payload,
            module_size,
            level,
            width,
            modules,
        })
    }

    /// The dark runs of row `y` as `(start, length)` pairs, to draw a row as few rectangles.
    pub fn dark_runs(&self, y: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let row = &self.modules[y * self.width..(y + 1) * self.width];
        let mut x = 0;
        std::iter::from_fn(move || {
            let start = x + row[x..].iter().position(|&dark| dark)?;
            let len = row[start..].iter().take_while(|&&dark| dark).count();
            x = start + len;
            Some((start, len))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qr(
        payload: &str,
        module_size: u8,
        level: ErrorLevel,
        width_dots: u16,
    ) -> Result<Qr, Problem> {
        Qr::new(payload.to_owned(), module_size, level, width_dots)
    }

    #[test]
    fn module_size_must_be_between_one_and_sixteen() {
        assert_eq!(
            qr("a", 0, ErrorLevel::M, 384),
            Err(Problem::ModuleSizeOutOfRange(0))
        );
        assert_eq!(
            qr("a", 17, ErrorLevel::M, 384),
            Err(Problem::ModuleSizeOutOfRange(17))
        );
        assert!(qr("a", 16, ErrorLevel::M, 384).is_ok());
    }

    #[test]
    fn payload_must_be_non_empty_ascii() {
        assert_eq!(qr("", 4, ErrorLevel::M, 384), Err(Problem::EmptyQrPayload));
        assert_eq!(
            qr("https://例.jp", 4, ErrorLevel::M, 384),
            Err(Problem::NonAsciiQrPayload('例'))
        );
    }

    #[test]
    fn payload_must_fit_the_error_level() {
        // Version 40 holds 2953 bytes at level L and 1273 at level H.
        let payload = "a".repeat(1300);
        assert!(qr(&payload, 1, ErrorLevel::L, u16::MAX).is_ok());
        let problem = Problem::QrPayloadTooLong {
            bytes: 1300,
            level: ErrorLevel::H,
        };
        assert_eq!(qr(&payload, 1, ErrorLevel::H, u16::MAX), Err(problem));
    }

    #[test]
    fn symbol_must_fit_the_sheet() {
        // A 25-character URL at level M is a version 2 symbol: 25 modules.
        let payload = "https://example.com/i/123";
        assert_eq!(qr(payload, 15, ErrorLevel::M, 384).unwrap().width, 25);
        let problem = Problem::QrWiderThanSheet {
            dots: 400,
            width_dots: 384,
        };
        assert_eq!(qr(payload, 16, ErrorLevel::M, 384), Err(problem));
    }

    #[test]
    fn dark_runs_cover_exactly_the_dark_modules() {
        let qr = qr("https://example.com", 4, ErrorLevel::M, 384).unwrap();
        for y in 0..qr.width {
            let mut row = vec![false; qr.width];
            for (start, len) in qr.dark_runs(y) {
                row[start..start + len].iter_mut().for_each(|m| *m = true);
            }
            assert_eq!(row, qr.modules[y * qr.width..(y + 1) * qr.width]);
        }
        // The finder pattern starts every symbol with seven dark modules.
        assert_eq!(qr.dark_runs(0).next(), Some((0, 7)));
    }
}
