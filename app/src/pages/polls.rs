//! 主題投票: the current poll and the results of closed ones.

use crate::api::content::load_polls;
use crate::components::content::{failed, loading, PollPanel};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn PollsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_polls());
    view! {
        <Title text="主題投票" />
        <section class="card" aria-labelledby="polls-title">
            <h1 id="polls-title">"主題投票"</h1>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => failed(e),
                        Ok(polls) if polls.is_empty() => {
                            view! { <p>"目前沒有投票。"</p> }.into_any()
                        }
                        Ok(polls) => {
                            polls
                                .into_iter()
                                .map(|p| {
                                    view! {
                                        <section class="poll-block">
                                            <PollPanel poll=p />
                                        </section>
                                    }
                                })
                                .collect_view()
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}
