//! 機關組織: the agency tree of the personnel registry.

use crate::api::content::{load_agencies, AgencyNode};
use crate::components::content::{failed, loading};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AgenciesPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_agencies());
    view! {
        <Title text="機關組織" />
        <section class="card" aria-labelledby="agencies-title">
            <h1 id="agencies-title">"機關組織"</h1>
            <p class="hint">"依人事資料庫之機關代碼與上級機關排列。"</p>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => failed(e),
                        Ok(tree) if tree.is_empty() => {
                            view! { <p>"尚無機關資料。"</p> }.into_any()
                        }
                        Ok(tree) => {
                            view! {
                                <ul class="tree" id="agency-tree">
                                    {branches(tree)}
                                </ul>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

fn branches(nodes: Vec<AgencyNode>) -> AnyView {
    nodes
        .into_iter()
        .map(|n| {
            let kids = (!n.children.is_empty()).then(|| {
                let inner = branches(n.children);
                view! { <ul>{inner}</ul> }
            });
            view! {
                <li data-code=n.code.clone()>
                    <span class="tree__name">{n.name}</span>
                    " "
                    <span class="tree__code">{format!("（{}）", n.code)}</span>
                    {kids}
                </li>
            }
        })
        .collect_view()
        .into_any()
}
