//! Building a `.deb` from a [`PackageSpec`]: the builder, the checked package plan, and the ar
//! assembly.
//!
//! `ar` states every member's size before its bytes, and `data.tar.*` is only known once it is
//! compressed. The compressed `data.tar` therefore goes to an anonymous temporary file (in the
//! output directory when there is one, so the final copy stays on one file system and the
//! kernel does it with `copy_file_range`), and `control.tar` (a few KiB of text, the md5sums
//! included) is built in memory. Compressing twice to learn the size first would double the
//! CPU time, the dominant cost; a temporary file costs one sequential copy.

mod control;
mod data;
mod feed;
mod tar;

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use falco_artifacts_core::package::{Format, PackageSpec, Script};

use crate::compression::{Compression, Encoder};
use crate::error::BuildError;
use data::Plan;
use tar::{Meta, TarWriter};

/// The largest member an ar header can state: ten decimal digits.
pub const AR_MAX_MEMBER_SIZE: u64 = 9_999_999_999;

/// Configures how a [`PackageSpec`] becomes a `.deb`.
///
/// Required: the description, in [`DebBuilder::new`]. Everything else has a default:
/// gzip 9 for both archives (what `dpkg-deb` writes, readable by every dpkg), every core,
/// the system temporary directory (or the output directory with [`Deb::write_to_dir`]).
#[derive(Debug, Clone)]
pub struct DebBuilder<'a> {
    spec: &'a PackageSpec,
    compression: Compression,
    control_compression: Compression,
    threads: Option<u32>,
    temp_dir: Option<PathBuf>,
    preinst: Option<Script>,
}

impl<'a> DebBuilder<'a> {
    /// A builder for `spec`.
    pub fn new(spec: &'a PackageSpec) -> Self {
        DebBuilder {
            spec,
            compression: Compression::default(),
            control_compression: Compression::default(),
            threads: None,
            temp_dir: None,
            preinst: None,
        }
    }

    /// Compression of `data.tar` (default gzip 9).
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Compression of `control.tar` (default gzip 9: dpkg before 1.21.18 reads no zstd).
    pub fn with_control_compression(mut self, compression: Compression) -> Self {
        self.control_compression = compression;
        self
    }

    /// Compression threads (default: every core). The output does not depend on it.
    pub fn with_threads(mut self, threads: u32) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// Where the compressed `data.tar` waits before it is copied into the package.
    pub fn with_temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.temp_dir = Some(dir.into());
        self
    }

    /// A `preinst` script, replacing the description's `pre_install` for this package.
    pub fn with_preinst(mut self, script: Script) -> Self {
        self.preinst = Some(script);
        self
    }

    /// Checks the description and the options, sizes the payload and renders `control`.
    pub fn build(self) -> Result<Deb<'a>, BuildError> {
        self.spec.validate().map_err(BuildError::Spec)?;
        for compression in [self.compression, self.control_compression] {
            if !compression.level_ok() {
                let levels = compression.codec.levels();
                return Err(BuildError::Level {
                    codec: compression.codec,
                    level: compression.level,
                    min: *levels.start(),
                    max: *levels.end(),
                });
            }
        }
        let plan = Plan::new(self.spec)?;
        let control = control::render(self.spec, plan.installed_size_kib())?;
        let scripts = &self.spec.scripts;
        let scripts = [
            ("postinst", scripts.post_install.as_ref()),
            ("postrm", scripts.post_remove.as_ref()),
            (
                "preinst",
                self.preinst.as_ref().or(scripts.pre_install.as_ref()),
            ),
            ("prerm", scripts.pre_remove.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, script)| script.map(|s| (name, script_text(s))))
        .collect();
        let threads = self
            .threads
            .unwrap_or_else(falco_artifacts_core::compress::available_threads);
        Ok(Deb {
            spec: self.spec,
            conffiles: plan.conffiles(),
            plan,
            control,
            scripts,
            compression: self.compression,
            control_compression: self.control_compression,
            threads,
            temp_dir: self.temp_dir,
        })
    }
}

/// Refuses a member an ar header cannot state, before anything is written.
fn check_member_sizes(members: &[(&str, u64)]) -> Result<(), BuildError> {
    match members.iter().find(|(_, size)| *size > AR_MAX_MEMBER_SIZE) {
        Some((member, size)) => Err(BuildError::MemberTooLarge {
            member: (*member).to_owned(),
            size: *size,
            max: AR_MAX_MEMBER_SIZE,
        }),
        None => Ok(()),
    }
}

/// A script with its `#!` line (added from the interpreter when the body has none).
fn script_text(script: &Script) -> String {
    if script.body.starts_with("#!") {
        script.body.clone()
    } else {
        format!("#!{}\n{}", script.interpreter, script.body)
    }
}

/// A checked package, ready to be written any number of times with identical bytes.
#[derive(Debug)]
pub struct Deb<'a> {
    spec: &'a PackageSpec,
    plan: Plan<'a>,
    control: String,
    conffiles: String,
    scripts: Vec<(&'static str, String)>,
    compression: Compression,
    control_compression: Compression,
    threads: u32,
    temp_dir: Option<PathBuf>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebReport {
    /// The package file, when written with [`Deb::write_to_dir`].
    pub path: Option<PathBuf>,
    /// Size of the `.deb` in bytes.
    pub size: u64,
    /// `Installed-Size`, in KiB.
    pub installed_size_kib: u64,
    /// Regular files packed.
    pub files: u64,
    /// Bytes of file content packed (uncompressed).
    pub payload_bytes: u64,
    /// The data member's name (`data.tar.gz`).
    pub data_member: String,
}

impl Deb<'_> {
    /// `falco-<version>-<arch>.deb`.
    pub fn file_name(&self) -> String {
        self.spec.file_name(Format::Deb)
    }

    /// The `control` file that will be written.
    pub fn control(&self) -> &str {
        &self.control
    }

    /// Writes the package into `dir` as [`Deb::file_name`], atomically: a temporary file in
    /// `dir` is renamed into place only once complete.
    pub fn write_to_dir(&self, dir: &Path) -> Result<DebReport, BuildError> {
        let path = dir.join(self.file_name());
        let output = |source| BuildError::Output {
            path: Some(path.clone()),
            source,
        };
        let temp = tempfile::Builder::new()
            .prefix(".falco-deb-")
            .tempfile_in(dir)
            .map_err(|source| BuildError::TempFile {
                dir: dir.to_owned(),
                source,
            })?;
        let file = temp.as_file().try_clone().map_err(output)?;
        let temp_dir = self.temp_dir.as_deref().unwrap_or(dir);
        let mut report = self.write_inner(file, temp_dir, Some(&path))?;
        {
            use std::os::unix::fs::PermissionsExt;
            let perms = std::fs::Permissions::from_mode(0o644);
            temp.as_file().set_permissions(perms).map_err(output)?;
        }
        temp.persist(&path).map_err(|e| output(e.error))?;
        report.path = Some(path);
        Ok(report)
    }

    /// Streams the package into `out`.
    pub fn write_to<W: Write>(&self, out: W) -> Result<DebReport, BuildError> {
        let temp_dir = self.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
        self.write_inner(out, &temp_dir, None)
    }

    fn write_inner<W: Write>(
        &self,
        out: W,
        temp_dir: &Path,
        path: Option<&Path>,
    ) -> Result<DebReport, BuildError> {
        let data_member = format!("data.tar{}", self.compression.codec.suffix());
        let control_member = format!("control.tar{}", self.control_compression.codec.suffix());
        let mtime = self.spec.source_date.secs();

        let (mut data, summary) = self.write_data(temp_dir, &data_member, mtime)?;
        let data_size = data
            .stream_position()
            .and_then(|size| data.rewind().map(|()| size))
            .map_err(|source| BuildError::Member {
                member: data_member.clone(),
                source,
            })?;
        let control_tar = self
            .write_control(&summary.md5sums, mtime)
            .map_err(|source| BuildError::Member {
                member: control_member.clone(),
                source,
            })?;

        let members: [(&str, u64); 3] = [
            ("debian-binary", 4),
            (&control_member, control_tar.len() as u64),
            (&data_member, data_size),
        ];
        check_member_sizes(&members)?;
        let output = |source| BuildError::Output {
            path: path.map(Path::to_owned),
            source,
        };
        let header = |name: &str, size: u64| {
            let mut h = ar::Header::new(name.as_bytes().to_vec(), size);
            h.set_mtime(mtime);
            h.set_mode(0o100644);
            h
        };
        let mut ar = ar::Builder::new(out);
        ar.append(&header("debian-binary", 4), &b"2.0\n"[..])
            .map_err(output)?;
        ar.append(
            &header(&control_member, control_tar.len() as u64),
            &control_tar[..],
        )
        .map_err(output)?;
        ar.append(
            &header(&data_member, data_size),
            io::Read::take(data, data_size),
        )
        .map_err(output)?;
        ar.into_inner()
            .and_then(|mut out| out.flush())
            .map_err(output)?;

        let size = 8 + members
            .iter()
            .map(|(_, size)| 60 + size + size % 2)
            .sum::<u64>();
        Ok(DebReport {
            path: None,
            size,
            installed_size_kib: self.plan.installed_size_kib(),
            files: summary.files,
            payload_bytes: summary.bytes,
            data_member,
        })
    }

    /// Compresses `data.tar` into an anonymous temporary file in `temp_dir`.
    fn write_data(
        &self,
        temp_dir: &Path,
        member: &str,
        mtime: u64,
    ) -> Result<(File, data::DataSummary), BuildError> {
        let failed = |source| BuildError::Member {
            member: member.to_owned(),
            source,
        };
        let file = tempfile::tempfile_in(temp_dir).map_err(|source| BuildError::TempFile {
            dir: temp_dir.to_owned(),
            source,
        })?;
        let buffered = BufWriter::with_capacity(256 * 1024, file);
        let encoder = Encoder::new(buffered, self.compression, self.threads).map_err(failed)?;
        let (encoder, summary) = self.plan.write(encoder, mtime).map_err(|e| match e {
            BuildError::Member { source, .. } => failed(source),
            other => other,
        })?;
        let file = encoder
            .finish()
            .and_then(|buffered| {
                buffered
                    .into_inner()
                    .map_err(io::IntoInnerError::into_error)
            })
            .map_err(failed)?;
        Ok((file, summary))
    }

    /// `control.tar`, in memory: `./`, then the files sorted by name.
    fn write_control(&self, md5sums: &str, mtime: u64) -> io::Result<Vec<u8>> {
        let mut files: Vec<(&str, &str, u32)> = vec![("control", &self.control, 0o644)];
        if !md5sums.is_empty() {
            files.push(("md5sums", md5sums, 0o644));
        }
        if !self.conffiles.is_empty() {
            files.push(("conffiles", &self.conffiles, 0o644));
        }
        for (name, text) in &self.scripts {
            files.push((name, text, 0o755));
        }
        files.sort_by_key(|(name, _, _)| *name);
        let encoder = Encoder::new(Vec::new(), self.control_compression, 1)?;
        let mut tar = TarWriter::new(encoder, mtime);
        tar.dir("./", Meta::ROOT_DIR)?;
        for (name, text, mode) in files {
            let meta = Meta {
                mode,
                ..Meta::ROOT_DIR
            };
            tar.file(
                &format!("./{name}"),
                meta,
                text.len() as u64,
                text.as_bytes(),
            )?;
        }
        tar.finish()?.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_over_ten_digits_are_refused() {
        assert!(check_member_sizes(&[("data.tar.gz", AR_MAX_MEMBER_SIZE)]).is_ok());
        let err = check_member_sizes(&[
            ("control.tar.gz", 10),
            ("data.tar.xz", AR_MAX_MEMBER_SIZE + 1),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ar member data.tar.xz is 10000000000 bytes, over the 9999999999 bytes an ar header can state"
        );
    }
}
