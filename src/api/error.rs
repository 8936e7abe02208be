//! The one error type of the HTTP API.
//!
//! A 4xx answer says what is wrong in a sentence naming the field; a 5xx answer is logged with
//! its cause and says only "internal error". The body is always
//! `{"error": {"status": 400, "message": "…", "problems": ["…"]}}` (`problems` only when there
//! are several).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::cases::StoreError;

/// What a handler fails with.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    problems: Vec<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// 400 with one problem.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 listing every problem.
    pub fn invalid(problems: Vec<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: problems.join("; "),
            problems,
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "not logged in: log in, or send an API token as Authorization: Bearer <token>",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 500: logs `cause`, answers "internal error".
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "Request failed.");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// 503: the feature needs the pipeline, which this process does not run.
    pub fn no_pipeline() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server runs no pipeline (API only): the change is saved and applies when the \
             pipeline starts",
        )
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::not_found(format!("not found: {what}")),
            StoreError::Conflict(what) => ApiError::new(StatusCode::CONFLICT, what),
            StoreError::InvalidTransition(what) => ApiError::new(StatusCode::CONFLICT, what),
            StoreError::Invalid(what) => ApiError::bad_request(what),
            StoreError::Database(cause) => ApiError::internal(cause),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({
            "status": self.status.as_u16(),
            "message": self.message,
        });
        if self.problems.len() > 1 {
            error["problems"] = serde_json::json!(self.problems);
        }
        (self.status, Json(serde_json::json!({ "error": error }))).into_response()
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
