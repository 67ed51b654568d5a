//! The host's small outbound HTTP/1.1 client: one request per connection, `http://` only.
//!
//! Used by `callhost originate` (to reach the admin API) and by the status-callback
//! reporter (to notify an operator's web application). It is deliberately tiny:
//! hyper's connection-level API over a tokio `TcpStream`, no pooling, no redirects, no
//! TLS, a hard deadline per request and a cap on the response body.
//!
//! May depend on hyper, tokio and bytes only. Applies RFC 9112 (HTTP/1.1 message
//! syntax; origin-form request target, §3.2.1) and RFC 3986 §3 (URI components).

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The longest URL accepted (status callback or admin address).
pub const MAX_URL_LENGTH: usize = 2048;

/// The largest response body read; anything longer is an error (the peers this client
/// talks to answer with a few bytes of JSON or nothing).
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// A URL this client can reach: `http://host[:port][/path][?query]`.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Host name or IP address to connect to (IPv6 without brackets).
    host: String,
    /// TCP port (80 unless given).
    port: u16,
    /// The `Host` header value: the URL's authority as written.
    authority: String,
    /// Origin-form request target, at least `/`.
    path_and_query: String,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{url}` is not a usable URL: {reason}")]
pub struct InvalidUrl {
    /// The URL as given (truncated if very long).
    pub url: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl HttpUrl {
    /// Parse and check an `http://` URL. Refuses other schemes (no TLS support yet),
    /// credentials in the authority, a missing host and URLs over [`MAX_URL_LENGTH`].
    pub fn parse(text: &str) -> Result<HttpUrl, InvalidUrl> {
        let refuse = |reason| InvalidUrl {
            url: text.chars().take(200).collect(),
            reason,
        };
        if text.len() > MAX_URL_LENGTH {
            return Err(refuse("longer than 2048 bytes"));
        }
        let uri: Uri = text
            .parse()
            .map_err(|_| refuse("not a valid absolute URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => return Err(refuse("only http:// URLs are supported")),
            None => return Err(refuse("not an absolute http:// URL")),
        }
        let authority = uri.authority().ok_or_else(|| refuse("no host"))?;
        if authority.as_str().contains('@') {
            return Err(refuse("credentials in the URL are not supported"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(refuse("no host"));
        }
        if authority.port().is_some() && authority.port_u16().is_none_or(|port| port == 0) {
            return Err(refuse("bad port"));
        }
        let path_and_query = match uri.path_and_query() {
            Some(path) if !path.as_str().is_empty() => path.as_str().to_owned(),
            _ => "/".to_owned(),
        };
        Ok(HttpUrl {
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str().to_owned(),
            path_and_query,
        })
    }

    /// The same server with `path` appended to this URL's path (query dropped):
    /// `http://h:1/api` + `calls` → `http://h:1/api/calls`.
    pub fn join(&self, path: &str) -> HttpUrl {
        let base = self
            .path_and_query
            .split('?')
            .next()
            .unwrap_or("/")
            .trim_end_matches('/');
        HttpUrl {
            path_and_query: format!("{base}/{}", path.trim_start_matches('/')),
            ..self.clone()
        }
    }

    /// The host to connect to (IPv6 addresses without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request target (path and query), at least `/`.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "http://{}{}",
            self.authority, self.path_and_query
        )
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "HttpUrl({self})")
    }
}

/// What came back: the status and the (capped) body.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The response status.
    pub status: StatusCode,
    /// The response body, at most [`MAX_RESPONSE_BODY`] bytes.
    pub body: Bytes,
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// The TCP connection could not be made (refused, unreachable, name not found).
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// `host:port`.
        address: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// No complete response within the deadline.
    #[error("no response from {address} within {} s", after.as_secs_f64())]
    Timeout {
        /// `host:port`.
        address: String,
        /// The deadline.
        after: Duration,
    },
    /// The peer broke the HTTP exchange (closed early, malformed response, body too big).
    #[error("HTTP exchange with {address} failed: {message}")]
    Protocol {
        /// `host:port`.
        address: String,
        /// What went wrong.
        message: String,
    },
}

impl HttpClientError {
    /// True when the server was never reached (refused, unreachable, timed out
    /// before connecting): callers treat this as "service unavailable".
    pub fn is_connect(&self) -> bool {
        matches!(self, HttpClientError::Connect { .. })
    }
}

/// A request body with its media type.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The `Content-Type` header value.
    pub content_type: &'static str,
    /// The bytes.
    pub body: Bytes,
}

/// POST `payload` to `url` on a fresh connection and read the whole response, all
/// within `deadline`. `bearer` adds `Authorization: Bearer <token>`.
///
/// Cancel-safe: dropping the future closes the connection; nothing outlives it.
pub async fn post(
    url: &HttpUrl,
    payload: Payload,
    bearer: Option<&str>,
    deadline: Duration,
) -> Result<HttpResponse, HttpClientError> {
    let address = format!("{}:{}", url.host, url.port);
    match tokio::time::timeout(deadline, exchange(url, payload, bearer, &address)).await {
        Ok(result) => result,
        Err(_) => Err(HttpClientError::Timeout {
            address,
            after: deadline,
        }),
    }
}

async fn exchange(
    url: &HttpUrl,
    payload: Payload,
    bearer: Option<&str>,
    address: &str,
) -> Result<HttpResponse, HttpClientError> {
    let protocol = |message: String| HttpClientError::Protocol {
        address: address.to_owned(),
        message,
    };
    let stream = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|source| HttpClientError::Connect {
            address: address.to_owned(),
            source,
        })?;
    // Small request/response pairs: do not let Nagle hold the body back.
    let _ = stream.set_nodelay(true);

    let mut request = Request::builder()
        .method(Method::POST)
        .uri(url.path_and_query.as_str())
        .header(HOST, url.authority.as_str())
        .header(USER_AGENT, concat!("callhost/", env!("CARGO_PKG_VERSION")))
        .header(CONTENT_TYPE, payload.content_type)
        .body(Full::new(payload.body))
        .map_err(|error| protocol(format!("cannot build the request: {error}")))?;
    if let Some(token) = bearer {
        let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            protocol("the token contains characters not allowed in a header".into())
        })?;
        request.headers_mut().insert(AUTHORIZATION, value);
    }

    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| protocol(error.to_string()))?;
    let response = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| protocol(error.to_string()))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BODY)
            .collect()
            .await
            .map_err(|error| protocol(format!("reading the response body: {error}")))?
            .to_bytes();
        Ok(HttpResponse { status, body })
    };
    // The connection future does the socket I/O; it must be polled until the body is in.
    let mut connection = std::pin::pin!(connection);
    let mut response = std::pin::pin!(response);
    tokio::select! {
        result = response.as_mut() => result,
        ended = connection.as_mut() => match ended {
            Err(error) => Err(protocol(error.to_string())),
            // The peer finished the exchange and closed: what was read is complete.
            Ok(()) => response.await,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_urls() {
        let url = HttpUrl::parse("http://127.0.0.1:9000/cb?x=1").unwrap();
        assert_eq!(
            (url.host(), url.port(), url.path_and_query()),
            ("127.0.0.1", 9000, "/cb?x=1")
        );
        assert_eq!(url.to_string(), "http://127.0.0.1:9000/cb?x=1");

        let url = HttpUrl::parse("http://example.com").unwrap();
        assert_eq!(
            (url.host(), url.port(), url.path_and_query()),
            ("example.com", 80, "/")
        );

        let url = HttpUrl::parse("http://[::1]:8089").unwrap();
        assert_eq!((url.host(), url.port()), ("::1", 8089));
        assert_eq!(url.authority, "[::1]:8089");
    }

    #[test]
    fn refuses_what_it_cannot_reach() {
        for (text, reason) in [
            ("https://example.com/cb", "only http:// URLs are supported"),
            ("ftp://example.com/cb", "only http:// URLs are supported"),
            ("/cb", "not an absolute http:// URL"),
            ("example.com/cb", "not a valid absolute URL"),
            (
                "http://user:pw@example.com/cb",
                "credentials in the URL are not supported",
            ),
            ("http://exa mple.com/", "not a valid absolute URL"),
            ("http://example.com:0/", "bad port"),
            ("", "not a valid absolute URL"),
        ] {
            assert_eq!(
                HttpUrl::parse(text).map_err(|error| error.reason),
                Err(reason),
                "{text:?}"
            );
        }
        let long = format!("http://example.com/{}", "a".repeat(MAX_URL_LENGTH));
        assert_eq!(
            HttpUrl::parse(&long).unwrap_err().reason,
            "longer than 2048 bytes"
        );
    }

    #[test]
    fn join_appends_a_path_segment() {
        let base = HttpUrl::parse("http://127.0.0.1:8089").unwrap();
        assert_eq!(
            base.join("calls").to_string(),
            "http://127.0.0.1:8089/calls"
        );
        let base = HttpUrl::parse("http://127.0.0.1:8089/api/?v=1").unwrap();
        assert_eq!(
            base.join("/calls").to_string(),
            "http://127.0.0.1:8089/api/calls"
        );
    }
}
