//! What people do: logins, admin API calls, invitation links.

use super::*;

/// A whole SAML login (redirect binding) by `person` for `service`; poort's last page.
pub(crate) async fn saml_login(
    w: &World,
    person: &str,
    service: u16,
    binding: &str,
) -> (u16, String) {
    let c = client();
    let ad_page = common::dv_to_ad(&c, &w.dv, service, binding).await;
    let r = common::through_ad(&c, &ad_page, person, "EH3").await;
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
    let page = common::page(&client(), format!("{}/dev/mailbox", w.poort)).await;
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
    let page = common::page(&c, link).await;
    common::assert_ad_page(&page);
    let r = common::through_ad(&c, &page, subject, "EH3").await;
    (r.status().as_u16(), r.text().await.unwrap())
}
