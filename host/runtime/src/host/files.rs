//! `callhost:call/files`: the app's file manager (the UAS `file_man`) on its own
//! media directory.
//!
//! The functions name no channel: each request goes as a
//! [`CallCommand::Files`] through the primary channel's port (kept in the store
//! even if the guest drops its channel handle), and the server does the file
//! work inside the app's media directory, refusing names that escape it. A
//! store without a call (never the case for a running `main`) answers `error`.
//! Depends on the generated bindings and the port only.

use crate::arguments::{MAX_FILE_NAME_BYTES, check_size};
use crate::bindings::callhost::call::files as wit;
use crate::bindings::callhost::call::types::{AesCbcCipher, CallError};
use crate::port::{
    CallCommand, CallPort, CipherParameters, FileRequest, FileResponse, ValidateResult,
};
use crate::store::CallView;

impl From<AesCbcCipher> for CipherParameters {
    fn from(cipher: AesCbcCipher) -> Self {
        CipherParameters {
            key: cipher.key,
            vector: cipher.vector,
        }
    }
}

impl From<ValidateResult> for wit::ValidateResult {
    fn from(result: ValidateResult) -> Self {
        match result {
            ValidateResult::Validated => wit::ValidateResult::Validated,
            ValidateResult::NotFound => wit::ValidateResult::NotFound,
            ValidateResult::NotAudio => wit::ValidateResult::NotAudio,
            ValidateResult::DecryptFailed => wit::ValidateResult::DecryptFailed,
            ValidateResult::UnsupportedFormat => wit::ValidateResult::UnsupportedFormat,
        }
    }
}

/// Send a file request on the primary port and await the server's answer. Takes the
/// port, not the view, so the future holds nothing of the (non-`Sync`) table.
async fn file_request(
    port: Option<&CallPort>,
    request: FileRequest,
) -> Result<FileResponse, CallError> {
    let names: Vec<&str> = match &request {
        FileRequest::Exists { name }
        | FileRequest::Delete { name }
        | FileRequest::Validate { name, .. } => vec![name],
        FileRequest::Rename { from, to } => vec![from, to],
        FileRequest::List { directory } => directory.iter().map(String::as_str).collect(),
    };
    for name in names {
        check_size("file name", name, MAX_FILE_NAME_BYTES)?;
    }
    let Some(port) = port else {
        return Err(CallError::Error(
            "the file manager is only available during a call".into(),
        ));
    };
    port.request(|reply| CallCommand::Files { request, reply })
        .await
        .map_err(Into::into)
}

/// The server answered with the wrong kind of response: a host bug, reported to
/// the app as an error rather than a trap.
fn unexpected(response: FileResponse) -> CallError {
    CallError::Error(format!(
        "internal error: unexpected file manager response {response:?}"
    ))
}

impl wit::Host for CallView<'_> {
    async fn exists(&mut self, name: String) -> wasmtime::Result<Result<bool, CallError>> {
        Ok(
            match file_request(self.files_port, FileRequest::Exists { name }).await {
                Ok(FileResponse::Exists(found)) => Ok(found),
                Ok(other) => Err(unexpected(other)),
                Err(error) => Err(error),
            },
        )
    }

    async fn delete(&mut self, name: String) -> wasmtime::Result<Result<(), CallError>> {
        Ok(
            match file_request(self.files_port, FileRequest::Delete { name }).await {
                Ok(FileResponse::Done) => Ok(()),
                Ok(other) => Err(unexpected(other)),
                Err(error) => Err(error),
            },
        )
    }

    async fn rename(
        &mut self,
        from: String,
        to: String,
    ) -> wasmtime::Result<Result<(), CallError>> {
        Ok(
            match file_request(self.files_port, FileRequest::Rename { from, to }).await {
                Ok(FileResponse::Done) => Ok(()),
                Ok(other) => Err(unexpected(other)),
                Err(error) => Err(error),
            },
        )
    }

    async fn list(
        &mut self,
        directory: Option<String>,
    ) -> wasmtime::Result<Result<Vec<String>, CallError>> {
        Ok(
            match file_request(self.files_port, FileRequest::List { directory }).await {
                Ok(FileResponse::List(names)) => Ok(names),
                Ok(other) => Err(unexpected(other)),
                Err(error) => Err(error),
            },
        )
    }

    async fn validate(
        &mut self,
        name: String,
        cipher: Option<AesCbcCipher>,
    ) -> wasmtime::Result<Result<wit::ValidateResult, CallError>> {
        let request = FileRequest::Validate {
            name,
            cipher: cipher.map(Into::into),
        };
        Ok(match file_request(self.files_port, request).await {
            Ok(FileResponse::Validate(result)) => Ok(result.into()),
            Ok(other) => Err(unexpected(other)),
            Err(error) => Err(error),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::CallLog;
    use crate::port::CallSnapshot;
    use tokio::sync::{mpsc, watch};
    use wasmtime::component::ResourceTable;
    use wit::Host as _;

    #[tokio::test]
    async fn requests_go_through_the_primary_port_and_keys_stay_out_of_debug() {
        let (commands, mut receiver) = mpsc::channel(4);
        let (_snapshot_sender, snapshot) = watch::channel(CallSnapshot::idle());
        let port = CallPort {
            leg: 0,
            commands,
            snapshot,
        };
        let served = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Some(command) = receiver.recv().await {
                let CallCommand::Files { request, reply } = *command else {
                    panic!("not a file request");
                };
                seen.push(format!("{request:?}"));
                let response = match request {
                    FileRequest::Validate { cipher, .. } => {
                        assert_eq!(cipher.map(|cipher| cipher.key), Some("00".repeat(16)));
                        FileResponse::Validate(ValidateResult::DecryptFailed)
                    }
                    // A mismatched response must not trap.
                    _ => FileResponse::Done,
                };
                let _ = reply.send(Ok(response));
            }
            seen
        });
        let mut table = ResourceTable::new();
        let log = CallLog::new("test".into(), tracing::Span::none());
        let mut tones = crate::host::tone_player::ToneTable::default();
        let mut view = CallView {
            table: &mut table,
            log: &log,
            tones: &mut tones,
            files_port: Some(&port),
        };
        let cipher = AesCbcCipher {
            key: "00".repeat(16),
            vector: "11".repeat(16),
        };
        let result = view.validate("a.wav".into(), Some(cipher)).await.unwrap();
        assert_eq!(result, Ok(wit::ValidateResult::DecryptFailed));
        let result = view.exists("a.wav".into()).await.unwrap();
        assert!(matches!(result, Err(CallError::Error(text)) if text.contains("unexpected")));
        drop(port);
        let seen = served.await.unwrap();
        assert_eq!(
            seen,
            [
                "Validate { name: \"a.wav\", cipher: Some(CipherParameters { <redacted> }) }",
                "Exists { name: \"a.wav\" }"
            ]
        );
    }

    #[tokio::test]
    async fn without_a_call_the_file_manager_is_an_error_not_a_trap() {
        let mut table = ResourceTable::new();
        let log = CallLog::new("test".into(), tracing::Span::none());
        let mut tones = crate::host::tone_player::ToneTable::default();
        let mut view = CallView {
            table: &mut table,
            log: &log,
            tones: &mut tones,
            files_port: None,
        };
        let result = view.list(None).await.expect("no trap");
        assert!(matches!(result, Err(CallError::Error(_))), "{result:?}");
    }
}
