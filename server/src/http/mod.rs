//! The HTTP edge: the axum router, the request-context middleware, security headers,
//! health endpoints and the error pages that replace panics.

use crate::{config::Config, error::ServerError, portal::Portal, tokens};
use axum::{
    body::Body,
    extract::{ConnectInfo, FromRef, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use ecpa_app::{
    api::{
        admin::server::AdminBackend, auth::server::AuthBackend, card::server::CardBackend,
        content::server::ContentBackend, context::RequestCtx, my_area::server::MyAreaBackend,
        reset::server::ResetBackend,
    },
    error::ApiError,
    shell, App,
};
use leptos::prelude::*;
use leptos_axum::{file_and_error_handler_with_context, generate_route_list, LeptosRoutes};
use std::{net::SocketAddr, sync::Arc};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{CompressionLayer, CompressionLevel},
    limit::RequestBodyLimitLayer,
    set_header::SetResponseHeaderLayer,
};

pub mod assets;
pub mod limits;
pub mod page_cache;

/// Request bodies above this are refused (413) before any handler reads them.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub portal: Arc<Portal>,
    pub pkg: assets::PkgFiles,
}

/// Paths that need a signed-in session before anything renders.
fn is_protected(path: &str) -> bool {
    path == "/my"
        || path.starts_with("/my/")
        || path.starts_with("/apps/")
        || path == "/admin"
        || path.starts_with("/admin/")
}

/// Paths served without a session lookup (static files, probes).
fn is_static(path: &str) -> bool {
    path.starts_with("/pkg/")
        || matches!(
            path,
            "/healthz" | "/readyz" | "/favicon.svg" | "/favicon.ico"
        )
}

pub fn router(portal: Arc<Portal>, leptos_options: LeptosOptions) -> Router {
    // Each capability of the app's API, served by the portal.
    let ports = portal.clone();
    let context = move || {
        provide_context::<Arc<dyn AuthBackend>>(ports.clone());
        provide_context::<Arc<dyn MyAreaBackend>>(ports.clone());
        provide_context::<Arc<dyn CardBackend>>(ports.clone());
        provide_context::<Arc<dyn ContentBackend>>(ports.clone());
        provide_context::<Arc<dyn ResetBackend>>(ports.clone());
        provide_context::<Arc<dyn AdminBackend>>(ports.clone());
    };
    let routes = generate_route_list(App);
    let https = portal.config.is_https();
    let version = leptos_options
        .site_pkg_dir
        .strip_prefix("pkg/")
        .map(str::to_string);
    let pkg = assets::PkgFiles::new(&portal.config.site_root, version);
    let state = AppState {
        leptos_options: leptos_options.clone(),
        portal,
        pkg,
    };

    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/pkg/{*path}", get(pkg_file))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let o = leptos_options.clone();
            move || shell(o.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        .layer(middleware::from_fn(server_fn_status))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(compression())
        .layer(CatchPanicLayer::custom(|_| {
            error_page(StatusCode::INTERNAL_SERVER_ERROR)
        }));
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        // Pages set their own policy with the response's script nonce (ecpa_app::
        // content_security_policy); everything else (error pages, files, JSON) runs no
        // script at all.
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; \
             base-uri 'none'; form-action 'self'",
        ),
        // The card component's relay window needs its opener; nothing else may reach us.
        ("cross-origin-opener-policy", "same-origin-allow-popups"),
    ] {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            header::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
    }
    if https {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    app.with_state(state)
}

/// Pages, JSON and text compressed as they go out (brotli or gzip, as the browser
/// accepts), at a level that costs little time; the `/pkg/` files come precompressed at
/// the best level instead (`assets`), and anything already encoded passes untouched.
fn compression() -> CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{Predicate, SizeAbove};
    let textual = |_: StatusCode, _: http::Version, headers: &HeaderMap, _: &http::Extensions| {
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                let t = t.split(';').next().unwrap_or_default().trim();
                matches!(
                    t,
                    "text/html"
                        | "text/plain"
                        | "text/css"
                        | "text/javascript"
                        | "application/javascript"
                        | "application/json"
                        | "image/svg+xml"
                )
            })
    };
    CompressionLayer::new()
        .br(true)
        .gzip(true)
        .quality(CompressionLevel::Precise(4))
        .compress_when(SizeAbove::new(512).and(textual))
}

async fn pkg_file(
    State(st): State<AppState>,
    axum::extract::Path(path): axum::extract::Path<String>,
    req: Request,
) -> Response {
    st.pkg.serve(&path, req).await
}

async fn healthz() -> &'static str {
    "ok"
}

/// `ready` when the database answers, then one line per fetched CRL (`crl <status> <url>
/// number=… next_update=… failures=… error=…`). A stale CRL does not make the instance
/// unready: password sign-in and everything else still work; the cards it covers are
/// refused with their own reason.
async fn readyz(State(st): State<AppState>) -> Response {
    match st.portal.db.ping().await {
        Ok(()) => {
            let mut body = String::from("ready\n");
            if let Some(f) = &st.portal.crl_fetcher {
                for c in f.states() {
                    body.push_str(&format!(
                        "crl {} {} number={} next_update={} failures={}{}\n",
                        c.status,
                        c.url,
                        c.number.as_deref().unwrap_or("-"),
                        c.next_update.map_or("-".into(), |n| n.to_string()),
                        c.failures,
                        c.last_error
                            .as_deref()
                            .map(|e| format!(" error={e}"))
                            .unwrap_or_default()
                    ));
                }
            }
            (StatusCode::OK, body).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// The cookie `name` from the request, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn client_addr(req: &Request, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for {
        let last_hop = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|s| !s.is_empty());
        if let Some(ip) = last_hop.and_then(|s| s.parse::<std::net::IpAddr>().ok()) {
            return ip.to_string();
        }
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A state-changing request must come from our own pages: browsers say where a request
/// comes from in `Sec-Fetch-Site` and `Origin`, and a cross-site form post is refused.
fn same_origin(headers: &HeaderMap, config: &Config) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            if origin == config.origin_string() {
                return true;
            }
            // Another name this portal serves (e.g. localhost for 127.0.0.1), same scheme.
            // Never "whatever the Host header says": that is the attacker's under DNS
            // rebinding.
            match origin.split_once("://") {
                Some((scheme, authority)) => {
                    scheme == config.public_origin.scheme() && config.serves_host(authority)
                }
                None => false,
            }
        }
    }
}

async fn request_context(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    // Only our own names, before anything else (a DNS-rebinding page's requests carry the
    // attacker's host name); the probes answer any name (load balancers use addresses).
    if !matches!(path.as_str(), "/healthz" | "/readyz") {
        let authority = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.to_string()));
        if !authority
            .as_deref()
            .is_some_and(|a| st.portal.config.serves_host(a))
        {
            tracing::warn!(host = ?authority, %path, "request for a host this portal does not serve");
            return error_page(StatusCode::MISDIRECTED_REQUEST);
        }
    }
    if is_static(&path) {
        return next.run(req).await;
    }
    let is_api = path.starts_with("/api/");
    let portal = &st.portal;
    if !matches!(*req.method(), Method::GET | Method::HEAD)
        && !same_origin(req.headers(), &portal.config)
    {
        tracing::warn!(%path, "cross-site request refused");
        return failure(is_api, StatusCode::FORBIDDEN, ApiError::Forbidden);
    }

    let client = client_addr(&req, portal.config.trust_forwarded_for);
    let presented = cookie(req.headers(), portal.cookies.session).map(str::to_owned);
    let session = match &presented {
        None => None,
        Some(token) => match portal.resolve_session(token).await {
            Ok(s) => s,
            Err(e) => return server_failure(is_api, e),
        },
    };
    let stale_cookie = presented.is_some() && session.is_none();
    let signed_in = session.as_ref().is_some_and(|s| s.account_id.is_some());

    let device_token = cookie(req.headers(), portal.cookies.device).map(str::to_owned);
    let browser = cookie(req.headers(), portal.cookies.browser)
        .filter(|b| tokens::looks_like_token(b))
        .map(str::to_owned);
    if let Some(class) =
        crate::http::limits::Class::of(matches!(*req.method(), Method::GET | Method::HEAD), &path)
    {
        // The owner's PC is decided before any per-address rule: a trusted-device cookie
        // valid for some account spares the request the address's flood ceiling.
        let trusted_device = match device_token.as_deref() {
            Some(t) if tokens::looks_like_token(t) => {
                let since = portal.now() - crate::auth::cookies::DEVICE_TRUST;
                match crate::auth::store::is_known_device(
                    &portal.db.pool,
                    &tokens::token_hash(t),
                    since,
                )
                .await
                {
                    Ok(known) => known,
                    Err(e) => return server_failure(is_api, e),
                }
            }
            _ => false,
        };
        let address = ecpa_domain::throttle::client_key(&client);
        let who = crate::http::limits::Requester {
            address: &address,
            browser: browser.as_deref(),
            trusted_device,
            account: session.as_ref().and_then(|s| s.account_id.as_deref()),
        };
        if let Err(retry_after_secs) =
            portal
                .limiter
                .check(class, &who, crate::db::ms(portal.now()))
        {
            tracing::warn!(%path, %client, ?class, "rate limit");
            // A browser without JavaScript posting a form gets a page; scripts get JSON.
            let wants_page = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("text/html"));
            return rate_limited(is_api && !wants_page, retry_after_secs);
        }
    }

    if is_protected(&path) && !signed_in {
        let mut res = Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(
                header::LOCATION,
                format!("/?next={}", path.replace('/', "%2F")),
            )
            .body(Body::empty())
            .unwrap_or_default();
        if stale_cookie {
            append_cookie(&mut res, &portal.cookies.clear_session());
        }
        no_store(&mut res);
        return res;
    }

    let ctx = RequestCtx {
        client,
        session,
        device_token,
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    req.extensions_mut().insert(ctx);
    // A public page for a visitor without a session: the same HTML for everyone.
    let cache_key = (presented.is_none() && *req.method() == Method::GET)
        .then(|| page_cache::key(&path, req.uri().query()))
        .flatten();
    let mut res = match cache_key {
        Some(key) => {
            let pages = &portal.pages;
            let versions = portal.current_content_versions().await;
            match pages.get(&key, versions) {
                Some(hit) => hit,
                None => {
                    let res = next.run(req).await;
                    pages.store(key, versions, res).await
                }
            }
        }
        None => next.run(req).await,
    };
    if stale_cookie && !res.headers().contains_key(header::SET_COOKIE) {
        append_cookie(&mut res, &portal.cookies.clear_session());
    }
    if signed_in || is_api {
        no_store(&mut res);
    }
    if browser.is_none() {
        append_cookie(
            &mut res,
            &portal.cookies.browser_cookie(&tokens::secret_token()),
        );
    }
    res
}

/// Personal data is never kept by a browser's cache or a proxy: every answer to a signed-in
/// session (its pages show the person), every server function (sign-in answers set the
/// session cookie; My Area is personal) and the protected paths' redirects.
fn no_store(res: &mut Response) {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn append_cookie(res: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// 429 with `Retry-After`: the error in the server functions' encoding, or a page.
fn rate_limited(is_api: bool, retry_after_secs: u64) -> Response {
    let e = ApiError::RateLimited { retry_after_secs };
    let mut res = failure(is_api, status_of(&e), e.clone());
    set_retry_after(res.headers_mut(), &e);
    res
}

fn server_failure(is_api: bool, e: ServerError) -> Response {
    let api: ApiError = e.into();
    let mut res = failure(is_api, status_of(&api), api.clone());
    set_retry_after(res.headers_mut(), &api);
    res
}

/// The status of an answer carrying `e`: `ApiError::status`, the one place it is decided.
fn status_of(e: &ApiError) -> StatusCode {
    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `Retry-After` for the errors that have one (`ApiError::retry_after`).
fn set_retry_after(headers: &mut HeaderMap, e: &ApiError) {
    if let Some(v) = e
        .retry_after()
        .and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
    {
        headers.insert(header::RETRY_AFTER, v);
    }
}

/// A server function that failed answers with its error's status (`ApiError::status`,
/// with `Retry-After` where it has one) instead of Leptos's blanket 500: 503 while the
/// database is away, 429 for a throttled sign-in, 404 for missing data. Every server
/// function, present and future, goes through here. A form posted without JavaScript is
/// answered with a redirect back to its page, which stays a redirect.
async fn server_fn_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return error_page(StatusCode::INTERNAL_SERVER_ERROR);
    };
    if let Ok(e) = serde_json::from_slice::<ApiError>(&bytes) {
        parts.status = status_of(&e);
        set_retry_after(&mut parts.headers, &e);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Server functions get the error in their own encoding; pages get an HTML page.
fn failure(is_api: bool, status: StatusCode, e: ApiError) -> Response {
    if is_api {
        let body = serde_json::to_string(&e).unwrap_or_else(|_| "\"Internal\"".into());
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res
    } else {
        error_page(status)
    }
}

/// A self-contained error page (no database, no app rendering involved).
pub fn error_page(status: StatusCode) -> Response {
    let (title, text) = match status {
        StatusCode::SERVICE_UNAVAILABLE => (
            "系統暫時無法提供服務",
            "系統暫時無法連線資料庫，請稍後再試。",
        ),
        StatusCode::FORBIDDEN => (
            "拒絕存取",
            "此請求不是由本網站的網頁送出，已被拒絕。請回到首頁重新操作。",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("資料過大", "送出的資料超過系統允許的大小。"),
        StatusCode::MISDIRECTED_REQUEST => (
            "網址不正確",
            "本系統不以此網址提供服務，請確認您輸入的是 eCPA 人事服務網的正確網址。",
        ),
        StatusCode::TOO_MANY_REQUESTS => {
            ("操作過於頻繁", "您送出的請求太多、太快，請稍候片刻再試。")
        }
        _ => (
            "系統發生錯誤",
            "很抱歉，系統發生錯誤。請稍後再試；若問題持續，請洽系統管理者。",
        ),
    };
    let html = format!(
        "<!DOCTYPE html><html lang=\"zh-Hant-TW\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} - eCPA人事服務網</title><link rel=\"stylesheet\" href=\"/pkg/ecpa.css\"></head>\
         <body><main id=\"main\" class=\"site-main\"><section class=\"card prose\"><h1>{title}</h1><p>{text}</p>\
         <p><a class=\"btn btn--primary\" href=\"/\">返回首頁</a></p></section></main></body></html>"
    );
    let mut res = (status, html).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn cookies_are_found_among_many() {
        let h = headers(&[("cookie", "a=1; ecpa_sid=tok; b=2"), ("cookie", "c=3")]);
        assert_eq!(cookie(&h, "ecpa_sid"), Some("tok"));
        assert_eq!(cookie(&h, "c"), Some("3"));
        assert_eq!(cookie(&h, "ecpa"), None);
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let c = Config::defaults();
        assert!(same_origin(&headers(&[]), &c));
        assert!(same_origin(
            &headers(&[("origin", "http://127.0.0.1:3000")]),
            &c
        ));
        assert!(same_origin(
            &headers(&[
                ("origin", "http://localhost:3000"),
                ("host", "localhost:3000")
            ]),
            &c
        ));
        assert!(!same_origin(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:3000")
            ]),
            &c
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site")]),
            &c
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "same-site")]),
            &c
        ));
        assert!(same_origin(
            &headers(&[
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:3000")
            ]),
            &c
        ));
    }
}
