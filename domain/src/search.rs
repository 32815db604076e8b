//! Announcement search: query parsing, the folded text the index holds, ranking and
//! highlighting. The database finds candidates (SQLite FTS5 trigram / PostgreSQL pg_trgm
//! over [`search_text`]); the rules here decide the order and what to mark.
//!
//! Chinese has no spaces between words, so a query term is matched as a substring
//! (「人事室」 inside 「本局人事室公告」), never as a token. Matching is on folded characters:
//! full-width ASCII as half-width, ASCII letters lower case. Folding maps one character
//! to one character, so positions in the folded text are positions in the original.

use crate::text::fold_width;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// At most this many terms are used; the rest are ignored.
pub const MAX_TERMS: usize = 5;
/// Terms longer than this (in characters) are cut.
pub const MAX_TERM_CHARS: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum QueryError {
    #[error("the query has no searchable characters")]
    Empty,
}

/// One character as search compares it.
pub fn fold_char(c: char) -> char {
    let c = fold_width(c);
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

/// The text the search index holds for an announcement.
pub fn search_text(title: &str, body_text: &str) -> String {
    let mut s: String = title.chars().map(fold_char).collect();
    s.push('\n');
    s.extend(body_text.chars().map(fold_char));
    s
}

/// A parsed query: folded terms of letters, digits and ideographs, in order, without
/// repeats. Everything else (spaces, punctuation, `%`, `_`, quotes) separates terms, so a
/// term is always safe inside a LIKE pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    terms: Vec<String>,
}

impl Query {
    pub fn parse(raw: &str) -> Result<Self, QueryError> {
        let mut terms: Vec<String> = Vec::new();
        let mut cur = String::new();
        let flush = |cur: &mut String, terms: &mut Vec<String>| {
            if !cur.is_empty() {
                let t: String = cur.chars().take(MAX_TERM_CHARS).collect();
                if !terms.contains(&t) && terms.len() < MAX_TERMS {
                    terms.push(t);
                }
                cur.clear();
            }
        };
        for c in raw.chars().map(fold_char) {
            if c.is_alphanumeric() {
                cur.push(c);
            } else {
                flush(&mut cur, &mut terms);
            }
        }
        flush(&mut cur, &mut terms);
        if terms.is_empty() {
            return Err(QueryError::Empty);
        }
        Ok(Self { terms })
    }

    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// `%term%` for each term (terms hold no LIKE metacharacters).
    pub fn like_patterns(&self) -> Vec<String> {
        self.terms.iter().map(|t| format!("%{t}%")).collect()
    }
}

/// Where `term` (already folded) occurs in `text`, as character ranges.
fn occurrences(text: &[char], term: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if term.is_empty() || term.len() > text.len() {
        return out;
    }
    for i in 0..=text.len() - term.len() {
        if text[i..i + term.len()]
            .iter()
            .zip(term)
            .all(|(a, b)| fold_char(*a) == *b)
        {
            out.push((i, i + term.len()));
        }
    }
    out
}

fn count(text: &str, term: &str) -> usize {
    let t: Vec<char> = text.chars().collect();
    let q: Vec<char> = term.chars().collect();
    occurrences(&t, &q).len()
}

/// What ranks a result: every term must occur; a term in the title weighs ten body
/// occurrences (body occurrences count up to five); pinned (HOT) and recent ones go
/// first among equals. `None` when some term is missing.
pub fn score(query: &Query, title: &str, body: &str, hot: bool, age_days: i64) -> Option<u32> {
    let mut s: u32 = 0;
    for term in query.terms() {
        let in_title = count(title, term) as u32;
        let in_body = count(body, term).min(5) as u32;
        if in_title + in_body == 0 {
            return None;
        }
        s += in_title.min(3) * 10 + in_body;
    }
    let s = s * 100;
    let recency = 30u32.saturating_sub(age_days.clamp(0, 30) as u32);
    Some(s + recency + if hot { 20 } else { 0 })
}

/// A piece of displayed text, marked when it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub text: String,
    pub hit: bool,
}

/// `text` cut into segments, the matches of any term marked (overlaps merged).
pub fn highlight(text: &str, query: &Query) -> Vec<Segment> {
    let chars: Vec<char> = text.chars().collect();
    let mut marked = vec![false; chars.len()];
    for term in query.terms() {
        let q: Vec<char> = term.chars().collect();
        for (a, b) in occurrences(&chars, &q) {
            marked[a..b].iter_mut().for_each(|m| *m = true);
        }
    }
    segments(&chars, &marked)
}

fn segments(chars: &[char], marked: &[bool]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for (c, m) in chars.iter().zip(marked) {
        match out.last_mut() {
            Some(last) if last.hit == *m => last.text.push(*c),
            _ => out.push(Segment {
                text: c.to_string(),
                hit: *m,
            }),
        }
    }
    out
}

/// A window of about `width` characters of `text` around the first match, highlighted,
/// with `…` where it was cut.
pub fn snippet(text: &str, query: &Query, width: usize) -> Vec<Segment> {
    let chars: Vec<char> = text.chars().collect();
    let first = query
        .terms()
        .iter()
        .filter_map(|t| {
            let q: Vec<char> = t.chars().collect();
            occurrences(&chars, &q).first().map(|r| r.0)
        })
        .min()
        .unwrap_or(0);
    let start = first.saturating_sub(width / 4);
    let end = (start + width).min(chars.len());
    let start = end.saturating_sub(width).min(start);
    let window: String = chars[start..end].iter().collect();
    let mut out = highlight(&window, query);
    if start > 0 {
        out.insert(
            0,
            Segment {
                text: "…".into(),
                hit: false,
            },
        );
    }
    if end < chars.len() {
        out.push(Segment {
            text: "…".into(),
            hit: false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Query {
        Query::parse(s).unwrap_or_else(|_| panic!("query {s}"))
    }

    #[test]
    fn chinese_substring_matches() {
        let query = q("人事室");
        assert!(score(&query, "本局人事室公告", "", false, 0).is_some());
        let h = highlight("本局人事室公告", &query);
        assert_eq!(
            h,
            vec![
                Segment {
                    text: "本局".into(),
                    hit: false
                },
                Segment {
                    text: "人事室".into(),
                    hit: true
                },
                Segment {
                    text: "公告".into(),
                    hit: false
                },
            ]
        );
    }

    #[test]
    fn parse_separates_and_folds() {
        assert_eq!(q("  ＥＣＰＡ　人事%_室 ").terms(), ["ecpa", "人事", "室"]);
        assert_eq!(q("a a A").terms(), ["a"]);
        assert_eq!(Query::parse(" %_'\" ").err(), Some(QueryError::Empty));
        assert_eq!(q("1 2 3 4 5 6 7").terms().len(), MAX_TERMS);
    }

    #[test]
    fn title_outranks_body_and_all_terms_are_needed() {
        let query = q("甄選 職員");
        let in_title = score(&query, "職員甄選", "", false, 10).unwrap_or(0);
        let in_body = score(&query, "公告", "職員 甄選 職員 甄選", false, 0).unwrap_or(0);
        assert!(in_title > in_body, "{in_title} > {in_body}");
        assert_eq!(score(&query, "職員", "", false, 0), None);
    }

    proptest! {
        #[test]
        fn highlight_keeps_the_text(text in "\\PC{0,60}", raw in "\\PC{1,12}") {
            if let Ok(query) = Query::parse(&raw) {
                let segs = highlight(&text, &query);
                let joined: String = segs.iter().map(|s| s.text.as_str()).collect();
                prop_assert_eq!(joined, text.clone());
                for s in segs.iter().filter(|s| s.hit) {
                    let folded: String = s.text.chars().map(fold_char).collect();
                    // A marked run holds at least one whole occurrence of a term.
                    prop_assert!(query.terms().iter().any(|t| folded.contains(t.as_str())));
                }
                // Adjacent segments alternate.
                for w in segs.windows(2) {
                    prop_assert_ne!(w[0].hit, w[1].hit);
                }
            }
        }

        #[test]
        fn a_term_inside_the_text_is_found(pre in "[一-龥a-z]{0,10}", term in "[一-龥]{1,6}", post in "[一-龥a-z]{0,10}") {
            let text = format!("{pre}{term}{post}");
            let query = q(&term);
            prop_assert!(score(&query, &text, "", false, 0).is_some());
            prop_assert!(highlight(&text, &query).iter().any(|s| s.hit));
            prop_assert!(search_text(&text, "").contains(term.as_str()));
        }

        #[test]
        fn terms_are_like_safe(raw in "\\PC{0,40}") {
            if let Ok(query) = Query::parse(&raw) {
                for t in query.terms() {
                    prop_assert!(!t.is_empty() && t.chars().count() <= MAX_TERM_CHARS);
                    prop_assert!(t.chars().all(|c| c.is_alphanumeric()));
                }
            }
        }

        #[test]
        fn snippet_is_bounded(text in "\\PC{0,300}", raw in "[一-龥a-z]{1,4}") {
            let query = q(&raw);
            let s = snippet(&text, &query, 80);
            let n: usize = s.iter().map(|x| x.text.chars().count()).sum();
            prop_assert!(n <= 82);
        }
    }
}
