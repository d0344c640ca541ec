//! Header signatures made by core's [`Signer`], in place or by rewriting the file.
//!
//! The `rpm` crate's own signing needs its `signature-pgp` feature, which brings a second
//! `pgp` version; its `signature-meta` feature alone does not compile (rpm 0.30.2). So this
//! module writes the signature header itself with the crate's public header types: every
//! digest of the unsigned header is kept, and the OpenPGP signature of the main header goes
//! into `RSAHEADER` (RSA) or `DSAHEADER` (DSA, ECDSA, EdDSA), the tags rpm 4.x reads.

use std::fs;
use std::io::{self, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

use falco_artifacts_core::Signer;
use rpm::{Header, HeaderEntry, IndexData, IndexSignatureTag, IndexTag, PackageMetadata};

use crate::read::parse_headers;
use crate::RpmError;

const TAG_DSA: u32 = IndexSignatureTag::RPMSIGTAG_DSA as u32;
const TAG_RSA: u32 = IndexSignatureTag::RPMSIGTAG_RSA as u32;
const TAG_PGP: u32 = IndexSignatureTag::RPMSIGTAG_PGP as u32;
const TAG_GPG: u32 = IndexSignatureTag::RPMSIGTAG_GPG as u32;
/// `RPMSIGTAG_PGP5`, which the `rpm` crate does not name.
const TAG_PGP5: u32 = 1006;
const TAG_OPENPGP: u32 = IndexSignatureTag::RPMSIGTAG_OPENPGP as u32;
const TAG_RESERVED: u32 = IndexSignatureTag::RPMSIGTAG_RESERVEDSPACE as u32;
const TAG_RESERVED_V6: u32 = IndexSignatureTag::RPMSIGTAG_RESERVED as u32;
const TAG_REGION: u32 = IndexSignatureTag::HEADER_SIGNATURES as u32;
const LEAD_SIZE: u64 = 96;
/// What rpmsign reserves, and what the `rpm` crate reserves when it builds.
const DEFAULT_RESERVED: usize = 4128;

/// The signature tags a new signature replaces: every older OpenPGP signature, whether over
/// the header alone or over header and payload, and the reserved space that is recomputed.
fn is_replaced(tag: u32) -> bool {
    matches!(
        tag,
        TAG_DSA
            | TAG_RSA
            | TAG_PGP
            | TAG_GPG
            | TAG_PGP5
            | TAG_OPENPGP
            | TAG_RESERVED
            | TAG_RESERVED_V6
            | TAG_REGION
    )
}

/// Which legacy tag rpm expects the signature in, from the OpenPGP signature packet; refuses
/// anything but one v4 signature packet with a SHA-2 hash.
fn signature_tag(packet: &[u8]) -> Result<u32, RpmError> {
    let bad = |why| RpmError::BadSignature { why };
    let first = *packet.first().ok_or(bad("it is empty"))?;
    if first & 0x80 == 0 {
        return Err(bad("it does not start with an OpenPGP packet header"));
    }
    let (tag, body_offset) = if first & 0x40 != 0 {
        let len0 = *packet.get(1).ok_or(bad("it is truncated"))?;
        let len_bytes = match len0 {
            0..=191 => 1,
            192..=223 => 2,
            255 => 5,
            _ => return Err(bad("it uses a partial body length")),
        };
        (first & 0x3f, 1 + len_bytes)
    } else {
        let len_bytes = match first & 0x03 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => return Err(bad("it has an indeterminate length")),
        };
        ((first >> 2) & 0x0f, 1 + len_bytes)
    };
    if tag != 2 {
        return Err(bad("the packet is not a signature packet"));
    }
    let body = packet.get(body_offset..).ok_or(bad("it is truncated"))?;
    let (pk_algo, hash_algo) = match body {
        [4, _sig_type, pk, hash, ..] => (*pk, *hash),
        _ => return Err(bad("it is not a version 4 signature")),
    };
    // 8 = SHA-256, 9 = SHA-384, 10 = SHA-512, 11 = SHA-224: FIPS and EL9 reject SHA-1 (2).
    if !matches!(hash_algo, 8..=11) {
        return Err(bad("its hash is not SHA-2"));
    }
    match pk_algo {
        1 | 3 => Ok(TAG_RSA),
        17 | 19 | 22 | 27 | 28 => Ok(TAG_DSA),
        _ => Err(bad("its public-key algorithm is not one rpm verifies")),
    }
}

/// The on-disk size of a signature header, padding included.
fn padded_size(lead: &rpm::Lead, sig: &Header<IndexSignatureTag>) -> u64 {
    let meta = PackageMetadata {
        lead: lead.clone(),
        signature: sig.clone(),
        header: Header::<IndexTag>::from_entries(Vec::new(), IndexTag::RPMTAG_HEADERIMMUTABLE),
    };
    meta.get_package_segment_offsets().header - LEAD_SIZE
}

/// A signature header with `signature` in place of any older one, the other entries of
/// `old` kept, and reserved space so that it occupies `target` bytes when that is possible
/// (otherwise the default reservation).
fn new_signature_header(
    lead: &rpm::Lead,
    old: &Header<IndexSignatureTag>,
    signature: Vec<u8>,
    target: u64,
) -> Result<Header<IndexSignatureTag>, RpmError> {
    let tag = signature_tag(&signature)?;
    let kept: Vec<HeaderEntry> = old
        .get_all_entries()
        .map_err(|source| RpmError::Header {
            field: "signature header",
            source,
        })?
        .into_iter()
        .filter(|(t, _)| !is_replaced(*t))
        .map(|(t, data)| HeaderEntry::new(t, data))
        .collect();
    let with_reserved = |reserved: usize| {
        let mut entries = kept.clone();
        entries.push(HeaderEntry::new(tag, IndexData::Bin(signature.clone())));
        entries.push(HeaderEntry::new(
            TAG_RESERVED,
            IndexData::Bin(vec![0; reserved]),
        ));
        Header::from_entries(entries, IndexSignatureTag::HEADER_SIGNATURES)
    };
    // The unpadded size grows byte for byte with the reserved space, so the smallest
    // reservation r (1..=8) after which the padded size jumps tells the unpadded base size.
    let first = padded_size(lead, &with_reserved(1));
    let mut fit = 1;
    for r in 2..=8 {
        if padded_size(lead, &with_reserved(r)) == first {
            fit = r;
        } else {
            break;
        }
    }
    let base = first - fit as u64;
    let reserved = match target.checked_sub(base) {
        Some(r) if r >= 1 => usize::try_from(r).unwrap_or(DEFAULT_RESERVED),
        _ => DEFAULT_RESERVED,
    };
    Ok(with_reserved(reserved))
}

pub(crate) fn sign_header(signer: &dyn Signer, header: &[u8]) -> Result<Vec<u8>, RpmError> {
    signer
        .sign_detached(&mut io::Cursor::new(header))
        .map_err(RpmError::Sign)
}

/// Signs the headers of a package being built, keeping the signature header's size when it
/// can.
pub(crate) fn sign_metadata(
    meta: &mut PackageMetadata,
    signer: &dyn Signer,
) -> Result<(), RpmError> {
    let header = meta.header_bytes().map_err(RpmError::Write)?;
    let signature = sign_header(signer, &header)?;
    let target = padded_size(&meta.lead, &meta.signature);
    meta.signature = new_signature_header(&meta.lead, &meta.signature, signature, target)?;
    Ok(())
}

/// Signs (or re-signs, e.g. to rotate keys) an `.rpm` file without rebuilding it.
///
/// The header and payload are not touched, so every digest stays valid. When the new signature
/// header fits in the old one's space (the reserved space rpm and this crate leave for it), only
/// those bytes are overwritten; otherwise the file is rewritten through a temporary file in the
/// same directory and renamed over the original.
pub fn resign_file(path: &Path, signer: &dyn Signer) -> Result<(), RpmError> {
    let file = fs::File::open(path).map_err(|e| RpmError::io("open", path, e))?;
    let (meta, raw) = parse_headers(&mut BufReader::new(file), &path.display().to_string())?;
    let (header_start, header_end) = (raw.header_start, raw.header_end());
    // Sign the header bytes exactly as they are in the file.
    let header = raw
        .bytes
        .get(header_start as usize..)
        .unwrap_or_default()
        .to_vec();
    let old_size = header_start - LEAD_SIZE;
    let signature = sign_header(signer, &header)?;
    let sig = new_signature_header(&meta.lead, &meta.signature, signature, old_size)?;
    let new_size = padded_size(&meta.lead, &sig);
    let new_meta = PackageMetadata {
        lead: meta.lead.clone(),
        signature: sig,
        header: meta.header.clone(),
    };
    let mut serialized = Vec::new();
    new_meta.write(&mut serialized).map_err(RpmError::Write)?;
    let sig_bytes = serialized
        .get(LEAD_SIZE as usize..(LEAD_SIZE + new_size) as usize)
        .ok_or(RpmError::BadSignature {
            why: "the signature header could not be laid out",
        })?;
    if new_size == old_size {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| RpmError::io("open for writing", path, e))?;
        file.seek(SeekFrom::Start(LEAD_SIZE))
            .and_then(|_| file.write_all(sig_bytes))
            .and_then(|()| file.sync_all())
            .map_err(|e| RpmError::io("write", path, e))?;
        return Ok(());
    }
    let lead = raw.bytes.get(..LEAD_SIZE as usize).unwrap_or_default();
    let prefix = [lead, sig_bytes, &header].concat();
    rewrite_with_prefix(path, &prefix, header_end)
}

fn rewrite_with_prefix(path: &Path, prefix: &[u8], payload_start: u64) -> Result<(), RpmError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile_in(dir, path)?;
    let mut old = fs::File::open(path).map_err(|e| RpmError::io("open", path, e))?;
    old.seek(SeekFrom::Start(payload_start))
        .map_err(|e| RpmError::io("read", path, e))?;
    let (tmp_path, file) = (&tmp.0, &mut tmp.1);
    let permissions = old
        .metadata()
        .map_err(|e| RpmError::io("inspect", path, e))?
        .permissions();
    let written = file
        .set_permissions(permissions)
        .and_then(|()| file.write_all(prefix))
        .and_then(|()| io::copy(&mut old, file).map(drop))
        .and_then(|()| file.sync_all())
        .map_err(|e| RpmError::io("write", tmp_path, e))
        .and_then(|()| {
            fs::rename(tmp_path, path).map_err(|e| RpmError::io("rename over", path, e))
        });
    if written.is_err() {
        // The original is untouched; do not leave the half-written copy behind.
        let _ = fs::remove_file(tmp_path);
    }
    written
}

fn tempfile_in(dir: &Path, path: &Path) -> Result<(std::path::PathBuf, fs::File), RpmError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.resign-{}", std::process::id()));
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| RpmError::io("create", &tmp, e))?;
    Ok((tmp, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_legacy_tag_and_refuses_sha1() {
        // new-format header, length 10, v4, binary, RSA, SHA-256
        assert_eq!(signature_tag(&[0xc2, 10, 4, 0, 1, 8]).unwrap(), TAG_RSA);
        // old-format header (tag 2, one length byte), EdDSA legacy, SHA-512
        assert_eq!(signature_tag(&[0x88, 10, 4, 0, 22, 10]).unwrap(), TAG_DSA);
        for bad in [
            &[][..],
            &[0x00],
            &[0xc2],
            &[0xc2, 10, 4, 0, 1, 2],
            &[0xc6, 3, 4, 0, 1, 8],
            &[0xc2, 3, 3, 0],
        ] {
            assert!(signature_tag(bad).is_err(), "{bad:?}");
        }
    }
}
