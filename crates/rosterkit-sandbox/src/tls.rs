//! HTTPS for the sandbox (feature `tls`): a throwaway certificate authority and a server
//! certificate for `127.0.0.1`, `::1` and `localhost`, generated at start, so clients that
//! refuse plain `http://` (Azure's SDKs with bearer tokens) can be pointed at the sandbox by
//! trusting the CA (`NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`).

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A freshly generated CA and the acceptor serving the certificate it signed.
pub(crate) struct TlsSetup {
    pub(crate) acceptor: TlsAcceptor,
    /// The CA certificate, PEM: what a client must trust.
    pub(crate) ca_pem: String,
}

fn tls_error(error: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!(
        "cannot set up the sandbox's TLS certificate: {error}"
    ))
}

/// Generates the CA and the server certificate and builds the rustls server configuration
/// (HTTP/1.1 only, announced with ALPN).
pub(crate) fn generate() -> io::Result<TlsSetup> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "rosterkit sandbox local CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().map_err(tls_error)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls_error)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned()]).map_err(tls_error)?;
    leaf_params.subject_alt_names.extend([
        SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
        SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
    ]);
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "rosterkit sandbox");
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf_key = KeyPair::generate().map_err(tls_error)?;
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .map_err(tls_error)?;

    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(tls_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsSetup {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem: ca_cert.pem(),
    })
}
