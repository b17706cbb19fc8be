//! Images: registered once, served for ever at a URL that changes with their bytes, resized,
//! cropped and encoded on request, in the format each client takes.
//!
//! [`transform`] turns query parameters into a checked [`transform::TransformSpec`] and
//! resolves it against a picture into one rendition; [`negotiate`] picks the format a client's
//! `Accept` prefers; [`codec`] probes, decodes, resizes and encodes; [`keys`] names versions
//! and objects.

pub mod codec;
pub mod keys;
pub mod negotiate;
pub mod transform;
