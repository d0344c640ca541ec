//! Copying the driver source into a build's own directory: kbuild writes its objects next to
//! the sources (`M=`), so parallel builds of one source need one copy each.

use std::fs;
use std::path::Path;

use super::BuildError;

/// Copies the tree `from` into `to` (created): directories, regular files with their modes,
/// and symbolic links as links.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<(), BuildError> {
    fs::create_dir_all(to).map_err(BuildError::io("create", to))?;
    for entry in fs::read_dir(from).map_err(BuildError::io("list", from))? {
        let entry = entry.map_err(BuildError::io("list", from))?;
        let source = entry.path();
        let dest = to.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(BuildError::io("inspect", &source))?;
        if kind.is_dir() {
            copy_tree(&source, &dest)?;
        } else if kind.is_symlink() {
            let target =
                fs::read_link(&source).map_err(BuildError::io("read the link", &source))?;
            std::os::unix::fs::symlink(target, &dest).map_err(BuildError::io("create", &dest))?;
        } else if kind.is_file() {
            fs::copy(&source, &dest).map_err(BuildError::io("copy", &source))?;
        }
    }
    Ok(())
}
