pub mod app_launch;
pub mod cert_login;
pub mod forgot_password;
pub mod home;
pub mod my_area;
pub mod not_found;
pub mod section;
