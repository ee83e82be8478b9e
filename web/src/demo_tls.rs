//! `hoinghi demo --tls`: a throw-away local certificate authority (kept in the data
//! directory, so the machines of a LAN trial trust it once) and a fresh server
//! certificate it signs for localhost, 127.0.0.1 and the names given with `--tls-name`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{Datelike, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// The files `hoinghi demo --tls` serves with and asks people to trust.
#[derive(Debug, Clone)]
pub struct DemoTls {
    /// The CA certificate to install on the halls' machines.
    pub ca_cert: PathBuf,
    /// The server's certificate chain (leaf, then the CA).
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    /// The names the certificate is valid for.
    pub names: Vec<String>,
}

/// Sets `params`' validity from `from` to `to` days from today.
fn valid(params: &mut CertificateParams, from: i64, to: i64) {
    let at = |days| {
        let d = Utc::now() + Duration::days(days);
        // chrono's month (1–12) and day (1–31) always fit in a u8.
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    };
    params.not_before = at(from);
    params.not_after = at(to);
}

fn write(path: &Path, text: &str, private: bool) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

/// The CA of `dir` (made on first use), as an issuer and its certificate's PEM.
fn authority(dir: &Path) -> anyhow::Result<(Issuer<'static, KeyPair>, String)> {
    let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    if cert_path.exists() && key_path.exists() {
        let cert = std::fs::read_to_string(&cert_path)?;
        let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path)?)
            .with_context(|| format!("{}", key_path.display()))?;
        let issuer = Issuer::from_ca_cert_pem(&cert, key)
            .with_context(|| format!("{}", cert_path.display()))?;
        return Ok((issuer, cert));
    }
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        "Hoinghi demo CA (throw-away, one LAN trial)",
    );
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    valid(&mut params, -1, 3 * 365);
    let cert = params.self_signed(&key)?.pem();
    write(&key_path, &key.serialize_pem(), true)?;
    write(&cert_path, &cert, false)?;
    Ok((Issuer::new(params, key), cert))
}

/// Makes (or reuses) the CA in `dir` and a new server certificate for localhost,
/// 127.0.0.1, ::1 and `names` (host names or addresses).
pub fn make(dir: &Path, names: &[String]) -> anyhow::Result<DemoTls> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (issuer, ca_pem) = authority(dir)?;
    let mut all: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for name in names {
        let name = name.trim().to_string();
        if !name.is_empty() && !all.contains(&name) {
            all.push(name);
        }
    }
    // Addresses become IP SANs, names DNS SANs.
    let mut params =
        CertificateParams::new(all.clone()).map_err(|e| anyhow::anyhow!("--tls-name: {e}"))?;
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "Hoinghi demo");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    valid(&mut params, -1, 90);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    let tls = DemoTls {
        ca_cert: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        names: all,
    };
    write(&tls.key, &key.serialize_pem(), true)?;
    write(&tls.cert, &format!("{}{ca_pem}", cert.pem()), false)?;
    Ok(tls)
}

/// What the demo prints: how to make each kind of machine trust the CA.
pub fn how_to_trust(tls: &DemoTls) -> String {
    let ca = tls.ca_cert.display();
    format!(
        "HTTPS: chứng chỉ cho / certificate for {names}
Tin cậy CA thử nghiệm trên máy các điểm cầu / trust the throw-away CA on the halls' machines:
  CA: {ca}
  Linux (Chromium, Chrome):  certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n hoinghi-demo -i {ca}
  Linux (system, Firefox uses its own store): cp {ca} /usr/local/share/ca-certificates/hoinghi-demo.crt && update-ca-certificates
  Windows (admin):           certutil -addstore -f Root hoinghi-demo.crt   (copy {ca} as .crt)
  macOS:                     sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {ca}
  Firefox:                   Settings → Privacy & Security → Certificates → Import {ca}
  Android:                   Settings → Security → Encryption & credentials → Install a certificate → CA
Xóa CA này khi thử xong / remove it when the trial is over (its key is in {dir}).",
        names = tls.names.join(", "),
        dir = tls.ca_cert.parent().map(|p| p.display().to_string()).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::tls::Certificate;
    use crate::settings::TlsFiles;

    #[test]
    fn the_demo_certificate_is_signed_by_a_ca_kept_for_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let first = make(dir.path(), &["192.0.2.10".into(), "hop.local".into()]).unwrap();
        assert!(first.names.contains(&"192.0.2.10".to_string()));
        let files = TlsFiles {
            cert: first.cert.clone(),
            key: first.key.clone(),
        };
        Certificate::load(files).expect("the server loads what the demo made");
        let ca = std::fs::read_to_string(&first.ca_cert).unwrap();
        let again = make(dir.path(), &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&again.ca_cert).unwrap(),
            ca,
            "the CA is kept"
        );
        assert!(
            std::fs::read_to_string(&again.cert).unwrap().ends_with(&ca),
            "chain ends with it"
        );
        assert!(how_to_trust(&again).contains("certutil"));
    }
}
