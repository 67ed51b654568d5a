//! Receive-path validation in front of rsipstack's parser.
//!
//! What lives here: [`Inspector::inspect`] decides for every received message
//! (one UDP datagram, or one message framed from a TCP stream) whether it is
//! handed to rsipstack ([`Verdict::Accept`], with the header section rewritten
//! into a canonical form), answered statelessly here ([`Verdict::Reply`]), or
//! dropped ([`Verdict::Discard`]). Pure: bytes in, verdict out; it depends on
//! [`crate::wire`] and, as a last check, on rsipstack's parser itself.
//!
//! Why: rsipstack 0.7.14's parser rejects extension methods and drops what it
//! cannot parse without a word, and it accepts many malformed messages (see
//! the RFC 4475 table in `validate/tests.rs`). A UAS must answer those as
//! RFC 3261 says, so the checks run here in RFC 3261 §8.2 order:
//! syntax (400), protocol version (505), method (501 unknown, 405 not
//! allowed), Request-URI scheme (416, §8.2.2.1), Require (420, §8.2.2.3).
//! Framing follows §18.3 (Content-Length on UDP: shorter → cut, longer → 400).
//! A request we cannot even answer (no Via or no CSeq), any malformed ACK
//! (§17.2.3: never answered) and any malformed response are discarded.
//!
//! The canonical rewrite unfolds header lines and removes the LWS RFC 3261
//! §25.1 allows around `;`, `=`, `,` and `/` in address and Via headers,
//! which rsipstack does not accept (RFC 4475 §3.1.1.1 `wsinv`). It also reads
//! the IPv6 references RFC 5118 §4.10 asks us to tolerate
//! (`[2001:db8:::192.0.2.1]`) as the address they mean.

use std::borrow::Cow;
use std::net::SocketAddr;

use crate::Transport;
use crate::wire::{
    QuotedString, RawMessage, collapse_ipv6_triple_colons, full_name, header_params, is_token,
    name_addr_uri, param, rfc2543_from_tag, scan, split_list, tighten_separators,
};

/// Methods this UAS implements; the `Allow` header value.
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, MESSAGE, UPDATE";

/// Option tags we implement (`Require` naming only these is fine): RFC 4028
/// session timers.
const SUPPORTED_OPTIONS: [&str; 1] = ["timer"];

/// Methods rsipstack can parse (a subset of the IANA registry). Others are
/// extension methods to us (RFC 3261 §8.2.1: 501).
const KNOWN_METHODS: [&str; 14] = [
    "ACK",
    "BYE",
    "CANCEL",
    "INFO",
    "INVITE",
    "MESSAGE",
    "NOTIFY",
    "OPTIONS",
    "PRACK",
    "PUBLISH",
    "REFER",
    "REGISTER",
    "SUBSCRIBE",
    "UPDATE",
];
const ALLOWED_METHODS: [&str; 8] = [
    "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "MESSAGE", "UPDATE",
];

/// Largest message accepted on any transport.
pub(crate) const MAX_MESSAGE_SIZE: usize = 65_535;

/// What to do with one received message.
#[derive(Debug)]
pub(crate) enum Verdict<'a> {
    /// Hand these bytes to rsipstack.
    Accept(Cow<'a, [u8]>),
    /// Send this response and do not hand the message on.
    Reply(Rejection),
    /// Drop the message; the text says why (for logs).
    Discard(&'static str),
}

/// A stateless response to a request that never reaches rsipstack.
#[derive(Debug, Clone)]
pub(crate) struct Rejection {
    pub status: u16,
    /// Reason phrase sent on the wire (also the log text).
    pub phrase: &'static str,
    /// The complete response message.
    pub response: Vec<u8>,
    /// Where a UDP response goes (RFC 3261 §18.2.2); unused on TCP.
    pub destination: SocketAddr,
}

/// Why a request is refused: status, reason phrase, extra response headers.
struct Failure {
    status: u16,
    phrase: &'static str,
    extra: Vec<(&'static str, String)>,
}

fn bad(phrase: &'static str) -> Failure {
    Failure {
        status: 400,
        phrase,
        extra: Vec::new(),
    }
}

/// Validates received messages and builds stateless responses.
#[derive(Debug, Clone)]
pub(crate) struct Inspector {
    server: String,
}

impl Inspector {
    /// `server` is the `Server` header value of stateless responses.
    pub(crate) fn new(server: &str) -> Self {
        Self {
            server: server.to_string(),
        }
    }

    /// Decide what to do with one message received from `source`. Never
    /// panics, whatever the bytes.
    pub(crate) fn inspect<'a>(
        &self,
        input: &'a [u8],
        transport: Transport,
        source: SocketAddr,
    ) -> Verdict<'a> {
        if input.iter().all(u8::is_ascii_whitespace) {
            // Keepalives (RFC 5626 §3.5.1); rsipstack answers them.
            return Verdict::Accept(Cow::Borrowed(input));
        }
        let msg = scan(input);
        if msg.is_response() {
            return match check_response(&msg, transport) {
                Ok(bytes) => Verdict::Accept(Cow::Owned(bytes)),
                Err(why) => Verdict::Discard(why),
            };
        }
        let is_ack = msg.start_line.split(' ').next() == Some("ACK");
        let answerable = msg.first("Via").is_some() && msg.first("CSeq").is_some();
        let failure = if input.len() > MAX_MESSAGE_SIZE {
            Failure {
                status: 513,
                phrase: "Message Too Large",
                extra: Vec::new(),
            }
        } else {
            match check_request(&msg, transport, source) {
                Ok(bytes) => return Verdict::Accept(Cow::Owned(bytes)),
                Err(failure) => failure,
            }
        };
        if is_ack {
            return Verdict::Discard("malformed ACK");
        }
        if !answerable {
            return Verdict::Discard("malformed request without Via or CSeq");
        }
        Verdict::Reply(Rejection {
            status: failure.status,
            phrase: failure.phrase,
            response: self.build_reply(&msg, &failure),
            destination: reply_destination(&msg, source),
        })
    }

    /// 513 Message Too Large for a request that passed validation but does
    /// not fit the receiver; `None` when it cannot be answered.
    pub(crate) fn too_large(&self, input: &[u8], source: SocketAddr) -> Option<Rejection> {
        let msg = scan(input);
        let answerable = msg.first("Via").is_some() && msg.first("CSeq").is_some();
        let is_ack = msg.start_line.split(' ').next() == Some("ACK");
        if msg.is_response() || is_ack || !answerable {
            return None;
        }
        let failure = Failure {
            status: 513,
            phrase: "Message Too Large",
            extra: Vec::new(),
        };
        Some(Rejection {
            status: failure.status,
            phrase: failure.phrase,
            response: self.build_reply(&msg, &failure),
            destination: reply_destination(&msg, source),
        })
    }

    fn build_reply(&self, msg: &RawMessage<'_>, failure: &Failure) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {} {}\r\n", failure.status, failure.phrase);
        for via in msg.values("Via") {
            out.push_str(&format!("Via: {via}\r\n"));
        }
        if let Some(from) = msg.first("From") {
            out.push_str(&format!("From: {from}\r\n"));
        }
        if let Some(to) = msg.first("To") {
            // RFC 3261 §8.2.6.2: a UAS adds a To tag to its responses.
            match param(header_params(to), "tag") {
                Some(_) => out.push_str(&format!("To: {to}\r\n")),
                None => out.push_str(&format!("To: {to};tag={}\r\n", crate::random_token(10))),
            }
        }
        for name in ["Call-ID", "CSeq"] {
            if let Some(value) = msg.first(name) {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        out.push_str(&format!("Server: {}\r\n", self.server));
        for (name, value) in &failure.extra {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("Content-Length: 0\r\n\r\n");
        out.into_bytes()
    }
}

/// Checks on a request, in RFC 3261 §8.2 order; the canonical bytes on success.
fn check_request(
    msg: &RawMessage<'_>,
    transport: Transport,
    source: SocketAddr,
) -> Result<Vec<u8>, Failure> {
    if let Some(defect) = msg.defects.first() {
        return Err(bad(defect));
    }
    if !msg.terminated {
        return Err(bad("Missing empty line after the header section"));
    }
    let parts: Vec<&str> = msg.start_line.split(' ').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || p.contains('\t')) {
        return Err(bad("Malformed Request-Line"));
    }
    let (method, uri, version) = (parts[0], parts[1], parts[2]);
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        // Bytes, not `str` slicing: byte 4 may fall inside a multi-byte character.
        if version.len() > 4 && version.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/") {
            return Err(Failure {
                status: 505,
                phrase: "Version Not Supported",
                extra: Vec::new(),
            });
        }
        return Err(bad("Malformed SIP-Version"));
    }
    if !is_token(method) {
        return Err(bad("Malformed method"));
    }
    check_request_uri_hostport(uri)?;
    check_required_headers(msg)?;
    let cseq_method = check_cseq(msg.first("CSeq").unwrap_or_default())?;
    // Methods are case-sensitive (RFC 3261 §7.1): "invite" is an extension.
    if !KNOWN_METHODS.contains(&method) {
        return Err(Failure {
            status: 501,
            phrase: "Not Implemented",
            extra: vec![("Allow", ALLOW.to_string())],
        });
    }
    if cseq_method != method {
        return Err(bad("CSeq method does not match the Request-Line"));
    }
    if !ALLOWED_METHODS.contains(&method) {
        return Err(Failure {
            status: 405,
            phrase: "Method Not Allowed",
            extra: vec![("Allow", ALLOW.to_string())],
        });
    }
    check_request_uri(uri)?;
    check_header_syntax(msg)?;
    let body = framed_body(msg, transport)?;
    if method != "ACK" && method != "CANCEL" {
        let required: Vec<&str> = msg
            .values("Require")
            .flat_map(split_list)
            .filter(|tag| {
                !tag.is_empty()
                    && !SUPPORTED_OPTIONS
                        .iter()
                        .any(|known| tag.eq_ignore_ascii_case(known))
            })
            .collect();
        if !required.is_empty() {
            return Err(Failure {
                status: 420,
                phrase: "Bad Extension",
                extra: vec![("Unsupported", required.join(", "))],
            });
        }
    }
    let from_tag = rfc2543_tag(msg, transport)?;
    let bytes = canonical_bytes(msg, body, from_tag.as_deref());
    check_with_rsipstack(&bytes, source, transport)
        .map_err(|()| bad("Request could not be parsed"))?;
    Ok(bytes)
}

/// Checks on a response: anything wrong means discard (RFC 4475 §3.1.2.19).
fn check_response(msg: &RawMessage<'_>, transport: Transport) -> Result<Vec<u8>, &'static str> {
    if !msg.defects.is_empty() || !msg.terminated {
        return Err("malformed response");
    }
    let mut parts = msg.start_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err("response with unsupported SIP-Version");
    }
    let valid_code = code.len() == 3
        && code.bytes().all(|b| b.is_ascii_digit())
        && (100..=699).contains(&code.parse::<u16>().unwrap_or(0));
    if !valid_code {
        return Err("response with invalid status code");
    }
    check_required_headers(msg).map_err(|f| f.phrase)?;
    check_cseq(msg.first("CSeq").unwrap_or_default()).map_err(|f| f.phrase)?;
    let body = framed_body(msg, transport).map_err(|f| f.phrase)?;
    let bytes = canonical_bytes(msg, body, None);
    match rsipstack::sip::SipMessage::try_from(&bytes[..]) {
        Ok(_) => Ok(bytes),
        Err(_) => Err("response could not be parsed"),
    }
}

/// Via, From, To, Call-ID and CSeq present; single-valued headers once.
fn check_required_headers(msg: &RawMessage<'_>) -> Result<(), Failure> {
    let missing = [
        ("Via", "Missing Via"),
        ("From", "Missing From"),
        ("To", "Missing To"),
        ("Call-ID", "Missing Call-ID"),
        ("CSeq", "Missing CSeq"),
    ];
    for (name, phrase) in missing {
        if msg.first(name).is_none() {
            return Err(bad(phrase));
        }
    }
    // RFC 3261 §7.3.1: these may not appear twice (RFC 4475 §3.3.8).
    let single = [
        ("From", "Multiple From values"),
        ("To", "Multiple To values"),
        ("Call-ID", "Multiple Call-ID values"),
        ("CSeq", "Multiple CSeq values"),
        ("Max-Forwards", "Multiple Max-Forwards values"),
        ("Content-Type", "Multiple Content-Type values"),
    ];
    for (name, phrase) in single {
        if msg.values(name).count() > 1 {
            return Err(bad(phrase));
        }
    }
    if msg
        .first("Call-ID")
        .is_some_and(|v| v.is_empty() || v.contains(char::is_whitespace))
    {
        return Err(bad("Malformed Call-ID"));
    }
    Ok(())
}

/// `CSeq: <32-bit number> <method>`; returns the method.
fn check_cseq(value: &str) -> Result<&str, Failure> {
    let mut parts = value.split_whitespace();
    let (Some(number), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("Malformed CSeq"));
    };
    let valid_number = number.bytes().all(|b| b.is_ascii_digit())
        && number
            .parse::<u64>()
            .is_ok_and(|n| n <= u64::from(u32::MAX));
    if !valid_number || !is_token(method) {
        return Err(bad("Malformed CSeq"));
    }
    Ok(method)
}

fn check_request_uri(uri: &str) -> Result<(), Failure> {
    if uri.contains(['<', '>']) {
        return Err(bad("Request-URI enclosed in angle brackets"));
    }
    let Some((scheme, _)) = uri.split_once(':') else {
        return Err(bad("Request-URI without scheme"));
    };
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return Err(Failure {
            status: 416,
            phrase: "Unsupported URI Scheme",
            extra: Vec::new(),
        });
    }
    if uri.contains('?') {
        return Err(bad("Headers in the Request-URI"));
    }
    Ok(())
}

/// The `hostport` of a `sip:`/`sips:` Request-URI (RFC 3261 §25.1): a host
/// without ':' or a bracketed IPv6 reference, then an optional numeric port.
/// A syntax error, so 400 before any method check: RFC 5118 §4.2's
/// `sip:2001:db8::10` is not a URI. Other schemes are judged later (416).
fn check_request_uri_hostport(uri: &str) -> Result<(), Failure> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Ok(());
    };
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return Ok(());
    }
    // The user part may hold ';', '?' and escaped '@' but no bare '@'; the
    // parameters and headers after the host hold no '@' either.
    let host_part = rest.rfind('@').map_or(rest, |at| &rest[at + 1..]);
    let hostport = host_part.split([';', '?']).next().unwrap_or_default();
    let valid = split_host_port(hostport).is_some_and(|(host, port)| {
        !host.is_empty() && port.is_none_or(|port| port.parse::<u16>().is_ok())
    });
    if valid {
        Ok(())
    } else {
        Err(bad("Malformed Request-URI host"))
    }
}

/// Syntax of Via, From, To, Contact and Max-Forwards.
fn check_header_syntax(msg: &RawMessage<'_>) -> Result<(), Failure> {
    for via in msg.values("Via") {
        for element in split_list(via) {
            check_via_element(element).map_err(|()| bad("Malformed Via"))?;
        }
    }
    for (name, phrase) in [("From", "Malformed From"), ("To", "Malformed To")] {
        if let Some(value) = msg.first(name) {
            check_name_addr(value).map_err(|()| bad(phrase))?;
        }
    }
    for contact in msg.values("Contact") {
        if contact == "*" {
            continue;
        }
        for element in split_list(contact) {
            check_name_addr(element).map_err(|()| bad("Malformed Contact"))?;
        }
    }
    if let Some(max) = msg.first("Max-Forwards")
        && (max.is_empty() || !max.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("Malformed Max-Forwards"));
    }
    Ok(())
}

/// `SIP/2.0/<transport> <host>[:<port>] *(;param)` (RFC 3261 §20.42).
fn check_via_element(element: &str) -> Result<(), ()> {
    let tight = tighten_separators(element, true);
    let (head, params) = match tight.find(';') {
        Some(semi) => (&tight[..semi], &tight[semi..]),
        None => (tight.as_str(), ""),
    };
    let (protocol, sent_by) = head.split_once(' ').ok_or(())?;
    let protocol: Vec<&str> = protocol.split('/').collect();
    if protocol.len() != 3 || !protocol.iter().all(|p| is_token(p)) {
        return Err(());
    }
    let sent_by = sent_by.replace([' ', '\t'], "");
    let (host, port) = split_host_port(&sent_by).ok_or(())?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:[]".contains(c));
    if !host_ok || port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Err(());
    }
    check_params(params)
}

/// `name-addr` or `addr-spec` followed by `;params` (RFC 3261 §20.10/§25.1).
fn check_name_addr(value: &str) -> Result<(), ()> {
    let mut quotes = QuotedString::default();
    let (mut open, mut close) = (None, None);
    for (i, c) in value.char_indices() {
        if quotes.feed(c) {
            continue;
        }
        match c {
            '<' if open.is_none() => open = Some(i),
            '>' if open.is_some() && close.is_none() => close = Some(i),
            '<' | '>' => return Err(()),
            _ => {}
        }
    }
    if quotes.is_open() {
        return Err(());
    }
    match (open, close) {
        (Some(open), Some(close)) => {
            let display = value[..open].trim();
            let quoted = display.len() >= 2 && display.starts_with('"') && display.ends_with('"');
            let tokens = display
                .chars()
                .all(|c| c.is_whitespace() || is_token_char(c));
            if !quoted && !tokens {
                return Err(());
            }
            let addr = &value[open + 1..close];
            if addr.is_empty() || addr.contains(char::is_whitespace) || !addr.contains(':') {
                return Err(());
            }
            check_params(&value[close + 1..])
        }
        (None, None) => {
            let (uri, params) = match value.find(';') {
                Some(semi) => (&value[..semi], &value[semi..]),
                None => (value, ""),
            };
            let uri = uri.trim();
            // RFC 3261 §20.10: such URIs need the name-addr form.
            if uri.is_empty()
                || !uri.contains(':')
                || uri.contains(|c: char| c.is_whitespace() || c == '?' || c == ',')
            {
                return Err(());
            }
            check_params(params)
        }
        _ => Err(()),
    }
}

fn is_token_char(c: char) -> bool {
    crate::wire::is_token_char(c)
}

/// `*( SEMI name [EQUAL value] )` with no empty parameter.
fn check_params(params: &str) -> Result<(), ()> {
    let params = params.trim();
    if params.is_empty() {
        return Ok(());
    }
    let Some(rest) = params.strip_prefix(';') else {
        return Err(());
    };
    for p in rest.split(';') {
        let (name, value) = match p.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (p.trim(), None),
        };
        if !is_token(name) || value.is_some_and(str::is_empty) {
            return Err(());
        }
    }
    Ok(())
}

/// Split `host[:port]`, IPv6 references included.
fn split_host_port(sent_by: &str) -> Option<(&str, Option<&str>)> {
    if sent_by.starts_with('[') {
        let close = sent_by.find(']')?;
        let rest = &sent_by[close + 1..];
        return match rest.strip_prefix(':') {
            Some(port) => Some((&sent_by[..=close], Some(port))),
            None if rest.is_empty() => Some((sent_by, None)),
            None => None,
        };
    }
    Some(match sent_by.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (sent_by, None),
    })
}

/// The body as framed by Content-Length (RFC 3261 §18.3, §20.14).
fn framed_body<'a>(msg: &RawMessage<'a>, transport: Transport) -> Result<&'a [u8], Failure> {
    let mut length: Option<usize> = None;
    for value in msg.values("Content-Length") {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("Malformed Content-Length"));
        }
        let parsed = value.parse::<usize>().unwrap_or(usize::MAX);
        if length.is_some_and(|l| l != parsed) {
            return Err(bad("Conflicting Content-Length values"));
        }
        length = Some(parsed);
    }
    match (length, transport) {
        (Some(length), _) if length > msg.body.len() => {
            Err(bad("Content-Length larger than the message"))
        }
        (Some(length), _) => Ok(&msg.body[..length]),
        (None, Transport::Udp) => Ok(msg.body),
        (None, Transport::Tcp | Transport::Tls) => Err(bad("Missing Content-Length")),
    }
}

/// The From tag to add to a request whose From has none: an RFC 2543 client
/// (RFC 4475 §3.4.1), which RFC 3261 §8.2 still serves. Over UDP the
/// stand-in is removed from everything sent back (`udp.rs`); rsipstack
/// writes to streams itself, where it would leak, so there it is a 400.
fn rfc2543_tag(msg: &RawMessage<'_>, transport: Transport) -> Result<Option<String>, Failure> {
    let from = msg.first("From").unwrap_or_default();
    if param(header_params(from), "tag").is_some() {
        return Ok(None);
    }
    if transport != Transport::Udp {
        return Err(bad("Missing From tag"));
    }
    let from = tighten_separators(from, false);
    let call_id = msg.first("Call-ID").unwrap_or_default();
    Ok(Some(rfc2543_from_tag(call_id, name_addr_uri(&from).trim())))
}

/// The message rewritten: unfolded header lines, tightened separators in the
/// headers rsipstack parses structurally, Content-Length always present, and
/// `from_tag` (if any) added to From.
fn canonical_bytes(msg: &RawMessage<'_>, body: &[u8], from_tag: Option<&str>) -> Vec<u8> {
    let mut out = String::with_capacity(256 + msg.headers.len() * 64);
    out.push_str(&collapse_ipv6_triple_colons(&msg.start_line));
    out.push_str("\r\n");
    for header in &msg.headers {
        let full = full_name(&header.name);
        // Headers rsipstack parses structurally; `/` is a separator in Via only.
        let slash = match full.to_ascii_lowercase().as_str() {
            "via" => Some(true),
            "from" | "to" | "contact" | "route" | "record-route" => Some(false),
            _ => None,
        };
        let value = match slash {
            Some(slash) => Cow::Owned(tighten_separators(
                &collapse_ipv6_triple_colons(&header.value),
                slash,
            )),
            None => Cow::Borrowed(header.value.as_str()),
        };
        out.push_str(&header.name);
        out.push_str(": ");
        out.push_str(&value);
        if let Some(tag) = from_tag.filter(|_| full.eq_ignore_ascii_case("from")) {
            out.push_str(";tag=");
            out.push_str(tag);
        }
        out.push_str("\r\n");
    }
    // Over TCP the framer already required one; over UDP the datagram's
    // end framed the body (RFC 3261 §18.3).
    if msg.first("Content-Length").is_none() {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// What rsipstack will do with the bytes must succeed: parse, update the top
/// Via with `received`/`rport`, and build a transaction key.
fn check_with_rsipstack(bytes: &[u8], source: SocketAddr, transport: Transport) -> Result<(), ()> {
    use rsipstack::transaction::key::{TransactionKey, TransactionRole};
    let message = rsipstack::sip::SipMessage::try_from(bytes).map_err(|_| ())?;
    let message = rsipstack::transport::SipConnection::update_msg_received(
        message,
        source,
        transport.to_rsip(),
    )
    .map_err(|_| ())?;
    match message {
        rsipstack::sip::SipMessage::Request(request) => {
            TransactionKey::from_request(&request, TransactionRole::Server).map_err(|_| ())?;
            Ok(())
        }
        rsipstack::sip::SipMessage::Response(_) => Err(()),
    }
}

/// RFC 3261 §18.2.2 for a request we answer ourselves: the source address,
/// at the source port if the client asked for `rport` (RFC 3581), else at the
/// Via sent-by port.
fn reply_destination(msg: &RawMessage<'_>, source: SocketAddr) -> SocketAddr {
    let Some(via) = msg.first("Via") else {
        return source;
    };
    let top = tighten_separators(split_list(via)[0], true);
    let (head, params) = match top.find(';') {
        Some(semi) => (&top[..semi], &top[semi..]),
        None => (top.as_str(), ""),
    };
    if param(params, "rport").is_some() {
        return source;
    }
    let port = head
        .split_once(' ')
        .map(|(_, sent_by)| sent_by.replace([' ', '\t'], ""))
        .and_then(|sent_by| {
            split_host_port(&sent_by).and_then(|(_, port)| port.and_then(|p| p.parse().ok()))
        })
        .unwrap_or(5060);
    SocketAddr::new(source.ip(), port)
}

#[cfg(test)]
mod tests;
