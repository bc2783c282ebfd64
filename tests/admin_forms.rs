//! The admin module's invitation form: bad input answers next to the field and keeps what was
//! typed; a form without the session's CSRF token changes nothing; a beheerder cannot appoint
//! administrators even with a crafted form.

mod common;

use common::{admin_login, client, World};
use poort::grants::{Actor, Role};

async fn logged_in(w: &World, person: &str) -> (reqwest::Client, String) {
    let c = client();
    let home = admin_login(w, &c, person, "EH3")
        .await
        .text()
        .await
        .unwrap();
    assert!(home.contains("/admin/users/new"), "{home}");
    let form = c
        .get(format!("{}/admin/users/new", w.poort))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = common::form(&form).1["csrf"].clone();
    (c, csrf)
}

async fn submit(w: &World, c: &reqwest::Client, fields: &[(&str, &str)]) -> (u16, String) {
    let r = c
        .post(format!("{}/admin/users/new", w.poort))
        .form(fields)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn error_after(page: &str, field: &str) -> String {
    let marker = format!("id=\"{field}-error\">");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no error next to {field}: {page}"))
        + marker.len();
    page[start..start + page[start..].find('<').unwrap()].to_string()
}

#[tokio::test]
async fn bad_input_is_answered_next_to_the_field_and_what_was_typed_stays() {
    let w = common::start().await;
    let (c, csrf) = logged_in(&w, "anna").await;
    // No name: the error is next to the name; the e-mail address and role stay.
    let (status, page) = submit(
        &w,
        &c,
        &[
            ("csrf", &csrf),
            ("name", ""),
            ("email", "gijs@bakkerij.example"),
            ("role", "lezer"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(error_after(&page, "name"), "Vul een naam in.");
    assert!(page.contains("value=\"gijs@bakkerij.example\""), "{page}");
    assert!(page.contains("value=\"lezer\" checked"), "{page}");
    // Not an e-mail address.
    let (status, page) = submit(
        &w,
        &c,
        &[
            ("csrf", &csrf),
            ("name", "Gijs de Boer"),
            ("email", "gijs at bakkerij"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        error_after(&page, "email"),
        "Dit is geen geldig e-mailadres."
    );
    assert!(page.contains("value=\"Gijs de Boer\""), "{page}");
    // Invited once; the same address again is a duplicate.
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "Gijs de Boer"),
        ("email", "gijs@bakkerij.example"),
        ("role", "gebruiker"),
    ];
    let (status, page) = submit(&w, &c, &fields).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("gijs@bakkerij.example"), "{page}");
    let (status, page) = submit(&w, &c, &fields).await;
    assert_eq!(status, 422);
    assert!(
        error_after(&page, "email").contains("al een gebruiker"),
        "{page}"
    );
}

#[tokio::test]
async fn a_form_without_the_csrf_token_changes_nothing() {
    let w = common::start().await;
    let (c, _) = logged_in(&w, "anna").await;
    let (status, page) = submit(
        &w,
        &c,
        &[
            ("csrf", "forged"),
            ("name", "Mallory"),
            ("email", "m@evil.example"),
        ],
    )
    .await;
    assert_eq!(status, 403, "{page}");
    let home = c
        .get(format!("{}/admin", w.poort))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!home.contains("Mallory"));
}

#[tokio::test]
async fn a_beheerder_cannot_appoint_administrators() {
    let w = common::start().await;
    let sql = w.registry.sql();
    w.registry
        .write(sql.set_roles(
            &Actor::Operator("test".into()),
            "12345678",
            "eva",
            &[Role::Beheerder, Role::Gebruiker],
        ))
        .await
        .unwrap();
    let (c, csrf) = logged_in(&w, "eva").await;
    let form = c
        .get(format!("{}/admin/users/new", w.poort))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!form.contains("value=\"hoofdbeheerder\""), "not offered");
    // A crafted form asks anyway.
    let (status, page) = submit(
        &w,
        &c,
        &[
            ("csrf", &csrf),
            ("name", "Hanna"),
            ("email", "hanna@bakkerij.example"),
            ("role", "hoofdbeheerder"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        error_after(&page, "roles").contains("hoofdbeheerder"),
        "{page}"
    );
}
