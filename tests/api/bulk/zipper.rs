//! ZIP archives written for the tests, byte by byte, so that every shape a seller's zipper can
//! produce (and a few no honest one does) is at hand: stored or deflated entries, data
//! descriptors, ZIP64 records, CP932 or decomposed names, the Unicode Path field, the
//! encryption flag, sizes that lie.

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;

#[derive(Clone, Default)]
pub struct Entry {
    pub name: Vec<u8>,
    pub data: Vec<u8>,
    pub deflate: bool,
    /// Sets the UTF-8 flag (bit 11).
    pub utf8: bool,
    pub encrypted: bool,
    /// The uncompressed size the directory claims, when it lies.
    pub claimed_size: Option<u64>,
    /// An Info-ZIP Unicode Path field naming the entry.
    pub unicode_path: Option<String>,
}

impl Entry {
    pub fn new(name: &str, data: Vec<u8>) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            data,
            deflate: true,
            utf8: !name.is_ascii(),
            ..Entry::default()
        }
    }
}

#[derive(Clone, Default)]
pub struct Zip {
    pub entries: Vec<Entry>,
    /// Sizes and offsets after the data (as zippers that stream write them).
    pub descriptors: bool,
    /// ZIP64 records throughout, as a zipper writes past 4 GB or 65,535 entries.
    pub zip64: bool,
}

impl Zip {
    pub fn of(entries: Vec<Entry>) -> Zip {
        Zip {
            entries,
            ..Zip::default()
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for entry in &self.entries {
            let offset = out.len() as u64;
            let packed = if entry.deflate {
                let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
                encoder.write_all(&entry.data).unwrap();
                encoder.finish().unwrap()
            } else {
                entry.data.clone()
            };
            let crc = crc32fast::hash(&entry.data);
            let size = entry.claimed_size.unwrap_or(entry.data.len() as u64);
            let method: u16 = if entry.deflate { 8 } else { 0 };
            let mut flags = 0u16;
            if entry.utf8 {
                flags |= 0x0800;
            }
            if entry.encrypted {
                flags |= 0x0001;
            }
            if self.descriptors {
                flags |= 0x0008;
            }
            let saturated = u32::MAX;
            let small = |n: u64| if self.zip64 { saturated } else { n as u32 };
            // Local header.
            let mut local_extra = Vec::new();
            if self.zip64 {
                local_extra.extend(1u16.to_le_bytes());
                local_extra.extend(16u16.to_le_bytes());
                local_extra.extend(if self.descriptors { 0 } else { size }.to_le_bytes());
                local_extra.extend(
                    if self.descriptors {
                        0
                    } else {
                        packed.len() as u64
                    }
                    .to_le_bytes(),
                );
            }
            out.extend(0x0403_4b50u32.to_le_bytes());
            out.extend(if self.zip64 { 45u16 } else { 20u16 }.to_le_bytes());
            out.extend(flags.to_le_bytes());
            out.extend(method.to_le_bytes());
            out.extend([0u8; 4]); // time and date
            if self.descriptors {
                out.extend([0u8; 4]);
                out.extend(small(0).to_le_bytes());
                out.extend(small(0).to_le_bytes());
            } else {
                out.extend(crc.to_le_bytes());
                out.extend(small(packed.len() as u64).to_le_bytes());
                out.extend(small(size).to_le_bytes());
            }
            out.extend((entry.name.len() as u16).to_le_bytes());
            out.extend((local_extra.len() as u16).to_le_bytes());
            out.extend(&entry.name);
            out.extend(&local_extra);
            out.extend(&packed);
            if self.descriptors {
                out.extend(0x0807_4b50u32.to_le_bytes());
                out.extend(crc.to_le_bytes());
                if self.zip64 {
                    out.extend((packed.len() as u64).to_le_bytes());
                    out.extend(size.to_le_bytes());
                } else {
                    out.extend((packed.len() as u32).to_le_bytes());
                    out.extend((size as u32).to_le_bytes());
                }
            }
            // Central directory record.
            let mut extra = Vec::new();
            if self.zip64 {
                extra.extend(1u16.to_le_bytes());
                extra.extend(24u16.to_le_bytes());
                extra.extend(size.to_le_bytes());
                extra.extend((packed.len() as u64).to_le_bytes());
                extra.extend(offset.to_le_bytes());
            }
            if let Some(path) = &entry.unicode_path {
                extra.extend(0x7075u16.to_le_bytes());
                extra.extend(((5 + path.len()) as u16).to_le_bytes());
                extra.push(1);
                extra.extend(crc32fast::hash(&entry.name).to_le_bytes());
                extra.extend(path.as_bytes());
            }
            central.extend(0x0201_4b50u32.to_le_bytes());
            central.extend(0x031eu16.to_le_bytes()); // made by Unix
            central.extend(if self.zip64 { 45u16 } else { 20u16 }.to_le_bytes());
            central.extend(flags.to_le_bytes());
            central.extend(method.to_le_bytes());
            central.extend([0u8; 4]);
            central.extend(crc.to_le_bytes());
            central.extend(small(packed.len() as u64).to_le_bytes());
            central.extend(small(size).to_le_bytes());
            central.extend((entry.name.len() as u16).to_le_bytes());
            central.extend((extra.len() as u16).to_le_bytes());
            central.extend(0u16.to_le_bytes()); // comment
            central.extend(0u16.to_le_bytes()); // disk
            central.extend(0u16.to_le_bytes()); // internal attributes
            let directory_bit = if entry.name.ends_with(b"/") { 0x10 } else { 0 };
            central.extend((directory_bit as u32).to_le_bytes());
            central.extend(small(offset).to_le_bytes());
            central.extend(&entry.name);
            central.extend(&extra);
        }
        let directory_offset = out.len() as u64;
        let count = self.entries.len() as u64;
        out.extend(&central);
        if self.zip64 {
            let record = out.len() as u64;
            out.extend(0x0606_4b50u32.to_le_bytes());
            out.extend(44u64.to_le_bytes());
            out.extend(45u16.to_le_bytes());
            out.extend(45u16.to_le_bytes());
            out.extend(0u32.to_le_bytes());
            out.extend(0u32.to_le_bytes());
            out.extend(count.to_le_bytes());
            out.extend(count.to_le_bytes());
            out.extend((central.len() as u64).to_le_bytes());
            out.extend(directory_offset.to_le_bytes());
            out.extend(0x0706_4b50u32.to_le_bytes());
            out.extend(0u32.to_le_bytes());
            out.extend(record.to_le_bytes());
            out.extend(1u32.to_le_bytes());
        }
        let (count16, size32, offset32) = if self.zip64 {
            (u16::MAX, u32::MAX, u32::MAX)
        } else {
            (count as u16, central.len() as u32, directory_offset as u32)
        };
        out.extend(0x0605_4b50u32.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(count16.to_le_bytes());
        out.extend(count16.to_le_bytes());
        out.extend(size32.to_le_bytes());
        out.extend(offset32.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }
}
