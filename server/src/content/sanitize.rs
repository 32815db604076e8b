//! Announcement and FAQ bodies: what an administrator writes becomes safe HTML (ammonia,
//! on storing and again on serving), and plain text for search.

use std::collections::{HashMap, HashSet};

/// Safe formatting only: paragraphs, emphasis, lists, headings, quotes, tables and links
/// (http, https, mailto; opened without access to this page). Everything else, scripts and
/// event attributes included, is removed.
pub fn sanitize_html(raw: &str) -> String {
    let tags: HashSet<&str> = [
        "p",
        "br",
        "strong",
        "b",
        "em",
        "i",
        "u",
        "ul",
        "ol",
        "li",
        "a",
        "h3",
        "h4",
        "blockquote",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ]
    .into_iter()
    .collect();
    let schemes: HashSet<&str> = ["http", "https", "mailto"].into_iter().collect();
    let mut attrs = HashMap::new();
    attrs.insert("a", ["href"].into_iter().collect::<HashSet<&str>>());
    ammonia::Builder::default()
        .tags(tags)
        .tag_attributes(attrs)
        .generic_attributes(HashSet::new())
        .url_schemes(schemes)
        .link_rel(Some("noopener noreferrer"))
        .clean(raw)
        .to_string()
}

/// What an administrator typed, as stored HTML. Text without markup is escaped; text
/// without block markup gets its paragraphs (blank line) and line breaks; the result is
/// always sanitised.
pub fn body_to_html(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let lower = raw.to_ascii_lowercase();
    let has_tag = lower
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'));
    let has_block = [
        "<p",
        "<ul",
        "<ol",
        "<h3",
        "<h4",
        "<table",
        "<blockquote",
        "<br",
        "<div",
    ]
    .iter()
    .any(|t| lower.contains(t));
    if has_block {
        return sanitize_html(&raw);
    }
    let esc = |s: &str| {
        if has_tag {
            s.to_string()
        } else {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        }
    };
    let html: String = raw
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", esc(p).replace('\n', "<br>")))
        .collect();
    sanitize_html(&html)
}

/// The text of sanitised HTML (for the search index and snippets).
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitiser_keeps_formatting_and_drops_scripts() {
        let dirty = r#"<p onclick="x()">公告<script>alert(1)</script><strong>重要</strong>
            <a href="javascript:alert(1)">a</a><a href="https://www.dgpa.gov.tw/">b</a>
            <img src=x onerror=alert(1)><iframe src="//evil"></iframe><svg onload=alert(1)></svg>
            <style>body{}</style><a href="data:text/html,x">c</a></p>"#;
        let clean = sanitize_html(dirty);
        for bad in [
            "<script",
            "onclick",
            "onerror",
            "onload",
            "javascript:",
            "<img",
            "<iframe",
            "<svg",
            "<style",
            "data:",
        ] {
            assert!(
                !clean.to_ascii_lowercase().contains(bad),
                "{bad} in {clean}"
            );
        }
        assert!(clean.contains("<strong>重要</strong>"));
        assert!(clean.contains(r#"href="https://www.dgpa.gov.tw/""#));
        assert!(clean.contains("noopener"));
    }

    #[test]
    fn plain_bodies_become_paragraphs() {
        assert_eq!(
            body_to_html("第一段\n第二行\n\n第二段 & 1 < 2"),
            "<p>第一段<br>第二行</p><p>第二段 &amp; 1 &lt; 2</p>"
        );
        assert_eq!(
            body_to_html("請<strong>務必</strong>填報\n\n謝謝<script>x</script>"),
            "<p>請<strong>務必</strong>填報</p><p>謝謝</p>"
        );
        assert_eq!(body_to_html("<ul><li>甲</li></ul>"), "<ul><li>甲</li></ul>");
        assert_eq!(plain_text("<p>甲&amp;乙</p><p>丙</p>"), "甲&乙 丙");
    }
}
