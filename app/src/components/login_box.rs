//! 登入系統: account + password, with the links of the seed's login box.
//!
//! Works without JavaScript (a plain form post to `/api/login`; errors come back in the
//! URL and are shown after the redirect) and with it (the hydrated form posts in the
//! background and shows errors in place).

use crate::api::auth::Login;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn LoginBox(#[prop(optional, into)] next: Option<String>) -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let show_password = RwSignal::new(false);

    // An error from the last no-JavaScript submission, carried in the URL by the server.
    let url_error = super::url_error("/login");
    let error = move || match login.value().get() {
        Some(Err(e)) => Some(super::shown_error(e, login.version().get())),
        Some(Ok(())) => None,
        None => url_error(),
    };
    let pending = login.pending();

    view! {
        <section class="card login-box" aria-labelledby="login-title">
            <h2 id="login-title">"登入系統"</h2>
            <ActionForm action=login attr:class="login-form">
                <input type="hidden" name="next" value=next.unwrap_or_default() />
                <div class="field">
                    <label for="login-account">"帳號"</label>
                    <input
                        id="login-account"
                        name="account"
                        type="text"
                        autocomplete="username"
                        autocapitalize="none"
                        spellcheck="false"
                        maxlength="64"
                        required
                        placeholder="請輸入帳號"
                    />
                </div>
                <div class="field">
                    <label for="login-password">"密碼"</label>
                    <div class="password-row">
                        <input
                            id="login-password"
                            name="password"
                            type=move || if show_password.get() { "text" } else { "password" }
                            autocomplete="current-password"
                            maxlength="128"
                            required
                            placeholder="請輸入密碼"
                        />
                        <button
                            type="button"
                            class="btn btn--ghost js-only"
                            id="toggle-password"
                            aria-controls="login-password"
                            aria-pressed=move || show_password.get().to_string()
                            on:click=move |_| show_password.update(|v| *v = !*v)
                        >
                            {move || if show_password.get() { "隱藏" } else { "顯示" }}
                        </button>
                    </div>
                </div>
                <p class="form-error" role="alert" aria-live="assertive" id="login-error">
                    {move || error().map(|e| e.message())}
                </p>
                <button
                    type="submit"
                    class="btn btn--primary"
                    id="login-submit"
                    disabled=move || pending.get()
                >
                    {move || if pending.get() { "登入中…" } else { "登入" }}
                </button>
            </ActionForm>
            <p class="login-links">
                <A href="/password/forgot">"忘記密碼"</A>
                " | "
                <A href="/login/certificate">"使用憑證登入"</A>
            </p>
        </section>
    }
}
