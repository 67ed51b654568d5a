//! Shared by the host crates' `fuzz_regressions` tests, which include it with `#[path]`
//! (two crates' integration tests; a test-support crate would be more machinery than
//! these two functions): where a target's inputs live, and reading them.

use std::path::{Path, PathBuf};

/// `fuzz/<kind>/<target>`, `kind` being `corpus` (the committed seeds) or `regressions`
/// (every crash input ever found), seen from a crate directly under `host/`.
pub fn fuzz_dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(target)
}

/// Every input file of a directory (dotfiles such as `.gitkeep` left out),
/// sorted by name.
pub fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            (!name.starts_with('.')).then(|| {
                let bytes = std::fs::read(&path).expect("read input");
                (name, bytes)
            })
        })
        .collect();
    files.sort();
    files
}
