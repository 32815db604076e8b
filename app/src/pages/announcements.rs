//! 最新公告: the paged list (filter by category), each announcement's page, and 公告搜尋.

use crate::api::content::{get_announcement, list_announcements, search_announcements};
use crate::components::content::{failed, loading, AnnouncementList, Highlighted, Pager};
use ecpa_domain::content::Category;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};

fn page_of(q: &leptos_router::params::ParamsMap) -> u32 {
    q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1)
}

#[component]
pub fn AnnouncementsPage() -> impl IntoView {
    let query = use_query_map();
    let args = move || query.with(|q| (q.get("category"), page_of(q)));
    let data = Resource::new(args, |(c, p)| list_announcements(c, Some(p)));
    view! {
        <Title text="最新公告" />
        <section class="card" aria-labelledby="ann-title">
            <h1 id="ann-title">"最新公告"</h1>
            <form method="get" action="/announcements/search" role="search" class="search-form">
                <label for="search-q" class="visually-hidden">
                    "搜尋公告關鍵字"
                </label>
                <input
                    id="search-q"
                    name="q"
                    type="search"
                    maxlength="100"
                    required
                    placeholder="公告搜尋"
                />
                <button type="submit" class="btn btn--secondary">
                    "搜尋"
                </button>
            </form>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => failed(e),
                        Ok(p) => {
                            let current = p.category;
                            let tabs = std::iter::once(None)
                                .chain(Category::ALL.into_iter().map(Some))
                                .map(|c| {
                                    let href = match c {
                                        Some(c) => format!("/announcements?category={}", c.code()),
                                        None => "/announcements".to_string(),
                                    };
                                    let label = c.map(|c| c.label()).unwrap_or("全部");
                                    let here = c == current;
                                    view! {
                                        <li>
                                            <a href=href aria-current=here.then_some("page") class:tab--current=here>{label}</a>
                                        </li>
                                    }
                                })
                                .collect_view();
                            let code = current.map(|c| c.code().to_string());
                            view! {
                                <nav aria-label="公告類別">
                                    <ul class="tabs" id="category-tabs">
                                        {tabs}
                                    </ul>
                                </nav>
                                <p class="hint" id="ann-total">
                                    {format!("共 {} 則", p.total)}
                                </p>
                                <AnnouncementList items=p.items id="announcement-list" />
                                <Pager
                                    page=p.page
                                    pages=p.pages
                                    href=move |n| match &code {
                                        Some(c) => format!("/announcements?category={c}&page={n}"),
                                        None => format!("/announcements?page={n}"),
                                    }
                                />
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
pub fn AnnouncementPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0));
    let data = Resource::new(id, get_announcement);
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => {
                        view! {
                            <Title text="最新公告" />
                            {failed(e)}
                            <p>
                                <A href="/announcements">"回公告列表"</A>
                            </p>
                        }
                            .into_any()
                    }
                    Ok(a) => {
                        view! {
                            <Title text=a.item.title.clone() />
                            <article class="card prose announcement" aria-labelledby="a-title">
                                <p class="ann__meta">
                                    <span class="ann__cat" id="a-category">
                                        {a.item.category.label()}
                                    </span>
                                    " · "
                                    <time id="a-date">{a.item.published.clone()}</time>
                                    {a
                                        .item
                                        .hot
                                        .then(|| {
                                            view! {
                                                " "
                                                <strong class="hot">"HOT"</strong>
                                            }
                                        })}
                                </p>
                                <h1 id="a-title">{a.item.title.clone()}</h1>
                                // Sanitised on the server (safe formatting only, no scripts).
                                <div
                                    class="announcement__body"
                                    id="a-body"
                                    inner_html=a.body_html
                                ></div>
                                <p>
                                    <A href="/announcements">"回公告列表"</A>
                                </p>
                            </article>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let args = move || query.with(|q| (q.get("q").unwrap_or_default(), page_of(q)));
    let data = Resource::new(args, |(q, p)| search_announcements(q, Some(p)));
    let q_now = move || query.with(|q| q.get("q").unwrap_or_default());
    view! {
        <Title text="公告搜尋" />
        <section class="card" aria-labelledby="search-title">
            <h1 id="search-title">"公告搜尋"</h1>
            <form method="get" action="/announcements/search" role="search" class="search-form">
                <label for="search-q" class="visually-hidden">
                    "搜尋公告關鍵字"
                </label>
                <input
                    id="search-q"
                    name="q"
                    type="search"
                    maxlength="100"
                    required
                    prop:value=q_now
                    value=q_now
                />
                <button type="submit" class="btn btn--secondary" id="search-submit">
                    "搜尋"
                </button>
            </form>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => failed(e),
                        Ok(r) => {
                            let q = r.query.clone();
                            let summary = if r.total == 0 {
                                format!(
                                    "找不到符合「{}」的公告，請換個關鍵字再試。",
                                    r.query,
                                )
                            } else {
                                format!("「{}」共找到 {} 則公告", r.query, r.total)
                            };
                            let hits = r
                                .hits
                                .into_iter()
                                .map(|h| {
                                    let href = format!("/announcements/{}", h.id);
                                    view! {
                                        <li class="hit" data-id=h.id.to_string()>
                                            <p class="ann__meta">
                                                <span class="ann__cat">{h.category.label()}</span>
                                                " · "
                                                <time>{h.published}</time>
                                                {h
                                                    .hot
                                                    .then(|| {
                                                        view! {
                                                            " "
                                                            <strong class="hot">"HOT"</strong>
                                                        }
                                                    })}
                                            </p>
                                            <A href=href attr:class="hit__title">
                                                <Highlighted segments=h.title />
                                            </A>
                                            <p class="hit__snippet">
                                                <Highlighted segments=h.snippet />
                                            </p>
                                        </li>
                                    }
                                })
                                .collect_view();
                            view! {
                                <p role="status" id="search-summary">
                                    {summary}
                                </p>
                                <ol class="hits" id="search-hits">
                                    {hits}
                                </ol>
                                <Pager
                                    page=r.page
                                    pages=r.pages
                                    href=move |n| {
                                        format!("/announcements/search?q={}&page={n}", encode(&q))
                                    }
                                />
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
