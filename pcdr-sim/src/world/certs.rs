//! The world's certificates: a certificate authority of its own and, for each instance,
//! a server certificate it issued for the instance's host names, as an administrator
//! gives each SQL Server a certificate issued for its name ("Certificate requirements
//! for SQL Server",
//! <https://learn.microsoft.com/en-us/sql/database-engine/configure-windows/certificate-requirements>:
//! server authentication usage, the server's name in the subject or the subject
//! alternative names). One deviation: that page asks for an RSA key (KeySpec
//! AT_KEYEXCHANGE); the world's keys are ECDSA P-256, which rcgen makes with *ring* and
//! which tiberius (OpenSSL, Schannel), FreeTDS (GnuTLS) and pymssql all accept.
//!
//! [`CertificateAuthority`] is public so that tests can make another authority, or a
//! certificate for another name, and serve it. The world keeps the files in `DIR/tls/`:
//! `ca.pem` (the authority's certificate, which the world's topology trusts), and
//! `<instance>.pem` and `<instance>.key` (owner-only) for each instance. The authority's
//! private key is never written: nothing is issued after the world is created.

use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::tds::ServerCertificate;
use crate::world::model::InstanceId;
use crate::world::{World, WorldError, WorldResult};

/// A certificate authority that issues server certificates.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertificateAuthority")
    }
}

/// A server certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

impl IssuedCertificate {
    /// The certificate as a TDS server serves it.
    pub fn server_certificate(&self) -> std::io::Result<ServerCertificate> {
        ServerCertificate::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
    }
}

impl CertificateAuthority {
    /// A new authority named `name`, with a fresh key.
    pub fn new(name: &str) -> Result<Self, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate()?;
        let pem = params.self_signed(&key)?.pem();
        Ok(Self {
            issuer: Issuer::new(params, key),
            pem,
        })
    }

    /// The authority's certificate, PEM: what a client trusts.
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for `names` (host names, or IP addresses, which become IP
    /// address entries), the first one also its common name.
    pub fn issue(&self, names: &[&str]) -> Result<IssuedCertificate, rcgen::Error> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        // The key is ECDSA P-256 (ring cannot make RSA keys): digital signature only,
        // as RFC 5480 section 3 has it for EC keys.
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// The names in an instance's certificate: its loopback address, the address the
/// topology connects to; its FQDN (`sql-dal.contoso.test`), as a real server's
/// certificate names it; and its server name in lower case (`sqlpc-dal`). A topology
/// can expect either name instead of the address (`host_in_certificate`).
pub fn instance_names(instance: InstanceId) -> [String; 3] {
    [
        instance.host().to_owned(),
        instance.fqdn().to_owned(),
        instance.server_name().to_ascii_lowercase(),
    ]
}

impl World {
    /// The folder of the world's certificates.
    fn tls_dir(&self) -> PathBuf {
        self.dir().join("tls")
    }

    /// The world's certificate authority, which the world's topology trusts.
    pub fn ca_file(&self) -> PathBuf {
        self.tls_dir().join("ca.pem")
    }

    /// The certificate and key files of `instance`.
    fn certificate_files(&self, instance: InstanceId) -> (PathBuf, PathBuf) {
        let dir = self.tls_dir();
        (
            dir.join(format!("{}.pem", instance.name())),
            dir.join(format!("{}.key", instance.name())),
        )
    }

    /// Makes the world's authority and issues each instance its certificate.
    pub(crate) fn write_certificates(&self) -> WorldResult<()> {
        std::fs::create_dir_all(self.tls_dir())?;
        let authority =
            CertificateAuthority::new("pcdr-sim world CA").map_err(certificate_error)?;
        std::fs::write(self.ca_file(), authority.cert_pem())?;
        for instance in InstanceId::ALL {
            let names = instance_names(instance);
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let issued = authority.issue(&names).map_err(certificate_error)?;
            let (cert, key) = self.certificate_files(instance);
            std::fs::write(cert, &issued.cert_pem)?;
            write_private(&key, &issued.key_pem)?;
        }
        Ok(())
    }

    /// The certificate `instance` serves.
    pub fn server_certificate(&self, instance: InstanceId) -> WorldResult<ServerCertificate> {
        let (cert, key) = self.certificate_files(instance);
        let read = |path: &Path| {
            std::fs::read(path).map_err(|error| {
                WorldError::Certificates(format!(
                    "cannot read {} ({error}); a world made before worlds had certificates \
                     must be created anew",
                    path.display()
                ))
            })
        };
        ServerCertificate::from_pem(&read(&cert)?, &read(&key)?)
            .map_err(|error| WorldError::Certificates(format!("{}: {error}", cert.display())))
    }
}

fn write_private(path: &Path, text: &str) -> WorldResult<()> {
    let mut file = pcdr_core::private_file::create(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

fn certificate_error(error: rcgen::Error) -> WorldError {
    WorldError::Certificates(format!("cannot make them: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldOptions;

    #[test]
    fn a_world_has_an_authority_and_a_certificate_per_instance() {
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        let ca = std::fs::read_to_string(world.ca_file()).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
        for instance in InstanceId::ALL {
            world.server_certificate(instance).unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let (_, key) = world.certificate_files(InstanceId::Backup);
            let mode = std::fs::metadata(key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn an_instance_certificate_names_its_address_fqdn_and_server_name() {
        assert_eq!(
            instance_names(InstanceId::Backup),
            [
                "127.0.0.3".to_owned(),
                "sql-dal.contoso.test".to_owned(),
                "sqlpc-dal".to_owned()
            ]
        );
    }
}
