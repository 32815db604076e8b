//! The personnel registry: agencies, people and their Table 2 (表二) records; the bulk
//! importer that loads them, a generator of realistic sample files, and the queries the
//! portal asks of the registry.

pub mod agencies;
pub mod csvio;
pub mod import;
pub mod registry;
pub mod sample;
