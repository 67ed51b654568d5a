//! Resolving an app's file name inside its own media directory.
//!
//! An app names files relative to its media directory ("hello.wav",
//! "prompts/menu.wav"). Anything that could reach outside it — an absolute path,
//! a `..` component, or a symlink pointing elsewhere — is refused with an error
//! the app sees as `call-error::error`, never a trap.

use std::path::{Component, Path, PathBuf};

/// Why a media file name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaPathError {
    /// Empty, absolute, containing `..`, a NUL or a backslash.
    #[error("`{0}` is not a plain relative file name inside the app's media directory")]
    NotRelative(String),
    /// The file does not exist (or the media directory does not).
    #[error("`{0}` was not found in the app's media directory")]
    NotFound(String),
    /// The name resolves (through a symlink) to a place outside the media directory.
    #[error("`{0}` resolves outside the app's media directory")]
    Escapes(String),
}

/// Refuse anything but a plain relative name (no `..`, root, NUL or backslash).
fn check_plain(name: &str) -> Result<&Path, MediaPathError> {
    let relative = Path::new(name);
    // Backslashes are refused too: on Windows-made names they mean a separator.
    let plain = !name.is_empty()
        && !name.contains(['\0', '\\'])
        && relative
            .components()
            .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
    if plain {
        Ok(relative)
    } else {
        Err(MediaPathError::NotRelative(name.to_owned()))
    }
}

/// Resolve `name` inside `media_dir`, following symlinks, and check it stays inside.
pub fn resolve(media_dir: &Path, name: &str) -> Result<PathBuf, MediaPathError> {
    let relative = check_plain(name)?;
    let root = media_dir
        .canonicalize()
        .map_err(|_| MediaPathError::NotFound(name.to_owned()))?;
    let full = root
        .join(relative)
        .canonicalize()
        .map_err(|_| MediaPathError::NotFound(name.to_owned()))?;
    if !full.starts_with(&root) {
        return Err(MediaPathError::Escapes(name.to_owned()));
    }
    Ok(full)
}

/// Resolve `name` for a file about to be written (it may not exist yet): its directory must
/// exist inside `media_dir` (created when it is the media directory itself), and an existing
/// symlink there must point inside too.
pub fn resolve_for_writing(media_dir: &Path, name: &str) -> Result<PathBuf, MediaPathError> {
    check_plain(name)?;
    std::fs::create_dir_all(media_dir).map_err(|_| MediaPathError::NotFound(name.to_owned()))?;
    let full = resolve_entry(media_dir, name)?;
    let root = media_dir
        .canonicalize()
        .map_err(|_| MediaPathError::NotFound(name.to_owned()))?;
    if full
        .symlink_metadata()
        .is_ok_and(|metadata| metadata.file_type().is_symlink())
        && !full
            .canonicalize()
            .is_ok_and(|target| target.starts_with(&root))
    {
        return Err(MediaPathError::Escapes(name.to_owned()));
    }
    Ok(full)
}

/// Resolve `name` as a directory entry inside `media_dir` without following the entry
/// itself: its parent directory must exist and resolve (through symlinks) inside
/// `media_dir`; the entry need not exist. For names a file operation creates or removes
/// (a rename target, a file to delete), where following a final symlink would act on its
/// target instead of the link.
pub fn resolve_entry(media_dir: &Path, name: &str) -> Result<PathBuf, MediaPathError> {
    let plain = check_plain(name).is_ok();
    let relative = Path::new(name);
    // "." or "sub/." name a directory, not an entry in one (`Path` would drop the dot).
    let names_a_directory = name == "." || name.ends_with("/.");
    let Some(file_name) = relative.file_name().filter(|_| plain && !names_a_directory) else {
        return Err(MediaPathError::NotRelative(name.to_owned()));
    };
    let root = media_dir
        .canonicalize()
        .map_err(|_| MediaPathError::NotFound(name.to_owned()))?;
    let parent = root
        .join(relative.parent().unwrap_or(Path::new("")))
        .canonicalize()
        .map_err(|_| MediaPathError::NotFound(name.to_owned()))?;
    if !parent.starts_with(&root) {
        return Err(MediaPathError::Escapes(name.to_owned()));
    }
    Ok(parent.join(file_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_for_writing_stay_inside() {
        let base = std::env::temp_dir().join(format!("callhost-write-path-{}", std::process::id()));
        let app = base.join("app");
        let _ = std::fs::remove_dir_all(&base);
        // The media directory is created for the first recording.
        let created = resolve_for_writing(&app, "new.wav").unwrap();
        assert_eq!(created, app.canonicalize().unwrap().join("new.wav"));
        std::fs::create_dir_all(app.join("sub")).unwrap();
        assert!(resolve_for_writing(&app, "sub/x.wav").is_ok());
        assert_eq!(
            resolve_for_writing(&app, "missing/x.wav"),
            Err(MediaPathError::NotFound("missing/x.wav".into()))
        );
        assert!(matches!(
            resolve_for_writing(&app, "../x.wav"),
            Err(MediaPathError::NotRelative(_))
        ));
        std::os::unix::fs::symlink(&base, app.join("out")).unwrap();
        assert_eq!(
            resolve_for_writing(&app, "out/x.wav"),
            Err(MediaPathError::Escapes("out/x.wav".into()))
        );
        std::os::unix::fs::symlink(base.join("secret.wav"), app.join("trap.wav")).unwrap();
        assert_eq!(
            resolve_for_writing(&app, "trap.wav"),
            Err(MediaPathError::Escapes("trap.wav".into()))
        );
    }

    #[test]
    fn plain_names_resolve_and_escapes_are_refused() {
        let base = std::env::temp_dir().join(format!("callhost-media-path-{}", std::process::id()));
        let app = base.join("app");
        std::fs::create_dir_all(app.join("sub")).unwrap();
        std::fs::write(app.join("a.wav"), b"x").unwrap();
        std::fs::write(app.join("sub/b.wav"), b"x").unwrap();
        std::fs::write(base.join("secret.wav"), b"x").unwrap();
        let link = app.join("link.wav");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(base.join("secret.wav"), &link).unwrap();

        assert_eq!(
            resolve(&app, "a.wav").unwrap(),
            app.canonicalize().unwrap().join("a.wav")
        );
        assert!(resolve(&app, "sub/b.wav").is_ok());
        assert_eq!(
            resolve(&app, "../secret.wav"),
            Err(MediaPathError::NotRelative("../secret.wav".into()))
        );
        assert_eq!(
            resolve(&app, "/etc/passwd"),
            Err(MediaPathError::NotRelative("/etc/passwd".into()))
        );
        assert_eq!(
            resolve(&app, ""),
            Err(MediaPathError::NotRelative(String::new()))
        );
        assert_eq!(
            resolve(&app, "sub/../../secret.wav"),
            Err(MediaPathError::NotRelative("sub/../../secret.wav".into()))
        );
        assert_eq!(
            resolve(&app, "a\\b.wav"),
            Err(MediaPathError::NotRelative("a\\b.wav".into()))
        );
        assert_eq!(
            resolve(&app, "a\0.wav"),
            Err(MediaPathError::NotRelative("a\0.wav".into()))
        );
        std::fs::write(app.join("..a.wav"), b"x").unwrap();
        assert!(
            resolve(&app, "..a.wav").is_ok(),
            "a name that merely starts with dots is fine"
        );
        assert_eq!(
            resolve(&app, "missing.wav"),
            Err(MediaPathError::NotFound("missing.wav".into()))
        );
        assert_eq!(
            resolve(&app, "link.wav"),
            Err(MediaPathError::Escapes("link.wav".into()))
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn entries_resolve_by_their_parent_without_following_the_entry() {
        let base =
            std::env::temp_dir().join(format!("callhost-media-entry-{}", std::process::id()));
        let app = base.join("app");
        std::fs::create_dir_all(app.join("sub")).unwrap();
        std::fs::create_dir_all(base.join("elsewhere")).unwrap();
        let root = app.canonicalize().unwrap();
        let _ = std::fs::remove_file(app.join("out"));
        std::os::unix::fs::symlink(base.join("elsewhere"), app.join("out")).unwrap();
        let _ = std::fs::remove_file(app.join("link.wav"));
        std::os::unix::fs::symlink(base.join("secret.wav"), app.join("link.wav")).unwrap();

        assert_eq!(resolve_entry(&app, "new.wav"), Ok(root.join("new.wav")));
        assert_eq!(
            resolve_entry(&app, "sub/./new.wav"),
            Ok(root.join("sub/new.wav"))
        );
        // The link itself, not its target outside.
        assert_eq!(resolve_entry(&app, "link.wav"), Ok(root.join("link.wav")));
        assert_eq!(
            resolve_entry(&app, "out/x.wav"),
            Err(MediaPathError::Escapes("out/x.wav".into()))
        );
        assert_eq!(
            resolve_entry(&app, "missing/x.wav"),
            Err(MediaPathError::NotFound("missing/x.wav".into()))
        );
        for bad in [".", "sub/.", "../x.wav", "/tmp/x.wav", "", "a\\b"] {
            assert_eq!(
                resolve_entry(&app, bad),
                Err(MediaPathError::NotRelative(bad.into())),
                "{bad:?}"
            );
        }
        std::fs::remove_dir_all(&base).unwrap();
    }
}
