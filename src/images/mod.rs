//! Images: registered once, served for ever at a URL that changes with their bytes, resized,
//! cropped and encoded on request, in the format each client takes.
//!
//! This is the request side: [`transform`] turns query parameters into a checked
//! [`transform::TransformSpec`] and resolves it against a picture into one rendition;
//! [`negotiate`] picks the format a client's `Accept` prefers.

pub mod negotiate;
pub mod transform;
