//! What every run prepares before any poort starts: keys from `poort dev-certs`, the peers'
//! metadata (and with `--protocol artifact` their ArtifactResolutionServices), and the target
//! the load is aimed at.

use crate::artifact::{
    artifact_peers, tls_material, write_artifact_metadata, ArtifactPeers, BackChannelMode,
};
use crate::login::{Peers, Target};
use crate::{Args, Error, Protocol, AD_URL, DV_URL, FRAMEWORK, IDP_ENTITY_ID};
use poort::demo::dv::DemoDv;
use poort::demo::{PeerKeys, DEMO_DV_ENTITY_ID};
use poort::keys::SigningKey;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

pub struct Setup {
    pub certs: PathBuf,
    /// poort's signing key (for the crypto floor and the checks of its answers).
    pub poort_key: SigningKey,
    pub artifact: Option<ArtifactPeers>,
    peers: Arc<Peers>,
    dv_encryption: Vec<u8>,
}

fn key(certs: &Path, name: &str) -> Result<SigningKey, Error> {
    Ok(SigningKey::load(
        &certs.join(format!("{name}.key")),
        &certs.join(format!("{name}.crt")),
    )?)
}

impl Setup {
    /// Keys in `dir/certs`, metadata in `dir/sp` and `dir/idp` (shared by all poorts of the
    /// run), and the artifact peers' services when the protocol wants them.
    pub async fn prepare(a: &Args, dir: &Path) -> Result<Setup, Error> {
        let certs = dir.join("certs");
        let made = Command::new(&a.poort)
            .arg("dev-certs")
            .arg("--dir")
            .arg(&certs)
            .stdout(Stdio::null())
            .status()?;
        if !made.success() {
            return Err("poort dev-certs failed".into());
        }
        std::fs::create_dir_all(dir.join("sp"))?;
        std::fs::create_dir_all(dir.join("idp"))?;
        let poort_key = key(&certs, "poort-signing")?;
        let artifact = if a.protocol == Protocol::Artifact {
            let tls = match a.backchannel {
                BackChannelMode::Http => None,
                mode => Some((
                    tls_material(&dir.join("tls"), mode != BackChannelMode::TlsFull)?,
                    mode != BackChannelMode::Tls,
                )),
            };
            let ap = artifact_peers(
                key(&certs, "demo-dv-signing")?,
                key(&certs, "dev-ad-signing")?,
                &poort_key.cert_der,
                tls,
            )
            .await?;
            let pem = std::fs::read(certs.join("demo-dv-encryption.crt"))?;
            write_artifact_metadata(
                &dir.join("sp"),
                &dir.join("idp"),
                &ap,
                &key(&certs, "demo-dv-signing")?.cert_der,
                &openssl::x509::X509::from_pem(&pem)?.to_der()?,
                &key(&certs, "dev-ad-signing")?.cert_der,
            )?;
            Some(ap)
        } else {
            poort::demo::metadata::write_demo_metadata(
                &certs,
                &dir.join("sp"),
                &dir.join("idp"),
                DV_URL,
                AD_URL,
            )?;
            None
        };
        let dv_encryption = std::fs::read(certs.join("demo-dv-encryption.key"))?;
        let peers = Arc::new(Peers {
            dv_key: key(&certs, "demo-dv-signing")?,
            ad_key: key(&certs, "dev-ad-signing")?,
            poort_keys: PeerKeys {
                entity_id: Some(IDP_ENTITY_ID.to_string()),
                signing_certs: vec![poort_key.cert_der.clone()],
                ..PeerKeys::default()
            },
        });
        Ok(Setup {
            certs,
            poort_key,
            artifact,
            peers,
            dv_encryption,
        })
    }

    /// The load's target: poort at its public address `public`, requests sent to `replicas`
    /// (their own addresses; one replica: `public` itself).
    pub fn target(
        &self,
        a: &Args,
        public: &str,
        replicas: Vec<String>,
    ) -> Result<Arc<Target>, Error> {
        // The DV's Response check wants its ACS (Destination) at `{base}/acs`.
        let dv_base = match &self.artifact {
            Some(ap) => ap.dv_acs.trim_end_matches("/acs").to_string(),
            None => DV_URL.to_string(),
        };
        let dv = DemoDv::new(
            DEMO_DV_ENTITY_ID,
            dv_base,
            public.to_string(),
            key(&self.certs, "demo-dv-signing")?,
            openssl::pkey::PKey::private_key_from_pem(&self.dv_encryption)?,
            Some(self.poort_key.cert_der.clone()),
        )
        .with_poort_entity_id(IDP_ENTITY_ID);
        let versioned = |path: &str| match &self.artifact {
            Some(_) => format!("{public}{path}/{FRAMEWORK}"),
            None => format!("{public}{path}"),
        };
        Ok(Arc::new(Target {
            peers: self.peers.clone(),
            dv,
            sso: versioned("/saml/sso"),
            acs: versioned("/saml/acs"),
            base: public.to_string(),
            sent: replicas.iter().map(|_| AtomicU64::new(0)).collect(),
            replicas,
            protocol: a.protocol,
            keep_alive: a.keep_alive(),
            ad_sso: self
                .artifact
                .as_ref()
                .map_or(AD_URL.to_string(), |ap| ap.ad_sso.clone()),
            artifact: self.artifact.as_ref().map(|ap| {
                Arc::new(ArtifactPeers {
                    poort_ars: versioned("/saml/artifact"),
                    ..ap.clone()
                })
            }),
            oidc_keys: poort::oidc::ProviderKeys::load(&self.certs.join("oidc"), false).ok(),
        }))
    }

    /// The run's first line: what is measured and how.
    pub fn banner(a: &Args, cores: usize) {
        println!(
            "loadgen: {} logins | poort {} | {} cores | concurrency {} | connections {}{} | log \
             filter {}",
            match a.protocol {
                Protocol::Oidc => "OpenID Connect (code flow + PKCE + token request) to SAML AD",
                Protocol::Saml => "SAML to SAML",
                Protocol::Artifact => "SAML Artifact-Artifact (DV and AD by HTTP-Artifact)",
            },
            a.poort.display(),
            cores,
            a.concurrency,
            if a.keep_alive() {
                "kept alive"
            } else {
                "a new one for every request"
            },
            match (a.protocol, a.backchannel) {
                (Protocol::Artifact, BackChannelMode::Http) => {
                    " | poort's back channel: plain HTTP"
                }
                (Protocol::Artifact, BackChannelMode::Tls) => {
                    " | poort's back channel: TLS with client certificate, kept alive"
                }
                (Protocol::Artifact, BackChannelMode::TlsClose) => {
                    " | poort's back channel: TLS with client certificate, a handshake per \
                     resolution (resumption allowed)"
                }
                (Protocol::Artifact, BackChannelMode::TlsFull) => {
                    " | poort's back channel: TLS with client certificate, a full handshake per \
                     resolution"
                }
                _ => "",
            },
            a.rust_log.as_deref().unwrap_or("(poort's default: info)")
        );
    }
}
