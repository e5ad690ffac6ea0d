//! What answers when no route does: 405 with `Allow` when the path exists under another method,
//! otherwise 404; both as problem documents.

use actix_web::dev::ResourceDef;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::error::{ApiError, ErrorCode};

/// The documented paths and their methods, taken from the OpenAPI spec.
pub struct KnownRoutes(Vec<(ResourceDef, Vec<Method>)>);

impl KnownRoutes {
    pub fn from_spec(spec: &utoipa::openapi::OpenApi) -> KnownRoutes {
        let routes = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    (Method::GET, item.get.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, present)| present.then_some(method))
                .collect();
                // Requests are matched with their trailing slash trimmed; so are the paths.
                (ResourceDef::new(path.trim_end_matches('/')), methods)
            })
            .collect();
        KnownRoutes(routes)
    }

    fn methods_for(&self, path: &str) -> Option<&[Method]> {
        self.0
            .iter()
            .find(|(pattern, _)| pattern.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }
}

/// The default service of the app.
pub async fn no_route(req: HttpRequest, routes: web::Data<KnownRoutes>) -> HttpResponse {
    let path = req.path();
    match routes.methods_for(path) {
        Some(methods) => {
            let allow = methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            let error = ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("{} is not allowed here; allowed: {allow}.", req.method()),
            );
            let mut response = error.error_response();
            if let Ok(value) = header::HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            response
        }
        None => {
            ApiError::new(ErrorCode::NotFound, format!("Nothing is at {path}.")).error_response()
        }
    }
}
