//! The functions' HTTPS client over a real TLS handshake: it trusts only
//! the roots it is given (Amazon's, compiled in, plus `AWS_CA_BUNDLE`'s),
//! and verifies the server's certificate against them.
//!
//! The server is a local TLS endpoint that answers DynamoDB's `ListTables`;
//! its certificate (`fixtures/localhost.pem`, for `localhost` only) is signed by
//! `fixtures/test-ca.pem`. Both are valid from 2000 to 9999, so the test
//! does not depend on today's date.

use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// A TLS server on 127.0.0.1 answering every request with an empty
/// `ListTables` result; its port.
async fn dynamodb_over_tls() -> u16 {
    let chain = CertificateDer::pem_file_iter(fixture("localhost.pem"))
        .expect("the leaf fixture")
        .collect::<Result<Vec<_>, _>>()
        .expect("PEM");
    let key = PrivateKeyDer::from_pem_file(fixture("localhost.key")).expect("the key fixture");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("the server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake.
                let Ok(mut stream) = acceptor.accept(socket).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0_u8; 4096];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let body = r#"{"TableNames":[]}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

async fn list_tables(bundle: Option<&str>, port: u16) -> Result<(), String> {
    list_tables_at(bundle, &format!("https://localhost:{port}")).await
}

async fn list_tables_at(bundle: Option<&str>, endpoint: &str) -> Result<(), String> {
    let https = saga_wiring::tls::https_client(bundle).map_err(|error| error.to_string())?;
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(endpoint)
        .http_client(https)
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
        .list_tables()
        .send()
        .await
        .map(|_| ())
        .map_err(|error| format!("{:?}", aws_sdk_dynamodb::error::DisplayErrorContext(error)))
}

#[tokio::test]
async fn a_server_whose_root_is_not_compiled_in_is_refused() {
    let port = dynamodb_over_tls().await;
    let error = list_tables(None, port).await.expect_err("refused");
    assert!(
        error.contains("UnknownIssuer") || error.contains("invalid peer certificate"),
        "{error}"
    );
}

#[tokio::test]
async fn aws_ca_bundle_adds_its_roots() {
    let port = dynamodb_over_tls().await;
    let bundle = fixture("test-ca.pem");
    list_tables(Some(bundle.to_str().expect("a UTF-8 path")), port)
        .await
        .expect("the bundle's root is trusted");
}

#[tokio::test]
async fn the_certificate_is_checked_against_the_name() {
    // The certificate names localhost only: the same server reached as
    // 127.0.0.1 is refused even though its root is trusted.
    let port = dynamodb_over_tls().await;
    let bundle = fixture("test-ca.pem");
    let error = list_tables_at(
        Some(bundle.to_str().expect("a UTF-8 path")),
        &format!("https://127.0.0.1:{port}"),
    )
    .await
    .expect_err("refused");
    assert!(error.contains("NotValidForName"), "{error}");
}
