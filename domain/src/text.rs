//! Text folding shared by the parsers: what real files and input methods produce.

/// Full-width ASCII variants (U+FF01..=U+FF5E) and the ideographic space, as half-width.
pub fn fold_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
        _ => c,
    }
}

/// Folded and trimmed.
pub fn fold(s: &str) -> String {
    s.chars()
        .map(fold_width)
        .collect::<String>()
        .trim()
        .to_string()
}
