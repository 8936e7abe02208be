//! Users, roles, login sessions and API tokens.
//!
//! Passwords are stored as argon2id hashes. A login gives a random 256-bit session secret in an
//! `HttpOnly; SameSite=Strict` cookie; integrations send an API token as
//! `Authorization: Bearer …`. Only the SHA-256 of a secret is stored, so a copy of the database
//! cannot be used to log in. Sessions are looked up once and cached for a few seconds (the
//! review queue is hit hard); logout and user deletion drop the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::cases::{SecretKind, UserRecord};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "gs_session";
/// How long a login lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// How long a looked-up session is trusted without asking the database again.
const CACHE_TTL: Duration = Duration::from_secs(5);

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything: cameras, zones, calibration, grid, categories, users, and the operator's work.
    Admin,
    /// Works the review queue: confirm, reject, reclassify, send to the field, notes.
    Operator,
    /// The grid's field inspector: decides cases sent to the field, adds notes.
    Inspector,
    /// Reads everything it may see, changes nothing.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Operator, Role::Inspector, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Inspector => "inspector",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// The caller of a request, once authenticated.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// Camera groups the caller may see; empty = all.
    pub groups: Vec<String>,
}

impl Caller {
    /// `403` unless the caller has one of `roles`; the message names them.
    pub fn require(&self, roles: &[Role], action: &str) -> ApiResult<()> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "role {} may not {action} (needs {})",
            self.role.as_str(),
            allowed.join(" or ")
        )))
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller may see a camera in `group`.
    pub fn sees_group(&self, group: Option<&str>) -> bool {
        self.groups.is_empty()
            || self.role == Role::Admin
            || group.is_some_and(|g| self.groups.iter().any(|mine| mine == g))
    }
}

/// Sessions looked up recently: secret hash → (caller, when looked up).
#[derive(Debug, Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl SessionCache {
    fn get(&self, hash: &str) -> Option<Caller> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(caller, _)| caller.clone())
    }

    fn put(&self, hash: String, caller: Caller) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() > 10_000 {
            entries.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        }
        entries.insert(hash, (caller, Instant::now()));
    }

    fn forget(&self, hash: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(hash);
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(ApiError::internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(ApiError::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A new random secret (64 hex digits) and its SHA-256 (what is stored).
fn new_secret() -> Result<(String, String), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    let secret = hex(&bytes);
    let hash = secret_hash(&secret);
    Ok((secret, hash))
}

/// A random password of 16 letters and digits (for `gridsight user add` without one).
pub fn random_password() -> Result<String, ApiError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The secret a request carries: the bearer token, else the session cookie.
fn request_secret(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return value
            .strip_prefix("Bearer ")
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

fn caller_of(user: &UserRecord) -> ApiResult<Caller> {
    let role = Role::parse(&user.role).ok_or_else(|| {
        ApiError::internal(format!("user {:?} has role {:?}", user.name, user.role))
    })?;
    Ok(Caller {
        name: user.name.clone(),
        role,
        groups: user.groups.clone(),
    })
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let secret = request_secret(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let hash = secret_hash(&secret);
        if let Some(caller) = state.sessions.get(&hash) {
            return Ok(caller);
        }
        let found = state
            .store
            .console()
            .secret_user(&hash, SystemTime::now())
            .await?;
        let (user, _) = found.ok_or_else(ApiError::unauthorized)?;
        let caller = caller_of(&user)?;
        state.sessions.put(hash, caller.clone());
        Ok(caller)
    }
}

/// A caller with the `admin` role; others get 403 before the request body is read.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

/// A caller who may decide cases (`admin`, `operator`, `inspector`); viewers get 403.
#[derive(Debug, Clone)]
pub struct Decider(pub Caller);

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(
            &[Role::Admin],
            "change cameras, zones, calibration, the grid, categories or users",
        )?;
        Ok(Admin(caller))
    }
}

impl FromRequestParts<Arc<AppState>> for Decider {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(
            &[Role::Admin, Role::Operator, Role::Inspector],
            "decide, reclassify or annotate cases",
        )?;
        Ok(Decider(caller))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    username: String,
    password: String,
}

/// The caller as the API shows it.
#[derive(Debug, Serialize)]
pub struct Me {
    name: String,
    role: Role,
    groups: Vec<String>,
}

impl From<&Caller> for Me {
    fn from(c: &Caller) -> Self {
        Me {
            name: c.name.clone(),
            role: c.role,
            groups: c.groups.clone(),
        }
    }
}

/// `POST /api/v1/session`: logs in, sets the session cookie.
pub async fn login(
    State(state): State<Arc<AppState>>,
    Json(login): Json<Login>,
) -> ApiResult<Response> {
    let user = state.store.console().user(login.username.trim()).await?;
    // Verify against a dummy hash when the user does not exist, so timing does not tell.
    let ok = match &user {
        Some(u) => verify_password(&login.password, &u.password_hash),
        None => {
            let _ = verify_password(&login.password, &state.dummy_hash);
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        tracing::info!(user = %login.username, "Login refused.");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong user name or password",
        ));
    };
    let caller = caller_of(&user)?;
    let (secret, hash) = new_secret()?;
    state
        .store
        .console()
        .add_secret(
            &hash,
            &user.name,
            SecretKind::Session,
            "login",
            Some(SystemTime::now() + SESSION_TTL),
        )
        .await?;
    tracing::info!(user = %user.name, role = caller.role.as_str(), "Logged in.");
    let secure = if state.options.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_TTL.as_secs()
    );
    let mut response = Json(Me::from(&caller)).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(response)
}

/// `DELETE /api/v1/session`: logs out.
pub async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(secret) = request_secret(&headers) {
        let hash = secret_hash(&secret);
        state.sessions.forget(&hash);
        state.store.console().delete_secret(&hash).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("gs_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}

/// `GET /api/v1/me`.
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me::from(&caller))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    name: String,
    password: String,
    role: String,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct UserView {
    name: String,
    role: String,
    groups: Vec<String>,
}

/// Checks a new user's fields; every problem is listed.
pub fn check_new_user(name: &str, password: &str, role: &str) -> Result<Role, Vec<String>> {
    let mut problems = Vec::new();
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if !name_ok {
        problems.push(format!(
            "name {name:?}: 1 to 64 letters, digits, '_', '-', '.' or '@'"
        ));
    }
    if password.chars().count() < 8 {
        problems.push("password: at least 8 characters".to_owned());
    }
    let parsed = Role::parse(role);
    if parsed.is_none() {
        problems.push(format!(
            "role {role:?}: one of admin, operator, inspector, viewer"
        ));
    }
    match parsed {
        Some(role) if problems.is_empty() => Ok(role),
        _ => Err(problems),
    }
}

/// Creates a user (used by `POST /api/v1/users` and `gridsight user add`).
pub async fn add_user(
    store: &dyn crate::cases::ConsoleStore,
    name: &str,
    password: &str,
    role: &str,
    groups: Vec<String>,
) -> ApiResult<()> {
    check_new_user(name, password, role).map_err(ApiError::invalid)?;
    store
        .add_user(UserRecord {
            name: name.to_owned(),
            role: role.to_owned(),
            password_hash: hash_password(password)?,
            groups,
        })
        .await?;
    Ok(())
}

/// `GET /api/v1/users` (admin).
pub async fn list_users(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
) -> ApiResult<Json<Vec<UserView>>> {
    let users = state.store.console().users().await?;
    Ok(Json(
        users
            .into_iter()
            .map(|u| UserView {
                name: u.name,
                role: u.role,
                groups: u.groups,
            })
            .collect(),
    ))
}

/// `POST /api/v1/users` (admin).
pub async fn create_user(
    State(state): State<Arc<AppState>>,
    Admin(caller): Admin,
    Json(new): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    add_user(
        state.store.console(),
        new.name.trim(),
        &new.password,
        &new.role,
        new.groups.clone(),
    )
    .await?;
    tracing::info!(admin = %caller.name, user = %new.name, role = %new.role, "User added.");
    Ok((
        StatusCode::CREATED,
        Json(UserView {
            name: new.name.trim().to_owned(),
            role: new.role,
            groups: new.groups,
        }),
    ))
}

/// `DELETE /api/v1/users/{name}` (admin; not oneself).
pub async fn delete_user(
    State(state): State<Arc<AppState>>,
    Admin(caller): Admin,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    if name == caller.name {
        return Err(ApiError::bad_request("you cannot delete yourself"));
    }
    state.store.console().delete_user(&name).await?;
    state.sessions.clear();
    tracing::info!(admin = %caller.name, user = %name, "User deleted.");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[serde(default)]
    label: String,
}

/// `POST /api/v1/users/{name}/tokens` (admin): an API token for an integration, shown once.
pub async fn create_token(
    State(state): State<Arc<AppState>>,
    Admin(caller): Admin,
    Path(name): Path<String>,
    Json(new): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    if state.store.console().user(&name).await?.is_none() {
        return Err(ApiError::not_found(format!("no user {name:?}")));
    }
    let (secret, hash) = new_secret()?;
    state
        .store
        .console()
        .add_secret(&hash, &name, SecretKind::Token, new.label.trim(), None)
        .await?;
    tracing::info!(admin = %caller.name, user = %name, "API token created.");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "user": name, "token": secret })),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn secrets_come_from_bearer_or_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; gs_session=abc; b=2"));
        assert_eq!(request_secret(&headers).as_deref(), Some("abc"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer tok"));
        assert_eq!(request_secret(&headers).as_deref(), Some("tok"));
        assert_eq!(request_secret(&HeaderMap::new()), None);
    }

    #[test]
    fn new_users_are_checked() {
        assert_eq!(
            check_new_user("op1", "longenough", "operator"),
            Ok(Role::Operator)
        );
        let problems = check_new_user("bad name", "short", "boss").unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
