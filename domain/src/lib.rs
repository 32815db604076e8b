//! ECPA's domain rules.
//!
//! Everything here is plain, deterministic Rust: no I/O, no HTTP, no UI, no clock reads.
//! Callers pass "now" in. The HTTP, UI, database and hardware edges live in other crates
//! and call into these modules; they map the error types here to user-facing zh-TW text.

pub mod account;
pub mod cert_binding;
pub mod content;
pub mod eligibility;
pub mod email;
pub mod national_id;
pub mod password;
pub mod personnel;
pub mod ratelimit;
pub mod reset;
pub mod roc;
pub mod search;
pub mod session;
pub mod text;
pub mod throttle;
pub mod tz;
