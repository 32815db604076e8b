pub mod card;
pub mod content;
pub mod layout;
pub mod login_box;
