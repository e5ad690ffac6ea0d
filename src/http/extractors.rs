//! Extractor configuration: actix's JSON, query and path failures become problem documents, and
//! `validator` failures become field-level `errors`.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, web};
use validator::{Validate, ValidationErrors};

use crate::error::{ApiError, ErrorCode, FieldError};

/// JSON bodies: `application/json` (or `+json`), capped at `limit` bytes, every failure a
/// problem document.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|error, _req| json_problem(error).into())
}

fn json_problem(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("The body has {length} bytes; at most {limit} are accepted."),
        ),
        JsonPayloadError::Overflow { limit } => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("The body is larger than {limit} bytes."),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "Send the body as application/json.",
        ),
        JsonPayloadError::Deserialize(error) if error.is_data() => {
            ApiError::validation(vec![FieldError::new(
                "",
                "invalid_type",
                "expected a JSON object",
            )])
        }
        // serde's own words ("expected value at line 1 column 3") stay out of the answer.
        JsonPayloadError::Deserialize(error) => ApiError::new(
            ErrorCode::MalformedJson,
            format!(
                "The body is not valid JSON (line {}, column {}).",
                error.line(),
                error.column()
            ),
        ),
        _ => ApiError::new(
            ErrorCode::MalformedJson,
            "The body could not be read as JSON.",
        ),
    }
}

/// A query string carrying control characters (`%00`, escape sequences) is refused before any
/// handler sees it: no parameter of this API legitimately holds one, and databases choke on NUL.
pub fn hostile_query(query: &str) -> Option<ApiError> {
    let hostile = url::form_urlencoded::parse(query.as_bytes())
        .any(|(key, value)| key.chars().chain(value.chars()).any(char::is_control));
    hostile.then(|| {
        ApiError::new(
            ErrorCode::InvalidQuery,
            "The query string holds control characters.",
        )
    })
}

/// Free text a person typed (names, titles), which ends up in logs, pages and the Subject and body
/// of emails: refused when it holds a character that is not text but layout or control, which
/// could forge lines ("Pat<U+2028>Your account is locked"), reverse what follows, hide itself or
/// (NUL) not be stored by PostgreSQL.
pub fn plain_text(text: &str) -> Result<(), validator::ValidationError> {
    if text.chars().any(is_layout_or_control) {
        let mut error = validator::ValidationError::new("control_characters");
        error.message = Some(
            "must not contain control, line-separator, bidirectional or invisible characters"
                .into(),
        );
        return Err(error);
    }
    Ok(())
}

/// C0 and C1 controls, Unicode's line and paragraph separators, the bidirectional embeddings,
/// overrides, isolates and marks, and the zero-width characters (spaces, joiners, the byte order
/// mark).
fn is_layout_or_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}' | '\u{200F}' | '\u{061C}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}' | '\u{FEFF}'
        )
}

/// Longest search term accepted: enough for any name or address, short of abuse.
pub const MAX_SEARCH_CHARS: usize = 200;

/// A trimmed search term; empty counts as absent, an overlong one adds an error at `pointer`.
pub fn search_term(
    raw: Option<&str>,
    pointer: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let term = raw.map(str::trim).filter(|term| !term.is_empty())?;
    if term.chars().count() > MAX_SEARCH_CHARS {
        errors.push(FieldError::new(
            pointer,
            "too_long",
            format!("at most {MAX_SEARCH_CHARS} characters"),
        ));
        return None;
    }
    Some(term.to_owned())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, _req: &HttpRequest| {
        ApiError::new(ErrorCode::InvalidQuery, error.to_string()).into()
    })
}

/// A path segment that is not an id names nothing: 404, like any unknown resource.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_: PathError, _req: &HttpRequest| {
        ApiError::new(
            ErrorCode::NotFound,
            "No such resource: ids are whole numbers.",
        )
        .into()
    })
}

/// Runs `validator` rules and reports each failure with a JSON pointer to its field.
pub fn validate(body: &impl Validate) -> Result<(), ApiError> {
    body.validate()
        .map_err(|errors| ApiError::validation(field_errors(&errors)))
}

/// `validator`'s errors as problem `errors`, sorted for stable output.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut fields: Vec<FieldError> = errors
        .field_errors()
        .into_iter()
        .flat_map(|(field, failures)| {
            failures.iter().map(move |failure| {
                let detail = failure
                    .message
                    .as_ref()
                    .map(|message| message.to_string())
                    .unwrap_or_else(|| format!("{field} is invalid"));
                FieldError::new(format!("/{field}"), &failure.code, detail)
            })
        })
        .collect();
    fields.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    fields
}

/// Parses an optional choice (`role=AN`, `status=pending`); an empty value counts as absent, and
/// an unknown one adds an `invalid_choice` error at `pointer`.
pub fn choice<T>(
    raw: Option<&str>,
    pointer: &str,
    parse: impl Fn(&str) -> Option<T>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let raw = raw.map(str::trim).filter(|raw| !raw.is_empty())?;
    let parsed = parse(raw);
    if parsed.is_none() {
        errors.push(FieldError::new(
            pointer,
            "invalid_choice",
            format!("{raw:?} is not one of the accepted values"),
        ));
    }
    parsed
}
