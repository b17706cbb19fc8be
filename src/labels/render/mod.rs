pub(crate) mod escpos;
pub(crate) mod html;
pub(crate) mod pdf;
pub(crate) mod text;
