//! What the service knows about the request being handled, wherever it is needed: its id (taken
//! from a sane incoming `X-Request-Id` or generated, returned in `X-Request-Id`, written in the
//! access log and put in problem documents and audit entries) and the client's address (for rate
//! limits and the audit log).

use std::future::Future;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The request being handled.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub id: String,
    /// The client's IP address: the peer, or the proxy-reported client with
    /// `TRUST_FORWARDED_FOR`.
    pub client_address: Option<String>,
}

tokio::task_local! {
    static CURRENT: RequestContext;
}

/// The id of the request being handled, when called while serving one.
pub fn current_id() -> Option<String> {
    CURRENT.try_with(|context| context.id.clone()).ok()
}

/// The client address of the request being handled, when known.
pub fn client_address() -> Option<String> {
    CURRENT
        .try_with(|context| context.client_address.clone())
        .ok()
        .flatten()
}

/// The context of the request being handled (the audit log records it with each change).
pub fn current() -> Option<RequestContext> {
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
        .map_or_else(fresh_id, str::to_owned)
}

/// A random (version 4) UUID from the thread's generator, where `Uuid::new_v4` would ask the
/// kernel for its 16 bytes, a system call on every request.
fn fresh_id() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}

/// The context the request will carry.
pub fn context_for(req: &ServiceRequest, trust_forwarded_for: bool) -> RequestContext {
    let forwarded = trust_forwarded_for
        .then(|| forwarded_client(req.headers().get_all("x-forwarded-for")))
        .flatten();
    // The peer's IP is written straight from its address; only a forwarded one is parsed.
    let client = match forwarded {
        Some(address) => Some(ip_only(&address)),
        None => req.peer_addr().map(|peer| peer.ip().to_string()),
    };
    RequestContext {
        id: choose(req.headers().get(HEADER)),
        client_address: client,
    }
}

/// The address our proxy saw: the last `X-Forwarded-For` entry, the one it appended. Entries
/// before it are whatever the client sent, so they are never trusted (nor is `Forwarded`, which
/// a proxy passes through untouched).
fn forwarded_client<'a>(values: impl Iterator<Item = &'a HeaderValue>) -> Option<String> {
    values
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .last()
        .map(str::to_owned)
}

/// `203.0.113.7:51234` and `[2001:db8::1]:443` to their IP; anything unparsable is cut to a
/// column's worth of plain characters, since forwarded headers are whatever the proxy wrote.
fn ip_only(address: &str) -> String {
    if let Ok(socket) = address.parse::<std::net::SocketAddr>() {
        return socket.ip().to_string();
    }
    address
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .take(64)
        .collect()
}

/// Runs the rest of the request with its context in scope, and adds the id to the response.
pub async fn respond<F, B>(
    context: RequestContext,
    handled: F,
) -> Result<ServiceResponse<B>, actix_web::Error>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    let id = context.id.clone();
    let mut response = CURRENT.scope(context, handled).await?;
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
        let fresh = uuid::Uuid::parse_str(&choose(None)).expect("a UUID");
        assert_eq!(fresh.get_version(), Some(uuid::Version::Random));
        assert_ne!(choose(None), choose(None));
    }

    #[test]
    fn only_the_proxy_appended_forwarded_entry_counts() {
        let spoofed = HeaderValue::from_static("6.6.6.6, 203.0.113.7");
        assert_eq!(
            forwarded_client([&spoofed].into_iter()).as_deref(),
            Some("203.0.113.7")
        );
        let split = [
            HeaderValue::from_static("6.6.6.6"),
            HeaderValue::from_static("198.51.100.2"),
        ];
        assert_eq!(
            forwarded_client(split.iter()).as_deref(),
            Some("198.51.100.2")
        );
        assert_eq!(forwarded_client(std::iter::empty()), None);
    }

    #[test]
    fn client_addresses_lose_their_port() {
        assert_eq!(ip_only("203.0.113.7:51234"), "203.0.113.7");
        assert_eq!(ip_only("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(ip_only("198.51.100.2"), "198.51.100.2");
        assert_eq!(ip_only("evil\nINFO x"), "evilINFOx");
    }
}
