//! `sous classify-dir DIR`: the decision for every photo in a folder, through the same decoding,
//! preprocessing and model as the pipeline; when the folder has `food/` and `nonfood/`
//! subfolders, how often the decisions match them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::job::prepare;
use super::model::Classifier;
use super::preprocess::Preprocessed;
use crate::images::codec::Limits;

/// Photos per forward pass.
const BATCH: usize = 8;

/// How the decisions compare with the folders they came from.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub true_positives: usize,
    pub false_positives: usize,
    pub true_negatives: usize,
    pub false_negatives: usize,
    /// Files that are not photos sous can decode.
    pub unreadable: usize,
}

impl Summary {
    pub fn total(&self) -> usize {
        self.true_positives + self.false_positives + self.true_negatives + self.false_negatives
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.true_positives + self.true_negatives, self.total())
    }

    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    fn count(&mut self, decided_food: bool, is_food: bool) {
        match (decided_food, is_food) {
            (true, true) => self.true_positives += 1,
            (true, false) => self.false_positives += 1,
            (false, false) => self.true_negatives += 1,
            (false, true) => self.false_negatives += 1,
        }
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The photos of `dir` with what each is known to be: by subfolder when it has `food/` and
/// `nonfood/`, else unknown. Sorted, so runs compare line by line.
fn photos(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Option<bool>)>> {
    let (food, nonfood) = (dir.join("food"), dir.join("nonfood"));
    let folders = if food.is_dir() && nonfood.is_dir() {
        vec![(food, Some(true)), (nonfood, Some(false))]
    } else {
        vec![(dir.to_path_buf(), None)]
    };
    let mut photos = Vec::new();
    for (folder, label) in folders {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read {}", folder.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        photos.extend(files.into_iter().map(|path| (path, label)));
    }
    Ok(photos)
}

/// Classifies every photo of `dir`, printing a line per photo and, for labelled folders, a
/// summary.
pub fn classify_dir(
    classifier: &Classifier,
    dir: &Path,
    limits: &Limits,
    out: &mut impl Write,
) -> anyhow::Result<Summary> {
    let config = classifier.config();
    let mut summary = Summary::default();
    let photos = photos(dir)?;
    for chunk in photos.chunks(BATCH) {
        let mut inputs: Vec<Preprocessed> = Vec::with_capacity(chunk.len());
        let mut readable = Vec::with_capacity(chunk.len());
        for (path, label) in chunk {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            match prepare(&bytes, limits, &config.input) {
                Ok(input) => {
                    inputs.push(input);
                    readable.push((path, *label));
                }
                Err(error) => {
                    summary.unreadable += 1;
                    writeln!(out, "    -  unreadable  {}: {error}", path.display())?;
                }
            }
        }
        if inputs.is_empty() {
            continue;
        }
        let scores = classifier.food_probabilities(&inputs)?;
        for ((path, label), score) in readable.into_iter().zip(scores) {
            let decided_food = score >= config.threshold;
            let decision = if decided_food { "food" } else { "not food" };
            let mark = match label {
                Some(is_food) if is_food != decided_food => "  (wrong)",
                _ => "",
            };
            writeln!(out, "{score:.3}  {decision:<8}  {}{mark}", path.display())?;
            if let Some(is_food) = label {
                summary.count(decided_food, is_food);
            }
        }
    }
    if summary.total() > 0 {
        writeln!(
            out,
            "\n{} photos ({} food, {} not food), model {} {}, threshold {}: \
             accuracy {:.3}, precision {:.3}, recall {:.3} \
             (true positives {}, false positives {}, true negatives {}, false negatives {})",
            summary.total(),
            summary.true_positives + summary.false_negatives,
            summary.true_negatives + summary.false_positives,
            config.name,
            config.version,
            config.threshold,
            summary.accuracy(),
            summary.precision(),
            summary.recall(),
            summary.true_positives,
            summary.false_positives,
            summary.true_negatives,
            summary.false_negatives,
        )?;
    }
    if summary.unreadable > 0 {
        writeln!(
            out,
            "{} files could not be read as photos",
            summary.unreadable
        )?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_of_a_confusion_matrix() {
        let mut summary = Summary::default();
        for (decided, truth) in [(true, true), (true, true), (true, false), (false, true)] {
            summary.count(decided, truth);
        }
        summary.count(false, false);
        assert_eq!(summary.total(), 5);
        assert!((summary.accuracy() - 0.6).abs() < 1e-9);
        assert!((summary.precision() - 2.0 / 3.0).abs() < 1e-9);
        assert!((summary.recall() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(Summary::default().precision(), 0.0);
    }
}
