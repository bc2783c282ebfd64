//! The organisation's own data as its administrators keep it: contact name, e-mail address,
//! phone and postal address, checked the same for the page and the API; and the setting its
//! hoofdbeheerder keeps for the signatures of its directors.

use super::members::Services;
use super::AdminSession;
use crate::grants::{Actor, OrganisationChanges, WriteError};

impl Services<'_> {
    /// Whether a director with joint authority needs a second director's signature (the
    /// register lets a hoofdbeheerder only).
    pub async fn set_joint_needs_two(
        &self,
        session: &AdminSession,
        joint_needs_two: bool,
    ) -> Result<(), WriteError> {
        let sql = self.registry.sql();
        let actor = Actor::Admin(session.person_id.clone());
        let kvk = &session.organisation.kvk;
        self.registry
            .write(sql.set_joint_needs_two(&actor, kvk, joint_needs_two))
            .await
    }
}

/// Longest contact field kept (an address may run over a few lines).
const MAX_FIELD: usize = 200;
const MAX_ADDRESS: usize = 500;

/// Contact changes from submitted fields: `None` leaves a field, `""` clears it. A bad field
/// is `(field, what is wrong)`, said next to it on the page.
pub fn contact_changes(
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
) -> Result<OrganisationChanges, (&'static str, &'static str)> {
    fn field(value: Option<String>, max: usize, what: &'static str) -> FieldResult {
        match value.map(|v| v.trim().to_string()) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(Some(None)),
            Some(v) if v.chars().count() > max => Err((what, "too long")),
            Some(v) if v.chars().any(|c| c.is_control() && c != '\n' && c != '\r') => {
                Err((what, "contains control characters"))
            }
            Some(v) => Ok(Some(Some(v))),
        }
    }
    type FieldResult = Result<Option<Option<String>>, (&'static str, &'static str)>;
    let contact_email = field(email, MAX_FIELD, "contact_email")?;
    if let Some(Some(e)) = &contact_email {
        if !crate::grants::is_email_address(e) {
            return Err(("contact_email", "not an e-mail address"));
        }
    }
    let contact_phone = field(phone, 40, "contact_phone")?;
    if let Some(Some(p)) = &contact_phone {
        let ok = p.chars().filter(char::is_ascii_digit).count() >= 6
            && p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
        if !ok {
            return Err(("contact_phone", "not a phone number"));
        }
    }
    Ok(OrganisationChanges {
        contact_name: field(name, MAX_FIELD, "contact_name")?,
        contact_email,
        contact_phone,
        contact_address: field(address, MAX_ADDRESS, "contact_address")?,
        ..OrganisationChanges::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_fields_are_checked_and_empty_clears() {
        let c = contact_changes(
            Some(" Piet ".into()),
            Some("".into()),
            Some("+31 (0)20-1234567".into()),
            None,
        )
        .unwrap();
        assert_eq!(c.contact_name, Some(Some("Piet".into())));
        assert_eq!(c.contact_email, Some(None));
        assert_eq!(c.contact_phone, Some(Some("+31 (0)20-1234567".into())));
        assert_eq!(c.contact_address, None);
        assert_eq!(
            contact_changes(None, Some("piet@".into()), None, None)
                .unwrap_err()
                .0,
            "contact_email"
        );
        assert_eq!(
            contact_changes(None, None, Some("call me".into()), None)
                .unwrap_err()
                .0,
            "contact_phone"
        );
        assert_eq!(
            contact_changes(Some("x".repeat(201)), None, None, None).unwrap_err(),
            ("contact_name", "too long")
        );
    }
}
