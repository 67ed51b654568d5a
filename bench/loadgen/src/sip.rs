//! Minimal SIP text for the load generator: parse the few fields a UAC needs and build the
//! INVITE, ACK, BYE and responses it sends.
//!
//! Sans-IO, no dependencies beyond std. This is deliberately not a SIP stack: it reads the
//! start line, Via, From, To (tag), Call-ID, CSeq, Contact and the Content-Length-delimited
//! body, tolerant of header-name case, compact forms (RFC 3261 section 7.3.3) and folded
//! lines. Message shapes follow RFC 3261 sections 8.1.1 (request), 13.2.2.4 (ACK for 2xx),
//! 17.1.1.3 (ACK for a failure response), 15.1.1 (BYE) and 8.2.6 (responses).

use std::net::{IpAddr, SocketAddr};

/// The magic cookie every RFC 3261 branch starts with (section 8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// A request: method and Request-URI.
    Request {
        /// Method token as received (case-sensitive per RFC 3261).
        method: String,
        /// Request-URI text.
        uri: String,
    },
    /// A response: the status code.
    Response {
        /// Status code, 100..=699.
        status: u16,
    },
}

/// A parsed message: start line, headers in order (names as received) and body.
#[derive(Debug, Clone)]
pub struct Message {
    /// Request or response line.
    pub start: StartLine,
    headers: Vec<(String, String)>,
    /// The body, cut to Content-Length when present.
    pub body: String,
}

/// Why a datagram was not accepted as SIP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No CRLF CRLF between headers and body.
    #[error("message has no end of headers")]
    NoHeaderEnd,
    /// The first line is neither `SIP/2.0 <code> ...` nor `<METHOD> <uri> SIP/2.0`.
    #[error("bad start line {line:?}")]
    BadStartLine {
        /// The offending line.
        line: String,
    },
    /// The datagram is not UTF-8 text.
    #[error("message is not UTF-8")]
    NotText,
}

// Compact header names (RFC 3261 section 7.3.3 and the registry) for the ones we read.
fn canonical_name(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let long = match lower.as_str() {
        "i" => "call-id",
        "m" => "contact",
        "t" => "to",
        "f" => "from",
        "l" => "content-length",
        "v" => "via",
        "c" => "content-type",
        _ => return lower,
    };
    long.to_string()
}

impl Message {
    /// Parses one datagram.
    pub fn parse(datagram: &[u8]) -> Result<Message, ParseError> {
        let text = std::str::from_utf8(datagram).map_err(|_| ParseError::NotText)?;
        // Some peers send keep-alive CRLFs before a message (RFC 5626 section 4.4.1).
        let text = text.trim_start_matches(['\r', '\n']);
        let (head, rest) = match text.find("\r\n\r\n") {
            Some(index) => (&text[..index], &text[index + 4..]),
            None => match text.find("\n\n") {
                Some(index) => (&text[..index], &text[index + 2..]),
                None => return Err(ParseError::NoHeaderEnd),
            },
        };
        let mut lines = head.lines();
        let first = lines.next().unwrap_or_default().trim();
        let start = parse_start_line(first)?;
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                // Folded continuation of the previous header (RFC 3261 section 7.3.1).
                if let Some((_, value)) = headers.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((canonical_name(name), value.trim().to_string()));
            }
        }
        let mut message = Message {
            start,
            headers,
            body: String::new(),
        };
        let length = message
            .header("content-length")
            .and_then(|value| value.parse::<usize>().ok());
        let body = match length {
            Some(length) if length <= rest.len() && rest.is_char_boundary(length) => {
                &rest[..length]
            }
            _ => rest,
        };
        message.body = body.to_string();
        Ok(message)
    }

    /// The first header with this (long, case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers_named(name).next()
    }

    /// Every header with this (long, case-insensitive) name, in order. Comma-joined values
    /// stay as one item (callers copy Via lines verbatim, which is what a response needs).
    pub fn headers_named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + use<'a> {
        let wanted = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(move |(header, _)| *header == wanted)
            .map(|(_, value)| value.as_str())
    }

    /// Call-ID value.
    pub fn call_id(&self) -> Option<&str> {
        self.header("call-id")
    }

    /// CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, &str)> {
        let value = self.header("cseq")?;
        let mut parts = value.split_whitespace();
        let number = parts.next()?.parse().ok()?;
        Some((number, parts.next()?))
    }

    /// The tag parameter of the To header.
    pub fn to_tag(&self) -> Option<&str> {
        header_tag(self.header("to")?)
    }

    /// The URI inside the first Contact header.
    pub fn contact_uri(&self) -> Option<&str> {
        self.header("contact").and_then(name_address_uri)
    }
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    let bad = || ParseError::BadStartLine {
        line: line.to_string(),
    };
    let mut parts = line.splitn(3, ' ');
    let first = parts.next().ok_or_else(bad)?;
    let second = parts.next().ok_or_else(bad)?;
    if first.eq_ignore_ascii_case("SIP/2.0") {
        let status: u16 = second.parse().map_err(|_| bad())?;
        if !(100..=699).contains(&status) {
            return Err(bad());
        }
        return Ok(StartLine::Response { status });
    }
    let version = parts.next().ok_or_else(bad)?;
    if !version.trim().eq_ignore_ascii_case("SIP/2.0") {
        return Err(bad());
    }
    Ok(StartLine::Request {
        method: first.to_string(),
        uri: second.to_string(),
    })
}

/// The `tag` parameter of a From/To value, looked for after the URI.
pub fn header_tag(value: &str) -> Option<&str> {
    // Parameters after '>' belong to the header; without angle brackets they follow the URI.
    let parameters = match value.rfind('>') {
        Some(index) => &value[index + 1..],
        None => value,
    };
    parameters.split(';').skip(1).find_map(|parameter| {
        let (name, tag) = parameter.split_once('=')?;
        name.trim().eq_ignore_ascii_case("tag").then(|| tag.trim())
    })
}

/// The URI of a name-addr (`"x" <sip:..>;p`) or addr-spec (`sip:..;p`) header value.
pub fn name_address_uri(value: &str) -> Option<&str> {
    if let Some(open) = value.find('<') {
        let close = value[open..].find('>')? + open;
        return Some(value[open + 1..close].trim());
    }
    // Without brackets a ';' starts header parameters (RFC 3261 section 20.10).
    let uri = value.split(';').next()?.trim();
    (!uri.is_empty()).then_some(uri)
}

/// The socket address a SIP URI names when its host is an IP literal (port 5060 when
/// absent); `None` for host names, which the generator does not resolve.
pub fn uri_socket_address(uri: &str) -> Option<SocketAddr> {
    let after_scheme = uri.split_once(':')?.1;
    let host_port = after_scheme
        .rsplit_once('@')
        .map_or(after_scheme, |(_, host)| host);
    let host_port = host_port.split([';', '?']).next()?;
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let ip: IpAddr = host.parse().ok()?;
    let port = match port {
        Some(text) => text.parse().ok()?,
        None => 5060,
    };
    Some(SocketAddr::new(ip, port))
}

/// The identifiers of one call leg as the UAC created them.
#[derive(Debug, Clone)]
pub struct Leg {
    /// Call-ID.
    pub call_id: String,
    /// Our From tag.
    pub local_tag: String,
    /// Branch of the INVITE transaction (reused by the ACK of a failure response).
    pub invite_branch: String,
    /// Our signalling address (Via sent-by, Contact).
    pub local: SocketAddr,
    /// Request-URI of the INVITE.
    pub request_uri: String,
}

impl Leg {
    fn via(&self, branch: &str) -> String {
        format!("Via: SIP/2.0/UDP {};branch={branch};rport\r\n", self.local)
    }

    fn from(&self) -> String {
        format!(
            "From: <sip:loadgen@{}>;tag={}\r\n",
            self.local, self.local_tag
        )
    }

    /// The INVITE with an SDP offer (RFC 3261 section 8.1.1, CSeq 1).
    pub fn invite(&self, sdp: &str) -> String {
        format!(
            "INVITE {uri} SIP/2.0\r\n{via}Max-Forwards: 70\r\n{from}To: <{uri}>\r\nCall-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:loadgen@{local}>\r\nAllow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n\
             User-Agent: callhost-loadgen\r\nContent-Type: application/sdp\r\nContent-Length: {length}\r\n\r\n{sdp}",
            uri = self.request_uri,
            via = self.via(&self.invite_branch),
            from = self.from(),
            call_id = self.call_id,
            local = self.local,
            length = sdp.len(),
        )
    }

    /// The ACK for a failure response: same branch and Request-URI as the INVITE, To taken
    /// from the response (RFC 3261 section 17.1.1.3).
    pub fn failure_ack(&self, response_to: &str) -> String {
        format!(
            "ACK {uri} SIP/2.0\r\n{via}Max-Forwards: 70\r\n{from}To: {response_to}\r\nCall-ID: {call_id}\r\n\
             CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            uri = self.request_uri,
            via = self.via(&self.invite_branch),
            from = self.from(),
            call_id = self.call_id,
        )
    }

    /// An in-dialog request (ACK for a 2xx with CSeq 1, or BYE with CSeq 2) to the remote
    /// target, in a fresh transaction `branch` (RFC 3261 sections 12.2.1.1 and 13.2.2.4).
    /// The route set is ignored: the generator talks to the host directly.
    pub fn in_dialog(
        &self,
        method: &str,
        sequence: u32,
        branch: &str,
        remote_target: &str,
        remote_to: &str,
    ) -> String {
        format!(
            "{method} {remote_target} SIP/2.0\r\n{via}Max-Forwards: 70\r\n{from}To: {remote_to}\r\n\
             Call-ID: {call_id}\r\nCSeq: {sequence} {method}\r\nContent-Length: 0\r\n\r\n",
            via = self.via(branch),
            from = self.from(),
            call_id = self.call_id,
        )
    }
}

/// A response to a request the host sent (BYE, OPTIONS, ...), copying Via, From, To,
/// Call-ID and CSeq (RFC 3261 section 8.2.6.2). `to_tag` is added when the To has none.
pub fn response_to(request: &Message, status: u16, reason: &str, to_tag: &str) -> String {
    let mut text = format!("SIP/2.0 {status} {reason}\r\n");
    for via in request.headers_named("via") {
        text.push_str(&format!("Via: {via}\r\n"));
    }
    if let Some(from) = request.header("from") {
        text.push_str(&format!("From: {from}\r\n"));
    }
    if let Some(to) = request.header("to") {
        if header_tag(to).is_some() {
            text.push_str(&format!("To: {to}\r\n"));
        } else {
            text.push_str(&format!("To: {to};tag={to_tag}\r\n"));
        }
    }
    for name in ["call-id", "cseq"] {
        if let Some(value) = request.header(name) {
            let label = if name == "call-id" { "Call-ID" } else { "CSeq" };
            text.push_str(&format!("{label}: {value}\r\n"));
        }
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK_WITH_SDP: &str = "SIP/2.0 200 OK\r\n\
        v: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bK-1\r\n\
        f: <sip:loadgen@127.0.0.1:4000>;tag=abc\r\n\
        t: <sip:svc@127.0.0.1:5060>;tag=host-77\r\n\
        i: 3-run@loadgen\r\n\
        cseq: 1 INVITE\r\n\
        m: \"Host\" <sip:svc@127.0.0.1:5062;transport=udp>;expires=60\r\n\
        c: application/sdp\r\n\
        l: 10\r\n\r\nv=0\r\ns=-\r\nEXTRA";

    #[test]
    fn parses_a_compact_form_response() {
        let message = Message::parse(OK_WITH_SDP.as_bytes()).expect("parses");
        assert_eq!(message.start, StartLine::Response { status: 200 });
        assert_eq!(message.call_id(), Some("3-run@loadgen"));
        assert_eq!(message.cseq(), Some((1, "INVITE")));
        assert_eq!(message.to_tag(), Some("host-77"));
        assert_eq!(
            message.contact_uri(),
            Some("sip:svc@127.0.0.1:5062;transport=udp")
        );
        assert_eq!(
            message.body, "v=0\r\ns=-\r\n",
            "body is cut at Content-Length"
        );
    }

    #[test]
    fn parses_a_request_with_mixed_case_and_folded_headers() {
        let text = "BYE sip:loadgen@127.0.0.1:4000 SIP/2.0\r\nVIA: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
                    CALL-id: 9-run@loadgen\r\nTo: <sip:loadgen@127.0.0.1:4000>\r\n ;tag=abc\r\nCseq: 7 BYE\r\n\r\n";
        let message = Message::parse(text.as_bytes()).expect("parses");
        assert_eq!(
            message.start,
            StartLine::Request {
                method: "BYE".into(),
                uri: "sip:loadgen@127.0.0.1:4000".into()
            }
        );
        assert_eq!(message.call_id(), Some("9-run@loadgen"));
        assert_eq!(message.to_tag(), Some("abc"));
        let response = response_to(&message, 200, "OK", "unused");
        assert!(
            response.starts_with(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n"
            )
        );
        assert!(response.contains("CSeq: 7 BYE\r\n"));
        assert!(response.contains("To: <sip:loadgen@127.0.0.1:4000> ;tag=abc\r\n"));
        assert!(response.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn rejects_non_sip() {
        assert!(matches!(
            Message::parse(b"HTTP/1.1 200 OK\r\n\r\n"),
            Err(ParseError::BadStartLine { .. })
        ));
        assert_eq!(
            Message::parse(b"SIP/2.0 200 OK\r\n").unwrap_err(),
            ParseError::NoHeaderEnd
        );
        assert!(matches!(
            Message::parse(b"SIP/2.0 99 Low\r\n\r\n"),
            Err(ParseError::BadStartLine { .. })
        ));
    }

    #[test]
    fn uri_addresses() {
        assert_eq!(
            uri_socket_address("sip:a@127.0.0.1:5062;transport=udp"),
            Some("127.0.0.1:5062".parse().unwrap())
        );
        assert_eq!(
            uri_socket_address("sip:127.0.0.1"),
            Some("127.0.0.1:5060".parse().unwrap())
        );
        assert_eq!(
            uri_socket_address("sip:x@[::1]:7000"),
            Some("[::1]:7000".parse().unwrap())
        );
        assert_eq!(uri_socket_address("sip:x@host.example"), None);
        assert_eq!(
            name_address_uri("sip:x@1.2.3.4;expires=3"),
            Some("sip:x@1.2.3.4")
        );
        assert_eq!(header_tag("sip:x@1.2.3.4;tag=zz"), Some("zz"));
        assert_eq!(header_tag("<sip:x@1.2.3.4;tag=uri-param>"), None);
    }

    #[test]
    fn built_requests_parse_back() {
        let leg = Leg {
            call_id: "1-r@loadgen".into(),
            local_tag: "t1".into(),
            invite_branch: format!("{BRANCH_COOKIE}-i1"),
            local: "127.0.0.1:4000".parse().unwrap(),
            request_uri: "sip:prompt-loop@127.0.0.1:5060".into(),
        };
        let invite = Message::parse(leg.invite("v=0\r\n").as_bytes()).expect("INVITE parses");
        assert_eq!(invite.cseq(), Some((1, "INVITE")));
        assert_eq!(invite.body, "v=0\r\n");
        let ack =
            Message::parse(leg.failure_ack("<sip:x@y>;tag=r").as_bytes()).expect("ACK parses");
        assert_eq!(
            ack.header("via"),
            invite.header("via"),
            "failure ACK reuses the INVITE branch"
        );
        let bye = leg.in_dialog(
            "BYE",
            2,
            "z9hG4bK-b",
            "sip:svc@127.0.0.1:5062",
            "<sip:svc@h>;tag=r",
        );
        let bye = Message::parse(bye.as_bytes()).expect("BYE parses");
        assert_eq!(
            bye.start,
            StartLine::Request {
                method: "BYE".into(),
                uri: "sip:svc@127.0.0.1:5062".into()
            }
        );
        assert_eq!(bye.cseq(), Some((2, "BYE")));
        assert_eq!(bye.to_tag(), Some("r"));
    }
}
