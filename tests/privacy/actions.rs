//! What people do: logins, admin API calls, invitation links.

use super::*;

/// From the DV's login (service `service`, binding `binding`) to the development AD's page.
pub(crate) async fn to_ad(w: &World, c: &reqwest::Client, service: u16, binding: &str) -> String {
    let r = c
        .get(format!(
            "{}/login?service={service}&binding={binding}",
            w.dv
        ))
        .send()
        .await
        .unwrap();
    let mut page = r.text().await.unwrap();
    if page.contains("name=\"SAMLRequest\"") {
        page = submit(c, &page, &[]).await.text().await.unwrap();
    }
    assert!(
        page.contains("name=\"pending\""),
        "AD page expected: {page}"
    );
    page
}

/// Logs in at the development AD as `person` and brings the answer to poort: poort's page.
pub(crate) async fn at_ad(
    c: &reqwest::Client,
    ad_page: &str,
    person: &str,
    level: &str,
) -> reqwest::Response {
    let fields = [("person", person), ("level", level), ("action", "login")];
    let to_poort = submit(c, ad_page, &fields).await;
    let to_poort = to_poort.text().await.unwrap();
    submit(c, &to_poort, &[]).await
}

/// A whole SAML login (redirect binding) by `person` for `service`; poort's last page.
pub(crate) async fn saml_login(
    w: &World,
    person: &str,
    service: u16,
    binding: &str,
) -> (u16, String) {
    let c = client();
    let ad_page = to_ad(w, &c, service, binding).await;
    let r = at_ad(&c, &ad_page, person, "EH3").await;
    (r.status().as_u16(), r.text().await.unwrap())
}

pub(crate) async fn api(
    w: &World,
    c: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    csrf: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = c
        .request(method, format!("{}{path}", w.poort))
        .header("X-CSRF-Token", csrf);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The invitation link mailed to `email` (the world's outbox, through the development
/// mailbox page).
pub(crate) async fn invitation_link(w: &World, email: &str) -> String {
    common::deliver_mail(w).await;
    let page = client()
        .get(format!("{}/dev/mailbox", w.poort))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mail = page
        .split("<div class=\"box mail\">")
        .find(|m| m.contains(email))
        .unwrap_or_else(|| panic!("no mail to {email}"));
    let start = mail.find("<a href=\"").unwrap() + "<a href=\"".len();
    let end = start + mail[start..].find('"').unwrap();
    common::unescape(&mail[start..end])
}

/// Follows an invitation link in a fresh browser and logs in at the AD as `subject`.
pub(crate) async fn follow_invitation(link: &str, subject: &str) -> (u16, String) {
    let c = client();
    let page = c.get(link).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("name=\"pending\""),
        "AD page expected: {page}"
    );
    let r = at_ad(&c, &page, subject, "EH3").await;
    (r.status().as_u16(), r.text().await.unwrap())
}
