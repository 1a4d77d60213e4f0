//! TLS both ways: the HTTPS listener of a service (`POS_TLS_CERT`, `POS_TLS_KEY`) and the TLS of its
//! PostgreSQL connections (`sslmode` and `sslrootcert` of a database URL, read as libpq reads them).
//!
//! rustls with its ring provider, named explicitly rather than installed as the process's default.
//! PEM files are read with rustls-pki-types' own parser.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

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

/// `sslmode` as libpq has it (but `allow`, which tries plain text first: not worth its surprises).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, plain text otherwise; the certificate is not checked.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked.
    Require,
    /// TLS with a certificate issued by a trusted CA (`sslrootcert`), for whatever host.
    VerifyCa,
    /// TLS with a certificate issued by a trusted CA for the host connected to.
    VerifyFull,
}

impl std::str::FromStr for SslMode {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        Ok(match text {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => bail!(
                "sslmode={other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            ),
        })
    }
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres does with the connection (it knows no verification levels: the connector
    /// checks the certificate).
    fn negotiation(self) -> tokio_postgres::config::SslMode {
        match self {
            Self::Disable => tokio_postgres::config::SslMode::Disable,
            Self::Prefer => tokio_postgres::config::SslMode::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        }
    }
}

/// The TLS settings of a database connection: its `sslmode`, and the CA certificates (`sslrootcert`, a
/// PEM file) a server's certificate is checked against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgTlsSettings {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
}

impl PgTlsSettings {
    /// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL's query (tokio-postgres does not
    /// know `verify-ca`, `verify-full` nor `sslrootcert`); the URL without them comes back. A
    /// `key=value` connection string is left as it is (tokio-postgres reads its `sslmode`).
    pub fn take_from_url(url: &str) -> anyhow::Result<(String, Option<Self>)> {
        let Some(rest) = ["postgres://", "postgresql://"]
            .iter()
            .find_map(|prefix| url.strip_prefix(prefix))
        else {
            return Ok((url.to_owned(), None));
        };
        // As tokio-postgres reads a URL: credentials up to the first '@', then the query after '?'.
        let start = url.len() - rest.len() + rest.find('@').map_or(0, |at| at + 1);
        let Some(query_at) = url[start..].find('?').map(|q| start + q) else {
            return Ok((url.to_owned(), None));
        };
        let mut settings = Self::default();
        let mut found = false;
        let mut kept = Vec::new();
        for pair in url[query_at + 1..].split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = || {
                percent_encoding::percent_decode_str(value)
                    .decode_utf8()
                    .map(|v| v.into_owned())
                    .map_err(|_| anyhow!("the database URL's {key} is not UTF-8"))
            };
            match key {
                "sslmode" => {
                    settings.mode = decoded()?.parse()?;
                    found = true;
                }
                "sslrootcert" => {
                    settings.root_cert = Some(PathBuf::from(decoded()?));
                    found = true;
                }
                _ => kept.push(pair),
            }
        }
        let mut stripped = url[..query_at].to_owned();
        if !kept.is_empty() {
            stripped.push('?');
            stripped.push_str(&kept.join("&"));
        }
        Ok((stripped, found.then_some(settings)))
    }

    /// Sets `config`'s negotiation from these settings and builds the connector that checks what they
    /// ask. A CA file makes `prefer` and `require` check the certificate's issuer too (as libpq does);
    /// `verify-ca` and `verify-full` without one read `~/.postgresql/root.crt` (libpq's default).
    pub fn connector(&self, config: &mut tokio_postgres::Config) -> anyhow::Result<PgTls> {
        config.ssl_mode(self.mode.negotiation());
        let provider = provider();
        let root_file = match (&self.root_cert, self.mode) {
            (Some(path), _) => Some(path.clone()),
            (None, SslMode::VerifyCa | SslMode::VerifyFull) => Some(
                std::env::var_os("HOME")
                    .map(|home| Path::new(&home).join(".postgresql/root.crt"))
                    .context("sslmode=verify-ca or verify-full needs sslrootcert (a PEM file of the CA certificates)")?,
            ),
            (None, _) => None,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match root_file {
            None => Arc::new(AnyCertificate(provider.clone())),
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for certificate in read_certificates(&path).context(
                    "sslrootcert: the CA certificates a database server is checked against",
                )? {
                    roots.add(certificate).with_context(|| {
                        format!(
                            "sslrootcert: {} holds an unusable CA certificate",
                            path.display()
                        )
                    })?;
                }
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .context("building the database server's certificate check")?;
                if self.mode == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(AnyHostName(webpki))
                }
            }
        };
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("choosing TLS versions")?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(PgTls(tokio_postgres_rustls::MakeRustlsConnect::new(client)))
    }
}

/// What a database connection negotiates TLS with (used whatever the `sslmode`: with `disable`
/// tokio-postgres never calls it).
#[derive(Clone)]
pub struct PgTls(tokio_postgres_rustls::MakeRustlsConnect);

impl std::fmt::Debug for PgTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgTls")
    }
}

impl PgTls {
    pub fn make(&self) -> tokio_postgres_rustls::MakeRustlsConnect {
        self.0.clone()
    }
}

/// `prefer` and `require` without a CA file: encrypted, but any certificate is taken (libpq's
/// behaviour). The handshake's signatures are still checked: the server holds the certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted CA; the name it was issued for is not looked at. (The
/// WebPKI check tests the chain first and the name last, so a name mismatch means the chain passed.)
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_leave_the_url_and_the_rest_stays() {
        let (url, settings) = PgTlsSettings::take_from_url(
            "postgres://u:p%3Fw@h:5432/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(url, "postgres://u:p%3Fw@h:5432/db?application_name=x");
        assert_eq!(
            settings,
            Some(PgTlsSettings {
                mode: SslMode::VerifyFull,
                root_cert: Some(PathBuf::from("/etc/ca.pem")),
            })
        );
        let (url, settings) =
            PgTlsSettings::take_from_url("postgresql://u@h/db?sslmode=disable").unwrap();
        assert_eq!(
            (url.as_str(), settings.map(|s| s.mode)),
            ("postgresql://u@h/db", Some(SslMode::Disable))
        );
        let plain = "postgres://u:p@h/db";
        assert_eq!(
            PgTlsSettings::take_from_url(plain).unwrap(),
            (plain.to_owned(), None)
        );
        let keywords = "host=h user=u sslmode=require";
        assert_eq!(
            PgTlsSettings::take_from_url(keywords).unwrap(),
            (keywords.to_owned(), None)
        );
        let err = PgTlsSettings::take_from_url("postgres://u:secret@h/db?sslmode=allow")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sslmode=\"allow\""), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn verification_needs_a_readable_ca_file() {
        let settings = PgTlsSettings {
            mode: SslMode::VerifyFull,
            root_cert: Some(PathBuf::from("/nonexistent/ca.pem")),
        };
        let mut config = tokio_postgres::Config::new();
        let err = format!("{:#}", settings.connector(&mut config).unwrap_err());
        assert!(
            err.contains("sslrootcert") && err.contains("/nonexistent/ca.pem"),
            "{err}"
        );
    }
}
