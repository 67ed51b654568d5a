//! English words for numbers, dates and times (the `say-as` renderings).

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `n` in words: 21 → "twenty-one", 1005 → "one thousand and five".
pub fn cardinal(n: u64) -> String {
    if n < 20 {
        return ONES[n as usize].to_owned();
    }
    if n < 100 {
        let tens = TENS[(n / 10) as usize];
        return match n % 10 {
            0 => tens.to_owned(),
            unit => format!("{tens}-{}", ONES[unit as usize]),
        };
    }
    if n < 1000 {
        let hundreds = format!("{} hundred", ONES[(n / 100) as usize]);
        return match n % 100 {
            0 => hundreds,
            rest => format!("{hundreds} and {}", cardinal(rest)),
        };
    }
    for (scale, name) in [
        (1_000_000_000_000_000_000, "quintillion"),
        (1_000_000_000_000_000, "quadrillion"),
        (1_000_000_000_000, "trillion"),
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1_000, "thousand"),
    ] {
        if n >= scale {
            let head = format!("{} {name}", cardinal(n / scale));
            return match n % scale {
                0 => head,
                rest if rest < 100 => format!("{head} and {}", cardinal(rest)),
                rest => format!("{head} {}", cardinal(rest)),
            };
        }
    }
    unreachable!("every u64 is below 20 or above a scale")
}

/// `n` as an ordinal: 1 → "first", 23 → "twenty-third", 100 → "one hundredth".
pub fn ordinal(n: u64) -> String {
    let words = cardinal(n);
    // Only the last word changes: "twenty-one" → "twenty-first".
    let split = words.rfind([' ', '-']).map_or(0, |index| index + 1);
    let (head, last) = words.split_at(split);
    let last = match last {
        "one" => "first".to_owned(),
        "two" => "second".to_owned(),
        "three" => "third".to_owned(),
        "five" => "fifth".to_owned(),
        "eight" => "eighth".to_owned(),
        "nine" => "ninth".to_owned(),
        "twelve" => "twelfth".to_owned(),
        other if other.ends_with('y') => format!("{}ieth", &other[..other.len() - 1]),
        other => format!("{other}th"),
    };
    format!("{head}{last}")
}

/// A year as people say it: 2026 → "twenty twenty-six", 2005 → "two thousand
/// and five", 1900 → "nineteen hundred".
pub fn year(n: u64) -> String {
    match n {
        2000..=2009 => cardinal(n),
        1000..=9999 if n.is_multiple_of(1000) => cardinal(n),
        1000..=9999 => {
            let (century, rest) = (n / 100, n % 100);
            match rest {
                0 => format!("{} hundred", cardinal(century)),
                1..=9 => format!("{} oh {}", cardinal(century), cardinal(rest)),
                _ => format!("{} {}", cardinal(century), cardinal(rest)),
            }
        }
        _ => cardinal(n),
    }
}

/// Split `text` into its numeric fields (separators `/ - . :` or space, or
/// fixed widths for a run of digits).
fn fields(text: &str, widths: &[usize]) -> Option<Vec<u64>> {
    let parts: Vec<&str> = text
        .split(['/', '-', '.', ':', ' '])
        .filter(|part| !part.is_empty())
        .collect();
    let parts = if parts.len() == 1 && parts[0].len() == widths.iter().sum::<usize>() {
        let mut rest = parts[0];
        let mut split = Vec::new();
        for &width in widths {
            let (head, tail) = rest.split_at(width);
            split.push(head);
            rest = tail;
        }
        split
    } else {
        parts
    };
    if parts.len() != widths.len() {
        return None;
    }
    parts.iter().map(|part| part.parse().ok()).collect()
}

fn month(n: u64) -> Option<&'static str> {
    MONTHS
        .get(usize::try_from(n).ok()?.checked_sub(1)?)
        .copied()
}

fn day(n: u64) -> Option<String> {
    (1..=31).contains(&n).then(|| ordinal(n))
}

/// A `say-as interpret-as="date"` in words, e.g. "2026/11/23" with `ymd` →
/// "November twenty-third, twenty twenty-six". None if it does not parse.
pub fn date(text: &str, format: &str) -> Option<String> {
    let width = |c: char| if c == 'y' { 4 } else { 2 };
    let widths: Vec<usize> = format.chars().map(width).collect();
    if widths.is_empty() || !format.chars().all(|c| matches!(c, 'y' | 'm' | 'd')) {
        return None;
    }
    let values = fields(text, &widths)?;
    let get = |key: char| {
        format
            .chars()
            .position(|c| c == key)
            .map(|index| values[index])
    };
    let (y, m, d) = (get('y'), get('m'), get('d'));
    let month = m.map(month).map(|name| name.ok_or(())).transpose().ok()?;
    let day = d.map(day).map(|name| name.ok_or(())).transpose().ok()?;
    let year = y.map(year);
    let words = match (month, day, year) {
        (Some(month), Some(day), Some(year)) => format!("{month} {day}, {year}"),
        (Some(month), Some(day), None) => format!("{month} {day}"),
        (Some(month), None, Some(year)) => format!("{month} {year}"),
        (None, None, Some(year)) => year,
        (Some(month), None, None) => month.to_owned(),
        (None, Some(day), None) => format!("the {day}"),
        _ => return None,
    };
    Some(words)
}

/// A `say-as interpret-as="time"` in words: "14:05:09" with `hms24` →
/// "fourteen oh five and nine seconds"; `hm12` "2:30pm" → "two thirty p m".
pub fn time(text: &str, format: &str) -> Option<String> {
    let lower = text.trim().to_ascii_lowercase();
    let (clock, suffix) = match lower.strip_suffix("am").or(lower.strip_suffix("a.m.")) {
        Some(rest) => (rest.trim().to_owned(), Some("a m")),
        None => match lower.strip_suffix("pm").or(lower.strip_suffix("p.m.")) {
            Some(rest) => (rest.trim().to_owned(), Some("p m")),
            None => (lower.clone(), None),
        },
    };
    let (with_seconds, twelve) = match format {
        "hms24" => (true, false),
        "hm24" => (false, false),
        "hms12" => (true, true),
        "hm12" => (false, true),
        _ => return None,
    };
    let widths: &[usize] = if with_seconds { &[2, 2, 2] } else { &[2, 2] };
    let values = fields(&clock, widths)?;
    let (hours, minutes) = (values[0], values[1]);
    let seconds = values.get(2).copied();
    let hour_limit = if twelve { 12 } else { 23 };
    if hours > hour_limit || minutes > 59 || seconds.is_some_and(|s| s > 59) {
        return None;
    }
    let mut words = match (hours, minutes, twelve) {
        (0, 0, false) => "midnight".to_owned(),
        (_, 0, false) => format!("{} hundred hours", cardinal(hours)),
        (_, 0, true) => format!("{} o'clock", cardinal(hours)),
        (_, 1..=9, _) => format!("{} oh {}", cardinal(hours), cardinal(minutes)),
        _ => format!("{} {}", cardinal(hours), cardinal(minutes)),
    };
    match seconds {
        Some(1) => words.push_str(" and one second"),
        Some(seconds) if seconds > 0 => {
            words.push_str(&format!(" and {} seconds", cardinal(seconds)))
        }
        _ => {}
    }
    if let (true, Some(suffix)) = (twelve, suffix) {
        words.push(' ');
        words.push_str(suffix);
    }
    Some(words)
}
