//! Raw tar streams written block by block, hostile ones included: headers whose size field,
//! type flag and name are exactly what a test asks for, pax records that contradict them,
//! long-name entries declaring gigabytes. The readers' tests (pkg-deb, pkg-tar) and their
//! bounded fuzzing build their inputs here, so one crafting mechanism serves every tar reader.

const BLOCK: usize = 512;

/// A tar stream being written. Every header is a GNU header (`ustar  \0`), the format tar
/// parsers honour long names and pax records in.
#[derive(Debug, Clone, Default)]
pub struct RawTar {
    bytes: Vec<u8>,
}

impl RawTar {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header of type `kind` for `name` declaring `size` bytes, then `data` padded
    /// to whole blocks. `data` need not be `size` bytes long: that is how a header lies.
    pub fn entry(mut self, kind: u8, name: &str, size: u64, data: &[u8]) -> Self {
        self.bytes.extend(header(kind, name, "", size));
        self.push_data(data);
        self
    }

    /// A regular file holding `data`.
    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(b'0', name, data.len() as u64, data)
    }

    /// A directory.
    pub fn dir(self, name: &str) -> Self {
        self.entry(b'5', name, 0, &[])
    }

    /// A symbolic link to `target`.
    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        self.bytes.extend(header(b'2', name, target, 0));
        self
    }

    /// A pax extended header (`x`) holding `records` (`(key, value)`, lengths computed).
    pub fn pax(self, records: &[(&str, &str)]) -> Self {
        let data = pax_records(records);
        self.entry(b'x', "././@PaxHeader", data.len() as u64, &data)
    }

    /// A GNU long-name entry (`L`) declaring `size` bytes and holding `data`.
    pub fn long_name(self, size: u64, data: &[u8]) -> Self {
        self.entry(b'L', "././@LongLink", size, data)
    }

    /// Raw bytes, appended as they are (a block a header's lie hides, say).
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.bytes.extend(bytes);
        self
    }

    /// The stream with its two end-of-archive blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend([0; 2 * BLOCK]);
        self.bytes
    }

    /// The stream as it is, without end-of-archive blocks.
    pub fn unfinished(self) -> Vec<u8> {
        self.bytes
    }

    fn push_data(&mut self, data: &[u8]) {
        self.bytes.extend(data);
        self.bytes
            .extend(vec![0; (BLOCK - data.len() % BLOCK) % BLOCK]);
    }
}

/// One GNU header block: `kind`, `name` and `link` (each cut to 100 bytes), mode 0644 (0755
/// for directories), uid/gid 0, mtime 1, `size` in octal (base-256 above 8 GiB, as GNU tar
/// writes it), checksum filled in.
pub fn header(kind: u8, name: &str, link: &str, size: u64) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let put = |h: &mut [u8; BLOCK], at: usize, len: usize, value: &[u8]| {
        let n = value.len().min(len);
        h[at..at + n].copy_from_slice(&value[..n]);
    };
    put(&mut h, 0, 100, name.as_bytes());
    let mode = if kind == b'5' {
        "0000755\0"
    } else {
        "0000644\0"
    };
    put(&mut h, 100, 8, mode.as_bytes());
    put(&mut h, 108, 8, b"0000000\0");
    put(&mut h, 116, 8, b"0000000\0");
    if size < 8 << 30 {
        put(&mut h, 124, 12, format!("{size:011o}\0").as_bytes());
    } else {
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    put(&mut h, 136, 12, b"00000000001\0");
    h[156] = kind;
    put(&mut h, 157, 100, link.as_bytes());
    put(&mut h, 257, 8, b"ustar  \0");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, 8, format!("{sum:06o}\0 ").as_bytes());
    h
}

/// pax records `"<len> <key>=<value>\n"`, each length counting itself.
pub fn pax_records(records: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let body = key.len() + value.len() + 3;
        let mut len = body + body.to_string().len();
        if len.to_string().len() != body.to_string().len() {
            len += 1;
        }
        out.extend(format!("{len} {key}={value}\n").as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lengths_count_themselves() {
        assert_eq!(pax_records(&[("size", "0")]), b"9 size=0\n");
        let long = "a".repeat(95);
        let record = pax_records(&[("path", &long)]);
        assert_eq!(
            record.len().to_string(),
            String::from_utf8_lossy(&record[..3])
        );
    }

    #[test]
    fn headers_checksum() {
        let h = header(b'0', "a", "", 3);
        let mut blank = h;
        blank[148..156].fill(b' ');
        let sum: u32 = blank.iter().map(|&b| u32::from(b)).sum();
        let text = String::from_utf8_lossy(&h[148..154]).into_owned();
        assert_eq!(u32::from_str_radix(&text, 8).ok(), Some(sum));
    }
}
