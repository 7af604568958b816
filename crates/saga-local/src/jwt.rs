//! The HTTP API's JWT check, done as API Gateway's JWT authorizer does it
//! (signature, `exp`, `nbf`, `iss`, `aud`; anything wrong is a 401), and the
//! dev tokens `POST /local/token` issues.
//!
//! LOCAL ONLY: tokens are HS256, signed with a random key generated when the
//! local cloud starts and never written anywhere, so they stop working when
//! it restarts. A deployed API trusts the identity provider's keys instead.
//!
//! Parsing, the algorithm check and the signature are the `jsonwebtoken`
//! crate's (which also reads RS256 keys from a JWKS, as the deployed
//! authorizer does); the claims are checked here against an explicit `now`,
//! so tests choose the instant and the rules are API Gateway's (`client_id`
//! stands in for a missing `aud`).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

/// Why a token is refused (the reason goes to the log, the caller gets 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// No `Authorization` header, or not a bearer token.
    #[error("no bearer token")]
    Missing,
    /// Not three base64url parts of JSON.
    #[error("malformed token")]
    Malformed,
    /// `alg` is not HS256.
    #[error("unsupported alg {0:?}")]
    Algorithm(String),
    /// The signature does not match.
    #[error("bad signature")]
    Signature,
    /// `exp` is missing or past.
    #[error("expired or without exp")]
    Expired,
    /// `nbf` is in the future.
    #[error("not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("issuer {0:?} is not accepted")]
    Issuer(String),
    /// No `aud` value is accepted.
    #[error("no accepted audience")]
    Audience,
}

/// The signing key and what tokens must say.
#[derive(Clone)]
pub struct DevTokens {
    key: [u8; 32],
    /// Accepted `iss`.
    pub issuer: String,
    /// Accepted `aud` values; the first goes into issued tokens.
    pub audiences: Vec<String>,
}

impl std::fmt::Debug for DevTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevTokens")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

impl DevTokens {
    /// Tokens signed by a fresh random key.
    pub fn generate(issuer: &str, audiences: &[String]) -> Self {
        Self {
            key: rand::random(),
            issuer: issuer.to_owned(),
            audiences: audiences.to_vec(),
        }
    }

    /// A token for `sub`, valid for `lifetime_seconds` from `now`.
    pub fn issue(
        &self,
        sub: &str,
        now: DateTime<Utc>,
        lifetime_seconds: i64,
    ) -> Result<String, JwtError> {
        let claims = json!({
            "sub": sub,
            "iss": self.issuer,
            "aud": self.audiences.first().cloned().unwrap_or_default(),
            "iat": now.timestamp(),
            "exp": now.timestamp() + lifetime_seconds,
            "token_use": "access",
        });
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.key),
        )
        // Encoding a JSON object with an HMAC key cannot fail in practice.
        .map_err(|_| JwtError::Signature)
    }

    /// Checks an `Authorization` header value and returns the claims.
    pub fn verify_header(
        &self,
        authorization: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Map<String, Value>, JwtError> {
        let value = authorization.ok_or(JwtError::Missing)?.trim();
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value);
        self.verify(token.trim(), now)
    }

    /// Checks a token and returns its claims.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Map<String, Value>, JwtError> {
        let claims = self.signed_claims(token)?;
        let now_seconds = now.timestamp();
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp > now_seconds => {}
            _ => return Err(JwtError::Expired),
        }
        if claims
            .get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|nbf| nbf > now_seconds)
        {
            return Err(JwtError::NotYetValid);
        }
        let issuer = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if issuer != self.issuer {
            return Err(JwtError::Issuer(issuer.to_owned()));
        }
        let accepted = |aud: &Value| {
            aud.as_str()
                .is_some_and(|a| self.audiences.iter().any(|x| x == a))
        };
        let audience_ok = match claims.get("aud") {
            Some(Value::Array(values)) => values.iter().any(accepted),
            Some(value) => accepted(value),
            // API Gateway also accepts client_id in place of aud (Cognito access tokens).
            None => claims.get("client_id").is_some_and(accepted),
        };
        if !audience_ok {
            return Err(JwtError::Audience);
        }
        Ok(claims)
    }

    /// The claims of a well-formed HS256 token signed with this key; no
    /// claim is checked yet (the crate's own time checks read the system
    /// clock, and [`DevTokens::verify`] takes `now`).
    fn signed_claims(&self, token: &str) -> Result<Map<String, Value>, JwtError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let decoded = jsonwebtoken::decode::<Map<String, Value>>(
            token,
            &DecodingKey::from_secret(&self.key),
            &validation,
        );
        match decoded {
            Ok(data) => Ok(data.claims),
            Err(error) => Err(match error.kind() {
                ErrorKind::InvalidSignature => JwtError::Signature,
                ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
                    let alg = jsonwebtoken::decode_header(token)
                        .map(|header| format!("{:?}", header.alg))
                        .unwrap_or_default();
                    JwtError::Algorithm(alg)
                }
                _ => JwtError::Malformed,
            }),
        }
    }
}

/// The claims as API Gateway passes them to the function: every value a string.
pub fn claims_as_strings(claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Array(items) => format!(
                    "[{}]",
                    items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                other => other.to_string(),
            };
            (k.clone(), Value::String(text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn tokens_verify_only_when_everything_matches() {
        let tokens = DevTokens::generate("saga-local", &["orders".to_owned()]);
        let good = tokens.issue("user-1", now(), 3600).unwrap();
        assert_eq!(tokens.verify(&good, now()).unwrap()["sub"], "user-1");
        let other_key = DevTokens::generate("saga-local", &["orders".to_owned()])
            .issue("user-1", now(), 3600)
            .unwrap();
        let other_issuer = DevTokens {
            issuer: "else".into(),
            ..tokens.clone()
        }
        .issue("u", now(), 3600)
        .unwrap();
        let other_audience = DevTokens {
            audiences: vec!["x".into()],
            ..tokens.clone()
        }
        .issue("u", now(), 3600)
        .unwrap();
        let mut tampered = good.clone();
        tampered.insert(good.find('.').unwrap() + 2, 'A');
        let cases = [
            (other_key, JwtError::Signature),
            (tokens.issue("u", now(), -1).unwrap(), JwtError::Expired),
            (other_issuer, JwtError::Issuer("else".into())),
            (other_audience, JwtError::Audience),
            ("a.b".to_owned(), JwtError::Malformed),
        ];
        for (token, expected) in cases {
            assert_eq!(tokens.verify(&token, now()), Err(expected), "{token}");
        }
        assert!(tokens.verify(&tampered, now()).is_err());
        let other_algorithm = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &json!({"sub": "u", "iss": "saga-local", "aud": "orders", "exp": now().timestamp() + 60}),
            &EncodingKey::from_secret(&tokens.key),
        )
        .unwrap();
        assert_eq!(
            tokens.verify(&other_algorithm, now()),
            Err(JwtError::Algorithm("HS512".into()))
        );
        assert_eq!(tokens.verify_header(None, now()), Err(JwtError::Missing));
        assert!(
            tokens
                .verify_header(Some(&format!("Bearer {good}")), now())
                .is_ok()
        );
    }

    #[test]
    fn claims_reach_the_function_as_strings() {
        let claims = json!({"sub": "u", "exp": 5, "scope": ["a", "b"]});
        let strings = claims_as_strings(claims.as_object().unwrap());
        assert_eq!(
            Value::Object(strings),
            json!({"sub": "u", "exp": "5", "scope": "[a b]"})
        );
    }
}
