//! 系統管理: the administrator's pages for announcements, polls, links, FAQ entries and
//! the application catalog. Every server function checks the role again; these pages
//! only decide what to show.

use crate::api::{
    admin::{
        admin_announcements, admin_apps, admin_faq, admin_polls, am_admin, load_admin_announcement,
        ActOnAnnouncement, ActOnPoll, AdminAnnouncement, AnnouncementAction, CreatePoll,
        DeleteLink, PollAction, SaveAnnouncement, SaveApp, SaveFaq, SaveLink,
    },
    content::load_links,
};
use crate::components::content::{failed, loading, PollResults};
use crate::error::ApiError;
use crate::wording::roc_short;
use ecpa_domain::content::Category;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Redirect, A},
    hooks::use_params_map,
};

/// Shows `children` to administrators only.
#[component]
fn AdminOnly(title: &'static str, children: ChildrenFn) -> impl IntoView {
    let admin = Resource::new(|| (), |_| am_admin());
    let children = StoredValue::new(children);
    view! {
        <Title text=title />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match admin.await {
                    Ok(true) => {
                        view! {
                            <nav class="admin-nav" aria-label="系統管理">
                                <ul>
                                    <li>
                                        <A href="/admin/announcements">"公告"</A>
                                    </li>
                                    <li>
                                        <A href="/admin/polls">"主題投票"</A>
                                    </li>
                                    <li>
                                        <A href="/admin/links">"人事業務連結"</A>
                                    </li>
                                    <li>
                                        <A href="/admin/faq">"常見問題"</A>
                                    </li>
                                    <li>
                                        <A href="/admin/apps">"應用系統"</A>
                                    </li>
                                </ul>
                            </nav>
                            <section class="card admin" aria-labelledby="admin-title">
                                <h1 id="admin-title">{title}</h1>
                                {children.with_value(|c| c())}
                            </section>
                        }
                            .into_any()
                    }
                    Ok(false) => {
                        view! {
                            <p class="form-error" role="alert" id="admin-forbidden">
                                {ApiError::Forbidden.message()}
                            </p>
                        }
                            .into_any()
                    }
                    Err(ApiError::Unauthenticated) => {
                        view! { <Redirect path="/?next=/admin" /> }.into_any()
                    }
                    Err(e) => failed(e),
                }
            })}
        </Suspense>
    }
}

/// The last error of a server action, as text.
fn action_error<A, T>(a: ServerAction<A>) -> impl Fn() -> Option<String> + Copy
where
    A: leptos::server_fn::ServerFn<Output = T, Error = ApiError> + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    move || {
        let version = a.version().get();
        a.value().with(|v| match v {
            Some(Err(e)) => Some(crate::components::shown_error(e.clone(), version).message()),
            _ => None,
        })
    }
}

#[component]
pub fn AdminHomePage() -> impl IntoView {
    view! {
        <AdminOnly title="系統管理">
            <p>"請選擇要管理的項目："</p>
            <ul>
                <li>
                    <A href="/admin/announcements">
                        "最新公告：新增、修改、置頂（HOT）、下架"
                    </A>
                </li>
                <li>
                    <A href="/admin/polls">
                        "主題投票：新增投票、設為首頁投票、結束投票"
                    </A>
                </li>
                <li>
                    <A href="/admin/links">
                        "人事業務連結：新增、修改、排序、刪除"
                    </A>
                </li>
                <li>
                    <A href="/admin/faq">"常見問題：新增、修改、下架"</A>
                </li>
                <li>
                    <A href="/admin/apps">"應用系統目錄：新增、修改"</A>
                </li>
            </ul>
        </AdminOnly>
    }
}

#[component]
pub fn AdminAnnouncementsPage() -> impl IntoView {
    let act = ServerAction::<ActOnAnnouncement>::new();
    let data = Resource::new(move || act.version().get(), |_| admin_announcements());
    let err = action_error(act);
    view! {
        <AdminOnly title="公告管理">
            <p>
                <A
                    href="/admin/announcements/new"
                    attr:class="btn btn--primary"
                    attr:id="new-announcement"
                >
                    "新增公告"
                </A>
            </p>
            <p class="form-error" role="alert">
                {err}
            </p>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => failed(e),
                        Ok(list) => {
                            let rows = list
                                .into_iter()
                                .map(|a| {
                                    let id = a.id;
                                    let form = move |
                                        action: AnnouncementAction,
                                        label: &'static str|
                                    {
                                        view! {
                                            <ActionForm action=act attr:class="inline-form">
                                                <input type="hidden" name="id" value=id.to_string() />
                                                <input
                                                    type="hidden"
                                                    name="action"
                                                    value=format!("{action:?}")
                                                />
                                                <button type="submit" class="btn btn--ghost">
                                                    {label}
                                                </button>
                                            </ActionForm>
                                        }
                                    };
                                    view! {
                                        <tr data-id=id.to_string() class:retired=a.retired>
                                            <td>{a.category.label()}</td>
                                            <td>
                                                <A href=format!(
                                                    "/admin/announcements/{id}",
                                                )>{a.title.clone()}</A>
                                            </td>
                                            <td>{roc_short(a.published_on)}</td>
                                            <td>{if a.hot { "HOT" } else { "" }}</td>
                                            <td>{if a.retired { "已下架" } else { "刊登中" }}</td>
                                            <td>
                                                {if a.hot {
                                                    form(AnnouncementAction::Unpin, "取消置頂")
                                                } else {
                                                    form(AnnouncementAction::Pin, "置頂")
                                                }}
                                                {if a.retired {
                                                    form(AnnouncementAction::Restore, "重新刊登")
                                                } else {
                                                    form(AnnouncementAction::Retire, "下架")
                                                }}
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            view! {
                                <div class="table-wrap">
                                    <table class="data-table" id="admin-announcements">
                                        <thead>
                                            <tr>
                                                <th scope="col">"類別"</th>
                                                <th scope="col">"標題"</th>
                                                <th scope="col">"日期"</th>
                                                <th scope="col">"置頂"</th>
                                                <th scope="col">"狀態"</th>
                                                <th scope="col">"操作"</th>
                                            </tr>
                                        </thead>
                                        <tbody>{rows}</tbody>
                                    </table>
                                </div>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </AdminOnly>
    }
}

#[component]
pub fn AdminAnnouncementEditPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<i64>().ok()));
    let data = Resource::new(id, |id| async move {
        match id {
            Some(id) => load_admin_announcement(id).await.map(Some),
            None => Ok(None),
        }
    });
    view! {
        <AdminOnly title="編輯公告">
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => failed(e),
                        Ok(a) => view! { <AnnouncementForm existing=a /> }.into_any(),
                    }
                })}
            </Suspense>
        </AdminOnly>
    }
}

#[component]
fn AnnouncementForm(existing: Option<AdminAnnouncement>) -> impl IntoView {
    let save = ServerAction::<SaveAnnouncement>::new();
    let err = action_error(save);
    let a = existing.clone();
    let options = Category::ALL
        .into_iter()
        .map(|c| {
            let selected = a.as_ref().map(|a| a.category) == Some(c);
            view! {
                <option value=c.code() selected=selected>
                    {c.label()}
                </option>
            }
        })
        .collect_view();
    view! {
        <ActionForm action=save attr:class="admin-form" attr:id="announcement-form">
            {a.as_ref().map(|a| view! { <input type="hidden" name="id" value=a.id.to_string() /> })}
            <div class="field">
                <label for="ann-category">"類別"</label>
                <select id="ann-category" name="category" required>
                    {options}
                </select>
            </div>
            <div class="field">
                <label for="ann-title">"標題"</label>
                <input
                    id="ann-title"
                    name="title"
                    type="text"
                    maxlength="200"
                    required
                    value=a.as_ref().map(|a| a.title.clone()).unwrap_or_default()
                />
            </div>
            <div class="field">
                <label for="ann-date">"公告日期（例：115/11/26，空白為今天）"</label>
                <input
                    id="ann-date"
                    name="published_on"
                    type="text"
                    maxlength="12"
                    value=a.as_ref().map(|a| roc_short(a.published_on)).unwrap_or_default()
                />
            </div>
            <div class="field field--check">
                <input
                    id="ann-hot"
                    name="hot"
                    type="checkbox"
                    value="on"
                    checked=a.as_ref().is_some_and(|a| a.hot)
                />
                <label for="ann-hot">"置頂（HOT）"</label>
            </div>
            <div class="field">
                <label for="ann-body">"內容"</label>
                <textarea
                    id="ann-body"
                    name="body"
                    rows="10"
                    maxlength="20000"
                    required
                    aria-describedby="ann-body-hint"
                >
                    {a.as_ref().map(|a| a.body_html.clone()).unwrap_or_default()}
                </textarea>
                <p class="hint" id="ann-body-hint">
                    "可直接輸入文字（空一行為新段落），或使用段落、粗體、清單、標題、表格、連結等格式；其他標記與程式碼會被移除。"
                </p>
            </div>
            <p class="form-error" role="alert" id="announcement-error">
                {err}
            </p>
            <button type="submit" class="btn btn--primary" id="announcement-save">
                "儲存"
            </button>
            " "
            <A href="/admin/announcements">"取消"</A>
        </ActionForm>
    }
}

#[component]
pub fn AdminPollsPage() -> impl IntoView {
    let create = ServerAction::<CreatePoll>::new();
    let act = ServerAction::<ActOnPoll>::new();
    let data = Resource::new(
        move || (create.version().get(), act.version().get()),
        |_| admin_polls(),
    );
    let err_create = action_error(create);
    let err_act = action_error(act);
    view! {
        <AdminOnly title="主題投票管理">
            <h2>"新增投票"</h2>
            <ActionForm action=create attr:class="admin-form" attr:id="poll-form">
                <div class="field">
                    <label for="poll-question">"題目"</label>
                    <input
                        id="poll-question"
                        name="question"
                        type="text"
                        maxlength="200"
                        required
                    />
                </div>
                <div class="field">
                    <label for="poll-options">"選項（每行一個，2 至 10 個）"</label>
                    <textarea id="poll-options" name="options" rows="5" required></textarea>
                </div>
                <p class="form-error" role="alert" id="poll-error">
                    {err_create}
                </p>
                <button type="submit" class="btn btn--primary">
                    "新增"
                </button>
            </ActionForm>
            <h2>"投票列表"</h2>
            <p class="hint">"首頁顯示最新一則「首頁顯示中」的投票。"</p>
            <p class="form-error" role="alert">
                {err_act}
            </p>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => failed(e),
                        Ok(list) => {
                            list.into_iter()
                                .map(|p| {
                                    let id = p.poll.id.clone();
                                    let form = move |action: PollAction, label: &'static str| {
                                        let id = id.clone();
                                        view! {
                                            <ActionForm action=act attr:class="inline-form">
                                                <input type="hidden" name="id" value=id />
                                                <input
                                                    type="hidden"
                                                    name="action"
                                                    value=format!("{action:?}")
                                                />
                                                <button type="submit" class="btn btn--ghost">
                                                    {label}
                                                </button>
                                            </ActionForm>
                                        }
                                    };
                                    view! {
                                        <section class="poll-block" data-poll=p.poll.id.clone()>
                                            <h3>{p.poll.question.clone()}</h3>
                                            <p class="hint">
                                                {if p.active {
                                                    "首頁顯示中"
                                                } else {
                                                    "未顯示於首頁"
                                                }}
                                                {if p.poll.closed {
                                                    "・已結束"
                                                } else {
                                                    "・進行中"
                                                }}
                                            </p>
                                            <PollResults poll=p.poll.clone() />
                                            {if p.active {
                                                form(PollAction::Deactivate, "取消首頁顯示")
                                            } else {
                                                form(PollAction::Activate, "設為首頁投票")
                                            }}
                                            {if p.poll.closed {
                                                form(PollAction::Reopen, "重新開放")
                                            } else {
                                                form(PollAction::Close, "結束投票")
                                            }}
                                        </section>
                                    }
                                })
                                .collect_view()
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </AdminOnly>
    }
}

#[component]
pub fn AdminLinksPage() -> impl IntoView {
    let save = ServerAction::<SaveLink>::new();
    let delete = ServerAction::<DeleteLink>::new();
    let data = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| load_links(),
    );
    let err_save = action_error(save);
    let err_delete = action_error(delete);
    view! {
        <AdminOnly title="人事業務連結管理">
            <p class="form-error" role="alert" id="link-error">
                {err_save}
                {err_delete}
            </p>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => failed(e),
                        Ok(links) => {
                            let rows = links
                                .into_iter()
                                .map(|l| {
                                    let id = l.id.clone();
                                    let row_id = l.id.clone();
                                    let delete_label = format!("刪除 {}", l.title);
                                    view! {
                                        <li class="link-row" data-id=row_id>
                                            <ActionForm action=save attr:class="inline-form">
                                                <input type="hidden" name="id" value=l.id.clone() />
                                                <label>
                                                    "名稱"
                                                    <input
                                                        name="title"
                                                        type="text"
                                                        maxlength="60"
                                                        required
                                                        value=l.title.clone()
                                                    />
                                                </label>
                                                <label>
                                                    "網址"
                                                    <input
                                                        name="url"
                                                        type="text"
                                                        maxlength="500"
                                                        required
                                                        value=l.url.clone()
                                                    />
                                                </label>
                                                <label>
                                                    "排序"
                                                    <input
                                                        name="position"
                                                        type="number"
                                                        min="0"
                                                        max="100000"
                                                        required
                                                        value=l.position.to_string()
                                                    />
                                                </label>
                                                <button type="submit" class="btn btn--secondary">
                                                    "儲存"
                                                </button>
                                            </ActionForm>
                                            <ActionForm action=delete attr:class="inline-form">
                                                <input type="hidden" name="id" value=id />
                                                <button type="submit" class="btn btn--ghost">
                                                    {delete_label}
                                                </button>
                                            </ActionForm>
                                        </li>
                                    }
                                })
                                .collect_view();
                            view! {
                                <ul class="admin-rows" id="admin-links">
                                    {rows}
                                </ul>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
            <h2>"新增連結"</h2>
            <ActionForm action=save attr:class="admin-form" attr:id="new-link-form">
                <div class="field">
                    <label for="link-title">"名稱"</label>
                    <input id="link-title" name="title" type="text" maxlength="60" required />
                </div>
                <div class="field">
                    <label for="link-url">"網址"</label>
                    <input
                        id="link-url"
                        name="url"
                        type="text"
                        maxlength="500"
                        required
                        placeholder="https://"
                    />
                </div>
                <div class="field">
                    <label for="link-position">"排序"</label>
                    <input
                        id="link-position"
                        name="position"
                        type="number"
                        min="0"
                        max="100000"
                        value="100"
                        required
                    />
                </div>
                <button type="submit" class="btn btn--primary" id="link-add">
                    "新增"
                </button>
            </ActionForm>
        </AdminOnly>
    }
}

#[component]
pub fn AdminFaqPage() -> impl IntoView {
    let save = ServerAction::<SaveFaq>::new();
    let data = Resource::new(move || save.version().get(), |_| admin_faq());
    let err = action_error(save);
    let form = move |e: Option<crate::api::content::FaqEntry>| {
        let e2 = e.clone();
        view! {
            <ActionForm action=save attr:class="admin-form">
                <div class="field">
                    <label>
                        "編號（Q 加 6 位數字）"
                        <input
                            name="id"
                            type="text"
                            maxlength="7"
                            required
                            pattern="[Qq][0-9]{6}"
                            value=e.as_ref().map(|e| e.id.clone()).unwrap_or_default()
                            readonly=e.is_some()
                        />
                    </label>
                </div>
                <div class="field">
                    <label>
                        "分類"
                        <input
                            name="category"
                            type="text"
                            maxlength="20"
                            required
                            value=e.as_ref().map(|e| e.category.clone()).unwrap_or_default()
                        />
                    </label>
                </div>
                <div class="field">
                    <label>
                        "問題"
                        <input
                            name="question"
                            type="text"
                            maxlength="200"
                            required
                            value=e.as_ref().map(|e| e.question.clone()).unwrap_or_default()
                        />
                    </label>
                </div>
                <div class="field">
                    <label>
                        "答案"<textarea name="body" rows="8" required>
                            {e2.as_ref().map(|e| e.body_html.clone()).unwrap_or_default()}
                        </textarea>
                    </label>
                </div>
                <div class="field">
                    <label>
                        "排序"
                        <input
                            name="position"
                            type="number"
                            min="0"
                            max="100000"
                            required
                            value=e
                                .as_ref()
                                .map(|e| e.position.to_string())
                                .unwrap_or_else(|| "100".into())
                        />
                    </label>
                </div>
                <div class="field field--check">
                    <label>
                        <input
                            name="retired"
                            type="checkbox"
                            value="on"
                            checked=e.as_ref().is_some_and(|e| e.retired)
                        />
                        "下架"
                    </label>
                </div>
                <button type="submit" class="btn btn--primary">
                    "儲存"
                </button>
            </ActionForm>
        }
    };
    view! {
        <AdminOnly title="常見問題管理">
            <p class="form-error" role="alert" id="faq-error">
                {err}
            </p>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => failed(e),
                        Ok(list) => {
                            list.into_iter()
                                .map(|f| {
                                    let summary = format!(
                                        "{} {}{}",
                                        f.id,
                                        f.question,
                                        if f.retired { "（已下架）" } else { "" },
                                    );
                                    let fid = f.id.clone();
                                    view! {
                                        <details class="admin-faq" data-id=fid>
                                            <summary>{summary}</summary>
                                            {form(Some(f))}
                                        </details>
                                    }
                                })
                                .collect_view()
                                .into_any()
                        }
                    }
                })}
            </Suspense>
            <h2>"新增常見問題"</h2>
            {form(None)}
        </AdminOnly>
    }
}

#[component]
pub fn AdminAppsPage() -> impl IntoView {
    let save = ServerAction::<SaveApp>::new();
    let data = Resource::new(move || save.version().get(), |_| admin_apps());
    let err = action_error(save);
    let form = move |a: Option<crate::api::admin::AdminApp>| {
        let a2 = a.clone();
        let v = move |f: fn(&crate::api::admin::AdminApp) -> String| {
            a2.as_ref().map(f).unwrap_or_default()
        };
        view! {
            <ActionForm action=save attr:class="admin-form admin-form--grid">
                <label>
                    "代碼"
                    <input
                        name="code"
                        type="text"
                        maxlength="12"
                        required
                        value=v(|a| a.code.clone())
                        readonly=a.is_some()
                    />
                </label>
                <label>
                    "名稱"
                    <input
                        name="name"
                        type="text"
                        maxlength="60"
                        required
                        value=v(|a| a.name.clone())
                    />
                </label>
                <label>
                    "群組代碼"
                    <input
                        name="group_code"
                        type="text"
                        maxlength="4"
                        required
                        value=v(|a| a.group_code.clone())
                    />
                </label>
                <label>
                    "群組名稱"
                    <input
                        name="group_name"
                        type="text"
                        maxlength="60"
                        required
                        value=v(|a| a.group_name.clone())
                    />
                </label>
                <label>
                    "網址"
                    <input
                        name="url"
                        type="text"
                        maxlength="500"
                        required
                        value=v(|a| a.url.clone())
                    />
                </label>
                <label>
                    "排序"
                    <input
                        name="sort_order"
                        type="number"
                        min="0"
                        max="100000"
                        required
                        value=a
                            .as_ref()
                            .map(|a| a.sort_order.to_string())
                            .unwrap_or_else(|| "100".into())
                    />
                </label>
                <label>
                    "說明"
                    <input
                        name="description"
                        type="text"
                        maxlength="200"
                        value=v(|a| a.description.clone())
                    />
                </label>
                <label>
                    <input
                        name="personnel_only"
                        type="checkbox"
                        value="on"
                        checked=a.as_ref().is_some_and(|a| a.personnel_only)
                    />
                    "限人事人員"
                </label>
                <button type="submit" class="btn btn--primary">
                    "儲存"
                </button>
            </ActionForm>
        }
    };
    view! {
        <AdminOnly title="應用系統目錄管理">
            <p class="form-error" role="alert" id="app-error">
                {err}
            </p>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => failed(e),
                        Ok(list) => {
                            list.into_iter()
                                .map(|a| {
                                    let summary = format!("{}：{}", a.code, a.name);
                                    let code = a.code.clone();
                                    view! {
                                        <details class="admin-app" data-code=code>
                                            <summary>{summary}</summary>
                                            {form(Some(a))}
                                        </details>
                                    }
                                })
                                .collect_view()
                                .into_any()
                        }
                    }
                })}
            </Suspense>
            <h2>"新增應用系統"</h2>
            {form(None)}
        </AdminOnly>
    }
}
