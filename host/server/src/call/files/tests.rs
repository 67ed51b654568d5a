use super::*;

const KEY: &str = "3e139a97574248d43bf01de3521474bf69f32ec2fc00edb866c26dcffff9d0a3";
const VECTOR: &str = "9b0ef243445da908976b7dc9c247c29e";

/// A scratch media root with an app directory `app/` and a file outside it.
struct Scratch {
    base: PathBuf,
    app: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let base =
            std::env::temp_dir().join(format!("callhost-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let app = base.join("app");
        std::fs::create_dir_all(app.join("sub")).unwrap();
        std::fs::write(base.join("secret.wav"), wav(&[1, 2, 3])).unwrap();
        Scratch { base, app }
    }

    fn serve(&self, request: FileRequest) -> Result<FileResponse, CallError> {
        serve(&self.app, request)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn wav(samples: &[i16]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    file.extend_from_slice(
        b"WAVEfmt \x10\0\0\0\x01\0\x01\0\x40\x1f\0\0\x80\x3e\0\0\x02\0\x10\0data",
    );
    file.extend_from_slice(&(data.len() as u32).to_le_bytes());
    file.extend_from_slice(&data);
    file
}

fn cipher(key: &str, vector: &str) -> Option<CipherParameters> {
    Some(CipherParameters {
        key: key.into(),
        vector: vector.into(),
    })
}

fn is_error(result: Result<FileResponse, CallError>, needle: &str) -> bool {
    matches!(result, Err(CallError::Error(text)) if text.contains(needle))
}

#[test]
fn exists_list_rename_and_delete_stay_inside_the_media_directory() {
    let scratch = Scratch::new("manage");
    std::fs::write(scratch.app.join("a.wav"), b"x").unwrap();
    std::fs::write(scratch.app.join("sub/b.wav"), b"x").unwrap();
    std::os::unix::fs::symlink(scratch.base.join("secret.wav"), scratch.app.join("out.wav"))
        .unwrap();
    let exists = |name: &str| scratch.serve(FileRequest::Exists { name: name.into() });

    assert_eq!(exists("a.wav"), Ok(FileResponse::Exists(true)));
    assert_eq!(exists("sub/b.wav"), Ok(FileResponse::Exists(true)));
    assert_eq!(exists("nope.wav"), Ok(FileResponse::Exists(false)));
    assert!(is_error(exists("../secret.wav"), "not a plain relative"));
    assert!(is_error(exists("/etc/passwd"), "not a plain relative"));
    assert!(is_error(exists("out.wav"), "outside"));

    assert_eq!(
        scratch.serve(FileRequest::List { directory: None }),
        Ok(FileResponse::List(vec![
            "a.wav".into(),
            "out.wav".into(),
            "sub/".into()
        ]))
    );
    assert_eq!(
        scratch.serve(FileRequest::List {
            directory: Some("sub".into())
        }),
        Ok(FileResponse::List(vec!["sub/b.wav".into()]))
    );
    assert!(is_error(
        scratch.serve(FileRequest::List {
            directory: Some("..".into())
        }),
        "not a plain relative"
    ));
    assert!(is_error(
        scratch.serve(FileRequest::List {
            directory: Some("a.wav".into())
        }),
        "not a directory"
    ));

    let rename = |from: &str, to: &str| {
        scratch.serve(FileRequest::Rename {
            from: from.into(),
            to: to.into(),
        })
    };
    assert_eq!(rename("a.wav", "sub/c.wav"), Ok(FileResponse::Done));
    assert!(!scratch.app.join("a.wav").exists());
    assert!(scratch.app.join("sub/c.wav").exists());
    assert!(is_error(rename("sub/c.wav", "sub/b.wav"), "already exists"));
    assert!(is_error(
        rename("sub/c.wav", "../c.wav"),
        "not a plain relative"
    ));
    assert!(is_error(rename("missing.wav", "x.wav"), "was not found"));
    assert!(is_error(
        rename("sub/c.wav", "nodir/c.wav"),
        "was not found"
    ));
    assert!(is_error(rename("out.wav", "mine.wav"), "outside"));
    assert!(scratch.base.join("secret.wav").exists());

    let delete = |name: &str| scratch.serve(FileRequest::Delete { name: name.into() });
    assert_eq!(delete("sub/c.wav"), Ok(FileResponse::Done));
    assert!(!scratch.app.join("sub/c.wav").exists());
    assert!(is_error(delete("sub/c.wav"), "was not found"));
    assert!(is_error(delete("sub"), "is a directory"));
    assert!(is_error(delete("../secret.wav"), "not a plain relative"));
    assert!(is_error(delete("out.wav"), "outside"));
    assert!(
        scratch.base.join("secret.wav").exists(),
        "nothing outside was touched"
    );
}

#[test]
fn a_link_inside_is_deleted_itself_and_a_dangling_link_can_be_removed() {
    let scratch = Scratch::new("links");
    std::fs::write(scratch.app.join("a.wav"), b"x").unwrap();
    std::os::unix::fs::symlink(scratch.app.join("a.wav"), scratch.app.join("alias.wav")).unwrap();
    std::os::unix::fs::symlink(
        scratch.app.join("gone.wav"),
        scratch.app.join("dangling.wav"),
    )
    .unwrap();
    let delete = |name: &str| scratch.serve(FileRequest::Delete { name: name.into() });
    assert_eq!(delete("alias.wav"), Ok(FileResponse::Done));
    assert!(scratch.app.join("a.wav").exists(), "the target stays");
    assert_eq!(delete("dangling.wav"), Ok(FileResponse::Done));
    assert_eq!(
        scratch.serve(FileRequest::List { directory: None }),
        Ok(FileResponse::List(vec!["a.wav".into(), "sub/".into()]))
    );
}

#[test]
fn a_missing_media_directory_lists_empty_and_finds_nothing() {
    let scratch = Scratch::new("missing");
    let missing = scratch.base.join("no-such-app");
    assert_eq!(
        serve(&missing, FileRequest::List { directory: None }),
        Ok(FileResponse::List(Vec::new()))
    );
    assert_eq!(
        serve(
            &missing,
            FileRequest::Exists {
                name: "a.wav".into()
            }
        ),
        Ok(FileResponse::Exists(false))
    );
}

#[test]
fn validate_tells_the_failures_apart() {
    let scratch = Scratch::new("validate");
    let right = AesCbcCipher::from_hex(KEY, VECTOR).unwrap();
    std::fs::write(
        scratch.app.join("secret.wav"),
        right.encrypt(&wav(&[1, 2, 3, 4])),
    )
    .unwrap();
    std::fs::write(scratch.app.join("plain.wav"), wav(&[1, 2, 3, 4])).unwrap();
    std::fs::write(scratch.app.join("text.wav"), b"not audio at all").unwrap();
    let mut odd = wav(&[1, 2]);
    odd[20] = 0x55; // format tag 0x0055 (MP3)
    std::fs::write(scratch.app.join("mp3.wav"), &odd).unwrap();
    let validate =
        |name: &str, cipher: Option<CipherParameters>| match scratch.serve(FileRequest::Validate {
            name: name.into(),
            cipher,
        }) {
            Ok(FileResponse::Validate(result)) => Ok(result),
            other => Err(format!("{other:?}")),
        };
    use ValidateResult::*;
    assert_eq!(validate("secret.wav", cipher(KEY, VECTOR)), Ok(Validated));
    assert_eq!(validate("plain.wav", None), Ok(Validated));
    assert_eq!(validate("missing.wav", None), Ok(NotFound));
    assert_eq!(validate("missing.wav", cipher(KEY, VECTOR)), Ok(NotFound));
    assert_eq!(validate("text.wav", None), Ok(NotAudio));
    assert_eq!(validate("sub", None), Ok(NotAudio));
    assert_eq!(validate("mp3.wav", None), Ok(UnsupportedFormat));
    let wrong_key = KEY.replace('3', "7");
    assert_eq!(
        validate("secret.wav", cipher(&wrong_key, VECTOR)),
        Ok(DecryptFailed)
    );
    assert_eq!(
        validate("secret.wav", cipher(KEY, &"0".repeat(32))),
        Ok(DecryptFailed),
        "a wrong vector garbles the RIFF header"
    );
    assert_eq!(
        validate("plain.wav", cipher(KEY, VECTOR)),
        Ok(DecryptFailed)
    );
    assert_eq!(validate("secret.wav", None), Ok(NotAudio));
    let bad_key = validate("secret.wav", cipher("3e13", VECTOR)).unwrap_err();
    assert!(
        bad_key.contains("invalid cipher: the cipher key is 16 bits"),
        "{bad_key}"
    );
    assert!(!bad_key.contains("3e13"), "{bad_key}");
    assert!(
        validate("../secret.wav", None)
            .unwrap_err()
            .contains("not a plain relative")
    );
}

#[test]
fn encrypted_prompts_load_for_play_and_a_bad_key_is_a_clear_error() {
    let scratch = Scratch::new("play");
    let right = AesCbcCipher::from_hex(KEY, VECTOR).unwrap();
    let path = scratch.app.join("secret.wav");
    std::fs::write(&path, right.encrypt(&wav(&[9, 8, 7]))).unwrap();
    let engine = MediaEngine::new(callhost_media::MediaConfig::new([127, 0, 0, 1].into())).unwrap();
    let prompt = load_prompt(&engine, &path, cipher(KEY, VECTOR).as_ref()).unwrap();
    assert_eq!(prompt.samples(), &[9, 8, 7]);
    let error = load_prompt(
        &engine,
        &path,
        cipher(&KEY.replace('3', "7"), VECTOR).as_ref(),
    )
    .unwrap_err();
    assert!(error.contains("cannot decrypt prompt"), "{error}");
    assert!(error.contains("wrong key or vector"), "{error}");
    let error = load_prompt(&engine, &path, cipher(KEY, "xyz").as_ref()).unwrap_err();
    assert!(
        error.starts_with("invalid cipher: the cipher vector is not hexadecimal"),
        "{error}"
    );
    let error = load_prompt(&engine, &path, None).unwrap_err();
    assert!(error.contains("not a usable WAV file"), "{error}");
}
