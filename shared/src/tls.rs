//! TLS: the HTTPS listener of a service (`POS_TLS_CERT`, `POS_TLS_KEY`).
//!
//! rustls with its ring provider, named explicitly rather than installed as the process's default.
//! PEM files are read with rustls-pki-types' own parser.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate chain and private key a service serves HTTPS with: PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate first, then any intermediates.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The HTTPS listener's configuration: the chain and key of `files`, which must belong together.
pub fn server_config(files: &TlsFiles) -> anyhow::Result<rustls::ServerConfig> {
    let chain = read_certificates(&files.cert).context("POS_TLS_CERT")?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| {
            format!(
                "POS_TLS_KEY: reading a private key from {}",
                files.key.display()
            )
        })?;
    rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("POS_TLS_CERT, POS_TLS_KEY: the key is unusable or is not the certificate's")
}

/// Every certificate of a PEM file; at least one.
fn read_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("reading certificates from {}", path.display()))?;
    if certificates.is_empty() {
        bail!("{} holds no certificate", path.display());
    }
    Ok(certificates)
}
