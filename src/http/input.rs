//! Request bodies and query strings read into typed requests, with failures a program can act on:
//! each names the field by JSON pointer (`/expires_in_days`, `/query/page`) and says in plain words
//! what was expected, never serde's or actix's own text.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode, FieldError};

/// A JSON body as `T`. The body is read by actix (content type, size limit and syntax, see
/// `extractors::json_config`), then shaped into `T` here, where the failing field is known.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Json<T>, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await.map_err(from_actix)?.into_inner();
            json_value(value).map(Json)
        })
    }
}

/// Shapes a parsed JSON document into `T`; a failure names its field.
pub fn json_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let pointer = pointer("", error.path());
        ApiError::validation(vec![field_error(pointer, error.inner().to_string())])
    })
}

/// A query string as `T`; a failure names its parameter as `/query/<name>`.
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Query<T>, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = url::form_urlencoded::parse(req.query_string().as_bytes());
        let parsed = serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs))
            .map(Query)
            .map_err(|error| {
                let pointer = pointer("/query", error.path());
                let mut problem = field_error(pointer, error.inner().to_string());
                problem.code = "invalid_value".into();
                ApiError::Problem {
                    code: ErrorCode::InvalidQuery,
                    detail: format!("{}: {}", problem.pointer, problem.detail),
                    errors: vec![problem],
                }
            });
        std::future::ready(parsed)
    }
}

fn from_actix(error: actix_web::Error) -> ApiError {
    // `json_config`'s handler made it an `ApiError` already; anything else is a malformed body.
    match error.as_error::<ApiError>() {
        Some(ApiError::Problem {
            code,
            detail,
            errors,
        }) => ApiError::Problem {
            code: *code,
            detail: detail.clone(),
            errors: errors.clone(),
        },
        _ => ApiError::new(ErrorCode::MalformedJson, "The body is not valid JSON."),
    }
}

/// A serde path as a JSON pointer under `base`; a missing field is named by the field itself.
fn pointer(base: &str, path: &serde_path_to_error::Path) -> String {
    let mut pointer = base.to_owned();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            serde_path_to_error::Segment::Map { key } => pointer.push_str(&format!("/{key}")),
            serde_path_to_error::Segment::Enum { variant } => {
                pointer.push_str(&format!("/{variant}"));
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    pointer
}

/// serde's message in plain words, with a code: `required` for a missing field, `invalid_type`
/// for a value of the wrong kind, `invalid_value` otherwise.
fn field_error(mut pointer: String, serde_message: String) -> FieldError {
    let message = serde_message
        .split(" at line ")
        .next()
        .unwrap_or_default()
        .to_owned();
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        pointer.push('/');
        pointer.push_str(field);
        return FieldError::new(pointer, "required", "this field is required");
    }
    if let Some(expected) = message.split(", expected ").nth(1) {
        let detail = format!("expected {}", plain_expectation(expected));
        let code = if message.starts_with("invalid type") {
            "invalid_type"
        } else {
            "invalid_value"
        };
        return FieldError::new(pointer, code, detail);
    }
    if message.starts_with("unknown variant") {
        let allowed = message.split("expected ").nth(1).unwrap_or_default();
        return FieldError::new(pointer, "invalid_choice", format!("expected {allowed}"));
    }
    if message.contains("invalid digit") || message.contains("cannot parse") {
        return FieldError::new(pointer, "invalid_type", "expected a whole number");
    }
    if message.starts_with("data did not match any variant") {
        return FieldError::new(
            pointer,
            "invalid_type",
            "a value of another shape is expected here",
        );
    }
    FieldError::new(pointer, "invalid_value", "this value is not accepted here")
}

/// serde's name of an expected type as a person would say it.
fn plain_expectation(expected: &str) -> String {
    match expected.trim() {
        "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" | "usize" | "isize" => {
            "a whole number".into()
        }
        "f32" | "f64" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a string" | "a borrowed string" | "a string or bytes" => "a string".into(),
        "a sequence" => "a list".into(),
        other if other.starts_with("struct ") || other == "a map" => "an object".into(),
        other => other.trim_start_matches("a ").to_owned().replace('`', ""),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Request {
        days: Option<u32>,
        name: String,
        items: Option<Vec<Item>>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        id: i32,
    }

    fn first_error(value: serde_json::Value) -> FieldError {
        match json_value::<Request>(value) {
            Err(ApiError::Problem { errors, .. }) => errors.into_iter().next().expect("an error"),
            other => panic!("expected a validation problem, got {other:?}"),
        }
    }

    #[test]
    fn failures_name_their_field_in_plain_words() {
        let wrong_type = first_error(json!({"name": "x", "days": "2"}));
        assert_eq!(wrong_type.pointer, "/days");
        assert_eq!(wrong_type.code, "invalid_type");
        assert_eq!(wrong_type.detail, "expected a whole number");

        let missing = first_error(json!({"days": 2}));
        assert_eq!(
            (missing.pointer.as_str(), missing.code.as_str()),
            ("/name", "required")
        );

        let nested = first_error(json!({"name": "x", "items": [{"id": 1}, {"id": "two"}]}));
        assert_eq!(nested.pointer, "/items/1/id");
        assert!(!nested.detail.contains("line"), "{}", nested.detail);
    }
}
