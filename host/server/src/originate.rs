//! `callhost originate`: ask a running host, through its admin API, to start an
//! outbound app instance (seed 003 "The outbound call"), and print the instance id.
//!
//! Exit codes follow sysexits.h: 0 started; 64 (EX_USAGE) bad flags or config;
//! 65 (EX_DATAERR) the host refused the request (400, 404, 413); 69 (EX_UNAVAILABLE)
//! the host is unreachable or answered 5xx; 76 (EX_PROTOCOL) the answer made no sense;
//! 77 (EX_NOPERM) the host refused our credentials (401, 403).
//!
//! May depend on [`crate::admin`] (the wire types and the HTTP client) and
//! [`crate::config`] (to find the admin address); nothing else of the host.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;

use crate::admin::http_client::{self, HttpClientError, HttpUrl, Payload};
use crate::admin::{AdminConfig, CallsRequest, CallsResponse, ErrorResponse, EventNames};
use crate::status_callback::StatusEvent;

/// EX_USAGE: bad command-line usage or config file.
pub const EXIT_USAGE: u8 = 64;
/// EX_DATAERR: the host refused the request's data.
pub const EXIT_DATA: u8 = 65;
/// EX_UNAVAILABLE: the host is unreachable or cannot start an instance now.
pub const EXIT_UNAVAILABLE: u8 = 69;
/// EX_PROTOCOL: the host's answer was not what the API defines.
pub const EXIT_PROTOCOL: u8 = 76;
/// EX_NOPERM: the host refused the credentials.
pub const EXIT_NO_PERMISSION: u8 = 77;

/// The whole exchange (connect, request, answer) must finish within this time; the
/// host itself gives up on a start after about 15 s.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

/// `callhost originate` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct OriginateArgs {
    /// The app (plugin name) to start.
    #[arg(long, value_name = "NAME")]
    pub app: String,
    /// Application parameters for the app's `main`.
    #[arg(long, value_name = "STR", default_value = "")]
    pub params: String,
    /// Outbound parameters for the app's `main` (e.g. the destination URI).
    #[arg(long, value_name = "STR")]
    pub outbound_params: Option<String>,
    /// The admin API base URL [default: from --config, else http://127.0.0.1:8089].
    #[arg(long, value_name = "URL")]
    pub admin: Option<String>,
    /// Bearer token (needed when the host is not on this machine) [default: from --config].
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// URL the host POSTs call-progress events to (http:// only).
    #[arg(long, value_name = "URL")]
    pub status_callback: Option<String>,
    /// Events to report: initiated, ringing, answered, completed [default: completed].
    #[arg(long, value_name = "EVENT", num_args = 1.., value_delimiter = ',', value_parser = parse_event)]
    pub status_callback_event: Vec<StatusEvent>,
    /// The host's TOML config file, to find the admin address and token.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

fn parse_event(text: &str) -> Result<StatusEvent, String> {
    text.parse()
        .map_err(|error: crate::status_callback::StatusCallbackError| error.to_string())
}

/// Why no instance was started.
#[derive(Debug, thiserror::Error)]
pub enum OriginateClientError {
    /// Bad flags or config: nothing was sent.
    #[error("{0}")]
    Usage(String),
    /// The host could not be reached or did not answer in time.
    #[error(transparent)]
    Unreachable(HttpClientError),
    /// The host answered with an error status.
    #[error("the host refused ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The host's `error` message (or the raw body).
        message: String,
    },
    /// The host's answer does not follow the API.
    #[error("unexpected answer from the host: {0}")]
    Protocol(String),
}

impl OriginateClientError {
    /// The sysexits.h code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            OriginateClientError::Usage(_) => EXIT_USAGE,
            OriginateClientError::Unreachable(HttpClientError::Protocol { .. }) => EXIT_PROTOCOL,
            OriginateClientError::Unreachable(_) => EXIT_UNAVAILABLE,
            OriginateClientError::Refused {
                status: 401 | 403, ..
            } => EXIT_NO_PERMISSION,
            OriginateClientError::Refused { status: 500.., .. } => EXIT_UNAVAILABLE,
            OriginateClientError::Refused { .. } => EXIT_DATA,
            OriginateClientError::Protocol(_) => EXIT_PROTOCOL,
        }
    }
}

/// Run `callhost originate`: print the instance id on stdout, or the reason on
/// stderr, and return the exit code.
pub fn main(args: OriginateArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("callhost: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let (admin, token) = resolve_admin(&args)?;
        originate(&admin, token.as_deref(), &calls_request(&args)).await
    });
    match outcome {
        Ok(instance_id) => {
            println!("{instance_id}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("callhost: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// The request body the flags describe.
pub fn calls_request(args: &OriginateArgs) -> CallsRequest {
    CallsRequest {
        app: args.app.clone(),
        application_parameters: args.params.clone(),
        outbound_parameters: args.outbound_params.clone(),
        status_callback: args.status_callback.clone(),
        status_callback_event: (!args.status_callback_event.is_empty()).then(|| {
            EventNames::List(
                args.status_callback_event
                    .iter()
                    .map(|event| event.name().to_owned())
                    .collect(),
            )
        }),
    }
}

/// The admin base URL and token: flags first, then the config file, then the default.
fn resolve_admin(args: &OriginateArgs) -> Result<(HttpUrl, Option<String>), OriginateClientError> {
    let from_file = match &args.config {
        Some(path) => match crate::config::admin_from_file(path) {
            Ok(Some(admin)) => Some(admin),
            Ok(None) if args.admin.is_none() => {
                return Err(OriginateClientError::Usage(format!(
                    "the admin API is disabled in {}; pass --admin URL",
                    path.display()
                )));
            }
            Ok(None) => None,
            Err(error) => return Err(OriginateClientError::Usage(error.to_string())),
        },
        None => None,
    };
    let token = args
        .token
        .clone()
        .or_else(|| from_file.as_ref().and_then(|admin| admin.token.clone()));
    let text = match (&args.admin, &from_file) {
        (Some(text), _) => text.clone(),
        (None, Some(admin)) => admin_url_for(admin),
        (None, None) => format!("http://{}", crate::admin::DEFAULT_LISTEN),
    };
    let url = HttpUrl::parse(&text)
        .map_err(|error| OriginateClientError::Usage(format!("--admin: {error}")))?;
    Ok((url, token))
}

/// Where a client on this machine reaches an admin API listening on `admin.listen`:
/// a wildcard listen address is reached through loopback.
pub fn admin_url_for(admin: &AdminConfig) -> String {
    let ip = match admin.listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, admin.listen.port()))
}

/// POST `request` to `admin`'s `/calls` and return the new instance id.
///
/// Cancel-safe: dropping the future abandons the request (the host may still start
/// the instance if the request had arrived).
pub async fn originate(
    admin: &HttpUrl,
    token: Option<&str>,
    request: &CallsRequest,
) -> Result<String, OriginateClientError> {
    let body = serde_json::to_vec(request).map_err(|error| {
        OriginateClientError::Usage(format!("cannot encode the request: {error}"))
    })?;
    let payload = Payload {
        content_type: "application/json",
        body: Bytes::from(body),
    };
    let response = http_client::post(&admin.join("calls"), payload, token, REQUEST_DEADLINE)
        .await
        .map_err(OriginateClientError::Unreachable)?;
    if response.status == StatusCode::CREATED {
        let created: CallsResponse = serde_json::from_slice(&response.body).map_err(|error| {
            OriginateClientError::Protocol(format!("201 without an instance id: {error}"))
        })?;
        return Ok(created.instance_id);
    }
    let message = match serde_json::from_slice::<ErrorResponse>(&response.body) {
        Ok(answer) => answer.error,
        Err(_) => String::from_utf8_lossy(&response.body)
            .chars()
            .take(500)
            .collect(),
    };
    if response.status.is_success() {
        return Err(OriginateClientError::Protocol(format!(
            "status {} instead of 201",
            response.status.as_u16()
        )));
    }
    Err(OriginateClientError::Refused {
        status: response.status.as_u16(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_addresses_are_reached_through_loopback() {
        let admin = |listen: &str| AdminConfig {
            listen: listen.parse().unwrap(),
            token: None,
        };
        assert_eq!(
            admin_url_for(&admin("0.0.0.0:8089")),
            "http://127.0.0.1:8089"
        );
        assert_eq!(admin_url_for(&admin("[::]:8089")), "http://[::1]:8089");
        assert_eq!(
            admin_url_for(&admin("192.0.2.1:9000")),
            "http://192.0.2.1:9000"
        );
    }

    #[test]
    fn exit_codes_follow_sysexits() {
        let refused = |status| OriginateClientError::Refused {
            status,
            message: String::new(),
        };
        assert_eq!(refused(400).exit_code(), EXIT_DATA);
        assert_eq!(refused(404).exit_code(), EXIT_DATA);
        assert_eq!(refused(413).exit_code(), EXIT_DATA);
        assert_eq!(refused(401).exit_code(), EXIT_NO_PERMISSION);
        assert_eq!(refused(403).exit_code(), EXIT_NO_PERMISSION);
        assert_eq!(refused(503).exit_code(), EXIT_UNAVAILABLE);
        let refused_connection = HttpClientError::Connect {
            address: "127.0.0.1:1".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert_eq!(
            OriginateClientError::Unreachable(refused_connection).exit_code(),
            EXIT_UNAVAILABLE
        );
        assert_eq!(
            OriginateClientError::Usage(String::new()).exit_code(),
            EXIT_USAGE
        );
    }

    #[test]
    fn flags_become_the_request_body() {
        let args = OriginateArgs {
            app: "dialer".into(),
            params: "from=alice".into(),
            outbound_params: Some("sip:bob@127.0.0.1:5070".into()),
            admin: None,
            token: None,
            status_callback: Some("http://127.0.0.1:9000/cb".into()),
            status_callback_event: vec![StatusEvent::Ringing, StatusEvent::Completed],
            config: None,
        };
        let json = serde_json::to_value(calls_request(&args)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "app": "dialer",
                "application_parameters": "from=alice",
                "outbound_parameters": "sip:bob@127.0.0.1:5070",
                "status_callback": "http://127.0.0.1:9000/cb",
                "status_callback_event": ["ringing", "completed"],
            })
        );
    }
}
