//! Pieces shared by the certificate pages: the card-component problem box (with its action),
//! the PIN dialog, the upload step indicator, and the glue from a card answer to a proof.

use crate::api::card::{card_challenge, get_card_setup, CardSetup};
use crate::card_client::{self, Relay};
use crate::error::ApiError;
use crate::wording::{agent_message, AgentAction, PIN_RULE};
use ecpa_cardproto::{
    challenge::Purpose,
    hipki::{pin_length_ok, Answer, Outcome},
    token::ProofToken,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

/// The token the portal verifies, from a successful `sign` answer.
fn proof_from(answer: &Answer, tbs: &str) -> Result<ProofToken, Outcome> {
    if answer.outcome() != Outcome::Ok || answer.certb64.is_empty() {
        return Err(answer.outcome());
    }
    Ok(ProofToken {
        format: "ecpa-card-v1".into(),
        algorithm: "RS256".into(),
        certificate: answer.certb64.clone(),
        signature: answer.signature.clone(),
        tbs: tbs.to_string(),
        card_sn: answer.card_sn.clone(),
    })
}

/// Why the card gave no proof.
#[derive(Debug)]
pub enum SignFailure {
    /// The portal refused the challenge.
    Server(ApiError),
    /// Wrong or badly sized PIN, or the user cancelled: ask for the PIN again.
    Pin(Outcome),
    /// Any other card-component state (with its own message and action).
    Agent(Outcome),
}

/// A fresh `purpose` challenge from the portal, signed by the card with `pin` through the
/// relay window already opened in the click. The PIN goes to the relay only.
pub async fn sign_challenge(
    relay: Relay,
    purpose: Purpose,
    pin: String,
    slot: Option<&str>,
) -> Result<ProofToken, SignFailure> {
    let tbs = card_challenge(purpose).await.map_err(SignFailure::Server)?;
    let request = card_client::make_signature(&tbs, &pin, slot);
    drop(pin);
    let answer = relay.request(&request, card_client::SIGN_TIMEOUT).await;
    drop(request);
    answer
        .and_then(|a| proof_from(&a, &tbs))
        .map_err(|o| match o {
            Outcome::WrongPin { .. } | Outcome::PinLength | Outcome::Cancelled => {
                SignFailure::Pin(o)
            }
            o => SignFailure::Agent(o),
        })
}

/// A card-component problem: its message and what the user can do about it.
/// What both certificate pages (sign-in and upload) show before their flow: that cards need
/// JavaScript, a loading line, then `flow` with the portal's card settings when certificate
/// sign-in is configured, or why it is not.
#[component]
pub fn CardSetupGate(#[prop(into)] flow: Callback<CardSetup, AnyView>) -> impl IntoView {
    let setup = Resource::new(|| (), |_| get_card_setup());
    view! {
        <noscript>
            <p class="notice notice--error">
                "使用憑證需要讀卡元件與瀏覽器的 JavaScript，請啟用 JavaScript 後重新整理此頁。"
            </p>
        </noscript>
        <Suspense fallback=|| {
            view! {
                <p class="loading" aria-busy="true">
                    "載入中…"
                </p>
            }
        }>
            {move || Suspend::new(async move {
                match setup.await {
                    Ok(s) if s.enabled => flow.run(s),
                    Ok(_) => {
                        view! {
                            <p class="notice" role="status">
                                {ApiError::CardsUnavailable.message()}
                            </p>
                        }
                            .into_any()
                    }
                    Err(e) => {
                        view! {
                            <p class="form-error" role="alert">
                                {e.message()}
                            </p>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn AgentProblem(
    outcome: Outcome,
    setup: CardSetup,
    /// Try the last step again.
    on_retry: Callback<()>,
) -> impl IntoView {
    let (message, action) = agent_message(outcome);
    let trust_note = RwSignal::new(None::<String>);
    let trust = move |_| {
        let url = card_client::add_domain_url(&setup.agent_origin, &setup.portal_origin);
        match Relay::open(&url) {
            Err(o) => trust_note.set(Some(agent_message(o).0)),
            Ok(relay) => {
                trust_note.set(Some("請在憑證元件的視窗中按「信任此網站」。".into()));
                spawn_local(async move {
                    match relay.trust_answer().await {
                        // A new relay window needs a new click, so the user retries.
                        Ok(a) if a.ret_code() == 0 => {
                            trust_note.set(Some("已將本網站加入信任的網站，請按「重試」。".into()))
                        }
                        Ok(a) => trust_note.set(Some(agent_message(a.outcome()).0)),
                        Err(o) => trust_note.set(Some(agent_message(o).0)),
                    }
                });
            }
        }
    };
    let retry = move |_| on_retry.run(());
    let actions = match action {
        AgentAction::InstallGuide => view! {
            <A
                href="/help/card-agent"
                attr:class="btn btn--secondary"
                attr:id="agent-install-guide"
            >
                "新手上路：安裝讀卡元件"
            </A>
            <button type="button" class="btn btn--primary" id="agent-retry" on:click=retry>
                "重試"
            </button>
        }
        .into_any(),
        AgentAction::TrustSite => view! {
            <button type="button" class="btn btn--primary" id="agent-trust-site" on:click=trust>
                "將本網站加入信任的網站"
            </button>
            <button type="button" class="btn btn--secondary" id="agent-retry" on:click=retry>
                "重試"
            </button>
        }
        .into_any(),
        AgentAction::UnlockCard => view! {
            <a
                class="btn btn--secondary"
                href="https://moica.nat.gov.tw/"
                rel="noopener noreferrer"
                target="_blank"
            >
                "前往內政部憑證管理中心"
            </a>
        }
        .into_any(),
        AgentAction::ReenterPin | AgentAction::Retry => view! {
            <button type="button" class="btn btn--primary" id="agent-retry" on:click=retry>
                "重試"
            </button>
        }
        .into_any(),
    };
    view! {
        <div
            class="notice notice--error agent-problem"
            role="alert"
            data-outcome=format!("{outcome:?}")
        >
            <p id="agent-message">{message}</p>
            <p class="actions">{actions}</p>
            <p class="hint" aria-live="polite" id="agent-trust-note">
                {move || trust_note.get()}
            </p>
        </div>
    }
}

/// 「請輸入您的 PIN Code」 [確定] [取消]. The PIN is checked for length here, before the card
/// is touched, and handed to `on_ok` only (which passes it to the card component).
#[component]
pub fn PinDialog(
    #[prop(into)] title: String,
    /// A message from the last attempt (wrong PIN with tries left, ...).
    #[prop(into)]
    error: Signal<Option<String>>,
    #[prop(into)] busy: Signal<bool>,
    on_ok: Callback<String>,
    on_cancel: Callback<()>,
    /// Show as a modal dialog (sign-in) or inline (upload step 2).
    #[prop(default = true)]
    modal: bool,
) -> impl IntoView {
    let pin = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<String>);
    // Which site the PIN is typed on, as the browser's address bar says (set after mount,
    // so server and browser render the same first). A look-alike page can print any text,
    // but a relay of the real pages shows its own host here.
    let site = RwSignal::new(None::<String>);
    Effect::new(move || site.set(crate::card_client::page_host()));
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move || {
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let p = pin.get_untracked();
        if !pin_length_ok(&p) {
            local_error.set(Some(PIN_RULE.into()));
            return;
        }
        local_error.set(None);
        pin.set(String::new());
        on_ok.run(p);
    };
    let keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            pin.set(String::new());
            on_cancel.run(());
        }
    };
    let shown_error = move || local_error.get().or_else(|| error.get());
    // Which site the PIN is typed on (the address bar's host; #16.11).
    let site_hint = move || {
        site.get().map(|host| {
            view! {
                <p class="hint pin-dialog__site" id="pin-site">
                    "您正在 "
                    <strong>{host}</strong>
                    " 輸入 PIN Code。請確認瀏覽器網址列是 eCPA 人事服務網的網址；其他網站要求您以卡片簽章時，請勿輸入。"
                </p>
            }
        })
    };
    let class = if modal {
        "pin-dialog pin-dialog--modal"
    } else {
        "pin-dialog"
    };
    view! {
        <div
            class=class
            role="dialog"
            aria-modal=modal.to_string()
            aria-labelledby="pin-title"
            aria-describedby="pin-rule pin-site"
            on:keydown=keydown
        >
            // `method="dialog"` and an input without a name: if the handler does not run
            // (scripts off, a failed hydration), the browser's own submission sends nothing
            // anywhere and navigates nowhere; the PIN only ever goes to `on_ok`.
            <form class="pin-dialog__box" method="dialog" on:submit=submit>
                <h2 id="pin-title">{title}</h2>
                <div class="field">
                    <label for="pin-input">"PIN Code"</label>
                    <input
                        id="pin-input"
                        node_ref=input
                        type="password"
                        autocomplete="off"
                        inputmode="text"
                        minlength="6"
                        maxlength="8"
                        required
                        bind:value=pin
                        disabled=move || busy.get()
                    />
                </div>
                <p class="hint" id="pin-rule">
                    {PIN_RULE}
                </p>
                {site_hint}
                <p class="form-error" role="alert" id="pin-error">
                    {shown_error}
                </p>
                <p class="actions">
                    <button
                        type="submit"
                        class="btn btn--primary"
                        id="pin-ok"
                        disabled=move || busy.get()
                    >
                        {move || {
                            if busy.get() {
                                "卡片簽章中，請勿取出卡片…"
                            } else {
                                "確定"
                            }
                        }}
                    </button>
                    <button
                        type="button"
                        class="btn btn--secondary"
                        id="pin-cancel"
                        on:click=move |_| {
                            pin.set(String::new());
                            on_cancel.run(())
                        }
                    >
                        "取消"
                    </button>
                </p>
            </form>
        </div>
    }
}

/// The upload's step indicator.
#[component]
pub fn Steps(current: Signal<u8>, labels: Vec<&'static str>) -> impl IntoView {
    let items = labels
        .into_iter()
        .enumerate()
        .map(|(i, label)| {
            let n = (i + 1) as u8;
            view! {
                <li
                    class=move || match current.get() {
                        c if c == n => "steps__item steps__item--current",
                        c if c > n => "steps__item steps__item--done",
                        _ => "steps__item",
                    }
                    aria-current=move || (current.get() == n).then_some("step")
                >
                    <span class="steps__n">{n}</span>
                    " "
                    {label}
                </li>
            }
        })
        .collect_view();
    view! {
        <ol class="steps" aria-label="上傳步驟">
            {items}
        </ol>
    }
}
