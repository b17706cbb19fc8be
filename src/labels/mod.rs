//! Labels (draft).

mod builder;
pub mod element;
mod layout;
mod sjis;
mod tree;

pub use builder::{LabelBuilder, Paper};
pub use element::{Alignment, CutKind, Element, ErrorLevel};
pub use sjis::Substitution;
pub use tree::{ElementPath, InvalidTree, LabelTree, Problem};
