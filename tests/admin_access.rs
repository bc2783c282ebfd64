//! Entering the admin module through poort itself: only administering members get in, at the
//! admin level, for the organisation they administer; the session cookie, CSRF on logout, and
//! the idle and absolute timeouts.

mod common;

use common::{admin_login, browser, client, submit};

fn csrf(page: &str) -> String {
    common::form(page).1["csrf"].clone()
}

#[tokio::test]
async fn a_hoofdbeheerder_enters_for_the_organisation_they_administer() {
    let w = common::start().await;
    let c = client();
    let r = admin_login(&w, &c, "anna", "EH3").await;
    assert_eq!(r.url().path(), "/admin");
    let page = r.text().await.unwrap();
    // anna is hoofdbeheerder of the Bakkerij only (a plain user at Van Dijk): no choice asked.
    assert!(
        page.contains("Bakkerij De Gouden Korst B.V.") && page.contains("12345678"),
        "{page}"
    );
    assert!(page.contains("hoofdbeheerder"), "{page}");
    // Its users: anna and eva; nobody of another organisation.
    let page = c
        .get(format!("{}/admin/users", w.poort))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Anna de Vries") && page.contains("Eva"),
        "{page}"
    );
    assert!(!page.contains("Bram") && !page.contains("Carla"), "{page}");
}

#[tokio::test]
async fn the_session_cookie_is_httponly_and_lax() {
    let w = common::start().await;
    let (plain, follow) = browser();
    let ad_page = follow
        .get(format!("{}/admin/login", w.poort))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let to_poort = submit(
        &follow,
        &ad_page,
        &[("person", "anna"), ("level", "EH3"), ("action", "login")],
    )
    .await
    .text()
    .await
    .unwrap();
    let r = submit(&plain, &to_poort, &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("poort_admin="))
        .expect("an admin session cookie");
    for part in ["HttpOnly", "Path=/;", "SameSite=Lax"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    // The value is a 256-bit random ID.
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("poort_admin=");
    assert_eq!(value.len(), 64, "{cookie}");
}

#[tokio::test]
async fn members_without_an_administering_role_and_logins_below_the_level_are_refused() {
    let w = common::start().await;
    // eva is only a gebruiker.
    let c = client();
    let r = admin_login(&w, &c, "eva", "EH3").await;
    assert_eq!(r.status(), 403);
    let page = r.text().await.unwrap();
    assert!(page.contains("Beheermodule"), "{page}");
    let r = c.get(format!("{}/admin", w.poort)).send().await.unwrap();
    assert!(
        r.text().await.unwrap().contains("name=\"pending\""),
        "no session: to login"
    );
    // anna at EH2 for a module at EH3.
    let c = client();
    let r = admin_login(&w, &c, "anna", "EH2").await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("EH3"));
}

#[tokio::test]
async fn logout_needs_the_csrf_token_and_ends_the_session() {
    let w = common::start().await;
    let c = client();
    let page = admin_login(&w, &c, "anna", "EH3")
        .await
        .text()
        .await
        .unwrap();
    let token = csrf(&page);
    // Without the token (a cross-site form): refused, and the session lives on.
    let r = c
        .post(format!("{}/admin/logout", w.poort))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c.get(format!("{}/admin", w.poort)).send().await.unwrap();
    assert_eq!(r.url().path(), "/admin");
    // With it: logged out, and /admin asks for a login again.
    let r = c
        .post(format!("{}/admin/logout", w.poort))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(format!("{}/admin", w.poort)).send().await.unwrap();
    assert_ne!(r.url().path(), "/admin", "the session must be gone");
}

async fn timed_out(change: impl FnOnce(&mut poort::config::AdminConfig)) {
    let w = common::start_prepared(|_, config| change(&mut config.admin)).await;
    let (plain, follow) = browser();
    let ad_page = follow
        .get(format!("{}/admin/login", w.poort))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let to_poort = submit(
        &follow,
        &ad_page,
        &[("person", "anna"), ("level", "EH3"), ("action", "login")],
    )
    .await
    .text()
    .await
    .unwrap();
    let r = submit(&plain, &to_poort, &[]).await;
    assert_eq!(r.headers()["location"], "/admin");
    // The session ended the moment it began: /admin sends the person to log in again.
    let r = plain
        .get(format!("{}/admin", w.poort))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/login");
}

#[tokio::test]
async fn an_absolute_timeout_ends_the_session() {
    timed_out(|a| a.absolute_timeout_seconds = 0).await;
}

#[tokio::test]
async fn an_idle_timeout_ends_the_session() {
    timed_out(|a| a.idle_timeout_seconds = 0).await;
}
