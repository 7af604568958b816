//! The console's CSRF token. Its buttons are HTML forms, and a page of any
//! origin can submit a form here too (a form POST needs no CORS preflight),
//! so every form carries this process's token in a hidden `csrf` field and
//! [`CheckedForm`] refuses a console POST without it (403) before the
//! handler sees the form.
//!
//! The token is random per process. A foreign page cannot read it: the
//! pages answer only to this server's own `Host` (`browser_guard`, which
//! also refuses a foreign `Origin`) and carry no CORS header.

use std::sync::Arc;

use axum::Form;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error_page;
use crate::cloud::Cloud;

/// The name of the hidden field (the pages render it, [`CheckedForm`] reads it).
pub const FIELD: &str = "csrf";

/// This process's token: 32 random bytes as 64 hex digits.
pub struct CsrfToken(String);

impl CsrfToken {
    /// A fresh random token.
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    /// The token, as the forms carry it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `offered` is the token. Compares every byte whatever differs,
    /// so the time taken does not say how much of a guess was right.
    pub fn matches(&self, offered: &str) -> bool {
        let (expected, offered) = (self.0.as_bytes(), offered.as_bytes());
        expected.len() == offered.len()
            && expected
                .iter()
                .zip(offered)
                .fold(0, |difference, (a, b)| difference | (a ^ b))
                == 0
    }
}

impl std::fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfToken(..)")
    }
}

/// The token field of a submitted form; absent reads as empty.
#[derive(Debug, Deserialize)]
struct TokenField {
    #[serde(default)]
    csrf: String,
}

/// A console form, extracted only when it carries the token.
pub struct CheckedForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<Cloud>> for CheckedForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, cloud: &Arc<Cloud>) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let body = Bytes::from_request(Request::from_parts(parts.clone(), body), cloud)
            .await
            .map_err(IntoResponse::into_response)?;
        // The body is read once; each reading of it is a request of its own.
        let again = || Request::from_parts(parts.clone(), Body::from(body.clone()));
        let Form(TokenField { csrf }) = Form::from_request(again(), cloud)
            .await
            .map_err(IntoResponse::into_response)?;
        if !cloud.console_csrf.matches(&csrf) {
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "Form refused",
                "The form did not carry this console's CSRF token: submit it from a page \
                 of this console (reload the page if the local cloud restarted since).",
            ));
        }
        let Form(form) = Form::from_request(again(), cloud)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self(form))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_random_hex_and_matches_only_itself() {
        let token = CsrfToken::generate();
        let text = token.as_str().to_owned();
        assert_eq!(text.len(), 64);
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
        assert_ne!(CsrfToken::generate().as_str(), text);
        assert!(token.matches(&text));
        let last_changed = format!(
            "{}{}",
            &text[..63],
            if text.ends_with('0') { '1' } else { '0' }
        );
        for other in ["", &text[..63], &format!("{text}0"), &last_changed] {
            assert!(!token.matches(other), "{other:?}");
        }
        assert_eq!(format!("{token:?}"), "CsrfToken(..)");
    }
}
