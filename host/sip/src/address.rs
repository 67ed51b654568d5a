//! Addresses and headers of outgoing requests: parsing the call target, the
//! From party and the outbound proxy, and checking application-supplied
//! header fields. Finding the next hop's address is `crate::locate`'s.
//!
//! What lives here: [`parse_target`], [`parse_from`], [`parse_proxy`],
//! [`check_header`]. Depends on rsipstack's URI type (crate-internal only)
//! and [`crate::wire`].
//!
//! RFC 3261 §19.1 (SIP URIs: `transport` parameter, `?headers` turned into
//! request headers, §19.1.5), §8.1.1 (Request-URI, To, From), §8.1.2 and
//! §16.12 (a pre-loaded loose Route to an outbound proxy), §26.2.2 and RFC
//! 5630 (`sips:` means TLS; `transport=tcp` on a `sips:` URI is TLS over
//! TCP, `transport=udp` is refused), RFC 3966 (`tel:` URIs, which need a
//! proxy to route them). The `transport` parameter parsed here fixes the
//! transport for RFC 3263 §4.1; without it DNS chooses (`crate::locate`).

use rsipstack::sip::Uri;

use crate::message::unescape_user;
use crate::wire::{is_token, percent_decode};
use crate::{SipError, Transport};

/// Headers the stack writes itself; applications may not set them.
const RESERVED_HEADERS: [&str; 18] = [
    "Via",
    "v",
    "From",
    "f",
    "To",
    "t",
    "Call-ID",
    "i",
    "CSeq",
    "Contact",
    "m",
    "Max-Forwards",
    "Content-Length",
    "l",
    "Content-Type",
    "c",
    "Route",
    "Record-Route",
];

/// Check one application-supplied header field (RFC 3261 §7.3: the name is
/// a token; §20: the headers above are the stack's).
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), SipError> {
    let refuse = |reason| {
        Err(SipError::InvalidHeader {
            name: name.to_string(),
            reason,
        })
    };
    if !is_token(name) {
        return refuse("the name may hold only letters, digits and -.!%*_+`'~");
    }
    if RESERVED_HEADERS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
    {
        return refuse("the SIP stack sets this header itself");
    }
    if value.contains(['\r', '\n', '\0']) {
        return refuse("the value may not contain line breaks or NUL");
    }
    Ok(())
}

/// Check a list of header fields with [`check_header`].
pub(crate) fn check_headers(headers: &[(String, String)]) -> Result<(), SipError> {
    headers
        .iter()
        .try_for_each(|(name, value)| check_header(name, value))
}

/// A parsed call target.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The Request-URI: the target without its `?headers`.
    pub request_uri: Uri,
    /// The To header value (without tag).
    pub to: String,
    /// Headers carried in the URI (`?X-Foo=bar&…`), decoded and checked.
    pub headers: Vec<(String, String)>,
    /// The `transport` parameter, when the URI has one.
    pub transport: Option<Transport>,
    /// A `tel:` URI: routable only through a proxy.
    pub is_tel: bool,
    /// A `sips:` URI: TLS, and our Contact must be `sips:` too.
    pub secure: bool,
}

/// An address split into the display-name part and the URI in `<>`, when it
/// is a name-addr; `None` display for a bare URI.
fn split_name_addr(text: &str) -> Result<(Option<&str>, &str), &'static str> {
    match text.find('<') {
        Some(open) => {
            let close = text.rfind('>').ok_or("'<' without '>'")?;
            if close < open || !text[close + 1..].trim().is_empty() {
                return Err("text after '>'");
            }
            Ok((Some(text[..open].trim()), text[open + 1..close].trim()))
        }
        None => Ok((None, text)),
    }
}

/// The URI scheme, lower case, and the part after the colon.
fn scheme(uri: &str) -> Option<(String, &str)> {
    let (scheme, rest) = uri.split_once(':')?;
    (!scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic()))
        .then(|| (scheme.to_ascii_lowercase(), rest))
}

/// The value of URI parameter `name` in `;a=b;c` (case-insensitive).
fn uri_param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params.split(';').find_map(|param| {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// The transport a URI asks for: its `transport` parameter (UDP, TCP and
/// TLS are supported), and always TLS for `sips:` (RFC 5630 §3.1.3: there
/// `transport=tcp` means TLS over TCP; UDP cannot carry TLS).
fn transport_of(params: &str, secure: bool) -> Result<Option<Transport>, SipError> {
    let asked = match uri_param(params, "transport") {
        None => None,
        Some(t) if t.eq_ignore_ascii_case("udp") => Some(Transport::Udp),
        Some(t) if t.eq_ignore_ascii_case("tcp") => Some(Transport::Tcp),
        Some(t) if t.eq_ignore_ascii_case("tls") => Some(Transport::Tls),
        Some(other) => {
            return Err(SipError::UnsupportedTransport {
                transport: other.to_ascii_uppercase(),
            });
        }
    };
    match (secure, asked) {
        (false, asked) => Ok(asked),
        (true, Some(Transport::Udp)) => Err(SipError::UnsupportedTransport {
            transport: "UDP for a sips: URI".to_string(),
        }),
        (true, _) => Ok(Some(Transport::Tls)),
    }
}

/// Parse the call target: `sip:`, `sips:` or `tel:` (optionally as
/// `"Name" <uri>`), with `;transport=udp|tcp|tls` and `?Header=value&…`.
pub(crate) fn parse_target(text: &str) -> Result<Target, SipError> {
    let invalid = |reason| SipError::InvalidAddress {
        address: text.to_string(),
        reason,
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid("empty target"));
    }
    if trimmed.contains(|c: char| c.is_ascii_control()) {
        return Err(invalid("control characters in the target"));
    }
    let (display, uri) = split_name_addr(trimmed).map_err(invalid)?;
    if uri.contains([' ', '\t']) {
        return Err(invalid("whitespace inside the URI"));
    }
    let (uri, header_text) = match uri.split_once('?') {
        Some((uri, headers)) => (uri, Some(headers)),
        None => (uri, None),
    };
    let (scheme_name, rest) = scheme(uri).ok_or_else(|| invalid("no URI scheme"))?;
    let (is_tel, secure) = match scheme_name.as_str() {
        "sip" => (false, false),
        "sips" => (false, true),
        "tel" => (true, false),
        _ => return Err(invalid("the scheme must be sip:, sips: or tel:")),
    };
    let (address, params) = rest.split_once(';').unwrap_or((rest, ""));
    if address.is_empty() {
        return Err(invalid("no user or host"));
    }
    let transport = if is_tel {
        None
    } else {
        transport_of(params, secure)?
    };
    if !is_tel && address.ends_with('@') {
        return Err(invalid("no host"));
    }
    let request_uri = Uri::try_from(uri)
        .map(unescape_user)
        .map_err(|_| invalid("the URI does not parse"))?;
    let mut headers = Vec::new();
    for pair in header_text.unwrap_or_default().split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (percent_decode(name), percent_decode(value));
        if name.eq_ignore_ascii_case("body") {
            return Err(SipError::InvalidHeader {
                name,
                reason: "a message body cannot be given in the URI",
            });
        }
        check_header(&name, &value)?;
        headers.push((name, value));
    }
    let uri_text = crate::message::uri_text(&request_uri);
    let to = match display {
        Some(display) if !display.is_empty() => format!("{display} <{uri_text}>"),
        _ => format!("<{uri_text}>"),
    };
    Ok(Target {
        request_uri,
        to,
        headers,
        transport,
        is_tel,
        secure,
    })
}

/// Characters allowed unescaped in a SIP URI user part (RFC 3261 §25.1:
/// unreserved and user-unreserved).
fn is_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c)
}

fn escape_user(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for byte in user.bytes() {
        let c = char::from(byte);
        if byte.is_ascii() && is_user_char(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn is_host_text(host: &str) -> bool {
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
}

/// The From address of an outgoing call, as (header value without tag, URI).
///
/// Accepted forms: `None` (`sip:callhost@<local>`), a bare user `alice`
/// (`sip:alice@<local>`), `user@host` (the seed's `bob@1234`), a URI
/// (`sip:`, `sips:`, `tel:`) or a name-addr `"Name" <sip:…>`.
pub(crate) fn parse_from(text: Option<&str>, local: &str) -> Result<(String, String), SipError> {
    let Some(text) = text else {
        let uri = format!("sip:callhost@{local}");
        return Ok((format!("<{uri}>"), uri));
    };
    let invalid = |reason| SipError::InvalidAddress {
        address: text.to_string(),
        reason,
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid("empty From"));
    }
    if trimmed.contains(|c: char| c.is_ascii_control()) {
        return Err(invalid("control characters in From"));
    }
    let (display, uri) = split_name_addr(trimmed).map_err(invalid)?;
    let uri = match scheme(uri) {
        Some((name, _)) if ["sip", "sips", "tel"].contains(&name.as_str()) => {
            if uri.contains([' ', '\t']) {
                return Err(invalid("whitespace inside the URI"));
            }
            let parsed = Uri::try_from(uri).map_err(|_| invalid("the URI does not parse"))?;
            crate::message::uri_text(&unescape_user(parsed))
        }
        _ if display.is_some() => return Err(invalid("the scheme must be sip:, sips: or tel:")),
        _ => match trimmed.rsplit_once('@') {
            Some((user, host)) => {
                if user.is_empty() || !is_host_text(host) {
                    return Err(invalid("expected user@host"));
                }
                format!("sip:{}@{host}", escape_user(user))
            }
            None => format!("sip:{}@{local}", escape_user(trimmed)),
        },
    };
    if trimmed.to_ascii_lowercase().contains(";tag=") {
        return Err(invalid("the From tag is chosen by the endpoint"));
    }
    let value = match display {
        Some(display) if !display.is_empty() => format!("{display} <{uri}>"),
        _ => format!("<{uri}>"),
    };
    Ok((value, uri))
}

/// The outbound proxy: its loose-route Route value and transport.
#[derive(Debug, Clone)]
pub(crate) struct Proxy {
    /// `<sip:proxy;lr>` (`lr` added when missing: a configured outbound
    /// proxy is a loose router, RFC 3261 §16.12.1.1).
    pub route: String,
    /// Where to send: the proxy URI.
    pub uri: Uri,
    /// Its `transport` parameter.
    pub transport: Option<Transport>,
}

/// Parse the outbound proxy URI (`sip:`, or `sips:` for TLS).
pub(crate) fn parse_proxy(text: &str) -> Result<Proxy, SipError> {
    let invalid = |reason| SipError::InvalidAddress {
        address: text.to_string(),
        reason,
    };
    let trimmed = text.trim();
    let (_, uri) = split_name_addr(trimmed).map_err(invalid)?;
    if uri.contains(|c: char| c.is_ascii_control() || c == ' ' || c == '?') {
        return Err(invalid("the proxy URI may not hold spaces or headers"));
    }
    let (scheme_name, rest) = scheme(uri).ok_or_else(|| invalid("no URI scheme"))?;
    let secure = match scheme_name.as_str() {
        "sip" => false,
        "sips" => true,
        _ => return Err(invalid("the proxy must be a sip: or sips: URI")),
    };
    let params = rest.split_once(';').map(|(_, p)| p).unwrap_or_default();
    let transport = transport_of(params, secure)?;
    let parsed = Uri::try_from(uri).map_err(|_| invalid("the URI does not parse"))?;
    let has_lr = uri_param(params, "lr").is_some();
    let route = if has_lr {
        format!("<{uri}>")
    } else {
        format!("<{uri};lr>")
    };
    Ok(Proxy {
        route,
        uri: parsed,
        transport,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_with_transport_and_uri_headers() {
        let target = parse_target("sip:bob@127.0.0.1:5070;transport=TCP?X-Foo=bar&X-Other=a%20b")
            .expect("target");
        assert_eq!(target.transport, Some(Transport::Tcp));
        assert_eq!(
            target.headers,
            vec![
                ("X-Foo".to_string(), "bar".to_string()),
                ("X-Other".to_string(), "a b".to_string())
            ]
        );
        assert_eq!(
            crate::message::uri_text(&target.request_uri),
            "sip:bob@127.0.0.1:5070;transport=TCP"
        );
        assert_eq!(target.to, "<sip:bob@127.0.0.1:5070;transport=TCP>");
        assert!(!target.is_tel);
        let named = parse_target("\"Bob\" <sip:bob@example.com>").expect("name-addr");
        assert_eq!(named.to, "\"Bob\" <sip:bob@example.com>");
        assert_eq!(named.transport, None);
    }

    #[test]
    fn tel_and_refused_targets() {
        let tel = parse_target("tel:+441908273800").expect("tel");
        assert!(tel.is_tel);
        assert_eq!(
            crate::message::uri_text(&tel.request_uri),
            "tel:+441908273800"
        );
        let sips = parse_target("sips:bob@example.com").expect("sips");
        assert!(sips.secure);
        assert_eq!(sips.transport, Some(Transport::Tls));
        let over_tcp = parse_target("sips:bob@example.com;transport=tcp").expect("sips over tcp");
        assert_eq!(over_tcp.transport, Some(Transport::Tls));
        let tls = parse_target("sip:bob@example.com;transport=TLS").expect("transport=tls");
        assert_eq!(tls.transport, Some(Transport::Tls));
        assert!(!tls.secure);
        assert!(matches!(
            parse_target("sips:bob@example.com;transport=udp"),
            Err(SipError::UnsupportedTransport { .. })
        ));
        assert!(matches!(
            parse_target("sip:bob@example.com;transport=sctp"),
            Err(SipError::UnsupportedTransport { .. })
        ));
        for bad in [
            "",
            "bob@example.com",
            "http://x",
            "sip:",
            "sip:bob@",
            "sip:a b@c",
        ] {
            assert!(
                matches!(parse_target(bad), Err(SipError::InvalidAddress { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_target("sip:bob@h?Via=x"),
            Err(SipError::InvalidHeader { .. })
        ));
        assert!(matches!(
            parse_target("sip:bob@h?body=hello"),
            Err(SipError::InvalidHeader { .. })
        ));
        assert!(matches!(
            parse_target("sip:bob@h?X-A=1%0D%0AVia:%20evil"),
            Err(SipError::InvalidHeader { .. })
        ));
    }

    #[test]
    fn from_forms() {
        let local = "127.0.0.1:5060";
        assert_eq!(
            parse_from(None, local).expect("default").1,
            "sip:callhost@127.0.0.1:5060"
        );
        assert_eq!(
            parse_from(Some("bob@1234"), local).expect("seed").0,
            "<sip:bob@1234>"
        );
        assert_eq!(
            parse_from(Some("alice"), local).expect("user").1,
            "sip:alice@127.0.0.1:5060"
        );
        assert_eq!(
            parse_from(Some("441234567890"), local).expect("digits").1,
            "sip:441234567890@127.0.0.1:5060"
        );
        assert_eq!(
            parse_from(Some("\"Alice A\" <sip:alice@example.com>"), local)
                .expect("name-addr")
                .0,
            "\"Alice A\" <sip:alice@example.com>"
        );
        assert_eq!(
            parse_from(Some("sip:a@b"), local).expect("uri").0,
            "<sip:a@b>"
        );
        assert_eq!(
            parse_from(Some("a b"), local).expect("escaped").1,
            "sip:a%20b@127.0.0.1:5060"
        );
        for bad in [
            "",
            "x\r\nVia: y",
            "@host",
            "a@b c",
            "\"N\" <http://x>",
            "sip:a@b;tag=1",
        ] {
            assert!(parse_from(Some(bad), local).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn proxies_get_lr() {
        let proxy = parse_proxy("sip:proxy.example.com:5080;transport=tcp").expect("proxy");
        assert_eq!(proxy.route, "<sip:proxy.example.com:5080;transport=tcp;lr>");
        assert_eq!(proxy.transport, Some(Transport::Tcp));
        let proxy = parse_proxy("<sip:10.0.0.1;lr>").expect("proxy");
        assert_eq!(proxy.route, "<sip:10.0.0.1;lr>");
        assert!(parse_proxy("tel:123").is_err());
        let secure = parse_proxy("sips:p.example.com").expect("sips proxy");
        assert_eq!(secure.transport, Some(Transport::Tls));
    }

    #[test]
    fn header_checks() {
        assert!(check_header("X-Authorization", "me@my.place").is_ok());
        assert!(check_header("x-a.b!c%d*e_f+g`h'i~j", "v").is_ok());
        for name in [
            "",
            "X Bad",
            "X:Bad",
            "Via",
            "via",
            "v",
            "CSeq",
            "Content-Type",
            "c",
            "l",
            "Route",
        ] {
            assert!(check_header(name, "v").is_err(), "{name:?}");
        }
        assert!(check_header("X-A", "1\r\nVia: x").is_err());
        assert!(
            check_headers(&[("X-A".into(), "1".into()), ("Call-ID".into(), "x".into())]).is_err()
        );
    }
}
