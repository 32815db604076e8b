//! The two kinds of card the portal accepts: one type for the pages, the server, the proof
//! check and the simulator's tests (no feature gate).

use serde::{Deserialize, Serialize};

/// 自然人憑證 (MOICA) or 機關憑證 (GCA / XCA). On the wire (server functions, forms) it
/// is `Natural` / `Organization`; in the database [`CardKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CardKind {
    Natural,
    Organization,
}

impl CardKind {
    /// The stored form: `natural` / `org`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CardKind::Natural => "natural",
            CardKind::Organization => "org",
        }
    }

    /// The stored form back (`None` for anything else).
    pub fn from_stored(s: &str) -> Option<CardKind> {
        match s {
            "natural" => Some(CardKind::Natural),
            "org" => Some(CardKind::Organization),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_and_wire_forms() {
        for k in [CardKind::Natural, CardKind::Organization] {
            assert_eq!(CardKind::from_stored(k.as_str()), Some(k));
        }
        assert_eq!(CardKind::from_stored("organization"), None);
        assert_eq!(
            serde_json::to_string(&CardKind::Organization).unwrap(),
            "\"Organization\""
        );
    }
}
