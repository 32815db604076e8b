pub mod card;
pub mod layout;
pub mod login_box;
