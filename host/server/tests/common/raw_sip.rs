//! Just enough SIP text handling for tests that send raw bytes: read the
//! header section of a (possibly malformed) message, find a header by full or
//! compact name (RFC 3261 §7.3.3), frame messages out of a TCP byte stream by
//! Content-Length (§18.3), and tell which port a message's top Via names
//! (§18.2.2: where a UDP answer goes). Tolerant by design: it must read the
//! RFC 4475 torture messages without judging them. Depends only on std.

/// The start line and header fields of one message.
#[derive(Debug, Clone)]
pub struct Head {
    /// The first line, as sent.
    pub start_line: String,
    /// (lower-case full header name, value) in order; folded lines joined.
    pub headers: Vec<(String, String)>,
}

/// The full name of a compact header form (RFC 3261 §7.3.3), lower case.
fn full_name(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let full = match lower.as_str() {
        "i" => "call-id",
        "v" => "via",
        "f" => "from",
        "t" => "to",
        "m" => "contact",
        "l" => "content-length",
        "c" => "content-type",
        "k" => "supported",
        "s" => "subject",
        "e" => "content-encoding",
        other => other,
    };
    full.to_owned()
}

impl Head {
    /// Read the header section of `bytes` (up to the first empty line, or all
    /// of it when there is none).
    pub fn parse(bytes: &[u8]) -> Head {
        let text = String::from_utf8_lossy(bytes);
        let section = match (text.find("\r\n\r\n"), text.find("\n\n")) {
            (Some(crlf), Some(lf)) => &text[..crlf.min(lf)],
            (Some(end), None) | (None, Some(end)) => &text[..end],
            (None, None) => &text[..],
        };
        let mut lines: Vec<String> = Vec::new();
        for line in section.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            match lines.last_mut() {
                // A line starting with whitespace continues the previous one.
                Some(last) if line.starts_with([' ', '\t']) => {
                    last.push(' ');
                    last.push_str(line.trim());
                }
                _ => lines.push(line.to_owned()),
            }
        }
        let start_line = if lines.is_empty() {
            String::new()
        } else {
            lines.remove(0)
        };
        let headers = lines
            .iter()
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (full_name(name), value.trim().to_owned()))
            .collect();
        Head {
            start_line,
            headers,
        }
    }

    /// The first value of header `name` (full name, any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(header, _)| *header == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of header `name`, joined with ", ".
    pub fn all(&self, name: &str) -> String {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(header, _)| *header == name)
            .map(|(_, value)| value.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The status code when this is a response.
    pub fn status(&self) -> Option<u16> {
        let rest = self.start_line.strip_prefix("SIP/2.0 ")?;
        let code = rest.get(..3)?;
        code.parse().ok()
    }

    /// The CSeq value normalised for comparison: number without leading
    /// zeros, one space, method.
    pub fn cseq(&self) -> Option<String> {
        let value = self.get("cseq")?;
        let mut parts = value.split_whitespace();
        let number = parts.next()?.trim_start_matches('0');
        let method = parts.next().unwrap_or("");
        Some(format!("{number} {method}"))
    }

    /// The port of the top Via's sent-by (5060 when it names none).
    pub fn via_port(&self) -> u16 {
        self.get("via").map(via_port).unwrap_or(5060)
    }

    /// Whether `response` answers this request: same Call-ID and CSeq, where
    /// this request has them.
    pub fn is_answered_by(&self, response: &Head) -> bool {
        let same = |name: &str| match self.get(name) {
            Some(value) => response.get(name) == Some(value),
            None => true,
        };
        same("call-id") && (self.get("cseq").is_none() || self.cseq() == response.cseq())
    }
}

/// The sent-by port of the first element of a Via value: "SIP/2.0/UDP
/// host:port;params", with the LWS RFC 3261 allows around '/' and ':'.
pub fn via_port(value: &str) -> u16 {
    let first = value.split([';', ',']).next().unwrap_or("");
    // Join "SIP / 2.0 / UDP" into one word; then the second word is sent-by.
    let mut joined = String::new();
    let mut chars = first.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            while chars.peek().is_some_and(|next| next.is_whitespace()) {
                chars.next();
            }
            let next_is_separator = chars.peek().is_some_and(|next| matches!(next, '/' | ':'));
            let previous_is_separator = joined.ends_with(['/', ':']);
            if !next_is_separator && !previous_is_separator {
                joined.push(' ');
            }
        } else {
            joined.push(c);
        }
    }
    let sent_by = joined.split(' ').nth(1).unwrap_or("");
    let port = match sent_by.rfind(']') {
        Some(close) => sent_by[close + 1..].strip_prefix(':'),
        None => sent_by.split_once(':').map(|(_, port)| port),
    };
    port.and_then(|port| port.parse().ok()).unwrap_or(5060)
}

/// Take one complete message off the front of a TCP byte stream (framed by
/// its Content-Length, 0 when absent); `None` until one is complete.
pub fn next_stream_message(buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    // Keepalive CRLFs between messages (RFC 5626 §3.5.1).
    while buffer.starts_with(b"\r\n") {
        buffer.drain(..2);
    }
    let end = buffer.windows(4).position(|window| window == b"\r\n\r\n")? + 4;
    let head = Head::parse(&buffer[..end]);
    let length = head
        .get("content-length")
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(0);
    if buffer.len() < end + length {
        return None;
    }
    Some(buffer.drain(..end + length).collect())
}
