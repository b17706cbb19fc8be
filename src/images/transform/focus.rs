//! The point a `cover` crop keeps in view, as hundredths of the picture's width and height:
//! coarse enough that URLs cannot ask for thousands of crops of one picture, fine enough that
//! nobody sees the difference.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{SpecError, shown};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Focus {
    x: u8,
    y: u8,
}

impl Focus {
    pub const CENTRE: Focus = Focus { x: 50, y: 50 };

    /// From fractions of the width and height, each clamped to 0..=1 and rounded to hundredths.
    pub fn at(x: f64, y: f64) -> Focus {
        let hundredths = |v: f64| {
            if v.is_finite() {
                (v.clamp(0.0, 1.0) * 100.0).round() as u8
            } else {
                50
            }
        };
        Focus {
            x: hundredths(x),
            y: hundredths(y),
        }
    }

    /// From hundredths as stored; `None` past 100.
    pub fn from_hundredths(x: i32, y: i32) -> Option<Focus> {
        let part = |v: i32| u8::try_from(v).ok().filter(|&v| v <= 100);
        Some(Focus {
            x: part(x)?,
            y: part(y)?,
        })
    }

    pub fn hundredths(self) -> (u8, u8) {
        (self.x, self.y)
    }

    pub fn x(self) -> f64 {
        f64::from(self.x) / 100.0
    }

    pub fn y(self) -> f64 {
        f64::from(self.y) / 100.0
    }

    /// `fp=x,y`: two numbers from 0 to 1 with at most two decimals (`0.3,0.25`).
    pub fn parse(value: &str) -> Result<Focus, SpecError> {
        let error = || SpecError::Focus(shown(value));
        let (x, y) = value.split_once(',').ok_or_else(error)?;
        let part = |text: &str| -> Option<u8> {
            let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
            let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
            if !matches!(whole, "0" | "1") || fraction.len() > 2 || !digits(fraction) {
                return None;
            }
            let hundredths =
                whole.parse::<u8>().ok()? * 100 + format!("{fraction:0<2}").parse::<u8>().ok()?;
            (hundredths <= 100).then_some(hundredths)
        };
        Ok(Focus {
            x: part(x).ok_or_else(error)?,
            y: part(y).ok_or_else(error)?,
        })
    }

    /// Where a window `share` of a side long starts (as a fraction of the side) so that it is
    /// centred on `at` (a fraction) as nearly as the picture's edges allow.
    pub fn start(at: f64, share: f64) -> f64 {
        (at - share / 2.0).clamp(0.0, (1.0 - share).max(0.0))
    }
}

/// As written in a URL and in a rendition's name: `0.3,0.25`.
impl fmt::Display for Focus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = |v: u8| match v {
            0 => "0".to_string(),
            100 => "1".to_string(),
            v if v % 10 == 0 => format!("0.{}", v / 10),
            v => format!("0.{v:02}"),
        };
        write!(f, "{},{}", part(self.x), part(self.y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_focus_parses_at_and_past_its_bounds() {
        for (text, shown) in [
            ("0,0", "0,0"),
            ("1,1", "1,1"),
            ("0.5,0.25", "0.5,0.25"),
            ("0.50,1.0", "0.5,1"),
            ("1.00,0.07", "1,0.07"),
        ] {
            assert_eq!(Focus::parse(text).unwrap().to_string(), shown, "{text}");
        }
        for bad in [
            "",
            "0.5",
            "0.5,",
            ",0.5",
            "1.01,0",
            "2,0",
            "-0.1,0",
            "0.125,0",
            "a,b",
            "0.5,0.5,0.5",
            " 0.5,0.5",
            ".5,.5",
            "00.5,0",
        ] {
            assert!(
                matches!(Focus::parse(bad), Err(SpecError::Focus(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn fractions_round_to_hundredths_and_stay_in_the_picture() {
        assert_eq!(Focus::at(0.333, 0.666).hundredths(), (33, 67));
        assert_eq!(Focus::at(-3.0, 7.0).hundredths(), (0, 100));
        assert_eq!(Focus::at(f64::NAN, 0.2).hundredths(), (50, 20));
        assert_eq!(Focus::from_hundredths(100, 0), Some(Focus::at(1.0, 0.0)));
        assert_eq!(Focus::from_hundredths(101, 0), None);
        assert_eq!(Focus::from_hundredths(-1, 0), None);
    }

    #[test]
    fn a_window_centres_on_the_focus_until_an_edge_stops_it() {
        assert_eq!(Focus::start(0.5, 0.5), 0.25);
        assert_eq!(Focus::start(0.1, 0.5), 0.0);
        assert_eq!(Focus::start(0.9, 0.5), 0.5);
        assert_eq!(Focus::start(0.3, 1.0), 0.0);
    }
}
