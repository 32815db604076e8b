//! ECPA account names.
//!
//! Users type their account with whatever their input method produces: full-width letters
//! from a Chinese IME, stray spaces, mixed case. [`AccountName::parse`] folds those into one
//! canonical form so that `ＡＢＣ123 ` and `abc123` are the same account, and rejects what can
//! never be an account. The sign-in edge treats a rejected name exactly like an unknown one.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

pub const MAX_ACCOUNT_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AccountNameError {
    #[error("account name is empty")]
    Empty,
    #[error("account name is longer than {MAX_ACCOUNT_LEN} characters")]
    TooLong,
    #[error("account name contains a character other than letters, digits, '.', '_', '-', '@'")]
    InvalidCharacter,
}

/// A canonical account name: ASCII, lower case, 1..=64 of `[a-z0-9._@-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountName(String);

use crate::text::fold_width;

impl AccountName {
    pub fn parse(raw: &str) -> Result<Self, AccountNameError> {
        let folded: String = raw.chars().map(fold_width).collect();
        let trimmed = folded.trim();
        if trimmed.is_empty() {
            return Err(AccountNameError::Empty);
        }
        if trimmed.chars().count() > MAX_ACCOUNT_LEN {
            return Err(AccountNameError::TooLong);
        }
        let lower = trimmed.to_ascii_lowercase();
        if !lower.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@')
        }) {
            return Err(AccountNameError::InvalidCharacter);
        }
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountName {
    type Error = AccountNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AccountName> for String {
    fn from(a: AccountName) -> String {
        a.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn folds_ime_input() {
        let a = AccountName::parse("　ＷＡＮＧ．ｘｍ０１ ").map(String::from);
        assert_eq!(a.as_deref(), Ok("wang.xm01"));
    }

    #[test]
    fn rejects_non_ascii_and_empty() {
        assert_eq!(
            AccountName::parse("王小明"),
            Err(AccountNameError::InvalidCharacter)
        );
        assert_eq!(AccountName::parse("   "), Err(AccountNameError::Empty));
        assert_eq!(
            AccountName::parse("a b"),
            Err(AccountNameError::InvalidCharacter)
        );
        assert_eq!(
            AccountName::parse(&"a".repeat(65)),
            Err(AccountNameError::TooLong)
        );
    }

    proptest! {
        #[test]
        fn canonical_form_is_a_fixed_point(raw in "\\PC{0,80}") {
            if let Ok(a) = AccountName::parse(&raw) {
                let again = AccountName::parse(a.as_str());
                prop_assert_eq!(again.as_ref(), Ok(&a));
                prop_assert!(a.as_str().len() <= MAX_ACCOUNT_LEN);
            }
        }

        #[test]
        fn case_and_width_do_not_matter(name in "[a-z0-9][a-z0-9._@-]{0,30}") {
            let upper = name.to_ascii_uppercase();
            let wide: String = name.chars().map(|c| char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c)).collect();
            let a = AccountName::parse(&name);
            prop_assert_eq!(AccountName::parse(&upper), a.clone());
            prop_assert_eq!(AccountName::parse(&format!("  {wide}\u{3000}")), a);
        }
    }
}
