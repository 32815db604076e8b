pub mod card;
pub mod content;
pub mod layout;
pub mod login_box;

use crate::error::ApiError;
use leptos::prelude::*;
use leptos::server_fn::error::ServerFnUrlError;
use leptos_router::hooks::use_query_map;

/// The error of the last no-JavaScript submission to a server function whose path ends
/// with `endpoint`, carried back in the URL by the server (`__path`, `__err`).
pub fn url_error(endpoint: &'static str) -> impl Fn() -> Option<ApiError> + Copy {
    let query = use_query_map();
    move || {
        query.with(|q| {
            let path = q.get_str("__path")?;
            if !path.ends_with(endpoint) {
                return None;
            }
            q.get_str("__err")
                .map(ServerFnUrlError::<ApiError>::decode_err)
        })
    }
}
