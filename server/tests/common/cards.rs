//! Simulated cards for the tests: one way to have hsm-sim issue a card now.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hsm_sim::{
    pki::Variant,
    sim::{CardMeta, Kind, NewCard, Sim, KEY_SIGN},
};
use serde_json::{json, Value};

/// The PIN of every card these tests issue.
pub const PIN: &str = "123456";

/// A card issued now: natural-person (`id_or_oid` a national ID) or organization (an agency
/// OID), with a random card number.
pub fn issue(sim: &Sim, kind: Kind, holder: &str, id_or_oid: &str, variant: Variant) -> CardMeta {
    let natural = kind == Kind::Natural;
    sim.new_card(
        &NewCard {
            kind,
            holder: holder.into(),
            national_id: natural.then(|| id_or_oid.into()),
            agency_oid: (!natural).then(|| id_or_oid.into()),
            pin: PIN.into(),
            card_number: None,
            variant,
            seed: None,
        },
        time::OffsetDateTime::now_utc(),
    )
    .unwrap()
}

/// The token a page would send: the card's signing certificate and its signature over `tbs`
/// (`card_sn`: the card number the card component reports, as the page passes it on).
pub fn proof(sim: &Sim, number: &str, tbs: &str) -> Value {
    let meta = sim.card(number).unwrap();
    let sig = sim.sign(number, PIN, KEY_SIGN, tbs.as_bytes()).unwrap();
    json!({ "format": "ecpa-card-v1", "algorithm": "RS256", "certificate": meta.sign_cert, "signature": B64.encode(sig), "tbs": tbs, "card_sn": number })
}
