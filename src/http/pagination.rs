//! `next` and `previous` links of paginated lists: the URL of the request's own query with
//! another `page`.

use actix_web::HttpRequest;

use crate::domain::page::PageRequest;
use crate::state::AppState;

/// URLs of the next and previous pages of the same query, when they exist.
pub fn page_links(
    req: &HttpRequest,
    state: &AppState,
    page: PageRequest,
    count: u64,
) -> (Option<String>, Option<String>) {
    let next = page
        .has_next(count)
        .then(|| page_url(req, state, page.page + 1))
        .flatten();
    let previous = (page.page > 1)
        .then(|| page_url(req, state, page.page - 1))
        .flatten();
    (next, previous)
}

/// The URL of `page` of the request's own query, on `PUBLIC_URL` when configured.
fn page_url(req: &HttpRequest, state: &AppState, page: u64) -> Option<String> {
    let base = match state.settings.public_url.as_deref() {
        Some(public) => format!("{public}{}", req.path()),
        None => {
            let info = req.connection_info();
            format!("{}://{}{}", info.scheme(), info.host(), req.path())
        }
    };
    let mut url = url::Url::parse(&base).ok()?;
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(key, _)| key != "page")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .extend_pairs(kept)
        .append_pair("page", &page.to_string());
    Some(url.into())
}
