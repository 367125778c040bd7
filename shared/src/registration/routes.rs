//! Method + path → operation. Unknown paths are 404, known paths with another method 405.

use super::http::ApiError;

/// One operation of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /instances`
    CreateInstance,
    /// `GET /instances`
    ListInstances,
    /// `GET /instances/{id}`
    GetInstance(u64),
    /// `PATCH /instances/{id}`
    PatchInstance(u64),
    /// `DELETE /instances/{id}`
    DeleteInstance(u64),
    /// `PUT /instances/{id}/enabled`
    EnableInstance(u64),
    /// `DELETE /instances/{id}/enabled`
    DisableInstance(u64),
    /// `POST /instances/{id}/poll`
    PollInstance(u64),
    /// `POST /instances/{id}/reauthorize`
    ReauthorizeInstance(u64),
}

impl Route {
    /// The instance a route is about, if it is instance-scoped.
    pub fn instance(&self) -> Option<u64> {
        match *self {
            Route::CreateInstance | Route::ListInstances => None,
            Route::GetInstance(id)
            | Route::PatchInstance(id)
            | Route::DeleteInstance(id)
            | Route::EnableInstance(id)
            | Route::DisableInstance(id)
            | Route::PollInstance(id)
            | Route::ReauthorizeInstance(id) => Some(id),
        }
    }
}

/// Resolve `method` and `path` (no stage prefix; a trailing `/` is ignored).
pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let path = path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let method = method.to_ascii_uppercase();
    let method = method.as_str();
    match segments.as_slice() {
        ["instances"] => match method {
            "POST" => Ok(Route::CreateInstance),
            "GET" => Ok(Route::ListInstances),
            _ => Err(method_not_allowed("GET, POST")),
        },
        ["instances", id] => {
            let id = parse_id(id)?;
            match method {
                "GET" => Ok(Route::GetInstance(id)),
                "PATCH" => Ok(Route::PatchInstance(id)),
                "DELETE" => Ok(Route::DeleteInstance(id)),
                _ => Err(method_not_allowed("GET, PATCH, DELETE")),
            }
        }
        ["instances", id, "enabled"] => {
            let id = parse_id(id)?;
            match method {
                "PUT" => Ok(Route::EnableInstance(id)),
                "DELETE" => Ok(Route::DisableInstance(id)),
                _ => Err(method_not_allowed("PUT, DELETE")),
            }
        }
        ["instances", id, "poll"] => {
            let id = parse_id(id)?;
            match method {
                "POST" => Ok(Route::PollInstance(id)),
                _ => Err(method_not_allowed("POST")),
            }
        }
        ["instances", id, "reauthorize"] => {
            let id = parse_id(id)?;
            match method {
                "POST" => Ok(Route::ReauthorizeInstance(id)),
                _ => Err(method_not_allowed("POST")),
            }
        }
        _ => Err(ApiError::new(404, "no such resource")),
    }
}

/// Instance ids are positive integers; anything else cannot name an instance.
fn parse_id(text: &str) -> Result<u64, ApiError> {
    match text.parse::<u64>() {
        Ok(id) if id > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(id),
        _ => Err(ApiError::field(400, "id", "must be a positive integer")),
    }
}

fn method_not_allowed(allowed: &str) -> ApiError {
    ApiError::method_not_allowed(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve() {
        assert_eq!(route("POST", "/instances"), Ok(Route::CreateInstance));
        assert_eq!(route("get", "/instances/"), Ok(Route::ListInstances));
        assert_eq!(route("GET", "/instances/7"), Ok(Route::GetInstance(7)));
        assert_eq!(
            route("DELETE", "/instances/7/enabled"),
            Ok(Route::DisableInstance(7))
        );
        assert_eq!(
            route("POST", "/instances/7/poll"),
            Ok(Route::PollInstance(7))
        );
        assert_eq!(
            route("POST", "/instances/7/reauthorize"),
            Ok(Route::ReauthorizeInstance(7))
        );
        assert_eq!(
            route("PATCH", "/instances/7/reauthorize")
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(route("GET", "/nope").unwrap_err().status, 404);
        assert_eq!(route("GET", "/instances/7/x").unwrap_err().status, 404);
        assert_eq!(route("PUT", "/instances").unwrap_err().status, 405);
        assert_eq!(route("GET", "/instances/7/poll").unwrap_err().status, 405);
        for bad in ["0", "-1", "abc", "+5", "99999999999999999999999"] {
            let e = route("GET", &format!("/instances/{bad}")).unwrap_err();
            assert_eq!((e.status, e.field.as_deref()), (400, Some("id")), "{bad}");
        }
    }
}
