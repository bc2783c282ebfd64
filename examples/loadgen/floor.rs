//! The crypto floor of a login, on one thread with poort's own RSA-2048 key, measured after
//! poort has stopped: what the signatures and verifications a login needs cost alone.

use crate::load::rate;
use crate::{Args, Error, Protocol};
use poort::keys::SigningKey;

pub struct Floor {
    /// RSA-2048 signatures and verifications per second on one thread.
    pub signs: f64,
    pub verifies: f64,
    /// What one login of the protocol needs of each.
    pub n_sign: f64,
    pub n_verify: f64,
}

impl Floor {
    pub fn measure(a: &Args, poort_key: &SigningKey) -> Result<Floor, Error> {
        let public = openssl::x509::X509::from_der(&poort_key.cert_der)?.public_key()?;
        let sig = poort_key.sign_bytes(b"floor")?;
        let signs = rate(a.crypto_seconds, || {
            poort_key.sign_bytes(b"floor").expect("sign");
        });
        let verifies = rate(a.crypto_seconds, || {
            assert!(
                poort::keys::verify_bytes(&public, poort_key.alg, b"floor", &sig).expect("verify")
            );
        });
        // SAML: upstream AuthnRequest, assertion and Response signed; DV request and AD
        // assertion verified. OIDC: upstream AuthnRequest and ID token signed; AD assertion
        // verified. Artifact-Artifact (read from src/web/login and src/saml): signed are the
        // ArtifactResolve to the DV, the AuthnRequest to the AD, the ArtifactResponse to the AD,
        // the ArtifactResolve to the AD, the assertion, the Response and the ArtifactResponse to
        // the DV (7). Verified: at /saml/sso the DV's ArtifactResponse and the AuthnRequest
        // inside it (both by `verify_artifact_response`), the AuthnRequest again
        // (`verify_enveloped`); at poort's ARS the AD's ArtifactResolve; at /saml/acs the AD's
        // ArtifactResponse, Response and assertion (`verify_artifact_response`), Response and
        // assertion again (`check_response`); at poort's ARS the DV's ArtifactResolve (10).
        let (n_sign, n_verify) = match a.protocol {
            Protocol::Oidc => (2.0, 1.0),
            Protocol::Saml => (3.0, 2.0),
            Protocol::Artifact => (7.0, 10.0),
        };
        Ok(Floor {
            signs,
            verifies,
            n_sign,
            n_verify,
        })
    }

    /// The floor of a later login answered from the browser's login session
    /// (`--session-pairs`): no AD, so no upstream AuthnRequest, no AD Response and no artifact
    /// exchange with the AD. SAML (HTTP-Redirect request, HTTP-POST answer): the assertion and
    /// the Response signed, the DV's request verified. Artifact-Artifact: signed the
    /// ArtifactResolve to the DV, the assertion, the Response and the ArtifactResponse to the
    /// DV (4); verified the DV's ArtifactResponse and the AuthnRequest in it, the AuthnRequest
    /// again, and the DV's ArtifactResolve (4).
    pub fn of_session_login(&self, protocol: Protocol) -> Floor {
        let (n_sign, n_verify) = match protocol {
            Protocol::Artifact => (4.0, 4.0),
            Protocol::Saml | Protocol::Oidc => (2.0, 1.0),
        };
        Floor {
            signs: self.signs,
            verifies: self.verifies,
            n_sign,
            n_verify,
        }
    }

    /// What [`Floor::of_session_login`] counts, with its figure.
    pub fn print_session_login(&self, protocol: Protocol) {
        let what = match protocol {
            Protocol::Artifact => {
                "4 RSA signatures (ArtifactResolve to the DV, assertion, Response, \
                 ArtifactResponse to the DV) + 4 verifications (DV: ArtifactResponse, \
                 AuthnRequest twice; DV: ArtifactResolve)"
            }
            Protocol::Saml | Protocol::Oidc => {
                "2 RSA signatures (assertion, Response) + 1 verification (DV request)"
            }
        };
        println!(
            "a second login answered from the session costs poort {what} = {:.3} ms -> {:.0} \
             logins/s per core from signatures alone",
            self.ms(),
            self.rate()
        );
    }

    /// The floor of one login, in ms.
    pub fn ms(&self) -> f64 {
        self.n_sign / self.signs * 1e3 + self.n_verify / self.verifies * 1e3
    }

    /// Logins per second one core could do from signatures alone.
    pub fn rate(&self) -> f64 {
        1e3 / self.ms()
    }

    pub fn print(&self, protocol: Protocol) {
        println!("\n== crypto floor (openssl, one thread, poort's RSA-2048 key, same run)");
        println!(
            "RSA-2048 sign: {:.0}/s ({:.0} µs); verify: {:.0}/s ({:.1} µs)",
            self.signs,
            1e6 / self.signs,
            self.verifies,
            1e6 / self.verifies
        );
        let what = match protocol {
            Protocol::Oidc => {
                "2 RSA signatures (upstream AuthnRequest, ID token) + 1 verification (AD \
                 assertion)"
            }
            Protocol::Saml => {
                "3 RSA signatures (upstream AuthnRequest, assertion, Response) + 2 verifications \
                 (DV request, AD assertion)"
            }
            Protocol::Artifact => {
                "7 RSA signatures (ArtifactResolve to the DV, AuthnRequest, ArtifactResponse to \
                 the AD, ArtifactResolve to the AD, assertion, Response, ArtifactResponse to the \
                 DV) + 10 verifications (DV: ArtifactResponse, AuthnRequest twice; AD: \
                 ArtifactResolve, ArtifactResponse, Response twice, assertion twice; DV: \
                 ArtifactResolve)"
            }
        };
        println!(
            "a login costs poort {what} = {:.3} ms -> {:.0} logins/s per core from signatures \
             alone",
            self.ms(),
            self.rate()
        );
    }
}
