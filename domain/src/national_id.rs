//! 身分證統一編號: one letter (the place of first registration) and nine digits, the last a
//! check digit.
//!
//! The letter maps to a two-digit number (A=10 … Z=33, in the official, non-alphabetical
//! order); with those two digits and the nine digits, the weighted sum
//! 1·n₁ + 9·n₂ + 8·d₁ + 7·d₂ + … + 1·d₈ + 1·d₉ must be divisible by 10. The first digit is the
//! holder's sex for citizens (1, 2) and 8 / 9 for the new-style resident certificate numbers
//! (統一證號, since 2021).
//!
//! Resident certificate numbers of the old style (still on cards and certificates issued
//! before 2021) have a second letter, A–D, in place of the first digit: it counts with the
//! last digit of its letter value (A=10 → 0, B=11 → 1, …) at weight 8, then seven digits and
//! the check digit at weights 7 … 1, 1.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum NationalIdError {
    #[error("must be one letter followed by nine digits")]
    Format,
    #[error("the first digit must be 1, 2, 8 or 9")]
    Category,
    #[error("the check digit does not match")]
    Checksum,
}

/// A validated national ID, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NationalId(String);

fn letter_value(c: u8) -> Option<u32> {
    const ORDER: &[u8; 26] = b"ABCDEFGHJKLMNPQRSTUVXYWZIO";
    ORDER.iter().position(|&l| l == c).map(|i| i as u32 + 10)
}

/// Folds full-width characters and surrounding spaces, upper-cases.
fn normalise(raw: &str) -> String {
    raw.chars()
        .map(crate::text::fold_width)
        .collect::<String>()
        .trim()
        .to_ascii_uppercase()
}

/// The check digit that completes `letter` + `digits8` (the first eight digits).
pub fn check_digit(letter: char, digits8: &str) -> Option<u32> {
    let n = letter_value(letter.to_ascii_uppercase() as u8)?;
    let ds: Vec<u32> = digits8
        .chars()
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()?;
    if ds.len() != 8 {
        return None;
    }
    let mut sum = (n / 10) + (n % 10) * 9;
    for (d, w) in ds.iter().zip([8, 7, 6, 5, 4, 3, 2, 1]) {
        sum += d * w;
    }
    Some((10 - sum % 10) % 10)
}

/// The old-style resident certificate number's checksum (`b`: two letters, eight digits).
fn old_resident_check(b: &[u8]) -> Result<(), NationalIdError> {
    let n = letter_value(b[0]).ok_or(NationalIdError::Format)?;
    let g = letter_value(b[1]).ok_or(NationalIdError::Format)?;
    let mut sum = (n / 10) + (n % 10) * 9 + (g % 10) * 8;
    for (d, w) in b[2..].iter().zip([7, 6, 5, 4, 3, 2, 1, 1]) {
        sum += u32::from(d - b'0') * w;
    }
    if sum % 10 == 0 {
        Ok(())
    } else {
        Err(NationalIdError::Checksum)
    }
}

impl NationalId {
    pub fn parse(raw: &str) -> Result<Self, NationalIdError> {
        let s = normalise(raw);
        let b = s.as_bytes();
        if b.len() == 10
            && b[0].is_ascii_uppercase()
            && matches!(b[1], b'A'..=b'D')
            && b[2..].iter().all(u8::is_ascii_digit)
        {
            return old_resident_check(b).map(|()| Self(s.clone()));
        }
        if b.len() != 10 || !b[0].is_ascii_uppercase() || !b[1..].iter().all(u8::is_ascii_digit) {
            return Err(NationalIdError::Format);
        }
        if !matches!(b[1], b'1' | b'2' | b'8' | b'9') {
            return Err(NationalIdError::Category);
        }
        let expected = check_digit(b[0] as char, &s[1..9]).ok_or(NationalIdError::Format)?;
        if u32::from(b[9] - b'0') != expected {
            return Err(NationalIdError::Checksum);
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four characters, as natural-person certificates carry them.
    pub fn last4(&self) -> &str {
        &self.0[6..]
    }

    /// `A12****789`: for screens and logs that must not show the whole number.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl TryFrom<String> for NationalId {
    type Error = NationalIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<NationalId> for String {
    fn from(n: NationalId) -> String {
        n.0
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn resident_numbers_of_both_styles() {
        // New style (2021): letter, 8 or 9, the citizen checksum.
        let d = check_digit('A', "80000001").unwrap();
        assert!(NationalId::parse(&format!("A80000001{d}")).is_ok());
        // Old style: two letters; A (10): 1·1 + 0·9, A (10) → 0·8, zeros, check 9.
        assert!(NationalId::parse("AA00000009").is_ok());
        assert_eq!(
            NationalId::parse("AA00000008"),
            Err(NationalIdError::Checksum)
        );
        // F (15): 1 + 5·9 = 46; C (12) → 2·8 = 16; 1234567 → 7+12+15+16+15+12+7 = 84; 146 → 4.
        assert!(NationalId::parse("FC12345674").is_ok());
        assert_eq!(NationalId::parse("fc12345674").unwrap().last4(), "5674");
        assert_eq!(
            NationalId::parse("AE00000009"),
            Err(NationalIdError::Format)
        );
    }

    #[test]
    fn known_examples() {
        assert!(NationalId::parse("A123456789").is_ok());
        assert!(
            NationalId::parse("ａ１２３４５６７８９").is_ok(),
            "full-width input"
        );
        assert!(NationalId::parse(" a123456789 ").is_ok());
        assert_eq!(
            NationalId::parse("A123456788"),
            Err(NationalIdError::Checksum)
        );
        assert_eq!(
            NationalId::parse("A323456789"),
            Err(NationalIdError::Category)
        );
        assert_eq!(NationalId::parse("A12345678"), Err(NationalIdError::Format));
        assert_eq!(
            NationalId::parse("1234567890"),
            Err(NationalIdError::Format)
        );
        let id = NationalId::parse("A123456789").unwrap();
        assert_eq!(id.last4(), "6789");
        assert_eq!(id.masked(), "A12****789");
    }

    fn valid_id() -> impl Strategy<Value = String> {
        ("[A-Z]", "[1289]", "[0-9]{7}").prop_map(|(l, first, rest)| {
            let letter = l.chars().next().unwrap_or('A');
            let d8 = format!("{first}{rest}");
            let c = check_digit(letter, &d8).unwrap_or(0);
            format!("{letter}{d8}{c}")
        })
    }

    proptest! {
        #[test]
        fn generated_ids_validate(id in valid_id()) {
            prop_assert!(NationalId::parse(&id).is_ok());
            prop_assert!(NationalId::parse(&id.to_lowercase()).is_ok());
        }

        /// A single-digit change is caught exactly when it moves the weighted sum by a
        /// non-multiple of 10 (weights 7, 3, 1, 1 catch every change; 8, 6, 5, 4, 2 most).
        #[test]
        fn single_digit_changes(id in valid_id(), pos in 2usize..10, delta in 1u8..10) {
            const WEIGHTS: [u32; 10] = [0, 0, 7, 6, 5, 4, 3, 2, 1, 1];
            let mut b = id.into_bytes();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let s = String::from_utf8(b).unwrap();
            let caught = !(u32::from(delta) * WEIGHTS[pos]).is_multiple_of(10);
            prop_assert_eq!(NationalId::parse(&s).is_err(), caught);
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,20}") {
            let _ = NationalId::parse(&s);
        }
    }
}
