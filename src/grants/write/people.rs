//! People: an identity at an AD linked to a person, the person created when new (operators).

use super::{commit_recorded, insert_link, link_holder, links_of, operator_only, person_known};
use super::{Actor, Record, Touching, LINKS_OF_PERSON};
use crate::domain::grant::{IdentityKey, Touched};
use crate::grants::db::sql;
use crate::grants::error::WriteError;
use crate::grants::sql::SqlRegister;
use chrono::Utc;

impl SqlRegister {
    /// Links an identity (AD entity + subject) to a person, creating the person when new
    /// (operators only). The link's cached answer ("nobody") is touched.
    pub async fn link_person(
        &self,
        actor: &Actor,
        person: &str,
        name: Option<&str>,
        idp: &str,
        subject: &str,
    ) -> Result<((), Touched), WriteError> {
        operator_only(actor, "link identities")?;
        for (what, value) in [
            ("person ID", person),
            ("AD entity ID", idp),
            ("subject", subject),
        ] {
            if value.trim().is_empty() {
                return Err(WriteError::Empty { what });
            }
        }
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        if let Some(holder) = link_holder(tx, idp, subject).await? {
            return Err(WriteError::LinkTaken {
                idp: idp.to_string(),
                subject: subject.to_string(),
                person: holder,
            });
        }
        let known = person_known(tx, person).await?;
        let now = Utc::now();
        if !known {
            sql("INSERT INTO persons (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(person)
                .bind(name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        } else if let Some(name) = name {
            sql("UPDATE persons SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(person)
                .execute(&mut *tx)
                .await?;
        }
        insert_link(tx, idp, subject, person, now).await?;
        let mut touched = links_of(tx, LINKS_OF_PERSON, person).await?;
        touched.insert(IdentityKey::new(idp, subject));
        let record =
            Record::outside_organisations(actor, "person.link").after(&(person, idp, subject));
        commit_recorded(transaction, record, (), Touching::Links(touched)).await
    }
}
