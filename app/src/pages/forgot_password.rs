//! 忘記密碼: request a reset link by account + registered e-mail, then set a new password
//! from the link. The request's answer is the same whether or not the account exists.

use crate::api::reset::{password_reset_state, RequestPasswordReset, ResetPassword};
use crate::components::{
    content::{failed, loading},
    shown_error, url_error,
};
use crate::error::ApiError;
use ecpa_domain::reset::LinkState;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let request = ServerAction::<RequestPasswordReset>::new();
    let query = use_query_map();
    let sent = move || query.with(|q| q.get("sent").is_some());
    let from_url = url_error("/password_reset_request");
    let error = move || match request.value().get() {
        Some(Err(e)) => Some(shown_error(e, request.version().get()).message()),
        _ => from_url().map(|e| e.message()),
    };
    view! {
        <Title text="忘記密碼" />
        <section class="card prose" aria-labelledby="forgot-title">
            <h1 id="forgot-title">"忘記密碼"</h1>
            <Show
                when=sent
                fallback=move || {
                    view! {
                        <p>
                            "請輸入您的帳號及在本系統登錄的電子郵件信箱。資料相符時，系統會寄出重設密碼連結（30 分鐘內有效，僅能使用一次）。"
                        </p>
                        <ActionForm action=request attr:class="login-form" attr:id="forgot-form">
                            <div class="field">
                                <label for="forgot-account">"帳號"</label>
                                <input
                                    id="forgot-account"
                                    name="account"
                                    type="text"
                                    autocomplete="username"
                                    autocapitalize="none"
                                    spellcheck="false"
                                    maxlength="64"
                                    required
                                />
                            </div>
                            <div class="field">
                                <label for="forgot-email">"電子郵件信箱"</label>
                                <input
                                    id="forgot-email"
                                    name="email"
                                    type="email"
                                    autocomplete="email"
                                    maxlength="254"
                                    required
                                />
                            </div>
                            <p class="form-error" role="alert" id="forgot-error">
                                {error}
                            </p>
                            <button
                                type="submit"
                                class="btn btn--primary"
                                id="forgot-submit"
                                disabled=move || request.pending().get()
                            >
                                "寄出重設連結"
                            </button>
                        </ActionForm>
                    }
                }
            >
                <p class="notice notice--ok" role="status" id="forgot-sent">
                    "若您輸入的帳號與電子郵件信箱相符，系統已寄出重設密碼連結，請於 30 分鐘內開啟信中的連結設定新密碼。若未收到信件，請確認信箱是否正確，或洽貴機關人事單位。"
                </p>
            </Show>
            <p>
                <A href="/">"返回首頁"</A>
                " ｜ "
                <A href="/login/certificate">"改用憑證登入"</A>
            </p>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.with(|q| q.get("token").unwrap_or_default());
    let state = Resource::new(token, password_reset_state);
    let reset = ServerAction::<ResetPassword>::new();
    let from_url = url_error("/password_reset");
    let error = move || match reset.value().get() {
        Some(Err(e)) => Some(shown_error(e, reset.version().get()).message()),
        _ => from_url().map(|e| e.message()),
    };
    view! {
        <Title text="重設密碼" />
        <section class="card prose" aria-labelledby="reset-title">
            <h1 id="reset-title">"重設密碼"</h1>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match state.await {
                        Err(e) => failed(e),
                        Ok(LinkState::Usable) => {
                            view! {
                                <ActionForm
                                    action=reset
                                    attr:class="login-form"
                                    attr:id="reset-form"
                                >
                                    <input type="hidden" name="token" value=token() />
                                    <div class="field">
                                        <label for="reset-password">"新密碼"</label>
                                        <input
                                            id="reset-password"
                                            name="password"
                                            type="password"
                                            autocomplete="new-password"
                                            maxlength="128"
                                            required
                                            aria-describedby="reset-rule"
                                        />
                                    </div>
                                    <p class="hint" id="reset-rule">
                                        "至少 10 個字元，並包含大寫字母、小寫字母、數字、符號中至少 3 種；不可包含帳號名稱。"
                                    </p>
                                    <div class="field">
                                        <label for="reset-confirm">"再次輸入新密碼"</label>
                                        <input
                                            id="reset-confirm"
                                            name="confirm"
                                            type="password"
                                            autocomplete="new-password"
                                            maxlength="128"
                                            required
                                        />
                                    </div>
                                    <p class="form-error" role="alert" id="reset-error">
                                        {error}
                                    </p>
                                    <button
                                        type="submit"
                                        class="btn btn--primary"
                                        id="reset-submit"
                                        disabled=move || reset.pending().get()
                                    >
                                        "設定新密碼"
                                    </button>
                                </ActionForm>
                            }
                                .into_any()
                        }
                        Ok(other) => {
                            view! {
                                <p class="notice notice--error" role="alert" id="reset-link-state">
                                    {ApiError::ResetLink(other).message()}
                                </p>
                                <p>
                                    <A href="/password/forgot" attr:class="btn btn--secondary">
                                        "重新申請重設密碼"
                                    </A>
                                </p>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn ResetDonePage() -> impl IntoView {
    view! {
        <Title text="密碼已重設" />
        <section class="card prose" aria-labelledby="done-title">
            <h1 id="done-title">"密碼已重設"</h1>
            <p class="notice notice--ok" role="status" id="reset-done">
                "您的密碼已重設完成，原本在其他地方的登入都已登出。請以新密碼登入。"
            </p>
            <p>
                <A href="/" attr:class="btn btn--primary">
                    "前往登入"
                </A>
            </p>
        </section>
    }
}
