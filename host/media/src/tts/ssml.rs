//! SSML normalising: turn what an app passes to `say` into a request the
//! engine (espeak-ng) handles well.
//!
//! - Plain text (no tags) goes through unchanged.
//! - Tags espeak-ng implements (`break`, `prosody`, `emphasis`, `s`, `p`,
//!   `audio` is not among them) are kept and the result is sent as SSML
//!   (`<speak>…</speak>`, espeak-ng `-m`).
//! - `<voice name="X">` selects voice X for the whole utterance when the engine
//!   has it, else the default voice; the tag itself is removed.
//! - `<say-as>` is rendered as words here, because espeak-ng's own support is
//!   thin: `date` (formats `ymd`, `dmy`, `mdy`, `ym`, `my`, `md`, `dm`, `y`),
//!   `time` (`hms24`, `hm24`, `hms12`, `hm12`), `cardinal`/`number`,
//!   `ordinal`, `characters`/`spell-out`, `digits`; anything else keeps its text.
//! - Every other tag (vendor tags such as `<acu-engine name='Ivona'>`,
//!   `<speak>` itself) is removed and its content kept.
//!
//! Sans-IO; W3C SSML 1.1 §3.1 (`speak`), §3.2.1 (`voice`), §3.1.9 (`say-as`).

mod words;

use super::SpeechRequest;
pub use words::{cardinal, ordinal};

/// Tags espeak-ng's SSML mode implements and that we pass on.
const KEPT_TAGS: [&str; 5] = ["break", "prosody", "emphasis", "s", "p"];

/// A parsed piece of the input.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Tag {
        name: String,
        closing: bool,
        self_closing: bool,
        attributes: Vec<(String, String)>,
        raw: &'a str,
    },
}

/// Build the engine request for `text`, with `default_voice` unless a
/// `<voice name>` the engine `has_voice` picks another.
pub fn prepare(text: &str, default_voice: &str, has_voice: impl Fn(&str) -> bool) -> SpeechRequest {
    let pieces = split(text);
    if !pieces
        .iter()
        .any(|piece| matches!(piece, Piece::Tag { .. }))
    {
        return SpeechRequest {
            voice: default_voice.to_owned(),
            text: text.trim().to_owned(),
            markup: false,
        };
    }
    let mut voice = default_voice.to_owned();
    let mut voice_chosen = false;
    // Text collected inside an open <say-as>, with its attributes.
    let mut say_as: Option<(Vec<(String, String)>, String)> = None;
    let mut body = String::new();
    let mut kept_any = false;
    for piece in pieces {
        match piece {
            Piece::Text(text) => match &mut say_as {
                Some((_, inner)) => inner.push_str(&unescape(text)),
                None => body.push_str(&escape(&unescape(text))),
            },
            Piece::Tag {
                name,
                closing,
                self_closing,
                attributes,
                raw,
            } => match name.as_str() {
                "say-as" if !closing && !self_closing => say_as = Some((attributes, String::new())),
                "say-as" if closing => {
                    if let Some((attributes, inner)) = say_as.take() {
                        body.push_str(&escape(&render_say_as(&attributes, &inner)));
                    }
                }
                "voice" if !closing && !voice_chosen => {
                    if let Some(name) = attribute(&attributes, "name")
                        && has_voice(name)
                    {
                        voice = name.to_owned();
                        voice_chosen = true;
                    }
                    // Words either side of a voice change must not run together.
                    body.push(' ');
                }
                "voice" => body.push(' '),
                kept if KEPT_TAGS.contains(&kept) && say_as.is_none() => {
                    kept_any = true;
                    body.push_str(raw);
                }
                _ => {}
            },
        }
    }
    // An unclosed <say-as> still says its text.
    if let Some((attributes, inner)) = say_as {
        body.push_str(&escape(&render_say_as(&attributes, &inner)));
    }
    let body = collapse_spaces(&body);
    if kept_any {
        SpeechRequest {
            voice,
            text: format!("<speak>{body}</speak>"),
            markup: true,
        }
    } else {
        SpeechRequest {
            voice,
            text: unescape(&body),
            markup: false,
        }
    }
}

/// True if the request has nothing to speak.
pub fn is_blank(request: &SpeechRequest) -> bool {
    if !request.markup {
        return request.text.trim().is_empty();
    }
    split(&request.text)
        .iter()
        .all(|piece| !matches!(piece, Piece::Text(text) if !text.trim().is_empty()))
}

fn attribute<'a>(attributes: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Text and tags, in order. A `<` that does not start a tag is text.
fn split(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some(start) = rest.find('<') else {
            pieces.push(Piece::Text(rest));
            break;
        };
        let candidate = &rest[start..];
        match candidate
            .find('>')
            .and_then(|end| parse_tag(&candidate[..=end]))
        {
            Some(tag) => {
                if start > 0 {
                    pieces.push(Piece::Text(&rest[..start]));
                }
                let length = match &tag {
                    Piece::Tag { raw, .. } => raw.len(),
                    Piece::Text(text) => text.len(),
                };
                pieces.push(tag);
                rest = &candidate[length..];
            }
            None => {
                pieces.push(Piece::Text(&rest[..=start]));
                rest = &rest[start + 1..];
            }
        }
    }
    pieces
}

/// `<name a='b' c="d">`, `</name>`, `<name/>`; None if `raw` is not a tag.
fn parse_tag(raw: &str) -> Option<Piece<'_>> {
    let inner = raw.strip_prefix('<')?.strip_suffix('>')?;
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let (self_closing, inner) = match inner.strip_suffix('/') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let name_end = inner
        .find(|c: char| c.is_whitespace())
        .unwrap_or(inner.len());
    let name = &inner[..name_end];
    let valid_name = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    if !valid_name {
        return None;
    }
    let mut attributes = Vec::new();
    let mut rest = inner[name_end..].trim_start();
    while !rest.is_empty() {
        let equals = rest.find('=')?;
        let key = rest[..equals].trim();
        let value_part = rest[equals + 1..].trim_start();
        let quote = value_part
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')?;
        let close = value_part[1..].find(quote)?;
        attributes.push((key.to_owned(), unescape(&value_part[1..=close])));
        rest = value_part[close + 2..].trim_start();
    }
    Some(Piece::Tag {
        name: name.to_ascii_lowercase(),
        closing,
        self_closing,
        attributes,
        raw,
    })
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The words for a `<say-as>` element; its text unchanged when it does not parse.
fn render_say_as(attributes: &[(String, String)], text: &str) -> String {
    let text = text.trim();
    let format = attribute(attributes, "format").unwrap_or("");
    let rendered = match attribute(attributes, "interpret-as").unwrap_or("") {
        "date" => words::date(text, if format.is_empty() { "ymd" } else { format }),
        "time" => words::time(text, if format.is_empty() { "hms24" } else { format }),
        "cardinal" | "number" => text.parse::<u64>().ok().map(cardinal),
        "ordinal" => text.parse::<u64>().ok().map(ordinal),
        "characters" | "spell-out" => Some(spell(text)),
        "digits" => Some(
            text.chars()
                .filter_map(|c| c.to_digit(10).map(|d| cardinal(u64::from(d))))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    };
    rendered.unwrap_or_else(|| text.to_owned())
}

fn spell(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c.to_digit(10) {
            Some(digit) => cardinal(u64::from(digit)),
            None => c.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
