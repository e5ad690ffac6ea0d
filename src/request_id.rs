//! One id per request: taken from a sane incoming `X-Request-Id` or generated, returned in the
//! `X-Request-Id` response header, written in the access log line and put in problem documents.

use std::future::Future;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being handled, when called while serving one.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// A client's id is kept when it is short and plain (so it cannot forge log lines); otherwise a
/// fresh one is made.
fn choose(incoming: Option<&HeaderValue>) -> String {
    incoming
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// The id the request will carry.
pub fn id_for(req: &ServiceRequest) -> String {
    choose(req.headers().get(HEADER))
}

/// Runs the rest of the request with its id in scope, and adds the id to the response.
pub async fn respond<F, B>(id: String, handled: F) -> Result<ServiceResponse<B>, actix_web::Error>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    let mut response = CURRENT.scope(id.clone(), handled).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_client_ids_are_kept_and_others_replaced() {
        assert_eq!(
            choose(Some(&HeaderValue::from_static("abc-123.x_y"))),
            "abc-123.x_y"
        );
        let forged = choose(Some(&HeaderValue::from_static("a b\\nINFO fake")));
        assert_eq!(forged.len(), 36, "a fresh UUID");
        assert_eq!(choose(None).len(), 36);
    }
}
