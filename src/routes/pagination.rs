//! Label Studio's page-number pagination: `page` from 1, `page_size` up to 1000, and
//! `{count, next, previous, results}` where `next`/`previous` repeat the request's own query.

use actix_web::HttpRequest;

use crate::error::FieldError;
use crate::state::AppState;

pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 1000;

/// A validated page request.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    pub page: u64,
    pub page_size: u64,
}

impl PageRequest {
    /// Checks `page` and `page_size`, adding a field error for each bad one.
    pub fn parse(
        page: Option<u64>,
        page_size: Option<u64>,
        errors: &mut Vec<FieldError>,
    ) -> PageRequest {
        let page = page.unwrap_or(1);
        if page == 0 {
            errors.push(FieldError::new(
                "/query/page",
                "out_of_range",
                "pages start at 1",
            ));
        }
        let page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            errors.push(FieldError::new(
                "/query/page_size",
                "out_of_range",
                format!("must be 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        PageRequest { page, page_size }
    }

    pub fn offset(self) -> u64 {
        (self.page.max(1) - 1).saturating_mul(self.page_size)
    }

    /// URLs of the next and previous pages of the same query, when they exist.
    pub fn links(
        self,
        req: &HttpRequest,
        state: &AppState,
        count: u64,
    ) -> (Option<String>, Option<String>) {
        let has_next = self.page.saturating_mul(self.page_size) < count;
        let next = has_next
            .then(|| page_url(req, state, self.page + 1))
            .flatten();
        let previous = (self.page > 1)
            .then(|| page_url(req, state, self.page - 1))
            .flatten();
        (next, previous)
    }
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
