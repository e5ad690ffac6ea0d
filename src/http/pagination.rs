//! `next` and `previous` links of paginated lists: the request's own path and query with another
//! `page`, as a relative reference. Built from nothing a client or proxy can forge: `Host`,
//! `X-Forwarded-Host` and `Forwarded` would otherwise choose the link's host and scheme
//! (`javascript://evil.example/...`), and `PUBLIC_URL` is where the signup pages live, not
//! necessarily the API. A client resolves the link against the URL it requested.

use actix_web::HttpRequest;

use crate::domain::page::PageRequest;

/// Links to the next and previous pages of the same query, when they exist.
pub fn page_links(
    req: &HttpRequest,
    page: PageRequest,
    count: u64,
) -> (Option<String>, Option<String>) {
    let next = page.has_next(count).then(|| page_link(req, page.page + 1));
    let previous = (page.page > 1).then(|| page_link(req, page.page - 1));
    (next, previous)
}

/// `<path>?<the request's query without page>&page=<page>`.
fn page_link(req: &HttpRequest, page: u64) -> String {
    let kept =
        url::form_urlencoded::parse(req.query_string().as_bytes()).filter(|(key, _)| key != "page");
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .append_pair("page", &page.to_string())
        .finish();
    format!("{}?{query}", req.path())
}
