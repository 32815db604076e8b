//! The portal's published content: announcement categories and the validation rules for
//! what administrators write (announcements, polls, links, FAQ entries, catalog entries).
//! Sanitising rich text is the server's job (it owns the HTML library); lengths, required
//! fields, URL schemes and identifiers are decided here.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// 公告類別.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Category {
    /// 職缺公告
    Vacancy,
    /// 一般公告
    General,
    /// 系統公告
    System,
    /// 法規公告
    Regulation,
    /// 活動訊息
    Event,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Vacancy,
        Category::General,
        Category::System,
        Category::Regulation,
        Category::Event,
    ];

    /// The code stored in the database and used in URLs.
    pub fn code(self) -> &'static str {
        match self {
            Category::Vacancy => "vacancy",
            Category::General => "general",
            Category::System => "system",
            Category::Regulation => "regulation",
            Category::Event => "event",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::Vacancy => "職缺公告",
            Category::General => "一般公告",
            Category::System => "系統公告",
            Category::Regulation => "法規公告",
            Category::Event => "活動訊息",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// Which field a validation error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    Title,
    Body,
    Category,
    Question,
    Option,
    Url,
    Name,
    Id,
    Date,
    Position,
    Query,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum ContentError {
    #[error("{0:?} is required")]
    Required(Field),
    #[error("{field:?} is longer than {max} characters")]
    TooLong { field: Field, max: usize },
    #[error("{0:?} holds control characters")]
    ControlChars(Field),
    #[error("the URL must be https://, http:// or a path on this site")]
    BadUrl,
    #[error("a poll needs {min}..={max} options")]
    OptionCount { min: usize, max: usize },
    #[error("option {0} appears twice")]
    DuplicateOption(String),
    #[error("an FAQ id is Q and six digits")]
    BadFaqId,
    #[error("unknown category")]
    BadCategory,
    #[error("{0:?} is not a valid value")]
    Invalid(Field),
}

pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 20_000;
pub const QUESTION_MAX: usize = 200;
pub const OPTION_MAX: usize = 60;
pub const NAME_MAX: usize = 60;
pub const URL_MAX: usize = 500;
pub const POLL_OPTIONS: (usize, usize) = (2, 10);

/// A one-line text field: trimmed, required, at most `max` characters, no control
/// characters.
pub fn line(field: Field, raw: &str, max: usize) -> Result<String, ContentError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ContentError::Required(field));
    }
    if s.chars().any(char::is_control) {
        return Err(ContentError::ControlChars(field));
    }
    if s.chars().count() > max {
        return Err(ContentError::TooLong { field, max });
    }
    Ok(s.to_string())
}

/// A multi-line body: required, bounded; line breaks and tabs allowed.
pub fn body(raw: &str) -> Result<String, ContentError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ContentError::Required(Field::Body));
    }
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ContentError::ControlChars(Field::Body));
    }
    if s.chars().count() > BODY_MAX {
        return Err(ContentError::TooLong {
            field: Field::Body,
            max: BODY_MAX,
        });
    }
    Ok(s.to_string())
}

/// A link target: an absolute http(s) URL with a host, or a path on this site.
pub fn url(raw: &str) -> Result<String, ContentError> {
    let s = line(Field::Url, raw, URL_MAX)?;
    if s.contains(char::is_whitespace) || s.contains('\\') {
        return Err(ContentError::BadUrl);
    }
    let lower = s.to_ascii_lowercase();
    let ok = if let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.contains('@')
    } else {
        s.starts_with('/') && !s.starts_with("//")
    };
    if ok {
        Ok(s)
    } else {
        Err(ContentError::BadUrl)
    }
}

/// A poll's options, one per line: trimmed, blank lines dropped, 2..=10, no repeats.
pub fn poll_options(raw: &str) -> Result<Vec<String>, ContentError> {
    let mut out: Vec<String> = Vec::new();
    for l in raw.lines() {
        if l.trim().is_empty() {
            continue;
        }
        let o = line(Field::Option, l, OPTION_MAX)?;
        if out.contains(&o) {
            return Err(ContentError::DuplicateOption(o));
        }
        out.push(o);
    }
    let (min, max) = POLL_OPTIONS;
    if !(min..=max).contains(&out.len()) {
        return Err(ContentError::OptionCount { min, max });
    }
    Ok(out)
}

/// `Q000815`.
pub fn faq_id(raw: &str) -> Result<String, ContentError> {
    let s = raw.trim().to_ascii_uppercase();
    let ok = s.len() == 7 && s.starts_with('Q') && s[1..].bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(s)
    } else {
        Err(ContentError::BadFaqId)
    }
}

/// How many pages `total` items make at `per_page` (at least one).
pub fn page_count(total: u64, per_page: u64) -> u64 {
    total.div_ceil(per_page.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn categories_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::from_code(c.code()), Some(c));
        }
        assert_eq!(Category::from_code("x"), None);
        assert_eq!(Category::Vacancy.label(), "職缺公告");
    }

    #[test]
    fn urls() {
        for ok in [
            "https://www.dgpa.gov.tw/",
            "http://x.gov.tw/a?b=c",
            "/faq/Q000815",
        ] {
            assert!(url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,x",
            "//evil.example",
            "https://",
            "https://user@evil.example",
            "/a b",
            "vbscript:x",
            "",
        ] {
            assert!(url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn polls() {
        assert_eq!(
            poll_options("系統穩定性\n\n 操作介面 \n"),
            Ok(vec!["系統穩定性".into(), "操作介面".into()])
        );
        assert!(matches!(
            poll_options("a"),
            Err(ContentError::OptionCount { .. })
        ));
        assert!(matches!(
            poll_options("a\na"),
            Err(ContentError::DuplicateOption(_))
        ));
    }

    #[test]
    fn faq_ids() {
        assert_eq!(faq_id(" q000815 "), Ok("Q000815".into()));
        assert!(faq_id("Q81").is_err());
        assert!(faq_id("Q00081X").is_err());
    }

    proptest! {
        #[test]
        fn line_is_trimmed_and_bounded(s in "\\PC{0,300}") {
            if let Ok(v) = line(Field::Title, &s, TITLE_MAX) {
                prop_assert_eq!(v.trim(), v.as_str());
                prop_assert!(!v.is_empty() && v.chars().count() <= TITLE_MAX);
            }
        }

        #[test]
        fn accepted_urls_have_a_safe_scheme(s in "\\PC{0,40}") {
            if let Ok(u) = url(&s) {
                let l = u.to_ascii_lowercase();
                prop_assert!(l.starts_with("https://") || l.starts_with("http://") || (l.starts_with('/') && !l.starts_with("//")));
            }
        }

        #[test]
        fn pages_cover_everything(total in 0u64..10_000, per in 1u64..100) {
            let p = page_count(total, per);
            prop_assert!(p * per >= total && p >= 1);
            prop_assert!(total == 0 || (p - 1) * per < total);
        }
    }
}
