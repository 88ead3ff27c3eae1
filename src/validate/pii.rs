//! Personal data as validation sees it: whether a resident ID number is
//! real (GB 11643 check digit and birth date), and how a raw value is
//! masked in messages and the rejects table. (Pseudonyms are the lake's
//! business: see `lake::privacy`.)

use crate::config::PiiKind;

/// A resident ID number (GB 11643): 17 digits and a check character, with a
/// real birth date at positions 7–14.
pub fn id_number_valid(s: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = s.trim().as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| (d - b'0') as u32 * w)
        .sum();
    if b[17].to_ascii_uppercase() != CHECK[(sum % 11) as usize] {
        return false;
    }
    let birth = std::str::from_utf8(&b[6..14]).unwrap_or("");
    chrono::NaiveDate::parse_from_str(birth, "%Y%m%d").is_ok()
}

/// Masks personal data for messages: keep the first 4 and last 4
/// characters of an ID number, the first character of a name, the last 4
/// digits of a phone number.
pub fn mask_pii(kind: PiiKind, raw: &str) -> String {
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
}
