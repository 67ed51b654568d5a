//! Building the responses callhost sends as a UAS, and reading the few
//! request fields the call layer needs.
//!
//! Depends on rsipstack's message types (crate-internal only) and
//! [`crate::wire`] helpers. RFC 3261 §8.2.6 (UAS responses: copied headers,
//! To tag), §12.1.1 (Record-Route and Contact in dialog-creating responses),
//! §20 (Allow, Accept, Server, Retry-After, Content-Type).

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Headers, Method, Request, Response, StatusCode, Uri, Version};

use crate::validate::ALLOW;
use crate::wire::{header_params, param, percent_decode, split_list};

/// Body of a message: content type and bytes.
pub(crate) struct Body {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl Body {
    pub(crate) fn sdp(sdp: String) -> Self {
        Body {
            content_type: "application/sdp",
            bytes: sdp.into_bytes(),
        }
    }
}

/// Everything about one response except the request it answers.
pub(crate) struct ResponseSpec<'a> {
    pub code: u16,
    pub reason: Option<&'a str>,
    /// Our To tag; added when the request's To has none (not on 100).
    pub local_tag: Option<&'a str>,
    /// Our Contact URI (dialog-creating and target-refresh responses).
    pub contact: Option<&'a str>,
    pub headers: Vec<Header>,
    pub body: Option<Body>,
}

impl<'a> ResponseSpec<'a> {
    pub(crate) fn new(code: u16) -> Self {
        ResponseSpec {
            code,
            reason: None,
            local_tag: None,
            contact: None,
            headers: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn tag(mut self, local_tag: &'a str) -> Self {
        self.local_tag = Some(local_tag);
        self
    }

    pub(crate) fn contact(mut self, contact: &'a str) -> Self {
        self.contact = Some(contact);
        self
    }

    pub(crate) fn header(mut self, header: Header) -> Self {
        self.headers.push(header);
        self
    }

    pub(crate) fn allow(self) -> Self {
        self.header(Header::Allow(ALLOW.into()))
    }

    pub(crate) fn body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }
}

/// The status code with its reason phrase: `reason` if given, else the
/// standard phrase, else a phrase for the code's class.
pub(crate) fn status(code: u16, reason: Option<&str>) -> StatusCode {
    if let Some(reason) = reason {
        return StatusCode::Other(code, reason.to_string());
    }
    match StatusCode::from(code) {
        StatusCode::Other(code, _) => {
            let phrase = match code {
                100..=199 => "Session Progress",
                200..=299 => "OK",
                300..=399 => "Redirection",
                400..=499 => "Request Failure",
                500..=599 => "Server Failure",
                _ => "Global Failure",
            };
            StatusCode::Other(code, phrase.to_string())
        }
        known => known,
    }
}

/// Build the response to `request` (RFC 3261 §8.2.6.2).
pub(crate) fn response(request: &Request, spec: ResponseSpec<'_>, server: &str) -> Response {
    let mut headers: Vec<Header> = Vec::with_capacity(request.headers.len() + 6);
    let dialog_creating = request.method == Method::Invite && (101..300).contains(&spec.code);
    for header in request.headers.iter() {
        match header {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(header.clone());
            }
            Header::To(to) => {
                let value = to.value();
                match spec.local_tag {
                    Some(tag)
                        if spec.code != 100 && param(header_params(value), "tag").is_none() =>
                    {
                        headers.push(Header::To(format!("{value};tag={tag}").into()));
                    }
                    _ => headers.push(header.clone()),
                }
            }
            Header::RecordRoute(_) if dialog_creating => headers.push(header.clone()),
            _ => {}
        }
    }
    if let Some(contact) = spec.contact {
        headers.push(Header::Contact(format!("<{contact}>").into()));
    }
    headers.push(Header::Server(server.into()));
    headers.extend(spec.headers);
    let body = match spec.body {
        Some(body) => {
            headers.push(Header::ContentType(body.content_type.into()));
            body.bytes
        }
        None => Vec::new(),
    };
    headers.push(Header::ContentLength((body.len() as u32).into()));
    Response {
        status_code: status(spec.code, spec.reason),
        wire_reason: None,
        version: Version::V2,
        headers: headers.into(),
        body,
    }
}

/// The To tag of a request, if any.
pub(crate) fn to_tag(request: &Request) -> Option<String> {
    let to = request.to_header().ok()?;
    param(header_params(to.value()), "tag")
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// The From tag of a request, if any.
pub(crate) fn from_tag(request: &Request) -> Option<String> {
    let from = request.from_header().ok()?;
    param(header_params(from.value()), "tag")
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// The media type of the body (`type/subtype`, lower case), if declared.
pub(crate) fn content_type(request: &Request) -> Option<String> {
    content_type_of(&request.headers)
}

/// The whole Content-Type value of a request, parameters included (what an app
/// sees of a received INFO or MESSAGE).
pub(crate) fn full_content_type(request: &Request) -> Option<String> {
    request.headers.iter().find_map(|h| match h {
        Header::ContentType(ct) => Some(ct.value().trim().to_string()),
        _ => None,
    })
}

fn content_type_of(headers: &Headers) -> Option<String> {
    headers.iter().find_map(|h| match h {
        Header::ContentType(ct) => Some(
            ct.value()
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase(),
        ),
        _ => None,
    })
}

/// The SDP body of a request whose Content-Type is application/sdp.
pub(crate) fn sdp_body(request: &Request) -> Option<String> {
    sdp_of(&request.headers, &request.body)
}

/// The body as SDP text when the headers declare `application/sdp`.
pub(crate) fn sdp_of(headers: &Headers, body: &[u8]) -> Option<String> {
    let is_sdp = content_type_of(headers).is_some_and(|ct| ct == "application/sdp");
    (is_sdp && !body.is_empty()).then(|| String::from_utf8_lossy(body).into_owned())
}

/// Why an offer-carrying request (INVITE, re-INVITE) cannot be served:
/// RFC 3261 §8.2.3 (415 for a body we cannot read) and §21.4.7 (406 when the
/// client will not accept SDP in our answer).
pub(crate) fn check_offer(request: &Request) -> Option<ResponseSpec<'static>> {
    let encoding = request.headers.iter().find_map(|h| match h {
        Header::ContentEncoding(e) => Some(e.value().trim().to_ascii_lowercase()),
        _ => None,
    });
    if encoding.is_some_and(|e| !e.is_empty() && e != "identity") {
        return Some(
            ResponseSpec::new(415)
                .header(Header::Other("Accept-Encoding".into(), "identity".into()))
                .header(Header::Accept("application/sdp".into())),
        );
    }
    if !request.body.is_empty() && content_type(request).is_none_or(|ct| ct != "application/sdp") {
        return Some(ResponseSpec::new(415).header(Header::Accept("application/sdp".into())));
    }
    let accept: Vec<String> = request
        .headers
        .iter()
        .filter_map(|h| match h {
            Header::Accept(a) => Some(a.value().to_string()),
            _ => None,
        })
        .collect();
    if !accept.is_empty() {
        let acceptable = accept.iter().flat_map(|v| split_list(v)).any(|range| {
            let range = range.split(';').next().unwrap_or_default().trim();
            range.is_empty()
                || ["application/sdp", "application/*", "*/*"]
                    .iter()
                    .any(|ok| range.eq_ignore_ascii_case(ok))
        });
        if !acceptable {
            return Some(ResponseSpec::new(406).header(Header::Accept("application/sdp".into())));
        }
    }
    None
}

/// rsipstack 0.7.14 keeps a URI's user part as received (still escaped) but
/// escapes it again when printing, so `%3A` would go out as `%253A`. Store
/// it unescaped; printing then restores an equivalent escaped form.
pub(crate) fn unescape_user(mut uri: Uri) -> Uri {
    if let Some(auth) = uri.auth.as_mut() {
        auth.user = percent_decode(&auth.user);
        if let Some(password) = auth.password.as_mut() {
            *password = percent_decode(password);
        }
    }
    uri
}

/// A URI as text, escaped once.
pub(crate) fn uri_text(uri: &Uri) -> String {
    unescape_user(uri.clone()).to_string()
}

/// All headers as (name, value), in order. Known headers carry their full
/// canonical name (rsipstack expands compact forms), extension headers the
/// name as received.
pub(crate) fn header_list(headers: &Headers) -> Vec<(String, String)> {
    // Apps see an RFC 2543 client's From as it was sent, without our stand-in tag.
    let value = |value: &str| {
        String::from_utf8_lossy(&crate::wire::strip_rfc2543_tags(value.as_bytes())).into_owned()
    };
    headers
        .iter()
        .map(|h| match h {
            Header::Other(name, text) => (name.clone(), value(text)),
            other => {
                let text = other.to_string();
                match text.split_once(": ") {
                    Some((name, text)) => (name.to_string(), value(text)),
                    None => (text.trim_end_matches(':').to_string(), String::new()),
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(extra: &str, body: &str) -> Request {
        let text = format!(
            "INVITE sip:svc@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKabc\r\n\
             Record-Route: <sip:proxy.example.com;lr>\r\n\
             From: \"A\" <sip:a@127.0.0.1>;tag=1\r\n\
             To: <sip:svc@127.0.0.1>\r\n\
             Call-ID: c1@127.0.0.1\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:a@127.0.0.1:5999>\r\n\
             {extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        Request::try_from(text.as_str()).expect("parse")
    }

    #[test]
    fn ringing_copies_headers_adds_tag_contact_and_record_route() {
        let request = invite("", "");
        let spec = ResponseSpec::new(180)
            .tag("xyz")
            .contact("sip:127.0.0.1:5060");
        let text = response(&request, spec, "callhost/test").to_string();
        assert!(text.starts_with("SIP/2.0 180 Ringing\r\n"), "{text}");
        assert!(
            text.contains("To: <sip:svc@127.0.0.1>;tag=xyz\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Record-Route: <sip:proxy.example.com;lr>\r\n"),
            "{text}"
        );
        assert!(text.contains("Contact: <sip:127.0.0.1:5060>\r\n"), "{text}");
        assert!(text.contains("Server: callhost/test\r\n"), "{text}");
        assert!(text.contains("Content-Length: 0\r\n"), "{text}");
    }

    #[test]
    fn trying_has_no_tag_and_errors_have_no_record_route() {
        let request = invite("", "");
        let text = response(&request, ResponseSpec::new(100).tag("xyz"), "s").to_string();
        assert!(text.contains("To: <sip:svc@127.0.0.1>\r\n"), "{text}");
        let text = response(&request, ResponseSpec::new(486).tag("xyz"), "s").to_string();
        assert!(!text.contains("Record-Route"), "{text}");
        assert!(text.starts_with("SIP/2.0 486 Busy Here\r\n"), "{text}");
    }

    #[test]
    fn custom_and_unknown_reason_phrases() {
        assert_eq!(
            status(486, Some("Gone Fishing")).to_string(),
            "486 Gone Fishing"
        );
        assert_eq!(status(499, None).to_string(), "499 Request Failure");
        assert_eq!(status(404, None).to_string(), "404 Not Found");
    }

    #[test]
    fn offers_are_checked_for_type_and_accept() {
        assert!(check_offer(&invite("Content-Type: application/sdp\r\n", "v=0\r\n")).is_none());
        assert!(check_offer(&invite("", "")).is_none());
        let spec = check_offer(&invite("Content-Type: application/unknownformat\r\n", "x"));
        assert_eq!(spec.map(|s| s.code), Some(415));
        let spec = check_offer(&invite("Accept: text/nobodyknowsthis\r\n", ""));
        assert_eq!(spec.map(|s| s.code), Some(406));
        assert!(check_offer(&invite("Accept: application/sdp;level=1, text/x\r\n", "")).is_none());
    }

    #[test]
    fn uri_user_part_is_escaped_once() {
        let uri = Uri::try_from("sip:sips%3Auser%40example.com@example.net").expect("uri");
        assert_eq!(uri_text(&uri), "sip:sips%3Auser%40example.com@example.net");
        assert_eq!(unescape_user(uri).user(), Some("sips:user@example.com"));
    }

    #[test]
    fn request_fields() {
        let request = invite(
            "Content-Type: application/SDP\r\nX-Custom: 1\r\n",
            "v=0\r\n",
        );
        assert_eq!(from_tag(&request).as_deref(), Some("1"));
        assert_eq!(to_tag(&request), None);
        assert_eq!(sdp_body(&request).as_deref(), Some("v=0\r\n"));
        let headers = header_list(&request.headers);
        assert!(
            headers.contains(&("X-Custom".to_string(), "1".to_string())),
            "{headers:?}"
        );
        assert_eq!(
            headers[0],
            (
                "Via".into(),
                "SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKabc".into()
            )
        );
    }

    #[test]
    fn apps_see_an_rfc2543_from_without_the_stand_in_tag() {
        let tag = crate::wire::rfc2543_from_tag("c1@127.0.0.1", "sip:a@127.0.0.1");
        let request = invite("", "")
            .to_string()
            .replace(";tag=1", &format!(";tag={tag}"));
        let request = Request::try_from(request.as_str()).expect("parse");
        assert_eq!(from_tag(&request), Some(tag));
        let headers = header_list(&request.headers);
        assert!(
            headers.contains(&("From".to_string(), "\"A\" <sip:a@127.0.0.1>".to_string())),
            "{headers:?}"
        );
    }
}
