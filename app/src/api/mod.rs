//! The server-function API and the types that cross the wire, one module per feature;
//! `context` is what every server function gets from the server.
//!
//! Every endpoint has a fixed path (`/api/<name>`), so forms without JavaScript, the
//! integration tests and later the card agent address them by a stable URL.

pub mod admin;
pub mod auth;
pub mod card;
pub mod content;
#[cfg(feature = "ssr")]
pub mod context;
pub mod my_area;
pub mod reset;
