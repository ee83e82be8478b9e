//! HTTPS: the certificate and key from PEM files (settings `tls_cert_file`,
//! `tls_key_file`), re-read when they change so a renewed certificate is served to new
//! connections without a restart; a broken renewal is logged and the old one kept.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use crate::settings::TlsFiles;

/// The ring provider: the one rustls already builds with in this workspace.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The files' bytes as last read.
type Seen = (Vec<u8>, Vec<u8>);

/// The certificate served to new connections, swapped when the files change.
#[derive(Debug)]
pub struct Certificate {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    seen: RwLock<Seen>,
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn read(files: &TlsFiles) -> Result<Seen, String> {
    let cert = std::fs::read(&files.cert)
        .map_err(|e| format!("tls_cert_file {}: {e}", files.cert.display()))?;
    let key = std::fs::read(&files.key)
        .map_err(|e| format!("tls_key_file {}: {e}", files.key.display()))?;
    Ok((cert, key))
}

fn parse(files: &TlsFiles, (cert, key): &Seen) -> Result<Arc<CertifiedKey>, String> {
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls_cert_file {}: {e}", files.cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "tls_cert_file {}: no PEM certificate in it",
            files.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| format!("tls_key_file {}: {e}", files.key.display()))?;
    let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| {
        format!(
            "tls_key_file {} does not fit tls_cert_file {}: {e}",
            files.key.display(),
            files.cert.display()
        )
    })?;
    Ok(Arc::new(certified))
}

impl Certificate {
    /// Reads the files now; an error names the setting and the file.
    pub fn load(files: TlsFiles) -> Result<Arc<Certificate>, String> {
        let seen = read(&files)?;
        let current = parse(&files, &seen)?;
        Ok(Arc::new(Certificate {
            files,
            current: RwLock::new(current),
            seen: RwLock::new(seen),
        }))
    }

    /// Re-reads the files; a change (one not tried before) is parsed and, when whole,
    /// served from now on. Returns whether the certificate was replaced.
    pub fn reload(&self) -> bool {
        let Ok(now) = read(&self.files) else {
            // A file being replaced may be missing for a moment: try at the next tick.
            return false;
        };
        {
            let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
            if *seen == now {
                return false;
            }
            *seen = now.clone();
        }
        match parse(&self.files, &now) {
            Ok(fresh) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
                tracing::info!(file = %self.files.cert.display(), "TLS certificate reloaded");
                true
            }
            Err(e) => {
                // Often the key written a moment after the certificate: the next change
                // is tried again.
                tracing::warn!("TLS certificate not reloaded, the previous one stays: {e}");
                false
            }
        }
    }

    /// Checks the files every `every` for as long as the task runs.
    pub fn watch(self: Arc<Certificate>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let this = self.clone();
                // Small files, but still blocking reads.
                let _ = tokio::task::spawn_blocking(move || this.reload()).await;
            }
        })
    }

    /// The TLS side of the listener over this certificate (HTTP/1.1).
    pub fn acceptor(self: &Arc<Certificate>) -> Result<TlsAcceptor, String> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}
