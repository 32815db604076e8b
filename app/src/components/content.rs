//! Pieces the content pages share: highlighted text, the announcement list, the pager,
//! the poll panel with its bar chart, and a page-level data wrapper.

use crate::api::content::{AnnouncementItem, PollView, Vote};
use crate::error::ApiError;
use ecpa_domain::search::Segment;
use leptos::prelude::*;
use leptos_router::components::A;

/// Text with the matched parts in `<mark>`.
#[component]
pub fn Highlighted(segments: Vec<Segment>) -> impl IntoView {
    segments
        .into_iter()
        .map(|s| {
            if s.hit {
                view! { <mark>{s.text}</mark> }.into_any()
            } else {
                s.text.into_any()
            }
        })
        .collect_view()
}

/// `職缺公告 - 標題 HOT  115/11/26` lines, each a link to its page.
#[component]
pub fn AnnouncementList(items: Vec<AnnouncementItem>, #[prop(into)] id: String) -> impl IntoView {
    if items.is_empty() {
        return view! { <p id=id>"目前沒有公告。"</p> }.into_any();
    }
    let rows = items
        .into_iter()
        .map(|a| {
            let href = format!("/announcements/{}", a.id);
            view! {
                <li class="ann" data-id=a.id.to_string()>
                    <span class="ann__cat">{a.category.label()}</span>
                    " - "
                    <A href=href attr:class="ann__title">
                        {a.title}
                    </A>
                    {a
                        .hot
                        .then(|| {
                            view! {
                                <strong class="hot" aria-label="熱門">
                                    "HOT"
                                </strong>
                            }
                        })}
                    <time class="ann__date">{a.published}</time>
                </li>
            }
        })
        .collect_view();
    view! {
        <ul class="ann-list" id=id>
            {rows}
        </ul>
    }
    .into_any()
}

/// 第 n / m 頁 with previous / next links; `href(page)` builds each link.
#[component]
pub fn Pager(page: u32, pages: u32, href: impl Fn(u32) -> String + 'static) -> impl IntoView {
    if pages <= 1 {
        return ().into_any();
    }
    let prev = (page > 1).then(|| href(page - 1));
    let next = (page < pages).then(|| href(page + 1));
    view! {
        <nav class="pager" aria-label="分頁">
            {prev
                .map(|h| {
                    view! {
                        <A href=h attr:rel="prev" attr:id="page-prev">
                            "上一頁"
                        </A>
                    }
                })}
            <span aria-current="page" id="page-status">
                {format!("第 {page} / {pages} 頁")}
            </span>
            {next
                .map(|h| {
                    view! {
                        <A href=h attr:rel="next" attr:id="page-next">
                            "下一頁"
                        </A>
                    }
                })}
        </nav>
    }
    .into_any()
}

/// A poll: the vote form for a signed-in account that has not voted, the results as a
/// bar chart once it has (or once the poll is closed).
#[component]
pub fn PollPanel(poll: PollView) -> impl IntoView {
    let vote = ServerAction::<Vote>::new();
    let current = RwSignal::new(poll);
    Effect::new(move |_| {
        if let Some(Ok(v)) = vote.value().get() {
            current.set(v);
        }
    });
    let error = move || match vote.value().get() {
        Some(Err(e)) => Some(super::shown_error(e, vote.version().get()).message()),
        _ => None,
    };
    let poll_id = move || current.with(|p| p.id.clone());
    view! {
        <div class="poll" data-poll=poll_id>
            <p class="poll__question" id=move || format!("poll-q-{}", poll_id())>
                {move || current.with(|p| p.question.clone())}
            </p>
            {move || {
                let p = current.get();
                if p.show_results() {
                    view! { <PollResults poll=p /> }.into_any()
                } else if !p.signed_in {
                    let opts = p
                        .options
                        .iter()
                        .map(|o| view! { <li>{o.label.clone()}</li> })
                        .collect_view();
                    view! {
                        <ol class="poll__options">{opts}</ol>
                        <p class="hint" id="poll-sign-in">
                            "登入後即可投票，每個帳號限投一次。"
                        </p>
                    }
                        .into_any()
                } else {
                    let labelled = format!("poll-q-{}", p.id);
                    let opts = p
                        .options
                        .iter()
                        .map(|o| {
                            let id = format!("opt-{}", o.id);
                            view! {
                                <li>
                                    <input
                                        type="radio"
                                        name="option_id"
                                        id=id.clone()
                                        value=o.id.clone()
                                        required
                                    />
                                    <label for=id>{o.label.clone()}</label>
                                </li>
                            }
                        })
                        .collect_view();
                    view! {
                        <ActionForm action=vote attr:class="poll__form">
                            <input type="hidden" name="poll_id" value=p.id.clone() />
                            <fieldset aria-labelledby=labelled>
                                <legend class="visually-hidden">"請選擇一個選項"</legend>
                                <ul class="poll__choices">{opts}</ul>
                            </fieldset>
                            <button type="submit" class="btn btn--primary" id="vote-submit">
                                "投票"
                            </button>
                        </ActionForm>
                    }
                        .into_any()
                }
            }}
            <p class="form-error" role="alert" id="vote-error">
                {error}
            </p>
        </div>
    }
}

#[component]
pub fn PollResults(poll: PollView) -> impl IntoView {
    let total = poll.total_votes.max(0);
    let rows = poll
        .options
        .iter()
        .map(|o| {
            let pct = if total > 0 { o.votes as f64 * 100.0 / total as f64 } else { 0.0 };
            let mine = poll.my_vote.as_deref() == Some(o.id.as_str());
            let text = format!("{} 票（{:.1}%）", o.votes, pct);
            view! {
                <li class="bar" class:bar--mine=mine data-votes=o.votes.to_string()>
                    <span class="bar__label">{o.label.clone()}{mine.then_some("（您的選擇）")}</span>
                    <span class="bar__track" aria-hidden="true">
                        <span class="bar__fill" style=format!("width: {pct:.1}%")></span>
                    </span>
                    <span class="bar__value">{text}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="poll-results">
            <ul class="bars" aria-label="投票結果">
                {rows}
            </ul>
            <p class="hint" id="poll-total">
                {format!("共 {total} 票")}
                {poll.closed.then_some("，投票已結束")}
            </p>
        </div>
    }
}

/// Loading text and error text, the same on every content page.
pub fn loading() -> impl IntoView {
    view! {
        <p class="loading" aria-busy="true">
            "載入中…"
        </p>
    }
}

pub fn failed(e: ApiError) -> AnyView {
    crate::error::set_page_status(&e);
    view! {
        <p class="form-error" role="alert">
            {e.message()}
        </p>
    }
    .into_any()
}
