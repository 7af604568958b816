//! The one HTTP server of the local cloud, on 127.0.0.1: `/health`,
//! `/local/*`, `/console`, the Lambda Invoke API (`/2015-03-31/functions/*`),
//! the Step Functions API (`POST /` with `X-Amz-Target: AWSStepFunctions.*`)
//! and, for everything else, the HTTP API routes of the template. Every
//! request passes [`browser_guard`] first, so a web page the developer
//! visits cannot drive any of them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::browser_guard::{self, Loopback};
use crate::cloud::Cloud;
use crate::{console, http_api, lambda_api, local_api, sfn_api, traces};

/// The router.
pub fn router(cloud: Arc<Cloud>) -> Router {
    let loopback = Loopback::new(cloud.port);
    Router::new()
        .route("/health", get(local_api::health))
        .route("/local/info", get(local_api::info))
        .route("/local/token", post(local_api::token))
        .route(
            "/local/faults",
            get(local_api::list_faults)
                .post(local_api::set_fault)
                .delete(local_api::clear_faults),
        )
        .route("/local/faults/{function}", delete(local_api::clear_fault))
        .route(
            "/local/stock/{sku}",
            put(local_api::put_stock).get(local_api::get_stock),
        )
        .route(
            "/local/orders/{order_id}",
            get(local_api::get_order_records),
        )
        .route(
            "/local/executions/{name}/wait",
            get(local_api::wait_for_execution),
        )
        .route("/local/reservations", post(local_api::reserve_in_the_past))
        .route(
            "/local/task-tokens",
            post(local_api::wait_on_task_token).get(local_api::task_token_callbacks),
        )
        .route("/local/queues", get(local_api::list_queues))
        .route("/local/traces/{order_id}", get(traces::get_order_trace))
        .route("/v1/traces", post(traces::receive))
        .route(
            "/local/queues/{logical_id}/redrive",
            post(local_api::redrive_queue),
        )
        .merge(console::router())
        .merge(lambda_api::router())
        .fallback(fallback)
        // Outermost, so it also guards the fallback (Step Functions, HTTP API).
        .layer(from_fn_with_state(loopback, browser_guard::refuse_foreign))
        .with_state(cloud)
}

async fn fallback(
    State(cloud): State<Arc<Cloud>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_sfn = headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| t.starts_with(sfn_api::TARGET_PREFIX));
    if is_sfn && method == Method::POST {
        if uri.path() == crate::faults::CALLBACK_TWICE_PATH {
            return sfn_api::handle_callback_twice(cloud, &headers, &body).await;
        }
        return sfn_api::handle(cloud, &headers, &body).await;
    }
    let request = http_api::ApiRequest {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
        peer,
    };
    match http_api::handle(&cloud.routes, &cloud.functions, &cloud.tokens, request).await {
        Some(response) => response,
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Not Found"})),
        )
            .into_response(),
    }
}

/// Serves until `shutdown` turns true.
pub fn spawn(
    listener: TcpListener,
    cloud: Arc<Cloud>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let app = router(cloud).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        let stopped = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(%error, "the HTTP server stopped");
        }
    })
}
