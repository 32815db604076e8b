//! The portal's cookies: the session, the trusted device and the browser id, with their
//! flags (`__Host-` and `Secure` over https).

use crate::config::Config;
use time::Duration;

/// How long a browser stays a trusted device for an account after its last sign-in.
pub const DEVICE_TRUST: Duration = Duration::days(90);
/// How long a browser keeps its browser id (renewed whenever it is missing).
pub const BROWSER_ID_AGE: Duration = Duration::days(400);

#[derive(Debug, Clone)]
pub struct CookieNames {
    pub session: &'static str,
    pub device: &'static str,
    /// A random id with no meaning but "the same browser as before": what the request
    /// limits charge (`limits`), so that colleagues behind one address are not one client.
    pub browser: &'static str,
    secure: bool,
}

impl CookieNames {
    pub fn for_config(c: &Config) -> Self {
        if c.is_https() {
            // `__Host-`: the browser only accepts it with Secure, Path=/ and no Domain.
            Self {
                session: "__Host-ecpa_sid",
                device: "__Host-ecpa_dev",
                browser: "__Host-ecpa_b",
                secure: true,
            }
        } else {
            Self {
                session: "ecpa_sid",
                device: "ecpa_dev",
                browser: "ecpa_b",
                secure: false,
            }
        }
    }

    fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> String {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(a) = max_age {
            c.push_str(&format!("; Max-Age={a}"));
        }
        if self.secure {
            c.push_str("; Secure");
        }
        c
    }

    pub fn session_cookie(&self, token: &str) -> String {
        self.cookie(self.session, token, None)
    }

    pub fn clear_session(&self) -> String {
        self.cookie(self.session, "", Some(0))
    }

    pub fn device_cookie(&self, token: &str) -> String {
        self.cookie(self.device, token, Some(DEVICE_TRUST.whole_seconds()))
    }

    pub fn browser_cookie(&self, id: &str) -> String {
        self.cookie(self.browser, id, Some(BROWSER_ID_AGE.whole_seconds()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_flavours() {
        let mut c = Config::defaults();
        let http = CookieNames::for_config(&c);
        assert_eq!(
            http.session_cookie("t"),
            "ecpa_sid=t; Path=/; HttpOnly; SameSite=Lax"
        );
        c.public_origin = url::Url::parse("https://ecpa.example.gov.tw").unwrap();
        let https = CookieNames::for_config(&c);
        assert_eq!(
            https.session_cookie("t"),
            "__Host-ecpa_sid=t; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(https.clear_session().contains("Max-Age=0"));
    }
}
