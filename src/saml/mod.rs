//! SAML 2.0 on both sides: poort as identity provider for DVs, and as service provider towards ADs.

pub mod artifact;
pub mod backchannel;
pub mod binding;
pub mod c14n;
pub mod dsig;
pub mod encrypt;
pub mod idp;
pub mod logout;
pub mod protocol;
pub mod resolve;
pub mod soap;
pub mod sp;
pub mod xml;
