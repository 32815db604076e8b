//! The page's side of the card component (our agent or Chunghwa Telecom's HiPKI Local
//! Server): the `/popupForm` postMessage relay and `/addDomain`.
//!
//! A relay window must be opened inside a click handler (browsers block other popups), so
//! [`Relay::open`] is synchronous and starts listening at once; the request is sent when the
//! window says `getTbs`. Messages are accepted only from that window and from the component's
//! origin. One request per window, as with the real component.
//!
//! The PIN travels from the PIN field to the relay window only; it is never sent to the
//! portal's server, never put in a URL and never logged.

use ecpa_cardproto::hipki::{Answer, Outcome, SignRequest};
use serde_json::{json, Value};
use std::time::Duration;

/// How long the relay window has to say `getTbs` before we decide nothing is listening on the
/// component's port (HiPKI's own pages use 3.5 s; a cold start of the agent is allowed more).
pub const READY_TIMEOUT: Duration = Duration::from_secs(6);
/// Reading certificates.
pub const INFO_TIMEOUT: Duration = Duration::from_secs(30);
/// A signature (the card may be slow; the agent's own bound is shorter).
pub const SIGN_TIMEOUT: Duration = Duration::from_secs(60);
/// The user deciding in the component's /addDomain page.
pub const TRUST_TIMEOUT: Duration = Duration::from_secs(300);

/// The `GetUserCert` request (certificates of the inserted cards).
pub fn get_user_cert() -> Value {
    json!({ "func": "GetUserCert" })
}

/// The `MakeSignature` request the portal sends ([`SignRequest::portal_challenge`], the
/// type the agent reads): SHA-256, PKCS#1 v1.5 over the challenge text as is.
pub fn make_signature(tbs: &str, pin: &str, slot: Option<&str>) -> Value {
    serde_json::to_value(SignRequest::portal_challenge(tbs, pin, slot)).unwrap_or(Value::Null)
}

/// The request text the page posts to the relay window. The real component's `/popupForm`
/// sends `"tbsPackage=" + message` without encoding and its server form-decodes it once (real
/// pages pre-escape `+` as `%2B` for that reason); escaping `%`, `+` and `&` the same way
/// makes every character of the `tbs` and the PIN arrive as typed, with this agent's relay
/// (which does the same) and with Chunghwa's.
pub fn relay_text(request: &Value) -> Option<String> {
    serde_json::to_string(request).ok().map(|t| form_escape(&t))
}

/// `%` → `%25`, `+` → `%2B`, `&` → `%26`: what a single form decoding restores.
pub fn form_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '+' => out.push_str("%2B"),
            '&' => out.push_str("%26"),
            c => out.push(c),
        }
    }
    out
}

/// The `/addDomain` address asking the component to trust `site`: a bare host for an https
/// site (what the real component expects), the whole origin otherwise (development).
pub fn add_domain_url(agent_origin: &str, site: &str) -> String {
    let host = site.strip_prefix("https://").unwrap_or(site);
    let mut encoded = String::new();
    for b in host.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!(
        "{}/addDomain?domain={encoded}",
        agent_origin.trim_end_matches('/')
    )
}

#[cfg(feature = "hydrate")]
mod imp {
    use super::*;
    use futures::channel::oneshot;
    use leptos::prelude::{
        set_timeout_with_handle, window, window_event_listener, WindowListenerHandle,
    };
    use std::{cell::RefCell, collections::VecDeque, rc::Rc};
    use wasm_bindgen::JsValue;

    #[derive(Default)]
    struct Inbox {
        queue: VecDeque<String>,
        waiter: Option<oneshot::Sender<()>>,
    }

    /// An open relay (or /addDomain) window of the component.
    pub struct Relay {
        popup: web_sys::Window,
        origin: String,
        inbox: Rc<RefCell<Inbox>>,
        listener: Option<WindowListenerHandle>,
    }

    fn origin_of(url: &str) -> String {
        // scheme://host[:port] of an absolute URL.
        let after = url.find("://").map(|i| i + 3).unwrap_or(0);
        match url[after..].find('/') {
            Some(i) => url[..after + i].to_string(),
            None => url.to_string(),
        }
    }

    impl Relay {
        /// Opens `url` of the component in a small window. Call from a click handler.
        pub fn open(url: &str) -> Result<Relay, Outcome> {
            let popup = window()
                .open_with_url_and_target_and_features(
                    url,
                    "ecpa_card_component",
                    "width=460,height=320",
                )
                .ok()
                .flatten()
                .ok_or(Outcome::PopupBlocked)?;
            let origin = origin_of(url);
            let inbox = Rc::new(RefCell::new(Inbox::default()));
            let (want_origin, from, sink) = (origin.clone(), popup.clone(), inbox.clone());
            let listener =
                window_event_listener(leptos::ev::message, move |ev: web_sys::MessageEvent| {
                    if ev.origin() != want_origin {
                        return;
                    }
                    let same_window = ev
                        .source()
                        .is_some_and(|s| js_sys::Object::is(s.as_ref(), from.as_ref()));
                    if !same_window {
                        return;
                    }
                    let data = ev.data();
                    let text = data.as_string().or_else(|| {
                        js_sys::JSON::stringify(&data)
                            .ok()
                            .and_then(|s| s.as_string())
                    });
                    if let Some(text) = text {
                        let mut inbox = sink.borrow_mut();
                        inbox.queue.push_back(text);
                        if let Some(w) = inbox.waiter.take() {
                            let _ = w.send(());
                        }
                    }
                });
            Ok(Relay {
                popup,
                origin,
                inbox,
                listener: Some(listener),
            })
        }

        /// The next message from the window, or `None` after `timeout` or when the user closed it.
        async fn next(&self, timeout: Duration) -> Option<String> {
            let step = Duration::from_millis(250);
            let mut waited = Duration::ZERO;
            loop {
                if let Some(m) = self.inbox.borrow_mut().queue.pop_front() {
                    return Some(m);
                }
                if waited >= timeout || self.popup.closed().unwrap_or(true) {
                    return None;
                }
                let (tx, rx) = oneshot::channel::<()>();
                self.inbox.borrow_mut().waiter = Some(tx);
                let (wake_tx, wake_rx) = oneshot::channel::<()>();
                let timer = set_timeout_with_handle(
                    move || {
                        let _ = wake_tx.send(());
                    },
                    step,
                )
                .ok();
                futures::future::select(rx, wake_rx).await;
                if let Some(t) = timer {
                    t.clear();
                }
                self.inbox.borrow_mut().waiter = None;
                waited += step;
            }
        }

        /// Waits for `getTbs`, sends `request`, returns the component's answer.
        pub async fn request(self, request: &Value, timeout: Duration) -> Result<Answer, Outcome> {
            let ready = loop {
                match self.next(READY_TIMEOUT).await {
                    Some(m) if m.contains("getTbs") => break true,
                    Some(_) => continue,
                    None => break false,
                }
            };
            if !ready {
                return Err(if self.popup.closed().unwrap_or(true) {
                    Outcome::Cancelled
                } else {
                    Outcome::NotInstalled
                });
            }
            let text = relay_text(request).ok_or(Outcome::Failed(0))?;
            self.popup
                .post_message(&JsValue::from_str(&text), &self.origin)
                .map_err(|_| Outcome::NotInstalled)?;
            drop(text);
            match self.next(timeout).await {
                Some(answer) => {
                    Answer::parse(&answer).ok_or(Outcome::Failed(ecpa_cardproto::hipki::BAD_JSON))
                }
                None if self.popup.closed().unwrap_or(true) => Err(Outcome::Cancelled),
                None => Err(Outcome::Timeout),
            }
        }

        /// Waits for the `/addDomain` page's answer.
        pub async fn trust_answer(self) -> Result<Answer, Outcome> {
            match self.next(TRUST_TIMEOUT).await {
                Some(answer) => {
                    Answer::parse(&answer).ok_or(Outcome::Failed(ecpa_cardproto::hipki::BAD_JSON))
                }
                None if self.popup.closed().unwrap_or(true) => Err(Outcome::Cancelled),
                None => Err(Outcome::Timeout),
            }
        }
    }

    impl Drop for Relay {
        fn drop(&mut self) {
            if let Some(l) = self.listener.take() {
                l.remove();
            }
            let _ = self.popup.close();
        }
    }

    /// Full navigation (a new session cookie must be seen by every later request and page).
    pub fn go(path: &str) {
        let _ = window().location().set_href(path);
    }

    /// The host of the page the user is on, as the browser's address bar has it.
    pub fn page_host() -> Option<String> {
        window().location().host().ok()
    }
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    use super::*;

    /// Server-side stand-in: there is no browser window on the server.
    pub struct Relay;

    impl Relay {
        pub fn open(_url: &str) -> Result<Relay, Outcome> {
            Err(Outcome::NotInstalled)
        }
        pub async fn request(
            self,
            _request: &Value,
            _timeout: Duration,
        ) -> Result<Answer, Outcome> {
            Err(Outcome::NotInstalled)
        }
        pub async fn trust_answer(self) -> Result<Answer, Outcome> {
            Err(Outcome::NotInstalled)
        }
    }

    pub fn go(_path: &str) {}

    pub fn page_host() -> Option<String> {
        None
    }
}

pub use imp::{go, page_host, Relay};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_request_fields() {
        let v = make_signature("{\"x\":1}", "123456", Some("Virtual PCD 00 00"));
        assert_eq!(v["func"], "MakeSignature");
        assert_eq!(v["signatureType"], "PKCS1");
        assert_eq!(v["hashAlgorithm"], "SHA256");
        assert_eq!(v["tbsEncoding"], "NONE");
        assert_eq!(v["slotDescription"], "Virtual PCD 00 00");
        assert!(make_signature("t", "123456", None)
            .get("slotDescription")
            .is_none());
    }

    /// What the agent's server (and the real component's) reads after the raw relay: one form
    /// decoding of `"tbsPackage=" + text` gives back the exact request.
    #[test]
    fn relay_text_survives_one_form_decoding() {
        for (tbs, pin) in [
            ("a+b/c=d%41&e f", "1+2%3&4"),
            ("{\"ecpa\":\"x\"}", "Ab!@#$%^"),
            ("登入 ECPA", "123456"),
        ] {
            let req = make_signature(tbs, pin, None);
            let text = relay_text(&req).unwrap();
            let body = format!("tbsPackage={text}");
            let decoded: Vec<(String, String)> = body
                .split('&')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_string(), form_decode(v))
                })
                .collect();
            assert_eq!(decoded.len(), 1, "{body}");
            let back: Value = serde_json::from_str(&decoded[0].1).unwrap();
            assert_eq!(back, req);
        }
    }

    /// application/x-www-form-urlencoded decoding, as servers do it.
    fn form_decode(v: &str) -> String {
        let b = v.as_bytes();
        let mut out = vec![];
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(h, 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn add_domain_address() {
        assert_eq!(
            add_domain_url("http://127.0.0.1:61161/", "https://ecpa.dgpa.gov.tw"),
            "http://127.0.0.1:61161/addDomain?domain=ecpa.dgpa.gov.tw"
        );
        assert_eq!(
            add_domain_url("http://127.0.0.1:61161", "http://127.0.0.1:3000"),
            "http://127.0.0.1:61161/addDomain?domain=http%3A%2F%2F127.0.0.1%3A3000"
        );
        assert!(add_domain_url("http://a", "x&y=1").ends_with("x%26y%3D1"));
    }
}
