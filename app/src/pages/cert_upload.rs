//! 憑證上傳 (binding a certificate to an ECPA account), as the seed shows it:
//! method 1 (natural-person and organization cards): 1 account + password → 2 PIN →
//! 3 confirm the certificate (organization: contact e-mail and note editable) → 4 done;
//! method 2 (natural-person cards, from 我的專區 after a password sign-in): PIN → confirm → done.

use crate::api::card::{
    bind_confirm, bind_start, bind_start_signed_in, bind_verify, BindPreview, CardKind, CardSetup,
};
use crate::card_client::Relay;
use crate::components::card::{
    sign_challenge, AgentProblem, CardSetupGate, PinDialog, SignFailure, Steps,
};
use crate::error::ApiError;
use crate::wording::{agent_message, card_kind_label};
use ecpa_cardproto::{challenge::Purpose, hipki::Outcome};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// From the sign-in page: account and password first.
    WithPassword,
    /// From 我的專區, already signed in.
    SignedIn,
}

/// `/cert/upload/:kind` (method 1).
#[component]
pub fn CertUploadPage() -> impl IntoView {
    let params = use_params_map();
    let kind = move || match params.with(|p| p.get("kind")).as_deref() {
        Some("organization") => Some(CardKind::Organization),
        Some("natural") => Some(CardKind::Natural),
        _ => None,
    };
    view! {
        {move || match kind() {
            Some(k) => view! { <UploadShell kind=k method=Method::WithPassword /> }.into_any(),
            None => view! { <crate::pages::not_found::NotFoundPage /> }.into_any(),
        }}
    }
}

/// `/my/cert-upload` (method 2, natural-person certificate).
#[component]
pub fn MyCertUploadPage() -> impl IntoView {
    view! { <UploadShell kind=CardKind::Natural method=Method::SignedIn /> }
}

#[component]
fn UploadShell(kind: CardKind, method: Method) -> impl IntoView {
    let title = format!("{}上傳", card_kind_label(kind));
    view! {
        <Title text=title.clone() />
        <section class="card prose cert-upload" aria-labelledby="upload-title">
            <h1 id="upload-title">{title}</h1>
            <CardSetupGate flow=move |s: CardSetup| {
                view! { <UploadFlow setup=s kind method /> }.into_any()
            } />
        </section>
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Idle,
    Busy,
    Problem(Outcome),
    Error(String),
}

#[component]
fn UploadFlow(setup: CardSetup, kind: CardKind, method: Method) -> impl IntoView {
    let (first_step, labels): (u8, Vec<&'static str>) = match method {
        Method::WithPassword => (
            1,
            vec!["輸入帳號密碼", "輸入 PIN Code", "確認憑證資料", "完成"],
        ),
        Method::SignedIn => (2, vec!["已登入", "輸入 PIN Code", "確認憑證資料", "完成"]),
    };
    let step = RwSignal::new(first_step);
    let status = RwSignal::new(Status::Idle);
    let pin_error = RwSignal::new(None::<String>);
    let preview = RwSignal::new(None::<BindPreview>);
    let account = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let popup_url = format!("{}/popupForm", setup.agent_origin.trim_end_matches('/'));

    // Step 1 (method 1): the ECPA account and password.
    let login = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        status.set(Status::Busy);
        let (a, p) = (account.get_untracked(), password.get_untracked());
        spawn_local(async move {
            match bind_start(a, p, kind).await {
                Ok(()) => {
                    password.set(String::new());
                    status.set(Status::Idle);
                    step.set(2);
                }
                Err(e) => status.set(Status::Error(e.message())),
            }
        });
    };

    // Step 2: the PIN (length checked by the dialog), the card signs a `bind` challenge.
    let sign = Callback::new(move |pin: String| {
        let relay = match Relay::open(&popup_url) {
            Ok(r) => r,
            Err(o) => return status.set(Status::Problem(o)),
        };
        status.set(Status::Busy);
        pin_error.set(None);
        spawn_local(async move {
            if method == Method::SignedIn {
                if let Err(e) = bind_start_signed_in().await {
                    return status.set(Status::Error(e.message()));
                }
            }
            let token = match sign_challenge(relay, Purpose::Bind, pin, None).await {
                Ok(t) => t,
                Err(SignFailure::Server(e)) => return status.set(Status::Error(e.message())),
                Err(SignFailure::Pin(o)) => {
                    pin_error.set(Some(agent_message(o).0));
                    return status.set(Status::Idle);
                }
                Err(SignFailure::Agent(o)) => return status.set(Status::Problem(o)),
            };
            match bind_verify(token).await {
                Ok(p) => {
                    email.set(p.contact_email.clone().unwrap_or_default());
                    preview.set(Some(p));
                    status.set(Status::Idle);
                    step.set(3);
                }
                Err(e @ ApiError::NoUploadInProgress) => {
                    status.set(Status::Error(e.message()));
                    step.set(first_step);
                }
                Err(e) => status.set(Status::Error(e.message())),
            }
        });
    });
    let restart = Callback::new(move |_: ()| {
        status.set(Status::Idle);
        pin_error.set(None);
        preview.set(None);
        step.set(first_step);
    });

    // Step 3: confirm.
    let confirm = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        status.set(Status::Busy);
        let org = kind == CardKind::Organization;
        let (e, n) = (email.get_untracked(), note.get_untracked());
        let e = (org && !e.trim().is_empty()).then_some(e);
        let n = (org && !n.trim().is_empty()).then_some(n);
        spawn_local(async move {
            match bind_confirm(e, n).await {
                Ok(()) => {
                    status.set(Status::Idle);
                    step.set(4);
                }
                Err(e @ ApiError::NoUploadInProgress) => {
                    status.set(Status::Error(e.message()));
                    step.set(first_step);
                }
                Err(e) => status.set(Status::Error(e.message())),
            }
        });
    };

    let busy = Signal::derive(move || status.get() == Status::Busy);
    let setup_for_problem = setup.clone();
    let status_view = move || match status.get() {
        Status::Problem(o) => {
            view! { <AgentProblem outcome=o setup=setup_for_problem.clone() on_retry=restart /> }
                .into_any()
        }
        Status::Error(m) => view! {
            <p class="form-error" role="alert" id="upload-error">
                {m}
            </p>
        }
        .into_any(),
        Status::Busy => view! {
            <p class="loading" role="status">
                "處理中…"
            </p>
        }
        .into_any(),
        Status::Idle => ().into_any(),
    };
    let kind_label = card_kind_label(kind);

    view! {
        <Steps current=step.into() labels />
        <div class="upload-step" aria-live="polite">
            {move || match step.get() {
                1 => {
                    view! {
                        <form class="upload-login" on:submit=login>
                            <h2 id="step1-title">
                                {format!("{kind_label}上傳：請輸入帳號密碼登入")}
                            </h2>
                            <div class="field">
                                <label for="upload-account">"ECPA 帳號"</label>
                                <input
                                    id="upload-account"
                                    name="account"
                                    type="text"
                                    autocomplete="username"
                                    autocapitalize="none"
                                    spellcheck="false"
                                    maxlength="64"
                                    required
                                    bind:value=account
                                />
                            </div>
                            <div class="field">
                                <label for="upload-password">"ECPA 密碼"</label>
                                <input
                                    id="upload-password"
                                    name="password"
                                    type="password"
                                    autocomplete="current-password"
                                    maxlength="128"
                                    required
                                    bind:value=password
                                />
                            </div>
                            <p>
                                <button
                                    type="submit"
                                    class="btn btn--primary"
                                    id="upload-login"
                                    disabled=move || busy.get()
                                >
                                    "登入"
                                </button>
                            </p>
                        </form>
                    }
                        .into_any()
                }
                2 => {
                    view! {
                        <div>
                            <p>
                                {format!(
                                    "請確認{kind_label}已插入讀卡機，輸入卡片的 PIN Code 後按「確定」。",
                                )}
                            </p>
                            <PinDialog
                                title="請輸入您的 PIN Code"
                                error=pin_error
                                busy
                                modal=false
                                on_ok=sign
                                on_cancel=restart
                            />
                        </div>
                    }
                        .into_any()
                }
                3 => {
                    let p = preview
                        .get()
                        .unwrap_or_else(|| BindPreview {
                            kind,
                            holder: String::new(),
                            card_number: String::new(),
                            issuer: String::new(),
                            valid_from: String::new(),
                            valid_to: String::new(),
                            identifier: String::new(),
                            contact_email: None,
                            account: String::new(),
                        });
                    let org = kind == CardKind::Organization;
                    let id_label = if org { "機關 OID" } else { "身分證末四碼" };
                    view! {
                        <form class="upload-confirm" on:submit=confirm>
                            <h2>"請確認憑證資料"</h2>
                            <dl class="facts" id="bind-preview">
                                <dt>"ECPA 帳號"</dt>
                                <dd id="preview-account">{p.account.clone()}</dd>
                                <dt>"憑證種類"</dt>
                                <dd>{kind_label}</dd>
                                <dt>{if org { "機關名稱" } else { "姓名" }}</dt>
                                <dd id="preview-holder">{p.holder.clone()}</dd>
                                <dt>{id_label}</dt>
                                <dd id="preview-identifier">{p.identifier.clone()}</dd>
                                <dt>"卡號"</dt>
                                <dd id="preview-card">{p.card_number.clone()}</dd>
                                <dt>"發證單位"</dt>
                                <dd>{p.issuer.clone()}</dd>
                                <dt>"有效期間"</dt>
                                <dd>{format!("{} 至 {}", p.valid_from, p.valid_to)}</dd>
                            </dl>
                            {org
                                .then(|| {
                                    view! {
                                        <fieldset class="editable">
                                            <legend>"以下欄位可修改"</legend>
                                            <div class="field">
                                                <label for="bind-email">"聯絡電子郵件"</label>
                                                <input
                                                    id="bind-email"
                                                    type="email"
                                                    maxlength="254"
                                                    bind:value=email
                                                />
                                            </div>
                                            <div class="field">
                                                <label for="bind-note">"備註"</label>
                                                <input
                                                    id="bind-note"
                                                    type="text"
                                                    maxlength="200"
                                                    bind:value=note
                                                />
                                            </div>
                                        </fieldset>
                                    }
                                })}
                            <p class="actions">
                                <button
                                    type="submit"
                                    class="btn btn--primary"
                                    id="bind-confirm"
                                    disabled=move || busy.get()
                                >
                                    "確定上傳"
                                </button>
                                <button
                                    type="button"
                                    class="btn btn--secondary"
                                    id="bind-cancel"
                                    on:click=move |_| restart.run(())
                                >
                                    "取消"
                                </button>
                            </p>
                        </form>
                    }
                        .into_any()
                }
                _ => {
                    view! {
                        <div class="notice notice--ok" role="status" id="upload-done">
                            <p>{format!("{kind_label}上傳完成。")}</p>
                            <p>
                                "最後完成上傳憑證作業後，日後則皆可依此憑證登入系統使用。"
                            </p>
                            <p class="actions">
                                <A
                                    href="/login/certificate"
                                    attr:class="btn btn--primary"
                                    attr:id="go-cert-login"
                                >
                                    "使用憑證登入"
                                </A>
                                {(method == Method::SignedIn)
                                    .then(|| {
                                        view! {
                                            <A href="/my" attr:class="btn btn--secondary">
                                                "回我的專區"
                                            </A>
                                        }
                                    })}
                            </p>
                        </div>
                    }
                        .into_any()
                }
            }}
            {status_view}
        </div>
        {(method == Method::WithPassword)
            .then(|| {
                view! {
                    <p class="hint">
                        "憑證上傳前，請先將 ECPA 網站加入讀卡元件信任的網站。"
                    </p>
                }
            })}
    }
}
