//! Writing the tarball, its `.sha256` and its `.asc`.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use falco_artifacts_core::package::{ContentKind, ContentSource, PackageSpec};
use falco_artifacts_core::{
    Artifact, ArtifactError, ArtifactKind, DigestSet, DigestingWriter, Digests, LocalArtifact,
    RepoKind, Sha256Digest, Signer,
};
use tar::{EntryType, Header};

use crate::error::BuildError;
use crate::layout::{layout, Item};
use falco_artifacts_core::compress::{Codec, Compression, Encoder};

/// Builds the release tarball of a [`PackageSpec`].
///
/// ```no_run
/// use std::path::Path;
/// use falco_artifacts_core::package::{load_manifest, ManifestOptions};
/// use falco_artifacts_pkg_tar::{Codec, Compression, TarballBuilder};
///
/// let spec = load_manifest(Path::new("examples/sample/falco.yaml"), &ManifestOptions::default())?;
/// let tarball = TarballBuilder::new(&spec)
///     .with_compression(Compression::new(Codec::Gzip, 9))
///     .build(Path::new("out"))?;
/// println!("{} {}", tarball.sha256, tarball.path.display());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TarballBuilder<'a> {
    spec: &'a PackageSpec,
    compression: Compression,
    signer: Option<&'a dyn Signer>,
    threads: usize,
}

/// A built tarball and the files beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tarball {
    /// `falco-<version>-<arch>.tar.gz`.
    pub path: PathBuf,
    /// Its SHA-256, computed while it was written.
    pub sha256: Sha256Digest,
    /// Its size.
    pub size: u64,
    /// `<name>.sha256`, in `sha256sum` format.
    pub checksum_path: PathBuf,
    /// `<name>.asc`, when a signer was given.
    pub signature_path: Option<PathBuf>,
}

impl Tarball {
    /// The tarball, its checksum and its signature as artifacts of the `bin` repository.
    pub fn artifacts(&self, spec: &PackageSpec) -> Result<Vec<Arc<dyn Artifact>>, ArtifactError> {
        let described = |a: LocalArtifact| {
            Arc::new(
                a.with_version(spec.version.clone())
                    .with_arch(spec.arch)
                    .with_repository(RepoKind::Bin),
            ) as Arc<dyn Artifact>
        };
        let mut out = vec![
            described(LocalArtifact::from_path(ArtifactKind::Tarball, &self.path)?),
            described(LocalArtifact::from_path(
                ArtifactKind::Checksum,
                &self.checksum_path,
            )?),
        ];
        if let Some(sig) = &self.signature_path {
            out.push(described(LocalArtifact::from_path(
                ArtifactKind::Signature,
                sig,
            )?));
        }
        Ok(out)
    }
}

/// The `<name>.sha256` beside a tarball: one `sha256sum` line, which `sha256sum -c` checks.
///
/// ```
/// use falco_artifacts_core::Sha256Digest;
///
/// let line = falco_artifacts_pkg_tar::sha256sum_line(&Sha256Digest::of_bytes(b""), "f.tar.gz");
/// assert!(line.starts_with("e3b0c442") && line.ends_with("  f.tar.gz\n"));
/// ```
pub fn sha256sum_line(sha256: &Sha256Digest, name: &str) -> String {
    format!("{sha256}  {name}\n")
}

/// Removes the temporary files of a build that did not finish.
struct Partial(Vec<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

impl<'a> TarballBuilder<'a> {
    /// A gzip-6 tarball of `spec`, compressed on every available core, unsigned.
    pub fn new(spec: &'a PackageSpec) -> Self {
        TarballBuilder {
            spec,
            compression: Compression::new(Codec::Gzip, 6),
            signer: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// Sets the compression.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Signs the tarball into `<name>.asc`.
    pub fn with_signer(mut self, signer: &'a dyn Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Caps the compression threads (the output is the same bytes whatever the count).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The top directory inside the tarball: `falco-<version>-<arch>`.
    pub fn top_dir(&self) -> String {
        format!(
            "{}-{}-{}",
            self.spec.name, self.spec.version, self.spec.arch
        )
    }

    /// The tarball's file name: `falco-<version>-<arch>.tar.gz` (or `.tar.xz`, `.tar.zst`, `.tar`).
    pub fn file_name(&self) -> String {
        format!("{}.tar{}", self.top_dir(), self.compression.codec.suffix())
    }

    /// Writes the compressed tarball to `out`, streaming every payload file, and returns the
    /// writer and the digests of what was written.
    pub fn write_to<W: Write>(&self, out: W) -> Result<(W, Digests), BuildError> {
        self.spec.validate().map_err(|source| BuildError::Invalid {
            package: self.spec.name.clone(),
            source,
        })?;
        if !self.compression.level_ok() {
            let levels = self.compression.codec.levels();
            return Err(BuildError::Level {
                codec: self.compression.codec.name(),
                level: self.compression.level,
                min: *levels.start(),
                max: *levels.end(),
            });
        }
        let out_name = PathBuf::from(self.file_name());
        let write_err = |source| BuildError::Write {
            path: out_name.clone(),
            source,
        };
        let hashed = DigestingWriter::new(out, DigestSet::SHA256);
        let threads = u32::try_from(self.threads).unwrap_or(u32::MAX);
        let encoder = Encoder::new(hashed, self.compression, threads).map_err(write_err)?;
        let mut tar = tar::Builder::new(encoder);
        tar.mode(tar::HeaderMode::Deterministic);
        let date = self.spec.source_date.secs();
        for (path, item) in layout(self.spec, &self.top_dir()) {
            match item {
                Item::ImplicitDir => {
                    let mut h = header(EntryType::Directory, 0o755, "root", "root", date);
                    append(&mut tar, &mut h, &path, io::empty())?;
                }
                Item::Declared(entry) => {
                    let (owner, group) = (entry.owner.as_str(), entry.group.as_str());
                    match &entry.kind {
                        ContentKind::Dir => {
                            let mut h =
                                header(EntryType::Directory, entry.mode, owner, group, date);
                            append(&mut tar, &mut h, &path, io::empty())?;
                        }
                        ContentKind::Symlink { target } => {
                            let mut h = header(EntryType::Symlink, entry.mode, owner, group, date);
                            tar.append_link(&mut h, &path, target)
                                .map_err(|source| BuildError::Entry { path, source })?;
                        }
                        ContentKind::File { source, .. } => {
                            let mut h = header(EntryType::Regular, entry.mode, owner, group, date);
                            append_file(&mut tar, &mut h, &path, source, entry.dst.as_ref(), date)?;
                        }
                    }
                }
            }
        }
        let encoder = tar.into_inner().map_err(write_err)?;
        let hashed = encoder.finish().map_err(write_err)?;
        Ok(hashed.finish())
    }

    /// Writes `<name>`, `<name>.sha256` and, with a signer, `<name>.asc` into `out_dir`. The
    /// files appear only when all of them are complete; on error none is left behind.
    pub fn build(&self, out_dir: &Path) -> Result<Tarball, BuildError> {
        let name = self.file_name();
        let path = out_dir.join(&name);
        let checksum_path = out_dir.join(format!("{name}.sha256"));
        let signature_path = self.signer.map(|_| out_dir.join(format!("{name}.asc")));
        let temp = |p: &Path| {
            let mut t = p.as_os_str().to_owned();
            t.push(".partial");
            PathBuf::from(t)
        };
        let finals: Vec<PathBuf> = [
            Some(path.clone()),
            Some(checksum_path.clone()),
            signature_path.clone(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let temps: Vec<PathBuf> = finals.iter().map(|p| temp(p)).collect();
        let partial = Partial(temps.clone());
        let write_err = |p: &Path| {
            let p = p.to_owned();
            move |source| BuildError::Write { path: p, source }
        };

        fs::create_dir_all(out_dir).map_err(write_err(out_dir))?;
        let file = File::create(&temps[0]).map_err(write_err(&path))?;
        let (file, digests) = self.write_to(BufWriter::with_capacity(1 << 20, file))?;
        file.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .map_err(write_err(&path))?;
        fs::write(&temps[1], sha256sum_line(&digests.sha256, &name))
            .map_err(write_err(&checksum_path))?;
        if let (Some(signer), Some(sig_path)) = (self.signer, &signature_path) {
            let mut data = File::open(&temps[0]).map_err(write_err(&path))?;
            let armored =
                signer
                    .sign_detached_armored(&mut data)
                    .map_err(|source| BuildError::Sign {
                        path: path.clone(),
                        source,
                    })?;
            fs::write(&temps[2], armored).map_err(write_err(sig_path))?;
        }
        for (t, f) in temps.iter().zip(&finals) {
            fs::rename(t, f).map_err(write_err(f))?;
        }
        std::mem::forget(partial);
        Ok(Tarball {
            path,
            sha256: digests.sha256,
            size: digests.size,
            checksum_path,
            signature_path,
        })
    }
}

/// A header with fixed owners: uid/gid 0, user and group names empty unless the entry names a
/// non-root owner (GNU tar then maps the name on extraction).
fn header(kind: EntryType, mode: u32, owner: &str, group: &str, mtime: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_size(0);
    let name = |n: &str| if n == "root" { "" } else { n }.to_owned();
    // Names longer than the field are cut by the format; the manifest keeps them short.
    let _ = h.set_username(&name(owner));
    let _ = h.set_groupname(&name(group));
    h
}

fn append<W: Write, R: Read>(
    tar: &mut tar::Builder<W>,
    h: &mut Header,
    path: &str,
    data: R,
) -> Result<(), BuildError> {
    tar.append_data(h, path, data)
        .map_err(|source| BuildError::Entry {
            path: path.to_owned(),
            source,
        })
}

/// Counts bytes so a file that shrank while it was packed is caught.
struct Counting<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    h: &mut Header,
    path: &str,
    source: &ContentSource,
    dst: &str,
    date: u64,
) -> Result<(), BuildError> {
    match source {
        ContentSource::Inline(bytes) => {
            h.set_size(bytes.len() as u64);
            append(tar, h, path, &bytes[..])
        }
        ContentSource::Path(file_path) => {
            let read_err = |source| BuildError::ReadSource {
                path: file_path.clone(),
                dst: dst.to_owned(),
                source,
            };
            let file = File::open(file_path).map_err(read_err)?;
            let meta = file.metadata().map_err(read_err)?;
            let size = meta.len();
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(date, |d| d.as_secs().min(date));
            h.set_size(size);
            h.set_mtime(mtime);
            let mut reader = Counting {
                inner: file.take(size),
                read: 0,
            };
            append(tar, h, path, &mut reader)?;
            if reader.read != size {
                return Err(BuildError::SourceChanged {
                    path: file_path.clone(),
                    expected: size,
                    actual: reader.read,
                });
            }
            Ok(())
        }
    }
}
