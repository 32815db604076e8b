//! 使用憑證登入: read the card's certificate through the card component, ask the portal whether
//! it is bound; bound → 「請輸入您的 PIN Code」 → the card signs a `login` challenge → signed in
//! (new session) → 我的專區. Not bound → 「找不到對應的憑證資訊…」 → the upload steps.

use crate::api::card::{cert_login, lookup_certificate, CardKind, CardSetup};
use crate::card_client::{self, Relay};
use crate::components::card::{
    sign_challenge, AgentProblem, CardSetupGate, PinDialog, SignFailure,
};
use crate::wording::agent_message;
use ecpa_cardproto::{challenge::Purpose, hipki::Outcome};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::components::A;

#[derive(Debug, Clone, PartialEq)]
enum Stage {
    Start,
    Reading,
    /// Bound: the PIN dialog for the card in this slot.
    Pin {
        slot: String,
    },
    Signing {
        slot: String,
    },
    SignedIn,
    NotBound {
        kind: Option<CardKind>,
    },
    Problem(Outcome),
    Refused(String),
}

#[component]
pub fn CertLoginPage() -> impl IntoView {
    view! {
        <Title text="使用憑證登入" />
        <section class="card prose cert-login" aria-labelledby="cert-title">
            <h1 id="cert-title">"使用憑證登入"</h1>
            <p>
                "請將自然人憑證或機關憑證插入讀卡機，並確認讀卡元件（ECPA 讀卡元件或 HiPKI 跨平台網頁元件）已啟動。"
            </p>
            <CardSetupGate flow=move |s: CardSetup| {
                view! { <CertLoginFlow setup=s /> }.into_any()
            } />
            <p class="hint">
                "第一次使用憑證登入？系統會自動偵測該憑證是否已上傳；尚未上傳者，請依畫面步驟以 ECPA 帳號密碼完成憑證上傳。"
                <A href="/help/card-agent">"如何安裝讀卡元件"</A>
            </p>
        </section>
    }
}

#[component]
fn CertLoginFlow(setup: CardSetup) -> impl IntoView {
    let stage = RwSignal::new(Stage::Start);
    let pin_error = RwSignal::new(None::<String>);
    let agent = setup.agent_origin.clone();
    let popup_url = format!("{}/popupForm", agent.trim_end_matches('/'));

    // Step 1: read the card's certificates and ask the portal about the signing one.
    let read_url = popup_url.clone();
    let read = Callback::new(move |_: ()| {
        let relay = match Relay::open(&read_url) {
            Ok(r) => r,
            Err(o) => return stage.set(Stage::Problem(o)),
        };
        stage.set(Stage::Reading);
        pin_error.set(None);
        spawn_local(async move {
            let answer = match relay
                .request(&card_client::get_user_cert(), card_client::INFO_TIMEOUT)
                .await
            {
                Ok(a) => a,
                Err(o) => return stage.set(Stage::Problem(o)),
            };
            let Some((slot, _, cert)) = answer.signing_certificate() else {
                return stage.set(Stage::Problem(answer.outcome()));
            };
            match lookup_certificate(cert.certb64.clone()).await {
                Ok(l) if l.bound => stage.set(Stage::Pin {
                    slot: slot.slot_description.clone(),
                }),
                Ok(l) => stage.set(Stage::NotBound { kind: l.kind }),
                Err(e) => stage.set(Stage::Refused(e.message())),
            }
        });
    });

    // Step 2: the PIN, then the card signs this session's fresh challenge.
    let sign_url = popup_url.clone();
    let sign = Callback::new(move |pin: String| {
        let Stage::Pin { slot } = stage.get_untracked() else {
            return;
        };
        let relay = match Relay::open(&sign_url) {
            Ok(r) => r,
            Err(o) => return pin_error.set(Some(agent_message(o).0)),
        };
        stage.set(Stage::Signing { slot: slot.clone() });
        pin_error.set(None);
        spawn_local(async move {
            let token = match sign_challenge(relay, Purpose::Login, pin, Some(&slot)).await {
                Ok(t) => t,
                Err(SignFailure::Server(e)) => return stage.set(Stage::Refused(e.message())),
                Err(SignFailure::Pin(o)) => {
                    pin_error.set(Some(agent_message(o).0));
                    return stage.set(Stage::Pin { slot });
                }
                Err(SignFailure::Agent(o)) => return stage.set(Stage::Problem(o)),
            };
            match cert_login(token).await {
                Ok(()) => {
                    stage.set(Stage::SignedIn);
                    card_client::go("/my");
                }
                Err(e) => stage.set(Stage::Refused(e.message())),
            }
        });
    });
    let cancel = Callback::new(move |_: ()| {
        pin_error.set(None);
        stage.set(Stage::Start);
    });

    view! {
        <div class="cert-flow" aria-live="polite">
            {move || match stage.get() {
                Stage::Start => {
                    view! {
                        <p>
                            <button
                                type="button"
                                class="btn btn--primary"
                                id="cert-login-start"
                                on:click=move |_| read.run(())
                            >
                                "讀取卡片並登入"
                            </button>
                        </p>
                    }
                        .into_any()
                }
                Stage::Reading => {
                    view! {
                        <p class="loading" role="status" id="cert-reading">
                            "讀取卡片中…"
                        </p>
                    }
                        .into_any()
                }
                Stage::Pin { .. } | Stage::Signing { .. } => {
                    view! {
                        <PinDialog
                            title="請輸入您的 PIN Code"
                            error=pin_error
                            busy=Signal::derive(move || {
                                matches!(stage.get(), Stage::Signing { .. })
                            })
                            on_ok=sign
                            on_cancel=cancel
                        />
                    }
                        .into_any()
                }
                Stage::SignedIn => {
                    view! {
                        <p role="status" id="cert-signed-in">
                            "登入成功，前往我的專區…"
                        </p>
                    }
                        .into_any()
                }
                Stage::NotBound { kind } => {
                    let href = match kind {
                        Some(CardKind::Organization) => "/cert/upload/organization",
                        _ => "/cert/upload/natural",
                    };
                    view! {
                        <div
                            class="notice"
                            role="alertdialog"
                            aria-labelledby="not-bound-msg"
                            id="not-bound"
                        >
                            <p id="not-bound-msg">
                                "找不到對應的憑證資訊，請依下列步驟，完成憑證上傳作業"
                            </p>
                            <p>
                                <A href=href attr:class="btn btn--primary" attr:id="not-bound-ok">
                                    "確定"
                                </A>
                            </p>
                        </div>
                    }
                        .into_any()
                }
                Stage::Problem(o) => {
                    view! { <AgentProblem outcome=o setup=setup.clone() on_retry=read /> }
                        .into_any()
                }
                Stage::Refused(m) => {
                    view! {
                        <div class="notice notice--error" role="alert">
                            <p id="cert-refused">{m}</p>
                            <p>
                                <button
                                    type="button"
                                    class="btn btn--primary"
                                    id="agent-retry"
                                    on:click=move |_| read.run(())
                                >
                                    "重試"
                                </button>
                            </p>
                        </div>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}
