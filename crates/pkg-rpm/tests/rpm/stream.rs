//! The streamed payload: the same bytes whatever the thread count, every codec and the
//! large-file format read by rpm, and memory that does not grow with the payload.

use crate::common::*;
use crate::install::root_with_shell;
use crate::signing::{check_signature, keyring};

fn build_with(
    spec: &PackageSpec,
    builder: impl FnOnce(RpmBuilder<'_>) -> RpmBuilder<'_>,
) -> Vec<u8> {
    let package = builder(RpmBuilder::new(spec)).build().unwrap();
    let mut bytes = Vec::new();
    package.write(&mut bytes).unwrap();
    bytes
}

/// Unpacks `rpm` with `rpm2archive` (which reads both cpio formats) and with our extractor,
/// and asserts both trees are the same.
fn unpacks_like_rpm2archive(rpm: &Path, dir: &Path) {
    let ours = dir.join("ours");
    let theirs = dir.join("theirs");
    fs::create_dir_all(&ours).unwrap();
    fs::create_dir_all(&theirs).unwrap();
    extract(rpm, &ours).unwrap();
    let tar = require_tool("tar", "Debian package tar").unwrap();
    run(Command::new("sh")
        .current_dir(&theirs)
        .arg("-c")
        .arg(format!(
            "{} - < {} | {} -xzf -",
            tool("rpm2archive").display(),
            rpm.display(),
            tar.display()
        )));
    let diff = Command::new("diff")
        .arg("-r")
        .arg("--no-dereference")
        .arg(&ours)
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stdout)
    );
}

#[test]
pub(crate) fn every_codec_gives_the_same_bytes_on_one_or_many_threads_and_rpm_reads_it() {
    let tmp = TempDir::new().unwrap();
    let spec = sample_spec("0.39.0");
    for (n, compression) in [
        Compression::Gzip(6),
        Compression::Gzip(0),
        Compression::Xz(6),
        Compression::Zstd(19),
        Compression::None,
    ]
    .into_iter()
    .enumerate()
    {
        let one = build_with(&spec, |b| b.with_compression(compression).with_threads(1));
        let many = build_with(&spec, |b| b.with_compression(compression).with_threads(3));
        assert!(
            one == many,
            "{compression}: the thread count changed the bytes"
        );
        let path = tmp.path().join(format!("{n}.rpm"));
        fs::write(&path, &one).unwrap();
        let k = run(Command::new(tool("rpm")).args(["-Kv"]).arg(&path));
        assert!(
            k.contains("Header SHA256 digest: OK") && k.contains("Payload SHA256 digest: OK"),
            "{compression}: {k}"
        );
        let info = RpmInfo::open(&path).unwrap();
        assert_eq!(info.payload_compressor, compression.name(), "{compression}");
        unpacks_like_rpm2archive(&path, &tmp.path().join(n.to_string()));
    }
}

#[test]
pub(crate) fn the_large_file_format_is_signed_read_and_installed_by_rpm() {
    let tmp = TempDir::new().unwrap();
    let signer = PgpSigner::generate("T <t@example.invalid>", KeyAlgorithm::Ed25519).unwrap();
    let spec = sample_spec("0.39.0");
    let package = RpmBuilder::new(&spec)
        .with_large_file_format()
        .with_compression(Compression::None)
        .with_signer(&signer)
        .build()
        .unwrap();
    let path = package.write_to_dir(tmp.path()).unwrap();
    let db = keyring(&tmp.path().join("keys"), &signer);
    check_signature(&db, &path);
    let requires = run(Command::new(tool("rpm"))
        .args(["-qp", "--requires"])
        .arg(&path));
    assert!(
        requires
            .lines()
            .any(|l| l == "rpmlib(LargeFiles) <= 4.12.0-1"),
        "{requires}"
    );
    // 64-bit sizes, a stripped cpio payload, and the same file list and digests as the small
    // format (rpm's queries show SIZE and LONGSIZE alike).
    let header = &package.metadata().header;
    assert!(header.entry_is_present(rpm::IndexTag::RPMTAG_LONGSIZE));
    assert!(header.entry_is_present(rpm::IndexTag::RPMTAG_LONGFILESIZES));
    assert!(!header.entry_is_present(rpm::IndexTag::RPMTAG_SIZE));
    let bytes = fs::read(&path).unwrap();
    let payload = usize::try_from(RpmInfo::open(&path).unwrap().header_range.end).unwrap();
    assert_eq!(&bytes[payload..payload + 6], b"07070X");
    let small_dir = tmp.path().join("small");
    fs::create_dir_all(&small_dir).unwrap();
    let small = build(&spec, &small_dir, None);
    assert_eq!(qf(&path, "%{LONGSIZE}"), qf(&small, "%{SIZE}"));
    let files =
        |sizes| format!("[%{{FILENAMES}} %{{{sizes}}} %{{FILEDIGESTS}} %{{FILEMODES:perms}}\n]");
    assert_eq!(
        qf(&path, &files("LONGFILESIZES")),
        qf(&small, &files("FILESIZES"))
    );
    unpacks_like_rpm2archive(&path, &tmp.path().join("unpacked"));

    let root = tmp.path().join("root");
    root_with_shell(&root);
    run(Command::new(tool("rpm"))
        .arg("--root")
        .arg(&root)
        .args(["--dbpath", "/var/lib/rpm", "-i", "--nodeps"])
        .arg(&path));
    assert_eq!(
        fs::read(root.join("usr/bin/falco")).unwrap(),
        fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/sample/payload/usr/bin/falco")
        )
        .unwrap()
    );
}

/// Peak resident memory of this process, from `/proc/self/status`.
fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const CHILD: &str = "FALCO_RPM_BOUNDED_MEMORY_DIR";
const PAYLOAD_MIB: u64 = 300;

/// Builds a package with one 300 MiB file in this test binary started again on its own (the
/// other tests of this process would count too), and reads its peak RSS: the `rpm` crate
/// alone held the whole payload in memory.
#[test]
pub(crate) fn a_300_mib_payload_builds_in_bounded_memory() {
    if let Some(dir) = std::env::var_os(CHILD) {
        // The child: build, write, report.
        let dir = PathBuf::from(dir);
        let big = dir.join("big.bin");
        // Sparse: nothing to generate, and what is measured is the packaging alone.
        fs::File::create(&big)
            .unwrap()
            .set_len(PAYLOAD_MIB << 20)
            .unwrap();
        let manifest = format!(
            "name: big\nversion: 1.0.0\narch: x86_64\nmaintainer: T <t@example.invalid>\n\
             description: big\nlicense: MIT\nsource_date: 1700000000\ncontents:\n  \
             - src: {}\n    dst: /usr/share/big/big.bin\n",
            big.display()
        );
        let spec = falco_artifacts_core::package::load_manifest_str(
            &manifest,
            &dir,
            &ManifestOptions::default(),
        )
        .unwrap();
        let package = RpmBuilder::new(&spec)
            .with_compression(Compression::None)
            .with_temp_dir(&dir)
            .build()
            .unwrap();
        package.write_to_dir(&dir).unwrap();
        println!("peak-rss-kib: {}", peak_rss_kib());
        return;
    }
    let tmp = TempDir::new().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "stream::a_300_mib_payload_builds_in_bounded_memory",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak: u64 = stdout
        .lines()
        .find_map(|l| l.split("peak-rss-kib: ").nth(1))
        .unwrap_or_else(|| panic!("no peak reported: {stdout}"))
        .parse()
        .unwrap();
    assert!(
        peak < 64 * 1024,
        "peak RSS {peak} KiB for a {PAYLOAD_MIB} MiB payload"
    );
    let path = tmp.path().join("big-1.0.0-x86_64.rpm");
    assert!(fs::metadata(&path).unwrap().len() > PAYLOAD_MIB << 20);
    let k = run(Command::new(tool("rpm")).args(["-Kv"]).arg(&path));
    assert!(k.contains("Payload SHA256 digest: OK"), "{k}");
    let info = RpmInfo::open(&path).unwrap();
    assert_eq!(info.installed_size, PAYLOAD_MIB << 20);
}
