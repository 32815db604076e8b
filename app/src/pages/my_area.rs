//! 我的專區 (My Area). Requires sign-in: the server redirects signed-out visitors before
//! rendering, and the page redirects again if the session ends while it is open.

use crate::api::card::RemoveCertificate;
use crate::api::{
    auth::Logout,
    my_area::{load_my_area, AppEntry, MyArea},
};
use crate::error::ApiError;
use crate::wording::{
    activity_label, card_kind_label, employment_label, officer_basis_label, refusal_message,
    right_label, roc_short,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};

#[component]
pub fn MyAreaPage() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let remove = ServerAction::<RemoveCertificate>::new();
    let data = Resource::new(move || remove.version().get(), |_| load_my_area());

    view! {
        <Title text="我的專區" />
        <Suspense fallback=|| {
            view! {
                <p class="loading" aria-busy="true">
                    "載入中…"
                </p>
            }
        }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(ApiError::Unauthenticated) => {
                        view! { <Redirect path="/?next=/my" /> }.into_any()
                    }
                    Err(e) => crate::components::content::failed(e),
                    Ok(area) => view! { <MyAreaView area logout remove /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn MyAreaView(
    area: MyArea,
    logout: ServerAction<Logout>,
    remove: ServerAction<RemoveCertificate>,
) -> impl IntoView {
    let today = area.today;
    let ecard = match area.ecard.clone() {
        Some(c) => view! {
            <dl class="facts" id="ecard-facts">
                <dt>"姓名"</dt>
                <dd>{c.name}</dd>
                <dt>"身分證統一編號"</dt>
                <dd>{c.national_id_masked}</dd>
                <dt>"服務機關"</dt>
                <dd id="ecard-agency">{c.agency}</dd>
                <dt>"服務單位"</dt>
                <dd id="ecard-unit">{c.unit}</dd>
                <dt>"職稱"</dt>
                <dd>{c.title}</dd>
                <dt>"人員區分"</dt>
                <dd>{c.staff_category}</dd>
                <dt>"在職狀態"</dt>
                <dd id="ecard-status">{employment_label(&c.employment)}</dd>
                <dt>"入檔日期"</dt>
                <dd id="ecard-ingested">{roc_short(c.ingested_on)}</dd>
                <dt>"人事人員"</dt>
                <dd>
                    {if c.officer_basis.is_empty() {
                        "否".to_string()
                    } else {
                        format!(
                            "是（{}）",
                            c
                                .officer_basis
                                .iter()
                                .map(|b| officer_basis_label(*b))
                                .collect::<Vec<_>>()
                                .join("、"),
                        )
                    }}
                </dd>
            </dl>
        }
        .into_any(),
        None => view! {
            <p class="notice" id="ecard-missing">
                "您的帳號尚未對應到人事資料，請洽貴機關人事單位。"
            </p>
        }
        .into_any(),
    };

    let rights = area
        .rights
        .iter()
        .map(|r| {
            let (class, text) = match &r.decision {
                Ok(_) => ("right right--ok", "可使用".to_string()),
                Err(refusal) => ("right right--no", refusal_message(refusal, today)),
            };
            view! {
                <li class=class>
                    <span class="right__label">{right_label(r.right)}</span>
                    "："
                    {text}
                </li>
            }
        })
        .collect_view();

    let todos = if area.todos.is_empty() {
        view! { <p>"目前沒有待辦事項。"</p> }.into_any()
    } else {
        let items = area
            .todos
            .iter()
            .map(|t| {
                let due = t
                    .due_on
                    .map(|d| format!("（期限 {}）", roc_short(d)))
                    .unwrap_or_default();
                let title = t.title.clone();
                match t.link.clone() {
                    Some(href) => view! {
                        <li>
                            <A href=href>{title}</A>
                            {due}
                        </li>
                    }
                    .into_any(),
                    None => view! { <li>{title}{due}</li> }.into_any(),
                }
            })
            .collect_view();
        view! {
            <ul class="todo-list" id="todo-list">
                {items}
            </ul>
        }
        .into_any()
    };

    let apps = app_groups(&area.apps);

    let certificates = if area.certificates.is_empty() {
        view! {
            <p id="no-certificates">
                "尚未上傳任何憑證。上傳後即可使用憑證登入。"
            </p>
        }
        .into_any()
    } else {
        let rows = area
            .certificates
            .iter()
            .map(|c| {
                let label = format!("移除 {} {}", card_kind_label(c.kind), c.card_number);
                let id = c.id.clone();
                view! {
                    <tr data-card=c.card_number.clone()>
                        <td>{card_kind_label(c.kind)}</td>
                        <td>{c.subject.clone()}</td>
                        <td>{c.card_number.clone()}</td>
                        <td>{c.valid_to.clone()}</td>
                        <td>{c.bound_at.clone()}</td>
                        <td>{c.last_used.clone().unwrap_or_else(|| "尚未使用".into())}</td>
                        <td>
                            <ActionForm action=remove attr:class="inline-form">
                                <input type="hidden" name="id" value=id />
                                <button type="submit" class="btn btn--ghost" aria-label=label>
                                    "移除"
                                </button>
                            </ActionForm>
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-wrap">
                <table class="data-table" id="cert-table">
                    <caption class="visually-hidden">"已上傳的憑證"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"種類"</th>
                            <th scope="col">"憑證主體"</th>
                            <th scope="col">"卡號"</th>
                            <th scope="col">"有效期限"</th>
                            <th scope="col">"上傳時間"</th>
                            <th scope="col">"最近使用"</th>
                            <th scope="col">
                                <span class="visually-hidden">"操作"</span>
                            </th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let remove_error = move || match remove.value().get() {
        Some(Err(e)) => Some(crate::components::shown_error(e, remove.version().get()).message()),
        _ => None,
    };
    let activity = area
        .activity
        .iter()
        .map(|a| {
            let outcome = if a.ok { "成功" } else { "未成功" };
            view! { <li>{a.at.clone()}" "{activity_label(&a.kind)}"："{outcome}</li> }
        })
        .collect_view();

    view! {
        <div class="my-area">
            <nav class="my-area__side card" aria-label="我的專區選單">
                <h1 class="my-area__title">"我的專區"</h1>
                <ul>
                    <li>
                        <a href="#ecard">"電子頁卡"</a>
                    </li>
                    <li>
                        <a href="#todo">"待辦事項"</a>
                    </li>
                    <li>
                        <a href="#apps">"應用系統"</a>
                    </li>
                    <li>
                        <a href="#certs">"我的憑證"</a>
                    </li>
                    <li>
                        <A href="/my/cert-upload" attr:id="nav-cert-upload">
                            "自然人憑證上傳"
                        </A>
                    </li>
                    <li>
                        <a href="#activity">"最近活動"</a>
                    </li>
                </ul>
            </nav>
            <div class="my-area__main">
                <section class="card whoami" aria-labelledby="whoami-title">
                    <h2 id="whoami-title" class="visually-hidden">
                        "登入者"
                    </h2>
                    <p class="whoami__line">
                        <span class="whoami__name" id="signed-in-name">
                            {area.user.display_name.clone()}
                        </span>
                        " （帳號 "
                        <span id="signed-in-account">{area.user.account.clone()}</span>
                        "）已登入"
                    </p>
                    <ActionForm action=logout attr:class="logout-form">
                        <button type="submit" class="btn btn--secondary" id="logout">
                            "登出"
                        </button>
                    </ActionForm>
                </section>
                <section class="card" id="ecard" aria-labelledby="ecard-title">
                    <h2 id="ecard-title">"電子頁卡"</h2>
                    {ecard}
                    <dl class="facts">
                        <dt>"本次登入"</dt>
                        <dd>{area.signed_in_at}</dd>
                        <dt>"上次登入"</dt>
                        <dd>
                            {area.previous_sign_in.unwrap_or_else(|| "（首次登入）".into())}
                        </dd>
                    </dl>
                    <h3 class="subhead">"使用資格"</h3>
                    <ul class="rights" id="rights">
                        {rights}
                    </ul>
                    <p class="hint">
                        {format!(
                            "閒置 {} 分鐘後將自動登出。",
                            area.idle_timeout_minutes,
                        )}
                    </p>
                </section>
                <section class="card" id="todo" aria-labelledby="todo-title">
                    <h2 id="todo-title">"待辦事項"</h2>
                    {todos}
                </section>
                <section class="card" id="apps" aria-labelledby="apps-title">
                    <h2 id="apps-title">"應用系統"</h2>
                    {apps}
                </section>
                <section class="card" id="certs" aria-labelledby="certs-title">
                    <h2 id="certs-title">"我的憑證"</h2>
                    {certificates}
                    <p class="form-error" role="alert">
                        {remove_error}
                    </p>
                    <p>
                        <A href="/my/cert-upload" attr:class="btn btn--secondary">
                            "自然人憑證上傳"
                        </A>
                    </p>
                </section>
                <section class="card" id="activity" aria-labelledby="activity-title">
                    <h2 id="activity-title">"最近活動"</h2>
                    <ul class="activity" id="activity-list">
                        {activity}
                    </ul>
                </section>
            </div>
        </div>
    }
}

/// The catalog grouped as the seed's screen shows it (A. 人事資料填報及考核, ...).
fn app_groups(apps: &[AppEntry]) -> AnyView {
    if apps.is_empty() {
        return view! { <p>"目前沒有可使用的應用系統。"</p> }.into_any();
    }
    let mut groups: Vec<(String, String, Vec<AppEntry>)> = Vec::new();
    for a in apps {
        match groups.last_mut() {
            Some((code, _, list)) if *code == a.group_code => list.push(a.clone()),
            _ => groups.push((a.group_code.clone(), a.group_name.clone(), vec![a.clone()])),
        }
    }
    groups
        .into_iter()
        .map(|(code, name, list)| {
            let items = list
                .into_iter()
                .map(|a| {
                    let href = format!("/apps/{}", a.code);
                    let badge = a
                        .personnel_only
                        .then(|| view! { <span class="badge">"人事專用"</span> });
                    view! {
                        <li data-app=a.code.clone()>
                            <A href=href>{format!("{}: {}", a.code, a.name)}</A>
                            {badge}
                        </li>
                    }
                })
                .collect_view();
            view! {
                <div class="app-group">
                    <h3 class="subhead">{format!("{code}. {name}")}</h3>
                    <ul class="app-list">{items}</ul>
                </div>
            }
        })
        .collect_view()
        .into_any()
}
