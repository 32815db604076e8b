//! [`Readers`] over PC/SC (pcscd on Linux, WinSCard elsewhere).

use crate::card::{ReaderState, Readers};
use crate::codes::Failure;
use pcsc::{Context, Error as PcscError, Scope, State};
use std::time::Duration;

pub struct PcscReaders;

impl Readers for PcscReaders {
    fn list(&self) -> Result<Vec<ReaderState>, Failure> {
        let ctx = match Context::establish(Scope::User) {
            Ok(c) => c,
            // No PC/SC service: as far as a user can tell, there is no reader.
            Err(
                PcscError::NoService | PcscError::ServiceStopped | PcscError::NoReadersAvailable,
            ) => return Ok(vec![]),
            Err(e) => return Err(Failure::Card(format!("PC/SC: {e}"))),
        };
        let names = match ctx.list_readers_owned() {
            Ok(n) => n,
            Err(
                PcscError::NoReadersAvailable | PcscError::NoService | PcscError::ServiceStopped,
            ) => return Ok(vec![]),
            Err(e) => return Err(Failure::Card(format!("PC/SC: {e}"))),
        };
        if names.is_empty() {
            return Ok(vec![]);
        }
        let mut states: Vec<pcsc::ReaderState> = names
            .iter()
            .map(|n| pcsc::ReaderState::new(n.clone(), State::UNAWARE))
            .collect();
        match ctx.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(PcscError::Timeout) => {}
            Err(e) => return Err(Failure::Card(format!("PC/SC: {e}"))),
        }
        Ok(states
            .iter()
            .map(|s| ReaderState {
                name: s.name().to_string_lossy().into_owned(),
                card_present: s.event_state().contains(State::PRESENT),
            })
            .collect())
    }
}
