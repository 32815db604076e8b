//! hsm-sim: smart cards that behave like MOICA / GCA cards, for tests and demos.
//!
//! * [`pki`]: the test PKI (rcgen; keys in SoftHSM).
//! * [`softhsm`]: SoftHSM through cryptoki.
//! * [`sim`]: persistent state: CA, cards, CRLs.
//! * [`apdu`], [`piv`]: the card's PIV application, APDU by APDU.
//! * [`reader`]: the card in a vpcd virtual reader of pcscd; [`pcscd`]: starting pcscd.

pub mod apdu;
pub mod pcscd;
pub mod piv;
pub mod pki;
pub mod reader;
pub mod sim;
pub mod softhsm;
