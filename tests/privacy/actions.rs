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

/// An admin-module session: its world, the client that holds its cookie, its CSRF token.
pub(crate) struct Admin<'a> {
    pub(crate) w: &'a World,
    pub(crate) c: &'a reqwest::Client,
    pub(crate) csrf: &'a str,
}

/// A call of the admin API in `admin`'s session: the status and the JSON body (null if none).
pub(crate) async fn api(
    admin: &Admin<'_>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let Admin { w, c, csrf } = *admin;
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

/// Follows an invitation link in a fresh browser and logs in at the AD as `subject`.
pub(crate) async fn follow_invitation(link: &str, subject: &str) -> (u16, String) {
    let c = client();
    let page = common::page(&c, link).await;
    common::assert_ad_page(&page);
    let r = common::through_ad(&c, &page, subject, "EH3").await;
    (r.status().as_u16(), r.text().await.unwrap())
}
