//! Personal data as validation sees it: whether a resident ID number is
//! real (GB 11643 check digit and birth date), and how a raw value is
//! masked in messages and the rejects table. (Pseudonyms are the lake's
//! business: see `lake::privacy`.)

use crate::config::PiiKind;

pub use crate::normalise::value::id_number_valid;

/// Masks personal data for messages: keep the first 4 and last 4
/// characters of an ID number, the first character of a name, the last 4
/// digits of a phone number.
pub(crate) fn mask_pii(kind: PiiKind, raw: &str) -> String {
    let chars: Vec<char> = raw.trim().chars().collect();
    match kind {
        PiiKind::IdNumber if chars.len() > 8 => {
            let mid = "*".repeat(chars.len() - 8);
            format!(
                "{}{}{}",
                chars[..4].iter().collect::<String>(),
                mid,
                chars[chars.len() - 4..].iter().collect::<String>()
            )
        }
        PiiKind::Phone if chars.len() > 4 => format!(
            "{}{}",
            "*".repeat(chars.len() - 4),
            chars[chars.len() - 4..].iter().collect::<String>()
        ),
        PiiKind::Name if !chars.is_empty() => {
            format!("{}{}", chars[0], "*".repeat(chars.len().saturating_sub(1)))
        }
        _ => "*".repeat(chars.len()),
    }
}

/// What [`mask_text`] found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    IdNumber,
    Mobile,
    Landline,
}

impl Found {
    /// The key stored in a problem.
    pub fn key(self) -> &'static str {
        match self {
            Found::IdNumber => "id_number",
            Found::Mobile => "mobile",
            Found::Landline => "landline",
        }
    }
    pub(crate) fn from_key(k: &str) -> Found {
        match k {
            "id_number" => Found::IdNumber,
            "mobile" => Found::Mobile,
            _ => Found::Landline,
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            Found::IdNumber => "身份证号",
            Found::Mobile => "手机号",
            Found::Landline => "固定电话",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            Found::IdNumber => "an ID number",
            Found::Mobile => "a mobile number",
            Found::Landline => "a phone number",
        }
    }
}

fn is_digit_at(b: &[u8], i: Option<usize>) -> bool {
    i.and_then(|i| b.get(i)).is_some_and(|c| c.is_ascii_digit())
}

/// Personal data typed anywhere in a text: every run of characters that
/// passes the resident ID check (18 characters, check digit and birth
/// date), a mainland mobile number (11 digits from 13–19, optionally
/// `+86`, spaces or hyphens between 3-4-4) or a fixed-line number with
/// its area code (`0513-85123456`, `(0513)85123456`), standing apart from
/// other digits. Returns the text with each masked (`3206**********0015`,
/// `139****5678`, `0513-****3456`) and what was found, or `None` when
/// the text holds none. Full-width digits are read as digits.
pub(crate) fn mask_text(text: &str) -> Option<(String, Vec<Found>)> {
    // cheap exit: fewer than 10 digits cannot hold any of them
    if text
        .chars()
        .filter(|c| c.is_ascii_digit() || ('０'..='９').contains(c))
        .count()
        < 10
    {
        return None;
    }
    let half;
    let t: &str = if text
        .chars()
        .any(|c| ('０'..='９').contains(&c) || c == '（' || c == '）')
    {
        half = crate::text::to_half_width(text).into_owned();
        &half
    } else {
        text
    };
    let b = t.as_bytes();
    let mut out = String::with_capacity(t.len());
    let mut found = Vec::new();
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        // a match starts where no digit stands before it
        if is_digit_at(b, i.checked_sub(1))
            || !(b[i].is_ascii_digit() || b[i] == b'+' || b[i] == b'(')
        {
            i += 1;
            continue;
        }
        if let Some((len, masked, kind)) = match_at(b, i) {
            out.push_str(&t[copied..i]);
            out.push_str(&masked);
            found.push(kind);
            i += len;
            copied = i;
        } else {
            i += 1;
        }
    }
    if found.is_empty() {
        return None;
    }
    out.push_str(&t[copied..]);
    Some((out, found))
}

/// Digits from `i` as long as they run, with single `sep` bytes allowed
/// between groups of the given sizes: the digits and the length consumed.
fn grouped(b: &[u8], i: usize, groups: &[usize], seps: &[u8]) -> Option<(String, usize)> {
    let mut j = i;
    let mut digits = String::new();
    for (g, &n) in groups.iter().enumerate() {
        if g > 0 && j < b.len() && seps.contains(&b[j]) && is_digit_at(b, Some(j + 1)) {
            j += 1;
        }
        for _ in 0..n {
            if !is_digit_at(b, Some(j)) {
                return None;
            }
            digits.push(b[j] as char);
            j += 1;
        }
    }
    Some((digits, j - i))
}

fn match_at(b: &[u8], i: usize) -> Option<(usize, String, Found)> {
    if let Some(m) = id_number_at(b, i) {
        return Some(m);
    }
    match mobile_at(b, i) {
        Some(m) => return Some(m),
        // `+` starts a mobile number or nothing
        None if b[i] == b'+' => return None,
        None => {}
    }
    landline_unseparated_at(b, i).or_else(|| landline_at(b, i))
}

/// A match: its length in bytes, the masked text, what it is.
type Match = (usize, String, Found);

/// An ID number: 17 digits and a check character that passes the check.
fn id_number_at(b: &[u8], i: usize) -> Option<Match> {
    let ends_clear =
        |end: usize| !is_digit_at(b, Some(end)) && !matches!(b.get(end), Some(b'X' | b'x'));
    if b.len() >= i + 18 && b[i..i + 17].iter().all(u8::is_ascii_digit) && ends_clear(i + 18) {
        let s = std::str::from_utf8(&b[i..i + 18]).ok()?;
        if id_number_valid(s) {
            return Some((18, mask_pii(PiiKind::IdNumber, s), Found::IdNumber));
        }
    }
    None
}

/// A mainland mobile number, perhaps after +86 / 86, in groups 3-4-4
/// or whole.
fn mobile_at(b: &[u8], i: usize) -> Option<Match> {
    let mut start = i;
    if b[start] == b'+' {
        if b.get(start + 1..start + 3) != Some(b"86") {
            return None;
        }
        start += 3;
    } else if b.get(start..start + 2) == Some(b"86") && b.get(start + 2) == Some(&b'1') {
        start += 2;
    }
    while b.get(start) == Some(&b' ') || (start > i && b.get(start) == Some(&b'-')) {
        start += 1;
    }
    if b.get(start) != Some(&b'1') || !matches!(b.get(start + 1), Some(b'3'..=b'9')) {
        return None;
    }
    let (d, len) = grouped(b, start, &[3, 4, 4], b" -")?;
    let end = start + len;
    (!is_digit_at(b, Some(end))).then(|| {
        (
            end - i,
            format!("{}****{}", &d[..3], &d[7..]),
            Found::Mobile,
        )
    })
}

/// A fixed line written without a separator: an area code (010, 02X, or
/// 0 and three digits) and 7 or 8 digits, 11 or 12 digits alone.
fn landline_unseparated_at(b: &[u8], i: usize) -> Option<Match> {
    if b[i] != b'0' || !matches!(b.get(i + 1), Some(b'1'..=b'9')) {
        return None;
    }
    let run = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let area = if matches!(b[i + 1], b'1' | b'2') {
        3
    } else {
        4
    };
    let local = run.saturating_sub(area);
    let fits = (area == 3 && local == 8) || (area == 4 && (local == 7 || local == 8));
    if !fits || (b[i + 1] == b'1' && b.get(i + 2) != Some(&b'0')) {
        return None;
    }
    let d = std::str::from_utf8(&b[i..i + run]).ok()?;
    let masked = format!("{}-{}{}", &d[..area], "*".repeat(local - 4), &d[run - 4..]);
    Some((run, masked, Found::Landline))
}

/// A fixed line: an area code (0 and 2–3 digits) in brackets or before a
/// separator, then 7 or 8 digits.
fn landline_at(b: &[u8], i: usize) -> Option<Match> {
    let (area, after) = if b[i] == b'(' {
        let close = (i + 3..=i + 4).find(|&k| b.get(k + 1) == Some(&b')'))?;
        (&b[i + 1..=close], close + 2)
    } else {
        let sep = (i + 3..=i + 4).find(|&k| matches!(b.get(k), Some(b'-' | b' ')))?;
        (&b[i..sep], sep + 1)
    };
    if area[0] != b'0' || !area.iter().all(u8::is_ascii_digit) {
        return None;
    }
    for n in [8, 7] {
        if b.len() >= after + n
            && b[after..after + n].iter().all(u8::is_ascii_digit)
            && !is_digit_at(b, Some(after + n))
        {
            let area = std::str::from_utf8(area).ok()?;
            let last = std::str::from_utf8(&b[after + n - 4..after + n]).ok()?;
            let masked = format!("{area}-{}{last}", "*".repeat(n - 4));
            return Some((after + n - i, masked, Found::Landline));
        }
    }
    None
}

/// [`mask_text`]'s text, or the text as it was.
pub fn masked(text: &str) -> std::borrow::Cow<'_, str> {
    match mask_text(text) {
        Some((t, _)) => std::borrow::Cow::Owned(t),
        None => std::borrow::Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers() {
        // check digit computed by hand: weights · digits mod 11 → "10X98765432"
        assert!(id_number_valid("11010519491231002X"));
        assert!(id_number_valid("11010519491231002x"));
        assert!(!id_number_valid("110105194912310021"));
        assert!(!id_number_valid("11010519491331002X"), "month 13");
        assert!(!id_number_valid("1101051949123100"));
        assert!(!id_number_valid("11010519491231002Ｘ"));
    }

    #[test]
    fn masks() {
        assert_eq!(
            mask_pii(PiiKind::IdNumber, "320682198001011234"),
            "3206**********1234"
        );
        assert_eq!(mask_pii(PiiKind::Name, "张三丰"), "张**");
        assert_eq!(mask_pii(PiiKind::Phone, "13800001111"), "*******1111");
    }

    #[test]
    fn personal_data_typed_anywhere_is_masked() {
        let m = mask_text;
        assert_eq!(
            m("户主身份证320682198001010015，联系人").unwrap().0,
            "户主身份证3206**********0015，联系人"
        );
        let (t, f) = m("电话13912345678或0513-85123456").unwrap();
        assert_eq!(t, "电话139****5678或0513-****3456");
        assert_eq!(f, [Found::Mobile, Found::Landline]);
        assert_eq!(m("+86 139 1234 5678").unwrap().0, "139****5678");
        assert_eq!(m("139-1234-5678").unwrap().0, "139****5678");
        assert_eq!(m("（0513）8512345").unwrap().0, "0513-***2345");
        // spaces taken out of a name leave the digits together
        assert_eq!(m("051385123456").unwrap().0, "0513-****3456");
        assert_eq!(m("电话01062345678").unwrap().0, "电话010-****5678");
        // a household number with leading zeros is no phone number
        assert_eq!(m("户号0001234567"), None);
        assert_eq!(m("0113456789012"), None);
        assert_eq!(m("１３９１２３４５６７８").unwrap().0, "139****5678");
        // a wrong check digit is no ID number; a longer run is no phone
        assert_eq!(m("320682198001010012"), None);
        assert_eq!(m("139123456789"), None);
        assert_eq!(m("村代码 320682100201，金额 1234567890.5"), None);
        assert_eq!(m("12345678901"), None);
        assert_eq!(m("2024年收入 3000000"), None);
        assert_eq!(masked("无"), "无");
    }
}
