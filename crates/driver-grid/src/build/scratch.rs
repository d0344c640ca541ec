//! Directories kbuild can work in. kbuild refuses a source or output directory whose path
//! holds a space or a colon ("source directory cannot contain spaces or colons"), and make
//! splits `M=`/`include` paths at spaces; so a tree under such a path (a `--work "My Builds"`)
//! is placed in a scratch directory of the system's temporary directory instead, named after
//! the path it stands for so that later runs find it again.

use std::path::{Path, PathBuf};

use falco_artifacts_core::Sha256Digest;

/// Whether kbuild and make can use `path` as it is.
pub(crate) fn kbuild_safe(path: &Path) -> bool {
    !path
        .to_string_lossy()
        .chars()
        .any(|c| c.is_whitespace() || c == ':')
}

/// `path` when kbuild can use it, else a stable stand-in under the temporary directory.
pub(crate) fn kbuild_dir(path: &Path) -> PathBuf {
    if kbuild_safe(path) {
        return path.to_owned();
    }
    let digest = Sha256Digest::of_bytes(path.as_os_str().as_encoded_bytes()).to_hex();
    std::env::temp_dir().join(format!("driver-grid-{}", &digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_and_colons_move_to_a_stable_scratch_directory() {
        let plain = Path::new("/work/kernels");
        assert_eq!(kbuild_dir(plain), plain);
        let spaced = Path::new("/work/My Builds/kernels");
        let moved = kbuild_dir(spaced);
        assert!(kbuild_safe(&moved) || !kbuild_safe(&std::env::temp_dir()));
        assert_eq!(moved, kbuild_dir(spaced));
        assert_ne!(moved, kbuild_dir(Path::new("/work/a:b")));
    }
}
