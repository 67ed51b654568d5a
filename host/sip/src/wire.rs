//! Raw SIP message scanning: the byte-level view of a message before any
//! stack parses it.
//!
//! What lives here: [`scan`] splits a datagram or framed stream message into
//! start line, unfolded header fields and body, noting structural defects
//! instead of failing; small helpers over header values (list splitting that
//! respects quotes and `<>`, parameter lookup, percent-decoding, LWS
//! normalisation). Pure functions over bytes and strings, no I/O, no
//! rsipstack types.
//!
//! RFC 3261 §7 (message format), §7.3.1 (header field folding, compact
//! forms), §7.5 (CRLF before the start line), §25.1 (LWS, SWS, token, quoted
//! string).

use std::borrow::Cow;

/// One header field as received: the name exactly as written (trimmed), the
/// value with folding undone and outer whitespace removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawHeader {
    pub name: String,
    pub value: String,
}

/// A message split at the byte level. Never fails: problems that make the
/// message malformed are collected in `defects`.
#[derive(Debug, Clone)]
pub(crate) struct RawMessage<'a> {
    /// The first line (request line or status line), lossily decoded.
    pub start_line: String,
    pub headers: Vec<RawHeader>,
    /// Bytes after the empty line (everything that followed, not yet cut to
    /// Content-Length).
    pub body: &'a [u8],
    /// Whether the header section ended with an empty line.
    pub terminated: bool,
    /// Structural defects in the header section, first one first.
    pub defects: Vec<&'static str>,
}

/// Compact header forms (RFC 3261 §7.3.3 and later RFCs) and their full names.
const COMPACT_FORMS: &[(&str, &str)] = &[
    ("a", "Accept-Contact"),
    ("b", "Referred-By"),
    ("c", "Content-Type"),
    ("d", "Request-Disposition"),
    ("e", "Content-Encoding"),
    ("f", "From"),
    ("i", "Call-ID"),
    ("j", "Reject-Contact"),
    ("k", "Supported"),
    ("l", "Content-Length"),
    ("m", "Contact"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("s", "Subject"),
    ("t", "To"),
    ("u", "Allow-Events"),
    ("v", "Via"),
    ("x", "Session-Expires"),
    ("y", "Identity"),
];

impl RawHeader {
    /// Whether this header is `canonical` (a full name such as "Call-ID"),
    /// matching case-insensitively and through compact forms.
    pub fn is(&self, canonical: &str) -> bool {
        full_name(&self.name).eq_ignore_ascii_case(canonical)
    }
}

/// The full name of a header, expanding a compact form.
pub(crate) fn full_name(name: &str) -> &str {
    if name.len() == 1 {
        for (short, full) in COMPACT_FORMS {
            if name.eq_ignore_ascii_case(short) {
                return full;
            }
        }
    }
    name
}

impl RawMessage<'_> {
    /// All values of header `canonical`, in order of appearance (one entry per
    /// header line, not split at commas).
    pub fn values<'s>(&'s self, canonical: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers
            .iter()
            .filter(move |h| h.is(canonical))
            .map(|h| h.value.as_str())
    }

    /// The first value of header `canonical`.
    pub fn first<'s>(&'s self, canonical: &'s str) -> Option<&'s str> {
        self.values(canonical).next()
    }

    /// Whether the start line looks like a status line.
    pub fn is_response(&self) -> bool {
        self.start_line.starts_with("SIP/")
    }
}

/// Split `input` into start line, headers and body. Leading CRLFs are skipped
/// (RFC 3261 §7.5). Without an empty line the whole input is the header
/// section and `terminated` is false.
pub(crate) fn scan(input: &[u8]) -> RawMessage<'_> {
    let mut start = 0;
    while input[start..].starts_with(b"\r\n") {
        start += 2;
    }
    let data = &input[start..];
    let (head, body, terminated) = match find(data, b"\r\n\r\n") {
        Some(end) => (&data[..end], &data[end + 4..], true),
        None => (data, &data[data.len()..], false),
    };
    let mut defects = Vec::new();
    let text = String::from_utf8_lossy(head);
    if matches!(text, Cow::Owned(_)) {
        defects.push("header section is not valid UTF-8");
    }
    let mut lines = text.split("\r\n");
    let start_line = lines.next().unwrap_or_default().to_string();
    if start_line.contains(['\r', '\n']) {
        defects.push("bare CR or LF in the start line");
    }
    let mut headers: Vec<RawHeader> = Vec::new();
    for line in lines {
        if line.contains(['\r', '\n']) {
            defects.push("bare CR or LF in a header line");
        }
        if line.starts_with([' ', '\t']) {
            match headers.last_mut() {
                Some(last) => {
                    let continued = line.trim();
                    if !continued.is_empty() {
                        if !last.value.is_empty() {
                            last.value.push(' ');
                        }
                        last.value.push_str(continued);
                    }
                }
                None => defects.push("continuation line before the first header"),
            }
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) => {
                let name = name.trim_end_matches([' ', '\t']);
                if name.is_empty() || !name.chars().all(is_token_char) {
                    defects.push("invalid header field name");
                }
                headers.push(RawHeader {
                    name: name.to_string(),
                    value: value.trim().to_string(),
                });
            }
            None => defects.push("header line without a colon"),
        }
    }
    RawMessage {
        start_line,
        headers,
        body,
        terminated,
        defects,
    }
}

/// Position of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// RFC 3261 §25.1 `token` characters.
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// Whether `s` is a non-empty RFC 3261 token.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// Tracks whether a left-to-right scan of a header value is inside a
/// quoted-string (RFC 3261 §25.1), backslash escapes included.
#[derive(Debug, Default)]
pub(crate) struct QuotedString {
    open: bool,
    escaped: bool,
}

impl QuotedString {
    /// Whether the scan is inside a quoted-string now.
    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    /// Feed the next character; true when it belongs to a quoted-string (the
    /// opening and closing quotes included).
    pub(crate) fn feed(&mut self, c: char) -> bool {
        if !self.open {
            self.open = c == '"';
            return self.open;
        }
        match (self.escaped, c) {
            (true, _) => self.escaped = false,
            (false, '\\') => self.escaped = true,
            (false, '"') => self.open = false,
            _ => {}
        }
        true
    }
}

/// Split a header value at top-level commas (not inside quotes or `<>`).
/// Elements are trimmed; empty elements are kept so callers can reject them.
pub(crate) fn split_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut quotes = QuotedString::default();
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if quotes.feed(c) {
            continue;
        }
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts
}

/// Remove linear white space next to the separators `;`, `=`, `,` (and `/`
/// when `slash` is set) outside quoted strings and `<>`, so that a value such
/// as `sip:a@b ;  tag = 1` becomes `sip:a@b;tag=1`. RFC 3261 §25.1 allows
/// this LWS (SWS around SEMI, EQUAL, COMMA, SLASH); downstream parsers often
/// do not.
pub(crate) fn tighten_separators(value: &str, slash: bool) -> String {
    let is_separator = |c: char| matches!(c, ';' | '=' | ',') || (slash && c == '/');
    let mut out = String::with_capacity(value.len());
    let mut quotes = QuotedString::default();
    let mut depth = 0usize;
    let mut pending_space = false;
    for c in value.chars() {
        if quotes.is_open() {
            out.push(c);
            quotes.feed(c);
            continue;
        }
        if depth == 0 && (c == ' ' || c == '\t') {
            pending_space = true;
            continue;
        }
        if depth == 0 && is_separator(c) {
            pending_space = false;
            out.push(c);
            // Swallow whitespace after the separator too.
            continue;
        }
        if pending_space && !out.is_empty() && !out.ends_with(is_separator) {
            out.push(' ');
        }
        pending_space = false;
        quotes.feed(c);
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ => {}
        }
        out.push(c);
    }
    out
}

/// RFC 5118 §4.10: RFC 3261's ABNF admits IPv6 references such as
/// `[2001:db8:::192.0.2.1]`, which are no IPv6 address (RFC 4291) but must be
/// tolerated, read as `[2001:db8::192.0.2.1]`. Collapses the first `:::` in
/// each bracketed reference made only of hex digits, `:` and `.`; anything
/// else is left as it is (and judged by the parser).
pub(crate) fn collapse_ipv6_triple_colons(text: &str) -> Cow<'_, str> {
    if !text.contains(":::") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else {
            break;
        };
        let reference = &rest[..close];
        if reference
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            out.push_str(&reference.replacen(":::", "::", 1));
        } else {
            out.push_str(reference);
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// How the From tags [`rfc2543_from_tag`] makes begin; 16 hex digits follow.
const RFC2543_TAG: &str = "callhost-rfc2543-";
const RFC2543_TAG_DIGITS: usize = 16;
/// Length of a whole `;tag=` parameter holding such a tag: what
/// [`strip_rfc2543_tags`] removes at a time.
pub(crate) const RFC2543_TAG_PARAM_LENGTH: usize =
    ";tag=".len() + RFC2543_TAG.len() + RFC2543_TAG_DIGITS;

/// The From tag standing in for the one an RFC 2543 client does not send
/// (RFC 3261 §12.1.1 and §8.1.1.3 require it; rsipstack keys transactions
/// and dialogs on it). Derived from the Call-ID and the From URI, so every
/// request of that client's dialog, retransmissions included, gets the same
/// one; [`strip_rfc2543_tags`] removes it again from what is sent back.
pub(crate) fn rfc2543_from_tag(call_id: &str, from_uri: &str) -> String {
    use std::hash::{Hash, Hasher};
    // Same keys in every process: retransmissions must map to the same tag.
    let mut hasher = std::hash::DefaultHasher::new();
    call_id.hash(&mut hasher);
    from_uri.hash(&mut hasher);
    format!("{RFC2543_TAG}{:016x}", hasher.finish())
}

/// Whether `tag` is one [`rfc2543_from_tag`] made: the request came from an
/// RFC 2543 client.
pub(crate) fn is_rfc2543_stand_in(tag: &str) -> bool {
    tag.strip_prefix(RFC2543_TAG).is_some_and(|digits| {
        digits.len() == RFC2543_TAG_DIGITS && digits.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// `data` without the `;tag=` parameters [`rfc2543_from_tag`] made: an
/// RFC 2543 client sees its own From (and, in our requests, its own To) as
/// it sent it. Borrowed when there is none, which is nearly always.
pub(crate) fn strip_rfc2543_tags(data: &[u8]) -> Cow<'_, [u8]> {
    const PARAM: &[u8] = b";tag=";
    let length = RFC2543_TAG_PARAM_LENGTH;
    let ours = |at: usize| {
        data[at..].starts_with(PARAM)
            && data
                .get(at + PARAM.len()..at + length)
                .and_then(|tag| std::str::from_utf8(tag).ok())
                .is_some_and(is_rfc2543_stand_in)
    };
    // Every datagram the host sends passes here: test only its few semicolons, not
    // every position.
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    for at in (0..data.len()).filter(|&at| data[at] == b';') {
        if ours(at) {
            let out = out.get_or_insert_with(|| Vec::with_capacity(data.len()));
            out.extend_from_slice(&data[copied..at]);
            copied = at + length;
        }
    }
    match out {
        None => Cow::Borrowed(data),
        Some(mut out) => {
            out.extend_from_slice(&data[copied..]);
            Cow::Owned(out)
        }
    }
}

/// The URI of a name-addr or addr-spec value (`"Name" <uri>;params` or
/// `uri;params`), as in From, To and Contact.
pub(crate) fn name_addr_uri(value: &str) -> &str {
    match (value.find('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value.split(';').next().unwrap_or(value).trim(),
    }
}

/// The header parameters of a name-addr or addr-spec value: the `;`-separated
/// part after the closing `>`, or after the URI when there are no brackets.
pub(crate) fn header_params(value: &str) -> &str {
    let rest = match value.rfind('>') {
        Some(close) => &value[close + 1..],
        None => value,
    };
    match rest.find(';') {
        Some(semi) => &rest[semi..],
        None => "",
    }
}

/// The value of parameter `name` in a `;a=b;c` list (case-insensitive name).
/// `Some("")` for a parameter without a value.
pub(crate) fn param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params.split(';').find_map(|p| {
        let (key, value) = match p.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (p.trim(), ""),
        };
        key.eq_ignore_ascii_case(name).then_some(value)
    })
}

/// Decode `%HH` escapes once (RFC 3986 §2.1); malformed escapes stay as they
/// are, invalid UTF-8 is replaced.
pub(crate) fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_references_with_three_colons_are_read_with_two() {
        assert_eq!(
            collapse_ipv6_triple_colons("sip:user@[2001:db8:::192.0.2.1]:5060;x=1"),
            "sip:user@[2001:db8::192.0.2.1]:5060;x=1"
        );
        assert_eq!(
            collapse_ipv6_triple_colons("<sip:[2001:db8:::1]>, <sip:[2001:db8:::2]>"),
            "<sip:[2001:db8::1]>, <sip:[2001:db8::2]>"
        );
        // Outside brackets, in a bracket that is no address, or without ":::": untouched.
        for unchanged in [
            "sip:a:::b@example.com",
            "sip:a@[not:::an-address]",
            "sip:a@[2001:db8::1]",
            "sip:a@[2001:db8:::1",
        ] {
            assert_eq!(collapse_ipv6_triple_colons(unchanged), unchanged);
        }
    }

    #[test]
    fn only_our_rfc2543_stand_in_tags_are_stripped() {
        let tag = rfc2543_from_tag("c@h", "sip:a@b");
        let message = format!("From: <sip:a@b>;tag={tag}\r\nTo: <sip:x@y>;tag={tag};x=1\r\n");
        assert_eq!(
            &*strip_rfc2543_tags(message.as_bytes()),
            b"From: <sip:a@b>\r\nTo: <sip:x@y>;x=1\r\n"
        );
        // A tag that merely starts the same way, or is cut short, stays.
        for kept in [
            "From: <sip:a@b>;tag=callhost-rfc2543-xyz\r\n",
            "From: <sip:a@b>;tag=callhost-rfc2543-0123\r\n",
            "From: <sip:a@b>;tag=peer\r\n",
        ] {
            assert_eq!(&*strip_rfc2543_tags(kept.as_bytes()), kept.as_bytes());
        }
        assert!(matches!(strip_rfc2543_tags(b"no tag"), Cow::Borrowed(_)));
    }

    #[test]
    fn scan_unfolds_and_keeps_names() {
        let raw =
            b"\r\nOPTIONS sip:a@b SIP/2.0\r\nTO :\r\n sip:x@y ;\r\n  tag = 1\r\nl: 0\r\n\r\nbody";
        let msg = scan(raw);
        assert_eq!(msg.start_line, "OPTIONS sip:a@b SIP/2.0");
        assert_eq!(msg.headers[0].name, "TO");
        assert_eq!(msg.headers[0].value, "sip:x@y ; tag = 1");
        assert!(msg.headers[0].is("to"));
        assert_eq!(msg.first("Content-Length"), Some("0"));
        assert_eq!(msg.body, b"body");
        assert!(msg.terminated);
        assert!(msg.defects.is_empty());
    }

    #[test]
    fn scan_reports_defects_without_failing() {
        let msg = scan(b"INVITE sip:a@b SIP/2.0\r\nFoobar roobar\r\n bad");
        assert!(!msg.terminated);
        assert_eq!(msg.defects[0], "header line without a colon");
        let msg = scan(&[0xff, 0xfe, b'\r', b'\n', b'\r', b'\n']);
        assert_eq!(msg.defects, vec!["header section is not valid UTF-8"]);
        let msg = scan(b"");
        assert_eq!(msg.start_line, "");
    }

    #[test]
    fn split_list_respects_quotes_and_brackets() {
        assert_eq!(
            split_list(r#""a, b" <sip:x@y;p=1,2>;q=1, <sip:z@w>"#),
            vec![r#""a, b" <sip:x@y;p=1,2>;q=1"#, "<sip:z@w>"]
        );
        assert_eq!(split_list("a,,b"), vec!["a", "", "b"]);
    }

    #[test]
    fn tighten_separators_removes_lws_around_separators_only() {
        assert_eq!(
            tighten_separators(r#""J R \\\""   <sip:j@x ; y>  ;  tag = 9"#, false),
            r#""J R \\\"" <sip:j@x ; y>;tag=9"#
        );
        assert_eq!(
            tighten_separators("SIP  /   2.0 /UDP 192.0.2.2;branch=1", true),
            "SIP/2.0/UDP 192.0.2.2;branch=1"
        );
    }

    #[test]
    fn params_and_percent_decoding() {
        assert_eq!(header_params("\"a\" <sip:b;x=1>;tag=7;lr"), ";tag=7;lr");
        assert_eq!(header_params("sip:b@c;tag=7"), ";tag=7");
        assert_eq!(param(";tag=7;lr", "TAG"), Some("7"));
        assert_eq!(param(";tag=7;lr", "lr"), Some(""));
        assert_eq!(param(";tag=7", "branch"), None);
        assert_eq!(percent_decode("sips%253Auser%2540x"), "sips%3Auser%40x");
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
        assert_eq!(percent_decode("%41b"), "Ab");
    }
}
