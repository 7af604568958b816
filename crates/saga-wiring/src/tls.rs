//! The HTTPS client every SDK client of a function shares, trusting the
//! roots compiled into the binary instead of the OS store.
//!
//! The SDK's default client reads every certificate in the OS store when the
//! first SDK client is built: on Amazon Linux, as on the Debian machine
//! where issue #15 measured it, about 150 files and 4 ms of a 7 ms cold
//! start. A function only ever talks to AWS endpoints (Stripe has its own
//! client, with Mozilla's roots compiled in), and AWS serves its endpoints
//! with certificates from Amazon Trust Services: Amazon Root CA 1 to 4 and
//! Starfield Services Root Certificate Authority - G2, the five roots in
//! `certs/amazon-trust-services.pem`, valid until 2037 and 2038.
//!
//! `AWS_CA_BUNDLE`, the SDKs' standard variable, adds the certificates of a
//! PEM file (a TLS-inspecting proxy, an emulator served over HTTPS). A
//! bundle that cannot be read or holds no valid certificate fails the cold
//! start with the variable's name: the SDK would otherwise panic on the
//! first call.

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

/// Amazon Trust Services' five roots, in PEM.
pub const AWS_ROOTS_PEM: &str = include_str!("../certs/amazon-trust-services.pem");

/// Why the extra bundle cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The file cannot be read.
    #[error("AWS_CA_BUNDLE {path}: {reason}")]
    Unreadable {
        /// The variable's value.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// Not PEM, no certificate, or a certificate that is not a valid root.
    #[error("AWS_CA_BUNDLE {path}: {reason}")]
    Invalid {
        /// The variable's value.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The trust store: the compiled-in AWS roots plus `extra`, each PEM bundle
/// checked to parse into at least one trust anchor. No native roots.
pub fn trust_store(extra: Option<(&str, &[u8])>) -> Result<TrustStore, BundleError> {
    let mut store = TrustStore::empty().with_native_roots(false);
    store.add_pem_certificate(AWS_ROOTS_PEM.as_bytes());
    if let Some((path, pem)) = extra {
        let invalid = |reason: String| BundleError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let certificates = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| invalid(format!("not a PEM certificate bundle ({error})")))?;
        if certificates.is_empty() {
            return Err(invalid("no certificate in it".to_owned()));
        }
        let mut roots = rustls::RootCertStore::empty();
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|error| invalid(format!("a certificate is not a valid root ({error})")))?;
        }
        store.add_pem_certificate(pem.to_vec());
    }
    Ok(store)
}

/// The HTTPS client for the SDK: rustls with aws-lc-rs (the SDK's default
/// provider) over the trust store `bundle` gives (see [`trust_store`]);
/// `bundle` is `AWS_CA_BUNDLE`'s value, read here.
pub fn https_client(bundle: Option<&str>) -> Result<SharedHttpClient, BundleError> {
    let extra = match bundle {
        Some(path) => Some((
            path,
            std::fs::read(path).map_err(|error| BundleError::Unreadable {
                path: path.to_owned(),
                reason: error.to_string(),
            })?,
        )),
        None => None,
    };
    let store = trust_store(extra.as_ref().map(|(path, pem)| (*path, pem.as_slice())))?;
    let context = TlsContext::builder()
        .with_trust_store(store)
        .build()
        .map_err(|error| BundleError::Invalid {
            path: bundle.unwrap_or_default().to_owned(),
            reason: error.to_string(),
        })?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subjects(pem: &[u8]) -> Vec<String> {
        CertificateDer::pem_slice_iter(pem)
            .map(|certificate| {
                let certificate = certificate.expect("PEM");
                // The subject's common name, as printable bytes of the DER:
                // enough to tell the five roots apart without an X.509 parser.
                String::from_utf8_lossy(certificate.as_ref()).into_owned()
            })
            .collect()
    }

    #[test]
    fn the_compiled_in_roots_are_amazon_trust_services_five() {
        let certificates = subjects(AWS_ROOTS_PEM.as_bytes());
        assert_eq!(certificates.len(), 5);
        for (certificate, name) in certificates.iter().zip([
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ]) {
            assert!(certificate.contains(name), "expected {name}");
        }
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(AWS_ROOTS_PEM.as_bytes()) {
            roots.add(certificate.expect("PEM")).expect("a valid root");
        }
        assert_eq!(roots.len(), 5);
    }

    #[test]
    fn a_bundle_that_is_not_pem_certificates_is_refused_with_the_variable() {
        for (pem, expected) in [
            (&b"hello"[..], "no certificate in it"),
            (
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "not a valid root",
            ),
        ] {
            let error = trust_store(Some(("/etc/bundle.pem", pem))).expect_err("refused");
            let message = error.to_string();
            assert!(
                message.starts_with("AWS_CA_BUNDLE /etc/bundle.pem: "),
                "{message}"
            );
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn an_unreadable_bundle_is_refused_with_the_variable() {
        let error = https_client(Some("/nonexistent/bundle.pem")).expect_err("refused");
        assert!(matches!(error, BundleError::Unreadable { .. }), "{error}");
        assert!(error.to_string().contains("/nonexistent/bundle.pem"));
    }

    #[test]
    fn a_valid_bundle_is_added_to_the_roots() {
        let bundle = AWS_ROOTS_PEM.as_bytes();
        assert!(trust_store(Some(("roots.pem", bundle))).is_ok());
        assert!(https_client(None).is_ok());
    }
}
