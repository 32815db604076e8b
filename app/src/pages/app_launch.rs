//! `/apps/:code`: opens an application system after the server has checked, today, that
//! the signed-in user may use it. A refused system never reveals its address.

use crate::api::my_area::open_app;
use crate::error::ApiError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Redirect, A},
    hooks::use_params_map,
};

#[component]
pub fn AppLaunchPage() -> impl IntoView {
    let params = use_params_map();
    let code = move || params.with(|p| p.get("code").unwrap_or_default());
    let launch = Resource::new(code, open_app);

    view! {
        <Title text="應用系統" />
        <Suspense fallback=|| {
            view! {
                <p class="loading" aria-busy="true">
                    "載入中…"
                </p>
            }
        }>
            {move || Suspend::new(async move {
                let result = launch.await;
                #[cfg(feature = "ssr")]
                if let (Err(e), Some(res)) = (
                    &result,
                    use_context::<leptos_axum::ResponseOptions>(),
                ) {
                    match e {
                        ApiError::Forbidden => res.set_status(http::StatusCode::FORBIDDEN),
                        ApiError::NotFound => res.set_status(http::StatusCode::NOT_FOUND),
                        _ => {}
                    }
                }
                match result {
                    Ok(app) => {
                        view! {
                            <section class="card prose" aria-labelledby="app-title">
                                <h1 id="app-title">{format!("{}: {}", app.code, app.name)}</h1>
                                <p>"此系統由所屬機關維運，將於新視窗開啟。"</p>
                                <p>
                                    <a
                                        class="btn btn--primary"
                                        id="app-open"
                                        href=app.url
                                        target="_blank"
                                        rel="noopener noreferrer"
                                    >
                                        {format!("前往 {}", app.name)}
                                    </a>
                                </p>
                                <p>
                                    <A href="/my#apps">"返回應用系統清單"</A>
                                </p>
                            </section>
                        }
                            .into_any()
                    }
                    Err(ApiError::Unauthenticated) => {
                        view! { <Redirect path="/?next=/my" /> }.into_any()
                    }
                    Err(e) => {
                        view! {
                            <section class="card prose" aria-labelledby="app-title">
                                <h1 id="app-title">"無法開啟此系統"</h1>
                                <p class="form-error" role="alert" id="app-error">
                                    {match e {
                                        ApiError::Forbidden => {
                                            "此系統限符合資格的人事人員使用；您目前沒有使用此系統的權限。"
                                                .to_string()
                                        }
                                        other => other.message(),
                                    }}
                                </p>
                                <p>
                                    <A href="/my#apps">"返回應用系統清單"</A>
                                </p>
                            </section>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
