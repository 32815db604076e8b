//! The HTTP face of the agent, compatible with the HiPKI Local Server: `GET /`,
//! `GET|POST /pkcs11info`, `POST /sign`, `GET /popupForm`, `GET /ChtPopupForm`,
//! `GET /p11Image.bmp`,
//! `GET /addDomain`, `GET /waiting.gif`.
//!
//! Who is asking is known for every request: through the popup, from the origin the browser
//! reported to the relay page (`event.origin`, passed on in `X-ECPA-Relay-Origin`, honoured
//! only on requests coming from the agent's own page); directly, from the `Origin` header.
//! A request from a site not on the trusted list is answered `0x76000031` and touches no card.
//! A request with neither `Origin` nor any `Sec-Fetch-*` header comes from a program on this
//! computer, not a web page (browsers send fetch metadata to loopback addresses): it may read
//! the card and sign, as with the real component, but never a portal challenge.

use crate::add_domain::{site_to_trust, Prompts, Taken, ARM_JS};
use crate::codes::Failure;
use crate::service::{Agent, Asker, VERSION};
use crate::trust::{normalize, Trust};
use axum::{
    body::to_bytes,
    extract::{Query, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{Html, IntoResponse, Response},
    routing::get,
    Router,
};
use rand::RngCore;
use serde_json::{json, Value};
use std::{collections::HashMap, sync::Arc, time::Instant};
use zeroize::Zeroize;

pub const MAX_BODY: usize = 64 * 1024;
pub const RELAY_HEADER: &str = "x-ecpa-relay-origin";

pub struct AppState {
    pub agent: Agent,
    pub trust: Trust,
    pub port: u16,
    /// Pending /addDomain prompts.
    pub prompts: Prompts,
}

impl AppState {
    pub fn new(agent: Agent, trust: Trust, port: u16) -> Self {
        Self {
            agent,
            trust,
            port,
            prompts: Prompts::default(),
        }
    }

    fn own_origins(&self) -> [String; 2] {
        [
            format!("http://127.0.0.1:{}", self.port),
            format!("http://localhost:{}", self.port),
        ]
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route(
            "/pkcs11info",
            get(pkcs11info).post(pkcs11info).options(preflight),
        )
        .route("/sign", axum::routing::post(sign).options(preflight))
        .route("/p11Image.bmp", get(p11_image).options(preflight))
        .route("/waiting.gif", get(waiting_gif))
        .route("/popupForm", get(popup_form))
        .route("/ChtPopupForm", get(cht_popup_form))
        .route("/addDomain", get(add_domain_page).post(add_domain_confirm))
        .layer(middleware::from_fn_with_state(state.clone(), host_check))
        .with_state(state)
}

/// DNS-rebinding defence: only `127.0.0.1:PORT` / `localhost:PORT` are answered.
async fn host_check(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let ok = host == format!("127.0.0.1:{}", st.port) || host == format!("localhost:{}", st.port);
    if !ok {
        return (StatusCode::MISDIRECTED_REQUEST, "unknown host").into_response();
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    res
}

/// What PowerShell checks and version pages read: `version:<HiPKI level>`; the agent's own
/// version is given separately.
async fn index(State(st): State<Arc<AppState>>) -> Html<String> {
    let hipki = escape(&st.agent.hipki_version);
    Html(format!(
        "<!DOCTYPE html><html lang=\"zh-Hant-TW\"><meta charset=\"utf-8\"><title>ECPA 讀卡元件</title>\
         <body><h1>ECPA 讀卡元件</h1><p>HiPKI Local Server 相容 version:{hipki}</p>\
         <p>ECPA card agent {VERSION}</p></body></html>"
    ))
}

/// The site asking, from the relay header (own page only) or the Origin header.
pub fn asking_origin(headers: &HeaderMap, own: &[String]) -> Option<String> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())?;
    if own.iter().any(|o| o == origin) {
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        if fetch_site.is_some_and(|s| s != "same-origin") {
            return None;
        }
        return headers
            .get(RELAY_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(normalize);
    }
    normalize(origin)
}

fn answer(v: Value, cors_origin: Option<&str>) -> Response {
    let mut res = (StatusCode::OK, axum::Json(v)).into_response();
    if let Some(o) = cors_origin {
        if let Ok(v) = HeaderValue::from_str(o) {
            res.headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            res.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
    res
}

/// Who is calling, once admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A trusted site; `cors`: it called directly (not through the relay page).
    Site { origin: String, cors: bool },
    /// A program on this computer (no `Origin`, no fetch metadata).
    Local,
}

impl Caller {
    fn asker(&self) -> Asker<'_> {
        match self {
            Caller::Site { origin, .. } => Asker::Site(origin),
            Caller::Local => Asker::LocalProgram,
        }
    }
    fn cors(&self) -> Option<&str> {
        match self {
            Caller::Site { origin, cors: true } => Some(origin),
            _ => None,
        }
    }
}

/// Browsers send `Sec-Fetch-*` with every request to a loopback address; programs do not.
pub fn has_fetch_metadata(headers: &HeaderMap) -> bool {
    headers.keys().any(|k| k.as_str().starts_with("sec-fetch-"))
}

/// Checks the asker; returns who it is, or the refusal.
fn admit(st: &AppState, headers: &HeaderMap, func: &str) -> Result<Caller, Box<Response>> {
    if headers.get(header::ORIGIN).is_none() && !has_fetch_metadata(headers) {
        return Ok(Caller::Local);
    }
    let own = st.own_origins();
    match asking_origin(headers, &own) {
        Some(o) if st.trust.is_trusted(&o) => {
            let direct = headers
                .get(header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|h| !own.iter().any(|x| x == h));
            Ok(Caller::Site {
                origin: o,
                cors: direct,
            })
        }
        other => {
            tracing::warn!(origin = ?other, "request from a site not trusted");
            Err(Box::new(answer(
                st.agent.failure_answer(func, &Failure::SiteNotTrusted),
                None,
            )))
        }
    }
}

async fn pkcs11info(
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let caller = match admit(&st, &headers, "pkcs11info") {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let with_cert = q.get("withcert").is_some_and(|v| v == "true");
    let v = st.agent.pkcs11info(with_cert).await;
    answer(v, caller.cors())
}

async fn sign(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let headers = req.headers().clone();
    let caller = match admit(&st, &headers, "sign") {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let cors = caller.cors();
    let mut body: Vec<u8> = match to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b.into(),
        Err(_) => {
            return answer(
                st.agent
                    .failure_answer("sign", &Failure::BadParameter("request too large".into())),
                cors,
            )
        }
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    // A form body is decoded once: the relay sends the page's text as is, so a page's `%2B`
    // becomes `+` here, as with the real component.
    let mut package = if is_json {
        String::from_utf8(body.clone()).ok()
    } else {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == "tbsPackage")
            .map(|(_, v)| v.into_owned())
    };
    body.zeroize();
    let v = match &package {
        Some(p) => st.agent.sign(p, caller.asker()).await,
        None => st
            .agent
            .failure_answer("sign", &Failure::BadParameter("tbsPackage".into())),
    };
    if let Some(p) = package.as_mut() {
        p.zeroize();
    }
    answer(v, cors)
}

/// Width of the `p11Image.bmp` picture (one row of 24-bit pixels).
pub const BMP_WIDTH: usize = 2000;

/// JSON with every non-ASCII character written `\uXXXX`, so the text survives both ways
/// sites read the picture (canvas pixels, or the file's bytes as text).
pub fn ascii_json(v: &Value) -> String {
    let text = v.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// The pkcs11info answer in the pixels of a 2000×1 24-bit BMP, as the real component
/// serves it: the text's bytes fill the pixels in file order (3 a pixel, the last one padded
/// with spaces), then a pixel whose first byte is 0 ends it. Pages read pixel i's bytes as
/// canvas (B, G, R): file order.
pub fn p11_bmp(text: &str) -> Option<Vec<u8>> {
    let data = text.as_bytes();
    if !text.is_ascii() || data.contains(&0) || data.len() > (BMP_WIDTH - 1) * 3 {
        return None;
    }
    let pixels = BMP_WIDTH * 3;
    let size = 54 + pixels;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"BM");
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&54u32.to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&(BMP_WIDTH as i32).to_le_bytes());
    out.extend_from_slice(&1i32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&24u16.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(pixels as u32).to_le_bytes());
    out.extend_from_slice(&2835i32.to_le_bytes());
    out.extend_from_slice(&2835i32.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(data);
    while (out.len() - 54) % 3 != 0 {
        out.push(b' ');
    }
    out.resize(size, 0);
    Some(out)
}

/// `GET /p11Image.bmp`: readers and cards (no certificates) for trusted sites; a site not
/// trusted gets the picture of `0x76000031`, so it can offer `/addDomain` (that it is not
/// trusted is all it learns). CORS is granted so the page's canvas can read it.
async fn p11_image(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(normalize);
    let v = match admit(&st, &headers, "pkcs11info") {
        Ok(_) => st.agent.pkcs11info(false).await,
        Err(_) => st
            .agent
            .failure_answer("pkcs11info", &Failure::SiteNotTrusted),
    };
    let bmp = p11_bmp(&ascii_json(&v)).or_else(|| {
        p11_bmp(&ascii_json(&st.agent.failure_answer(
            "pkcs11info",
            &Failure::Card("answer too long".into()),
        )))
    });
    let Some(bmp) = bmp else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut res = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "image/bmp"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bmp,
    )
        .into_response();
    if let Some(v) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        res.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        res.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    res
}

/// A 1×1 transparent GIF: what IE/Safari code paths open as the popup's first page.
const WAITING_GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xFF, 0xFF, 0xFF, 0x21, 0xF9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B,
];

async fn waiting_gif() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        WAITING_GIF.as_slice(),
    )
        .into_response()
}

/// CORS and Private Network Access preflights: granted to trusted sites only (for the
/// `p11Image.bmp` picture, to any web site: an untrusted one reads only that it is not).
async fn preflight(
    State(st): State<Arc<AppState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(normalize);
    let picture = uri.path() == "/p11Image.bmp";
    let Some(origin) = origin.filter(|o| picture || st.trust.is_trusted(o)) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if headers
        .get("access-control-request-private-network")
        .is_some_and(|v| v == "true")
    {
        h.insert(
            "access-control-allow-private-network",
            HeaderValue::from_static("true"),
        );
    }
    res
}

fn nonce() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn page(title: &str, body: &str, script: &str) -> Response {
    let n = nonce();
    let html = format!(
        "<!DOCTYPE html><html lang=\"zh-Hant-TW\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;margin:2rem;line-height:1.6}}button{{font-size:1rem;padding:.4rem 1rem;margin-right:.5rem}}</style></head>\
         <body>{body}<script nonce=\"{n}\">{script}</script></body></html>"
    );
    let mut res = Html(html).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("default-src 'none'; script-src 'nonce-{n}'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'")) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

const POPUP_JS: &str = r#"(function(){
  var done = false, status = document.getElementById('s');
  function reply(origin, data) {
    done = true;
    try { window.opener.postMessage(data, origin); } catch (e) {}
    setTimeout(function(){ window.close(); }, 50);
  }
  function codeAnswer(func, code) { return JSON.stringify({func: func, ret_code: code, last_error: 0}); }
  window.addEventListener('message', function(ev) {
    if (done || !window.opener || ev.source !== window.opener) return;
    var req = ev.data;
    if (typeof req === 'string') { try { req = JSON.parse(req); } catch (e) { reply(ev.origin, codeAnswer('unknown', 0x7600000B)); return; } }
    var func = req && req.func, url, body = '';
    // As the real relay: the page's text goes into the form body as is (pages pre-escape
    // '+' as %2B), and the server decodes it once.
    var raw = typeof ev.data === 'string' ? ev.data : JSON.stringify(ev.data);
    if (func === 'GetUserCert') { url = '/pkcs11info?withcert=true'; }
    else if (func === 'CheckEnvir') { url = '/pkcs11info'; }
    else if (func === 'MakeSignature') { url = '/sign'; body = 'tbsPackage=' + raw; }
    else { reply(ev.origin, codeAnswer(String(func), 0x7600000E)); return; }
    status.textContent = func === 'MakeSignature' ? '簽章中，請勿拔除卡片…' : '讀取卡片中…';
    fetch(url, {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded', 'X-ECPA-Relay-Origin': ev.origin}, body: body})
      .then(function(r){ return r.text(); })
      .then(function(t){ reply(ev.origin, t); })
      .catch(function(){ reply(ev.origin, codeAnswer(func === 'MakeSignature' ? 'sign' : 'pkcs11info', 0x76000034)); });
  });
  if (window.opener) { window.opener.postMessage(JSON.stringify({func: 'getTbs'}), '*'); }
  else { status.textContent = '請由網站開啟此視窗。'; }
  setTimeout(function(){ if (!done) window.close(); }, 60000);
})();"#;

/// The postMessage relay (one request per popup, answered only to the asking origin).
async fn popup_form() -> Response {
    page("ECPA 讀卡元件", "<p id=\"s\">讀卡元件處理中…</p>", POPUP_JS)
}

/// The relay of Chunghwa Telecom's ICToken library (common on organization-card sites): the
/// same exchange (`getTbs`, then the library's package, then the component's answer), with
/// the library's package (`func` `CheckEnvir` / `GetUserCert` / `MakeSignature`, fields such
/// as `cardid`, `keyidb64`, `userpin`, `"__NotExistedTag__"` for unset ones).
async fn cht_popup_form() -> Response {
    page("ECPA 讀卡元件", "<p id=\"s\">IC卡讀取中…</p>", POPUP_JS)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `GET /addDomain?domain=`: asks the user, in the agent's own page, to trust a site
/// (the rules are `add_domain`'s).
async fn add_domain_page(
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let typed_by_user = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "none");
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    let asked = q.get("domain").map(String::as_str).unwrap_or_default();
    let opened = site_to_trust(asked, referer, typed_by_user)
        .and_then(|site| Ok((st.prompts.open(&site, nonce(), Instant::now())?, site)));
    let (token, site) = match opened {
        Ok(t) => t,
        Err(refusal) => {
            tracing::warn!(?refusal, asked, ?referer, "addDomain prompt refused");
            return (
                StatusCode::FORBIDDEN,
                page(
                    "ECPA 讀卡元件",
                    &format!("<p role=\"alert\">{}</p>", refusal.text()),
                    "",
                ),
            )
                .into_response();
        }
    };
    let s = escape(&site);
    // 「取消」 first, large and focused: where a click the user did not aim lands.
    let body = format!(
        "<h1>信任此網站？</h1><p>網站 <strong id=\"site\">{s}</strong> 要求使用您的讀卡元件（自然人憑證、機關憑證）。</p>\
         <p>只信任您正在使用的政府網站。信任後，此網站可以讀取卡片上的憑證，並在您輸入 PIN 碼後請卡片簽章。</p>\
         <form id=\"prompt\" method=\"post\" action=\"/addDomain\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <button type=\"submit\" name=\"decision\" value=\"cancel\" id=\"cancel\" disabled \
         style=\"display:block;width:100%;font-size:1.25rem;padding:1rem;margin:1rem 0\">取消</button>\
         <button type=\"submit\" name=\"decision\" value=\"trust\" id=\"trust\" disabled>信任此網站</button></form>\
         <p><small>按鈕在視窗顯示一秒後才能使用。</small></p>"
    );
    page("信任網站 - ECPA 讀卡元件", &body, ARM_JS)
}

async fn add_domain_confirm(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::extract::Form<HashMap<String, String>>,
) -> Response {
    let own = st.own_origins();
    // The form is the agent's own page. Browsers send `Origin: null` for a form post from a
    // page whose referrer policy is strict, so `Sec-Fetch-Site` decides then; a foreign
    // Origin never passes. The one-time token is required as well.
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let same_origin_fetch = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "same-origin");
    let from_own_page = match origin {
        Some(o) if own.iter().any(|x| x == o) => true,
        Some("null") | None => same_origin_fetch,
        Some(_) => false,
    };
    let token = body.get("token").cloned().unwrap_or_default();
    // The token is used up by any attempt, from wherever it comes.
    let taken = st.prompts.take(&token, Instant::now());
    let site = match (from_own_page, taken) {
        (true, Taken::Site(site)) => site,
        (_, taken) => {
            tracing::warn!(
                from_own_page,
                ?taken,
                "addDomain confirmation refused (unknown, expired, too soon or foreign)"
            );
            let text = if taken == Taken::TooSoon {
                "<p role=\"alert\">按得太快了：請看清楚網站名稱再決定。此確認已失效，請重新由網站操作。</p>"
            } else {
                "<p role=\"alert\">此確認已失效，請重新由網站操作。</p>"
            };
            return (StatusCode::FORBIDDEN, page("ECPA 讀卡元件", text, "")).into_response();
        }
    };
    let trusted = body.get("decision").is_some_and(|d| d == "trust");
    tracing::info!(%site, trusted, "addDomain: the user decided");
    let code = if trusted {
        match st.trust.add(&site) {
            Ok(()) => crate::codes::OK,
            Err(e) => {
                tracing::error!(error = %e, "cannot store the trusted site");
                crate::codes::CARD_ERROR
            }
        }
    } else {
        crate::codes::USER_CANCELLED
    };
    let msg = serde_json::to_string(&json!({ "func": "addDomain", "ret_code": code }))
        .unwrap_or_default();
    let site_js = serde_json::to_string(&site).unwrap_or_default();
    let text = if trusted {
        "已將網站加入信任清單，此視窗將自動關閉。"
    } else {
        "已取消。"
    };
    let script = format!("if(window.opener){{try{{window.opener.postMessage({}, {site_js});}}catch(e){{}}}} setTimeout(function(){{window.close();}},800);", serde_json::to_string(&msg).unwrap_or_default());
    page(
        "ECPA 讀卡元件",
        &format!("<p id=\"result\">{text}</p>"),
        &script,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{MockReaders, MockTokens, ReaderState, SlotSummary};
    use crate::codes;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use std::time::Duration;
    use tower::ServiceExt;

    const PORT: u16 = 61161;
    const PORTAL: &str = "https://ecpa.example.gov.tw";

    fn app(tokens_called: bool) -> (Router, Arc<AppState>) {
        let mut t = MockTokens::new();
        if tokens_called {
            t.expect_slots().returning(|_| {
                Ok(vec![SlotSummary {
                    slot_id: 0,
                    description: "Virtual PCD 00 00".into(),
                    token: None,
                }])
            });
        } else {
            t.expect_slots().never();
            t.expect_sign().never();
        }
        let mut r = MockReaders::new();
        r.expect_list().returning(|| {
            Ok(vec![ReaderState {
                name: "Virtual PCD 00 00".into(),
                card_present: true,
            }])
        });
        let agent = Agent::new(Some(Arc::new(r)), Arc::new(t));
        let mut st = AppState::new(agent, Trust::new(vec![PORTAL.to_string()], None), PORT);
        // These tests answer prompts at once; the delay has its own test.
        st.prompts.arm_delay = Duration::ZERO;
        let st = Arc::new(st);
        (router(st.clone()), st)
    }

    /// The one-time token of an `/addDomain` page.
    fn token_in(body: &str) -> String {
        body.split("name=\"token\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_string()
    }

    async fn send(app: &Router, req: axum::http::Request<Body>) -> (StatusCode, HeaderMap, String) {
        let res = app.clone().oneshot(req).await.unwrap();
        let (p, b) = res.into_parts();
        (
            p.status,
            p.headers,
            String::from_utf8_lossy(&b.collect().await.unwrap().to_bytes()).into_owned(),
        )
    }

    fn post(
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> axum::http::Request<Body> {
        let mut b = axum::http::Request::post(path).header("host", format!("127.0.0.1:{PORT}"));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body.into()).unwrap()
    }

    fn ret(body: &str) -> u64 {
        serde_json::from_str::<Value>(body).unwrap()["ret_code"]
            .as_u64()
            .unwrap()
    }

    #[tokio::test]
    async fn host_header_is_checked() {
        let (a, _) = app(false);
        let ok = axum::http::Request::get("/")
            .header("host", "localhost:61161")
            .body(Body::empty())
            .unwrap();
        let (s, _, body) = send(&a, ok).await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains(&format!("version:{}", crate::config::HIPKI_VERSION)));
        assert!(body.contains(&format!("ECPA card agent {VERSION}")));
        for host in ["evil.example:61161", "127.0.0.1:61162", "127.0.0.1"] {
            let r = axum::http::Request::get("/")
                .header("host", host)
                .body(Body::empty())
                .unwrap();
            assert_eq!(
                send(&a, r).await.0,
                StatusCode::MISDIRECTED_REQUEST,
                "{host}"
            );
        }
    }

    #[tokio::test]
    async fn untrusted_sites_touch_no_card() {
        let (a, _) = app(false);
        for headers in [
            vec![("origin", "https://phish.example")],
            // A browser request without Origin (a no-cors GET, a form post from an old
            // page): fetch metadata says it is a web page, and its site is unknown.
            vec![
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "no-cors"),
            ],
            // The relay header counts only on requests from the agent's own page.
            vec![("origin", "https://phish.example"), (RELAY_HEADER, PORTAL)],
            vec![
                ("origin", "http://127.0.0.1:61161"),
                ("sec-fetch-site", "same-origin"),
                (RELAY_HEADER, "https://phish.example"),
            ],
            vec![
                ("origin", "http://127.0.0.1:61161"),
                ("sec-fetch-site", "cross-site"),
                (RELAY_HEADER, PORTAL),
            ],
            vec![("origin", "null")],
        ] {
            for path in ["/pkcs11info?withcert=true", "/sign"] {
                let (s, h, body) = send(&a, post(path, &headers, "tbsPackage=%7B%7D")).await;
                assert_eq!(s, StatusCode::OK);
                assert_eq!(
                    ret(&body),
                    u64::from(codes::SITE_NOT_TRUSTED),
                    "{headers:?} {path}"
                );
                assert!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
            }
        }
    }

    #[tokio::test]
    async fn trusted_sites_directly_and_through_the_popup() {
        let (a, _) = app(true);
        let (_, h, body) = send(&a, post("/pkcs11info", &[("origin", PORTAL)], "")).await;
        assert_eq!(ret(&body), 0, "reaches the card layer: {body}");
        assert_eq!(
            h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .and_then(|v| v.to_str().ok()),
            Some(PORTAL)
        );
        let relayed = [
            ("origin", "http://localhost:61161"),
            ("sec-fetch-site", "same-origin"),
            (RELAY_HEADER, PORTAL),
        ];
        let (_, h, body) = send(&a, post("/pkcs11info", &relayed, "")).await;
        assert_eq!(ret(&body), 0, "{body}");
        assert!(
            h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
            "the popup is same-origin"
        );
    }

    #[tokio::test]
    async fn preflights_only_for_trusted_sites() {
        let (a, _) = app(false);
        let pre = |origin: &str| {
            axum::http::Request::builder()
                .method("OPTIONS")
                .uri("/sign")
                .header("host", "127.0.0.1:61161")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-private-network", "true")
                .body(Body::empty())
                .unwrap()
        };
        let (s, h, _) = send(&a, pre(PORTAL)).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(
            h.get("access-control-allow-private-network")
                .and_then(|v| v.to_str().ok()),
            Some("true")
        );
        assert_eq!(
            h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .and_then(|v| v.to_str().ok()),
            Some(PORTAL)
        );
        let (s, h, _) = send(&a, pre("https://phish.example")).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(h.get("access-control-allow-private-network").is_none());
    }

    #[tokio::test]
    async fn malformed_and_huge_packages_get_clear_codes() {
        let (a, _) = app(false);
        let h = [
            ("origin", PORTAL),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        let (_, _, b) = send(&a, post("/sign", &h, "tbsPackage=%7Bnot%20json")).await;
        assert_eq!(ret(&b), u64::from(codes::BAD_JSON));
        let (_, _, b) = send(&a, post("/sign", &h, "other=1")).await;
        assert_eq!(ret(&b), u64::from(codes::BAD_PARAMETER));
        let huge = format!("tbsPackage={}", "A".repeat(MAX_BODY * 4));
        let (s, _, b) = send(&a, post("/sign", &h, huge)).await;
        assert_eq!(
            (s, ret(&b)),
            (StatusCode::OK, u64::from(codes::BAD_PARAMETER))
        );
        let (_, _, b) = send(&a, post("/sign", &h, vec![0xFFu8, 0xFE, 0x00])).await;
        assert_eq!(ret(&b), u64::from(codes::BAD_PARAMETER));
    }

    #[tokio::test]
    async fn popup_relay_page() {
        let (a, _) = app(false);
        let r = axum::http::Request::get("/popupForm")
            .header("host", "127.0.0.1:61161")
            .body(Body::empty())
            .unwrap();
        let (s, h, body) = send(&a, r).await;
        assert_eq!(s, StatusCode::OK);
        let csp = h
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .unwrap_or_default();
        assert!(!nonce.is_empty() && body.contains(&format!("<script nonce=\"{nonce}\">")));
        assert!(csp.contains("frame-ancestors 'none'"));
        for needle in [
            "func: 'getTbs'",
            "GetUserCert",
            "CheckEnvir",
            "MakeSignature",
            "postMessage(data, origin)",
            "ev.source !== window.opener",
            RELAY_HEADER.to_ascii_uppercase().as_str(),
        ] {
            assert!(
                body.to_ascii_uppercase()
                    .contains(&needle.to_ascii_uppercase()),
                "{needle}"
            );
        }
    }

    #[tokio::test]
    async fn add_domain_needs_the_users_click_on_the_agents_page() {
        let (a, st) = app(false);
        let site = "https://new-portal.example";
        let r = axum::http::Request::get(format!("/addDomain?domain={site}"))
            .header("host", "127.0.0.1:61161")
            .header("referer", format!("{site}/login"))
            .body(Body::empty())
            .unwrap();
        let (_, _, body) = send(&a, r).await;
        assert!(body.contains(site));
        let token = token_in(&body);
        let form = |tok: &str| format!("token={tok}&decision=trust");
        // A web page posting the form (another Origin) cannot approve.
        let (s, _, _) = send(
            &a,
            post(
                "/addDomain",
                &[
                    ("origin", "https://phish.example"),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                form(&token),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(!st.trust.is_trusted(site));
        // The token was used up by that attempt; a fresh page, confirmed from the agent's own page, works.
        let r = axum::http::Request::get(format!("/addDomain?domain={site}"))
            .header("host", "127.0.0.1:61161")
            .header("referer", format!("{site}/login"))
            .body(Body::empty())
            .unwrap();
        let (_, _, body) = send(&a, r).await;
        let token = token_in(&body);
        let own = [
            ("origin", "http://127.0.0.1:61161"),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        let (s, _, body) = send(&a, post("/addDomain", &own, form(&token))).await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains("addDomain") && st.trust.is_trusted(site));
        let (s, _, _) = send(&a, post("/addDomain", &own, form(&token))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "a token works once");

        // `Origin: null` (a strict referrer policy): Sec-Fetch-Site decides.
        let fresh = |site: &'static str| {
            let a = a.clone();
            async move {
                let r = axum::http::Request::get(format!("/addDomain?domain={site}"))
                    .header("host", "127.0.0.1:61161")
                    .header("referer", format!("{site}/"))
                    .body(Body::empty())
                    .unwrap();
                let (_, _, body) = send(&a, r).await;
                token_in(&body)
            }
        };
        let other = "https://second.example";
        let null_from = |fetch_site: &'static str| {
            [
                ("origin", "null"),
                ("sec-fetch-site", fetch_site),
                ("content-type", "application/x-www-form-urlencoded"),
            ]
        };
        let t = fresh(other).await;
        let (s, _, _) = send(&a, post("/addDomain", &null_from("cross-site"), form(&t))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(!st.trust.is_trusted(other));
        let t = fresh(other).await;
        let (s, _, _) = send(&a, post("/addDomain", &null_from("same-origin"), form(&t))).await;
        assert_eq!(s, StatusCode::OK);
        assert!(st.trust.is_trusted(other));
    }

    fn get(path: &str, headers: &[(&str, &str)]) -> axum::http::Request<Body> {
        let mut b = axum::http::Request::get(path).header("host", format!("localhost:{PORT}"));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    /// A program on this computer (zkID's native client: `GET /pkcs11info`, `POST /sign`,
    /// no Origin, no fetch metadata) reaches the card.
    #[tokio::test]
    async fn local_programs_reach_the_card() {
        let (a, _) = app(true);
        let (s, h, body) = send(&a, get("/pkcs11info?withcert=true", &[])).await;
        assert_eq!(s, StatusCode::OK);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["ret_code"], 0, "{body}");
        assert_eq!(v["slots"][0]["slotDescription"], "Virtual PCD 00 00");
        assert!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    }

    fn decode_bmp(b: &[u8]) -> String {
        assert_eq!(&b[..2], b"BM");
        assert_eq!(u32::from_le_bytes(b[18..22].try_into().unwrap()), 2000);
        assert_eq!(u32::from_le_bytes(b[22..26].try_into().unwrap()), 1);
        assert_eq!(u16::from_le_bytes(b[28..30].try_into().unwrap()), 24);
        assert_eq!(b.len(), 54 + 6000);
        // As pages read it: canvas pixel i = (R, G, B) = file bytes (2, 1, 0); stop when the
        // B channel (file byte 0) is 0; text = B, G, R.
        let mut out = String::new();
        for px in b[54..].chunks(3) {
            if px[0] == 0 {
                break;
            }
            out.extend([px[0] as char, px[1] as char, px[2] as char]);
        }
        out
    }

    #[tokio::test]
    async fn p11_image_for_trusted_and_untrusted_sites() {
        let (a, _) = app(true);
        let (s, h, _) = send(
            &a,
            get(
                "/p11Image.bmp?1700000000",
                &[
                    ("origin", PORTAL),
                    ("sec-fetch-mode", "cors"),
                    ("sec-fetch-dest", "image"),
                ],
            ),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h.get(header::CONTENT_TYPE).unwrap(), "image/bmp");
        assert_eq!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).unwrap(), PORTAL);
        let res = a
            .clone()
            .oneshot(get(
                "/p11Image.bmp",
                &[("origin", PORTAL), ("sec-fetch-mode", "cors")],
            ))
            .await
            .unwrap();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = decode_bmp(&bytes);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["ret_code"], 0);
        assert_eq!(v["serverVersion"], crate::config::HIPKI_VERSION);
        // The mock's reader holds a card its module does not list: "unknown token".
        assert_eq!(v["slots"][0]["token"], "unknown token");

        let (a, _) = app(false);
        let res = a
            .clone()
            .oneshot(get(
                "/p11Image.bmp",
                &[
                    ("origin", "https://other.example"),
                    ("sec-fetch-mode", "cors"),
                ],
            ))
            .await
            .unwrap();
        assert_eq!(
            res.headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .unwrap(),
            "https://other.example"
        );
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_str(&decode_bmp(&bytes)).unwrap();
        assert_eq!(v["ret_code"], u64::from(codes::SITE_NOT_TRUSTED));
        assert_eq!(v["message"], "在未授權的網站執行元件");
        // The same text read as the file's bytes (the Safari path): ASCII only.
        assert!(bytes[54..]
            .iter()
            .take_while(|b| **b != 0)
            .all(u8::is_ascii));
    }

    #[test]
    fn bmp_limits() {
        assert!(p11_bmp(&"x".repeat(1999 * 3)).is_some());
        assert!(p11_bmp(&"x".repeat(1999 * 3 + 1)).is_none());
        assert!(p11_bmp("\0").is_none() || p11_bmp("a\u{0}b").is_none());
        assert!(p11_bmp("中").is_none());
        assert_eq!(
            ascii_json(&json!({"m":"卡😀"})),
            "{\"m\":\"\\u5361\\ud83d\\ude00\"}"
        );
        let b = p11_bmp("ab").unwrap();
        assert_eq!(&b[54..58], b"ab \0");
    }

    #[tokio::test]
    async fn waiting_gif_and_get_of_unknown_paths() {
        let (a, _) = app(false);
        let (s, h, _) = send(&a, get("/waiting.gif", &[])).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h.get(header::CONTENT_TYPE).unwrap(), "image/gif");
        let (s, _, _) = send(&a, post("/p11Image.bmp", &[], "x")).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    }

    /// Security review #16.3: `/addDomain` cannot be had without the user meaning it.
    #[tokio::test]
    async fn add_domain_refuses_what_the_user_did_not_mean() {
        let ask = |domain: &str, headers: &[(&str, &str)]| {
            let mut r = axum::http::Request::get(format!("/addDomain?domain={domain}"))
                .header("host", "127.0.0.1:61161");
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.body(Body::empty()).unwrap()
        };
        let (a, st) = app(false);
        // Not a web page, or another site's page, asking.
        for (domain, referer) in [
            ("evil.example", "null"),
            ("evil.example", "file:///C:/Users/x/phish.html"),
            ("ecpa.example.gov.tw", "https://evil.example/"),
        ] {
            let (s, _, body) = send(&a, ask(domain, &[("referer", referer)])).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{domain} from {referer}");
            assert!(!body.contains("name=\"token\""), "{body}");
        }
        let (s, _, _) = send(&a, ask("evil.example", &[])).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "no Referer: not a page");
        // Buttons inactive when served, 「取消」 before 「信任此網站」 and focused by the script.
        let site = "https://site.example";
        let (s, _, body) = send(
            &a,
            ask("site.example", &[("referer", "https://site.example/x")]),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let cancel = body.find("id=\"cancel\" disabled").unwrap();
        let trust = body.find("id=\"trust\" disabled").unwrap();
        assert!(cancel < trust);
        assert!(body.contains("getElementById('cancel').focus()"));
        // Prompts per site are limited (this was the first).
        for _ in 1..crate::add_domain::PROMPTS_PER_SITE {
            let (s, _, _) = send(
                &a,
                ask("site.example", &[("referer", "https://site.example/")]),
            )
            .await;
            assert_eq!(s, StatusCode::OK);
        }
        let (s, _, body) = send(
            &a,
            ask("site.example", &[("referer", "https://site.example/")]),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(body.contains("次數過多"), "{body}");
        assert!(!st.trust.is_trusted(site));

        // With the real delay: a decision posted at once (a double-click's second click) is
        // refused and uses the prompt up; after a second it is taken.
        let mut t = MockTokens::new();
        t.expect_slots().never();
        let agent = Agent::new(None, Arc::new(t));
        let st = Arc::new(AppState::new(
            agent,
            Trust::new(Vec::<String>::new(), None),
            PORT,
        ));
        let a = router(st.clone());
        let own = [
            ("origin", "http://127.0.0.1:61161"),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        let (_, _, body) = send(
            &a,
            ask("site.example", &[("referer", "https://site.example/")]),
        )
        .await;
        let tok = token_in(&body);
        let (s, _, body) = send(
            &a,
            post("/addDomain", &own, format!("token={tok}&decision=trust")),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(body.contains("按得太快了"), "{body}");
        assert!(!st.trust.is_trusted(site));
        let (_, _, body) = send(
            &a,
            ask("site.example", &[("referer", "https://site.example/")]),
        )
        .await;
        let tok = token_in(&body);
        tokio::time::sleep(crate::add_domain::ARM_DELAY).await;
        let (s, _, _) = send(
            &a,
            post("/addDomain", &own, format!("token={tok}&decision=trust")),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert!(st.trust.is_trusted(site));
    }
}
