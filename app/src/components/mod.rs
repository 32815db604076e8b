pub mod card;
pub mod content;
pub mod layout;
pub mod login_box;

use crate::error::ApiError;
use leptos::prelude::*;
use leptos::server_fn::error::ServerFnUrlError;
use leptos_router::hooks::use_query_map;

/// The error of the last no-JavaScript submission to a server function whose path ends
/// with `endpoint`, carried back in the URL by the server (`__path`, `__err`), reduced to
/// what it is ([`ApiError::from_url`]): a link anyone can write shows no text of its own.
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
                .map(ApiError::from_url)
        })
    }
}

/// The error to show for an action's last answer. Leptos fills an action's value from the
/// page's URL (`__path`, `__err`) when the page is the answer to a form posted without
/// JavaScript; such a value exists before the action ever ran here (`version` 0) and is
/// reduced to what it is ([`ApiError::from_url`]), since anyone can write that link.
pub fn shown_error(e: ApiError, version: usize) -> ApiError {
    if version == 0 {
        e.from_url()
    } else {
        e
    }
}
