//! The console (placeholder until the full console lands).

use std::sync::Arc;

use axum::Router;

use crate::cloud::Cloud;

/// The console's routes.
pub fn router() -> Router<Arc<Cloud>> {
    Router::new()
}
