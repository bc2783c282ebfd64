//! What the operator API answers and is sent, as wire types apart from the register's (see
//! `super::super::wire` for why). A director's date of birth goes in, never out.

use crate::grants;
use crate::web::api::bodies::Shape;
use crate::web::api::wire::{Organisation, OrganisationStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The appointed hoofdbeheerder of an organisation to register.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Appointee {
    pub name: String,
    /// Where the activation link goes.
    pub email: String,
    /// `nl` or `en`, for the mails; Dutch when left out.
    pub language: Option<String>,
}

/// An organisation to register, with its appointed hoofdbeheerder.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewRegistration {
    /// KvK number: 8 digits.
    pub kvk: String,
    pub name: String,
    /// RSIN: 9 digits passing the eleven-test.
    pub rsin: Option<String>,
    pub hoofdbeheerder: Appointee,
}

impl Shape for NewRegistration {
    const SHAPE: &'static str = r#"an organisation: {"kvk": "12345678", "name": "…", "rsin": null, "hoofdbeheerder": {"name": "…", "email": "…", "language": "nl"}}"#;
}

impl From<NewRegistration> for grants::NewRegistration {
    fn from(n: NewRegistration) -> grants::NewRegistration {
        grants::NewRegistration {
            kvk: n.kvk,
            name: n.name,
            rsin: n.rsin,
            hoofdbeheerder_name: n.hoofdbeheerder.name,
            hoofdbeheerder_email: n.hoofdbeheerder.email,
            language: n.hoofdbeheerder.language,
        }
    }
}

/// An organisation as the operator sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OperatorOrganisation {
    pub organisation: Organisation,
    pub status: OrganisationStatus,
    /// When it became active: its hoofdbeheerder's first login, or a sole director's.
    pub activated_at: Option<DateTime<Utc>>,
    /// A director with joint authority needs a second director's signature.
    pub joint_needs_two: bool,
}

impl From<&grants::OrganisationView> for OperatorOrganisation {
    fn from(v: &grants::OrganisationView) -> OperatorOrganisation {
        OperatorOrganisation {
            organisation: (&v.organisation).into(),
            status: v.status.into(),
            activated_at: v.activated_at,
            joint_needs_two: v.joint_needs_two,
        }
    }
}

/// The activation link sent (the link itself goes by mail only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Activation {
    /// The hoofdbeheerder's invitation.
    pub invitation: String,
    /// The hoofdbeheerder (a member with status `invited` until the first login).
    pub person: String,
    /// Where the link went.
    pub email: String,
    /// The link works until then, once.
    pub expires_at: DateTime<Utc>,
    /// Whether the mail with the link was queued.
    pub mail_sent: bool,
}

impl Activation {
    pub(crate) fn of(i: &grants::Invitation, mail_sent: bool) -> Activation {
        Activation {
            invitation: i.id.clone(),
            person: i.person.clone(),
            email: i.email.clone(),
            expires_at: i.expires_at,
            mail_sent,
        }
    }
}

/// A registered organisation, waiting for its activation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    pub organisation: OperatorOrganisation,
    pub activation: Activation,
}

/// The directors' signature setting.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JointSignatures {
    /// A director with joint authority needs a second director's signature.
    pub joint_needs_two: bool,
}

impl Shape for JointSignatures {
    const SHAPE: &'static str = r#"{"joint_needs_two": true}"#;
}

// Wire twin of `domain::request::Authority`, kept apart on purpose.
/// A director's authority, as the trade register gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Authority {
    /// Signs alone (zelfstandig bevoegd).
    Sole,
    /// Signs with another director where the organisation requires it (gezamenlijk bevoegd).
    Joint,
}

// Wire twin of `grants::RepresentativeView`, kept apart on purpose.
/// A bevoegd vertegenwoordiger (director) of the organisation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Representative {
    pub id: String,
    pub given_names: String,
    pub family_name: String,
    pub authority: Authority,
    /// Bound to a person at their first login whose AD attributes matched.
    pub bound: bool,
    pub bound_at: Option<DateTime<Utc>>,
}

impl From<&grants::RepresentativeView> for Representative {
    fn from(r: &grants::RepresentativeView) -> Representative {
        use crate::domain::request::Authority as A;
        Representative {
            id: r.id.clone(),
            given_names: r.given_names.clone(),
            family_name: r.family_name.clone(),
            authority: match r.authority {
                A::Sole => Authority::Sole,
                A::Joint => Authority::Joint,
            },
            bound: r.bound(),
            bound_at: r.bound_at,
        }
    }
}

/// The organisation's directors.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Representatives {
    pub items: Vec<Representative>,
}

impl Representatives {
    pub(crate) fn of(list: &[grants::RepresentativeView]) -> Representatives {
        Representatives {
            items: list.iter().map(Representative::from).collect(),
        }
    }
}

/// A director as the trade register's extract gives them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewRepresentative {
    pub given_names: String,
    pub family_name: String,
    /// `YYYY-MM-DD`, a real date, not in the future.
    pub date_of_birth: String,
    /// `sole` or `joint`.
    pub authority: String,
}

/// An organisation's extract: its whole current list of directors.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Extract {
    pub representatives: Vec<NewRepresentative>,
}

impl Shape for Extract {
    const SHAPE: &'static str = r#"an extract: {"representatives": [{"given_names": "…", "family_name": "…", "date_of_birth": "1970-05-01", "authority": "sole"}]}"#;
}

impl Extract {
    pub(crate) fn rows(self) -> Vec<grants::NewRepresentative> {
        self.representatives
            .into_iter()
            .map(|r| grants::NewRepresentative {
                given_names: r.given_names,
                family_name: r.family_name,
                date_of_birth: r.date_of_birth,
                authority: r.authority,
            })
            .collect()
    }
}

/// What putting an extract did, and the list now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExtractApplied {
    /// Directors of the same person as before: ID and binding kept.
    pub kept: usize,
    pub added: usize,
    pub removed: usize,
    pub items: Vec<Representative>,
}
