//! The permission matrix of the admin module (issue 5): every API endpoint and every form, for
//! each administering role of organisation A (the Bakkerij), with the status each role gets, and
//! the register unchanged after every refusal; organisation B's real IDs (members, grants,
//! invitations, link requests, groups) tried by A's administrators answer 404 (or the 403 a role
//! gets for that action whatever the ID) and change nothing; a gebruiker gets no session at all.
//!
//! A row is one line: method, the route as the OpenAPI document (or the router) names it, the
//! values for its `{…}` segments, the body, and the status for [hoofdbeheerder, beheerder,
//! groepsbeheerder, lezer]. Values starting with `$` are filled in from the world (per role where
//! a change can be made only once, such as a removal). The roles run one after the other, each
//! through the whole table, so a successful change is undone by a later row where it must be.
//! The tables must name every path of `/api/v1/openapi.json` and every route of the router under
//! `/api/v1/` and `/admin/`: a new endpoint or page without a row fails here.

mod common;

use chrono::{TimeDelta, Utc};
use common::matrix::{self, assert_routes_covered, send, snapshot, write, Ids, Kind, Session};
use common::World;
use poort::domain::level::Level;
use poort::grants::{Actor, GrantRequest, Holder, NewInvitation, NewLinkRequest, Role, Scope};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const A: &str = "12345678";
const B: &str = "87654321";
const C: &str = "11223344";
const IDP: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
const S1: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000001";
const S2: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000002";
const DV: &str = "urn:etoegang:DV:00000099990000000002:entities:1";

/// The administering roles of A, in the order of a row's statuses, and who holds each (a dev-AD
/// test person, so they can log in).
const ROLES: [(&str, &str); 4] = [
    ("hoofdbeheerder", "anna"),
    ("beheerder", "eva"),
    ("groepsbeheerder", "daan"),
    ("lezer", "gijs"),
];

const ALL_OK: [u16; 4] = [200, 200, 200, 200];
const NOT_FOUND: [u16; 4] = [404, 404, 404, 404];
/// 404 for the roles that could do this with their own IDs; 403 for those who may not do it at
/// all, whatever the ID (which tells nothing either).
const NOT_FOUND_OR_NEVER: [u16; 4] = [404, 404, 403, 403];
/// The operator API's routes, to any admin session.
const UNAUTHENTICATED: [u16; 4] = [401, 401, 401, 401];
/// Adding a grant: a lezer is refused before anything about the holder is looked at.
const NOT_FOUND_BUT_LEZER: [u16; 4] = [404, 404, 404, 403];

type Row = matrix::Row<4>;

const fn row(
    method: &'static str,
    route: &'static str,
    args: &'static [&'static str],
    body: &'static str,
    expect: [u16; 4],
) -> Row {
    matrix::row(method, route, args, body, expect)
}

/// Every API endpoint × role, within organisation A. Removals last (they cannot be undone).
#[rustfmt::skip]
const API: &[Row] = &[
    row("GET", "/api/v1/openapi.json", &[], "", ALL_OK),
    row("GET", "/api/v1/session", &[], "", ALL_OK),
    row("GET", "/api/v1/organisation", &[], "", ALL_OK),
    row("PATCH", "/api/v1/organisation", &[], r#"{"contact_name":"Contact $n"}"#, [200, 200, 403, 403]),
    row("GET", "/api/v1/members", &[], "", ALL_OK),
    row("GET", "/api/v1/members/{person}", &["$piet"], "", ALL_OK),
    row("GET", "/api/v1/members/{person}", &["$kees"], "", [200, 200, 404, 200]),
    row("PATCH", "/api/v1/members/{person}", &["$piet"], r#"{"name":"Piet Bakker","email":"piet@bakkerij.example"}"#, [200, 200, 200, 403]),
    row("PATCH", "/api/v1/members/{person}", &["$kees"], r#"{"name":"Kees Visser","email":"kees@bakkerij.example"}"#, [200, 200, 404, 403]),
    row("POST", "/api/v1/members/{person}/block", &["$kees"], "", [200, 200, 404, 403]),
    row("POST", "/api/v1/members/{person}/unblock", &["$kees"], "", [200, 200, 404, 403]),
    row("POST", "/api/v1/members/{person}/block", &["$piet"], "", [200, 200, 403, 403]),
    row("POST", "/api/v1/members/{person}/unblock", &["$piet"], "", [200, 200, 403, 403]),
    row("POST", "/api/v1/members/{person}/roles", &["$appointee"], r#"{"roles":["beheerder","gebruiker"]}"#, [200, 403, 403, 403]),
    row("POST", "/api/v1/members/{person}/roles", &["$appointee"], r#"{"roles":["gebruiker"]}"#, [200, 200, 403, 403]),
    row("POST", "/api/v1/members/{person}/groups/{group}/block", &["$piet", "Winkel"], "", [200, 200, 200, 403]),
    row("POST", "/api/v1/members/{person}/groups/{group}/unblock", &["$piet", "Winkel"], "", [200, 200, 200, 403]),
    row("POST", "/api/v1/members/{person}/groups/{group}/block", &["$kees", "Bakkers"], "", [200, 200, 404, 403]),
    row("POST", "/api/v1/members/{person}/groups/{group}/unblock", &["$kees", "Bakkers"], "", [200, 200, 404, 403]),
    row("GET", "/api/v1/link-requests", &[], "", [200, 200, 403, 403]),
    row("POST", "/api/v1/link-requests", &[], r#"{"kvk":"11223344","email":"new-$n@groendak.example","roles":["gebruiker"]}"#, [201, 201, 403, 403]),
    row("POST", "/api/v1/link-requests/{id}/withdraw", &["$lr_out"], "", [200, 200, 403, 403]),
    row("POST", "/api/v1/link-requests/{id}/decline", &["$lr_in_d"], "", [200, 200, 403, 403]),
    row("POST", "/api/v1/link-requests/{id}/approve", &["$lr_in_a"], "", [200, 200, 403, 403]),
    row("GET", "/api/v1/grants", &[], "", ALL_OK),
    row("GET", "/api/v1/grants/{id}", &["$g_piet"], "", ALL_OK),
    row("POST", "/api/v1/grants", &[], r#"{"person":"$piet","scope":$scope,"level":"EH2","years":1}"#, [201, 201, 403, 403]),
    row("POST", "/api/v1/grants", &[], r#"{"group":"Winkel","scope":$scope,"level":"EH2","years":1}"#, [201, 201, 201, 403]),
    row("POST", "/api/v1/grants/renew", &[], r#"{"ids":["$g_piet"],"years":1}"#, [200, 200, 403, 403]),
    row("POST", "/api/v1/grants/renew", &[], r#"{"ids":["$g_group"],"years":1}"#, [200, 200, 200, 403]),
    row("POST", "/api/v1/grants/{id}/revoke", &["$g_piet"], "", [200, 200, 403, 403]),
    row("POST", "/api/v1/grants/{id}/reactivate", &["$g_piet"], "", [200, 200, 403, 403]),
    row("POST", "/api/v1/grants/{id}/revoke", &["$g_group"], "", [200, 200, 200, 403]),
    row("POST", "/api/v1/grants/{id}/reactivate", &["$g_group"], "", [200, 200, 200, 403]),
    // The trail names everyone: not a groepsbeheerder's to read.
    row("GET", "/api/v1/audit", &[], "", [200, 200, 403, 200]),
    row("GET", "/api/v1/audit.csv", &[], "", [200, 200, 403, 200]),
    row("POST", "/api/v1/invitations", &[], r#"{"name":"Nieuw $n","email":"nieuw-$n@bakkerij.example","roles":["gebruiker"]}"#, [201, 201, 403, 403]),
    row("POST", "/api/v1/invitations", &[], r#"{"name":"Beheer $n","email":"beheer-$n@bakkerij.example","roles":["beheerder"]}"#, [201, 403, 403, 403]),
    row("POST", "/api/v1/invitations/{id}/resend", &["$inv_resend"], "", [200, 200, 403, 403]),
    row("POST", "/api/v1/invitations/{id}/withdraw", &["$inv_w"], "", [200, 200, 403, 403]),
    // The operator's routes want the operator's bearer token: no session opens them.
    row("POST", "/api/v1/operator/organisations", &[], r#"{"kvk":"55667788","name":"X","hoofdbeheerder":{"name":"Y","email":"y@x.example"}}"#, UNAUTHENTICATED),
    row("GET", "/api/v1/operator/organisations/{kvk}", &["12345678"], "", UNAUTHENTICATED),
    row("POST", "/api/v1/operator/organisations/{kvk}/activation/resend", &["12345678"], "", UNAUTHENTICATED),
    row("PUT", "/api/v1/operator/organisations/{kvk}/joint-signatures", &["12345678"], r#"{"joint_needs_two":true}"#, UNAUTHENTICATED),
    row("GET", "/api/v1/operator/organisations/{kvk}/representatives", &["12345678"], "", UNAUTHENTICATED),
    row("PUT", "/api/v1/operator/organisations/{kvk}/representatives", &["12345678"], r#"{"representatives":[]}"#, UNAUTHENTICATED),
    row("DELETE", "/api/v1/members/{person}", &["$victim"], "", [204, 204, 403, 403]),
];

/// Organisation B's real IDs, tried by each of A's administrators.
#[rustfmt::skip]
const API_CROSS: &[Row] = &[
    row("GET", "/api/v1/members/{person}", &["$wim"], "", NOT_FOUND),
    row("GET", "/api/v1/members/{person}", &["$carla"], "", NOT_FOUND),
    row("PATCH", "/api/v1/members/{person}", &["$wim"], r#"{"name":"Overgenomen","email":"x@evil.example"}"#, NOT_FOUND),
    row("DELETE", "/api/v1/members/{person}", &["$wim"], "", NOT_FOUND),
    row("POST", "/api/v1/members/{person}/block", &["$wim"], "", NOT_FOUND),
    row("POST", "/api/v1/members/{person}/unblock", &["$wim"], "", NOT_FOUND),
    row("POST", "/api/v1/members/{person}/roles", &["$carla"], r#"{"roles":["gebruiker"]}"#, NOT_FOUND),
    row("POST", "/api/v1/members/{person}/groups/{group}/block", &["$wim", "Monteurs"], "", NOT_FOUND),
    row("GET", "/api/v1/grants/{id}", &["$b_grant"], "", NOT_FOUND),
    row("GET", "/api/v1/grants/{id}", &["$b_group_grant"], "", NOT_FOUND),
    row("POST", "/api/v1/grants/{id}/revoke", &["$b_grant"], "", NOT_FOUND),
    row("POST", "/api/v1/grants/{id}/revoke", &["$b_group_grant"], "", NOT_FOUND),
    row("POST", "/api/v1/grants/{id}/reactivate", &["$b_grant"], "", NOT_FOUND),
    row("POST", "/api/v1/grants/renew", &[], r#"{"ids":["$b_grant"],"years":1}"#, NOT_FOUND),
    row("POST", "/api/v1/grants", &[], r#"{"person":"$wim","scope":{"all":true},"level":"EH2","years":1}"#, NOT_FOUND_BUT_LEZER),
    row("POST", "/api/v1/grants", &[], r#"{"group":"Monteurs","scope":{"all":true},"level":"EH2","years":1}"#, NOT_FOUND_BUT_LEZER),
    row("POST", "/api/v1/grants", &[], r#"{"person":"no-such-person","scope":{"all":true},"level":"EH2","years":1}"#, NOT_FOUND_BUT_LEZER),
    row("POST", "/api/v1/invitations/{id}/resend", &["$b_inv"], "", NOT_FOUND_OR_NEVER),
    row("POST", "/api/v1/invitations/{id}/withdraw", &["$b_inv"], "", NOT_FOUND_OR_NEVER),
    row("POST", "/api/v1/link-requests/{id}/approve", &["$b_lr"], "", NOT_FOUND_OR_NEVER),
    row("POST", "/api/v1/link-requests/{id}/decline", &["$b_lr"], "", NOT_FOUND_OR_NEVER),
    row("POST", "/api/v1/link-requests/{id}/withdraw", &["$b_lr"], "", NOT_FOUND_OR_NEVER),
];

/// Every page and form × role (redirects not followed: a change answers 303). Logout last.
#[rustfmt::skip]
const PAGES: &[Row] = &[
    row("GET", "/admin", &[], "", ALL_OK),
    row("GET", "/admin/users", &[], "", ALL_OK),
    // A groepsbeheerder invites plain users into the groups they administer, nobody else.
    row("GET", "/admin/users/new", &[], "", [200, 200, 200, 403]),
    row("POST", "/admin/users/new", &[], "name=Form+$n&email=form-$n%40bakkerij.example&role=gebruiker", [303, 303, 422, 403]),
    row("POST", "/admin/users/new", &[], "name=Shop+$n&email=shop-$n%40bakkerij.example&role=gebruiker&group=Winkel", [303, 303, 303, 403]),
    row("POST", "/admin/users/new", &[], "name=Baker+$n&email=baker-$n%40bakkerij.example&role=gebruiker&group=Bakkers", [303, 303, 422, 403]),
    row("POST", "/admin/users/new", &[], "name=Boss+$n&email=boss-$n%40bakkerij.example&role=beheerder", [303, 422, 422, 403]),
    row("GET", "/admin/users/{person}", &["$piet"], "", ALL_OK),
    row("GET", "/admin/users/{person}", &["$kees"], "", [200, 200, 404, 200]),
    row("POST", "/admin/users/{person}/details", &["$piet"], "name=Piet+Bakker&email=piet%40bakkerij.example", [303, 303, 303, 403]),
    row("POST", "/admin/users/{person}/details", &["$kees"], "name=Kees+Visser&email=kees%40bakkerij.example", [303, 303, 404, 403]),
    row("POST", "/admin/users/{person}/roles", &["$appointee"], "role=beheerder&role=gebruiker", [303, 422, 403, 403]),
    row("POST", "/admin/users/{person}/roles", &["$appointee"], "role=gebruiker", [303, 303, 403, 403]),
    row("POST", "/admin/users/{person}/block", &["$kees"], "", [303, 303, 404, 403]),
    row("POST", "/admin/users/{person}/unblock", &["$kees"], "", [303, 303, 404, 403]),
    row("POST", "/admin/users/{person}/block", &["$piet"], "", [303, 303, 403, 403]),
    row("POST", "/admin/users/{person}/unblock", &["$piet"], "", [303, 303, 403, 403]),
    row("POST", "/admin/users/{person}/groups/{group}/block", &["$piet", "Winkel"], "", [303, 303, 303, 403]),
    row("POST", "/admin/users/{person}/groups/{group}/unblock", &["$piet", "Winkel"], "", [303, 303, 303, 403]),
    row("POST", "/admin/users/{person}/groups/{group}/block", &["$kees", "Bakkers"], "", [303, 303, 404, 403]),
    row("POST", "/admin/users/{person}/groups/{group}/unblock", &["$kees", "Bakkers"], "", [303, 303, 404, 403]),
    row("POST", "/admin/users/{person}/invitation/{action}", &["$inv_resend_person", "resend"], "invitation=$inv_resend", [303, 303, 403, 403]),
    row("POST", "/admin/users/{person}/invitation/{action}", &["$finv_w_person", "withdraw"], "invitation=$finv_w", [303, 303, 403, 403]),
    row("GET", "/admin/users/{person}/remove", &["$fvictim"], "", [200, 200, 403, 403]),
    row("POST", "/admin/users/{person}/remove", &["$fvictim"], "", [303, 303, 403, 403]),
    row("GET", "/admin/organisation", &[], "", ALL_OK),
    row("POST", "/admin/organisation", &[], "contact_name=Contact+$n&contact_email=info%40bakkerij.example", [303, 303, 403, 403]),
    row("POST", "/admin/organisation", &[], "contact_email=info%40", [422, 422, 403, 403]),
    row("POST", "/admin/organisation/joint-signatures", &[], "joint_needs_two=two", [303, 403, 403, 403]),
    row("POST", "/admin/organisation/joint-signatures", &[], "joint_needs_two=one", [303, 403, 403, 403]),
    row("POST", "/admin/organisation/joint-signatures", &[], "joint_needs_two=maybe", [422, 403, 403, 403]),
    row("GET", "/admin/links", &[], "", [200, 200, 403, 403]),
    row("POST", "/admin/links", &[], "kvk=11223344&email=page-$n%40groendak.example&role=gebruiker", [303, 303, 403, 403]),
    row("POST", "/admin/links", &[], "kvk=1122334&email=page-$n%40groendak.example&role=gebruiker", [422, 422, 403, 403]),
    row("POST", "/admin/links/{id}/{action}", &["$lr_out", "withdraw"], "", [303, 303, 403, 403]),
    row("POST", "/admin/links/{id}/{action}", &["$lr_in_d", "decline"], "", [303, 303, 403, 403]),
    row("POST", "/admin/links/{id}/{action}", &["$lr_in_a", "approve"], "", [303, 303, 403, 403]),
    row("GET", "/admin/grants", &[], "", ALL_OK),
    row("GET", "/admin/grants/new", &[], "", [200, 200, 200, 403]),
    row("POST", "/admin/grants/new", &[], "holder=person%3A$piet&$form_scope&level=EH2&valid_from=$today&valid_until=$next_year", [303, 303, 403, 403]),
    row("POST", "/admin/grants/new", &[], "holder=group%3AWinkel&$form_scope&level=EH2&valid_from=$today&valid_until=$next_year", [303, 303, 303, 403]),
    row("POST", "/admin/grants/new", &[], "holder=group%3AWinkel&$form_scope&level=EH2&valid_from=$today&valid_until=$too_late", [422, 422, 422, 403]),
    row("POST", "/admin/grants/renew", &[], "grant=$g_group&years=1", [303, 303, 303, 403]),
    row("POST", "/admin/grants/renew", &[], "grant=$g_piet&years=1", [303, 303, 403, 403]),
    row("GET", "/admin/grants/{id}/revoke", &["$g_group"], "", [200, 200, 200, 403]),
    row("POST", "/admin/grants/{id}/revoke", &["$g_group"], "", [303, 303, 303, 403]),
    row("POST", "/admin/grants/{id}/reactivate", &["$g_group"], "", [303, 303, 303, 403]),
    row("POST", "/admin/grants/{id}/revoke", &["$g_piet"], "", [303, 303, 403, 403]),
    row("POST", "/admin/grants/{id}/reactivate", &["$g_piet"], "", [303, 303, 403, 403]),
    row("GET", "/admin/audit", &[], "", [200, 200, 403, 200]),
    row("GET", "/dev/mailbox", &[], "", ALL_OK),
    row("POST", "/admin/logout", &[], "", ALL_OK),
];

/// Organisation B's real IDs in the pages.
#[rustfmt::skip]
const PAGES_CROSS: &[Row] = &[
    row("GET", "/admin/users/{person}", &["$wim"], "", NOT_FOUND),
    row("GET", "/admin/users/{person}", &["$carla"], "", NOT_FOUND),
    row("POST", "/admin/users/{person}/details", &["$wim"], "name=Overgenomen&email=x%40evil.example", NOT_FOUND),
    row("POST", "/admin/users/{person}/roles", &["$carla"], "role=gebruiker", NOT_FOUND),
    row("POST", "/admin/users/{person}/block", &["$wim"], "", NOT_FOUND),
    row("POST", "/admin/users/{person}/unblock", &["$wim"], "", NOT_FOUND),
    row("POST", "/admin/users/{person}/groups/{group}/block", &["$wim", "Monteurs"], "", NOT_FOUND),
    row("GET", "/admin/users/{person}/remove", &["$wim"], "", NOT_FOUND),
    row("POST", "/admin/users/{person}/remove", &["$wim"], "", NOT_FOUND),
    row("POST", "/admin/users/{person}/invitation/{action}", &["$b_inv_person", "resend"], "invitation=$b_inv", NOT_FOUND),
    row("POST", "/admin/users/{person}/invitation/{action}", &["$b_inv_person", "withdraw"], "invitation=$b_inv", NOT_FOUND),
    row("GET", "/admin/grants/{id}/revoke", &["$b_grant"], "", NOT_FOUND),
    row("POST", "/admin/grants/{id}/revoke", &["$b_grant"], "", NOT_FOUND_BUT_LEZER),
    row("POST", "/admin/grants/{id}/reactivate", &["$b_group_grant"], "", NOT_FOUND_BUT_LEZER),
    row("POST", "/admin/grants/renew", &[], "grant=$b_grant&years=1", NOT_FOUND_BUT_LEZER),
    // The form answers a holder it does not know next to the field, as for any unknown user.
    row("POST", "/admin/grants/new", &[], "holder=person%3A$wim&scope=all&level=EH2&valid_from=$today&valid_until=$next_year", [422, 422, 422, 403]),
    row("POST", "/admin/links/{id}/{action}", &["$b_lr", "approve"], "", NOT_FOUND_OR_NEVER),
    row("POST", "/admin/links/{id}/{action}", &["$b_lr", "withdraw"], "", NOT_FOUND_OR_NEVER),
    // B's invitation ID through the form of an own (visible) member: no such invitation here.
    row("POST", "/admin/users/{person}/invitation/{action}", &["$piet", "withdraw"], "invitation=$b_inv", [422, 422, 403, 403]),
];

fn op() -> Actor {
    Actor::Operator("test".into())
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A person with an identity at the dev AD (subject = id), member of `kvk` with `roles`, in
/// `groups` (name, administers), with an e-mail address.
async fn person(
    w: &World,
    kvk: &str,
    id: &str,
    name: &str,
    roles: &[Role],
    groups: &[(&str, bool)],
) {
    let sql = w.registry.sql();
    write(w, sql.link_person(&op(), id, Some(name), IDP, id)).await;
    write(w, sql.add_member(&op(), kvk, id, roles)).await;
    for (group, admin) in groups {
        write(w, sql.add_to_group(&op(), kvk, group, id, *admin)).await;
    }
    let domain = if kvk == A { "bakkerij" } else { "vandijk" };
    common::execute_sql(
        sql.pool(),
        &format!("UPDATE persons SET email = '{id}@{domain}.example' WHERE id = '{id}'"),
    )
    .await;
}

async fn grant(w: &World, kvk: &str, holder: Holder, scope: Scope, level: &str) -> String {
    let sql = w.registry.sql();
    let request = GrantRequest {
        id: None,
        organisation: kvk.into(),
        holder,
        scope,
        level: level.parse::<Level>().unwrap(),
        valid_from: Utc::now() - TimeDelta::days(1),
        valid_until: Utc::now() + TimeDelta::days(365),
    };
    write(w, sql.add_grant(&op(), &w.config.services, &request)).await
}

async fn invitation(w: &World, kvk: &str, email: &str, groups: &[&str]) -> (String, String) {
    let sql = w.registry.sql();
    let new = NewInvitation {
        name: format!("Uitgenodigd {email}"),
        email: email.into(),
        roles: vec![Role::Gebruiker],
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..Default::default()
    };
    let i = write(w, sql.invite(&op(), kvk, &new, Utc::now())).await;
    (i.id, i.person)
}

async fn link_request(w: &World, from: &str, to: &str, email: &str) -> String {
    let sql = w.registry.sql();
    let new = NewLinkRequest {
        kvk: to.into(),
        email: email.into(),
        roles: vec![Role::Gebruiker],
    };
    write(w, sql.request_link(&op(), from, &new, Utc::now()))
        .await
        .id
}

/// Organisation A (the Bakkerij) with one administrator per role, a group "Winkel" that daan
/// administers (piet in it, kees outside it, in "Bakkers"); organisation B (Van Dijk) with carla
/// as hoofdbeheerder, wim in group "Monteurs", grants, an open invitation and a link request to C.
async fn world() -> (World, Ids<4>) {
    let w = common::start().await;
    let sql = w.registry.sql();
    let mut shared = BTreeMap::new();
    let mut set = |k: &str, v: &str| shared.insert(k.to_string(), v.to_string());
    // A: anna is hoofdbeheerder (seed); eva becomes beheerder with a grant of her own (an admin
    // grants at most their own level); daan groepsbeheerder of Winkel; gijs lezer; hanna
    // gebruiker.
    write(&w, sql.create_group(&op(), A, "Winkel")).await;
    write(&w, sql.create_group(&op(), A, "Bakkers")).await;
    write(
        &w,
        sql.set_roles(&op(), A, "eva", &[Role::Beheerder, Role::Gebruiker]),
    )
    .await;
    write(&w, sql.reactivate_grant(&op(), "g-eva-bakkerij")).await;
    write(
        &w,
        sql.add_member(&op(), A, "daan", &[Role::Groepsbeheerder]),
    )
    .await;
    write(&w, sql.add_to_group(&op(), A, "Winkel", "daan", true)).await;
    // daan is also in Bakkers, without administering it: he does not manage (or see) kees.
    write(&w, sql.add_to_group(&op(), A, "Bakkers", "daan", false)).await;
    grant(
        &w,
        A,
        Holder::Person("daan".into()),
        Scope::AllServices,
        "EH3",
    )
    .await;
    person(&w, A, "gijs", "Gijs de Boer", &[Role::Lezer], &[]).await;
    person(&w, A, "hanna", "Hanna Pieters", &[Role::Gebruiker], &[]).await;
    person(
        &w,
        A,
        "piet",
        "Piet Bakker",
        &[Role::Gebruiker],
        &[("Winkel", false)],
    )
    .await;
    person(
        &w,
        A,
        "kees",
        "Kees Visser",
        &[Role::Gebruiker],
        &[("Bakkers", false)],
    )
    .await;
    person(
        &w,
        A,
        "appointee",
        "Ap Pointee",
        &[Role::Gebruiker],
        &[("Winkel", false)],
    )
    .await;
    let service = |uuid: &str| Scope::Service { uuid: uuid.into() };
    let g_piet = grant(&w, A, Holder::Person("piet".into()), service(S1), "EH2+").await;
    let g_group = grant(&w, A, Holder::Group("Winkel".into()), service(S2), "EH2+").await;
    let (inv, inv_person) = invitation(&w, A, "resend@bakkerij.example", &["Winkel"]).await;
    set("piet", "piet");
    set("kees", "kees");
    set("appointee", "appointee");
    set("g_piet", &g_piet);
    set("g_group", &g_group);
    set("inv_resend", &inv);
    set("inv_resend_person", &inv_person);
    // B: carla (seed) is hoofdbeheerder; wim a user in group Monteurs; grants of a person and of
    // the group; an open invitation; a request to C to link one of C's users.
    write(&w, sql.create_group(&op(), B, "Monteurs")).await;
    person(
        &w,
        B,
        "wim",
        "Wim de Monteur",
        &[Role::Gebruiker],
        &[("Monteurs", false)],
    )
    .await;
    let b_grant = grant(&w, B, Holder::Person("wim".into()), service(S1), "EH3").await;
    let b_group_grant = grant(&w, B, Holder::Group("Monteurs".into()), service(S2), "EH3").await;
    let (b_inv, b_inv_person) = invitation(&w, B, "nieuw@vandijk.example", &["Monteurs"]).await;
    let b_lr = link_request(&w, B, C, "femke@groendak.example").await;
    set("wim", "wim");
    set("carla", "carla");
    set("b_grant", &b_grant);
    set("b_group_grant", &b_group_grant);
    set("b_inv", &b_inv);
    set("b_inv_person", &b_inv_person);
    set("b_lr", &b_lr);
    // What each role changes once: a member to remove (in Winkel, so the groepsbeheerder sees
    // them), invitations to withdraw, link requests (A to C; C to A naming an A member).
    let scopes = [
        r#"{"all":true}"#.to_string(),
        format!(r#"{{"provider":"{DV}"}}"#),
        format!(r#"{{"services":["{S1}"]}}"#),
        format!(r#"{{"services":["{S2}"]}}"#),
    ];
    // The same scopes as the grant form's fields (scope=…&provider=…&service=…).
    let form_scopes = [
        "scope=all".to_string(),
        format!("scope=provider&provider={}", urlencoding(DV)),
        format!("scope=services&service={S1}"),
        format!("scope=services&service={S2}"),
    ];
    let today = chrono::Utc::now().date_naive();
    let mut per_role: [BTreeMap<String, String>; 4] = Default::default();
    for (i, (role, _)) in ROLES.iter().enumerate() {
        let n = &role[..3];
        let victim = format!("victim-{n}");
        let fvictim = format!("fvictim-{n}");
        let linkee = format!("linkee-{n}");
        person(
            &w,
            A,
            &victim,
            "Victim",
            &[Role::Gebruiker],
            &[("Winkel", false)],
        )
        .await;
        person(
            &w,
            A,
            &fvictim,
            "Victim",
            &[Role::Gebruiker],
            &[("Winkel", false)],
        )
        .await;
        person(&w, A, &linkee, "Linkee", &[Role::Gebruiker], &[]).await;
        let (inv_w, _) = invitation(&w, A, &format!("w-{n}@bakkerij.example"), &["Winkel"]).await;
        let (finv_w, finv_w_person) =
            invitation(&w, A, &format!("fw-{n}@bakkerij.example"), &["Winkel"]).await;
        let lr_out = link_request(&w, A, C, &format!("out-{n}@groendak.example")).await;
        let linkee_email = format!("{linkee}@bakkerij.example");
        let lr_in_d = link_request(&w, C, A, &linkee_email).await;
        let lr_in_a = link_request(&w, C, A, &linkee_email).await;
        let m = &mut per_role[i];
        for (k, v) in [
            ("n", n.to_string()),
            ("victim", victim),
            ("fvictim", fvictim),
            ("inv_w", inv_w),
            ("finv_w", finv_w),
            ("finv_w_person", finv_w_person),
            ("lr_out", lr_out),
            ("lr_in_d", lr_in_d),
            ("lr_in_a", lr_in_a),
            ("scope", scopes[i].clone()),
            ("form_scope", form_scopes[i].clone()),
            ("today", today.to_string()),
            (
                "next_year",
                (today + chrono::TimeDelta::days(365)).to_string(),
            ),
            (
                "too_late",
                (today + chrono::TimeDelta::days(5 * 366 + 2)).to_string(),
            ),
        ] {
            m.insert(k.to_string(), v);
        }
    }
    (w, Ids { shared, per_role })
}

/// Each administering role's session, in the order of a row's statuses.
async fn sessions(w: &World) -> [(&'static str, Session); 4] {
    let mut out = Vec::new();
    for (role, person) in ROLES {
        out.push((role, login(w, person).await));
    }
    out.try_into()
        .unwrap_or_else(|_| panic!("a session for each role"))
}

/// An admin session of `person`.
async fn login(w: &World, person: &str) -> Session {
    let (plain, follow) = common::browser();
    let r = common::admin_login(w, &follow, person, "EH3").await;
    assert_eq!(r.url().path(), "/admin", "{person} could not log in");
    let s: Value = plain
        .get(format!("{}/api/v1/session", w.poort))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Session {
        client: plain,
        csrf: s["csrf_token"].as_str().unwrap().to_string(),
    }
}

#[tokio::test]
async fn every_api_endpoint_answers_each_role_its_part_and_a_refusal_changes_nothing() {
    let (w, ids) = world().await;
    // The table names every path and method of the OpenAPI document, and the document every row.
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", w.poort))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        // A person's own operations have their matrix in tests/mijn_permissions.rs.
        .filter(|(path, _)| *path != "/api/v1/me" && !path.starts_with("/api/v1/me/"))
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let tabled: BTreeSet<(String, String)> = API
        .iter()
        .chain(API_CROSS)
        .filter(|r| r.route != "/api/v1/openapi.json")
        .map(|r| (r.method.to_string(), r.route.to_string()))
        .collect();
    let untested: Vec<_> = documented.difference(&tabled).collect();
    assert!(untested.is_empty(), "documented, no row: {untested:?}");
    let undocumented: Vec<_> = tabled.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "not in openapi.json: {undocumented:?}"
    );
    // The router serves exactly the document's operations, both made from one list
    // (`web::api::contract`; `tests/admin_api.rs` compares them), so the document is the list
    // of routes here: every one of them has a row.

    matrix::run(&w, &ids, Kind::Api, API, &sessions(&w).await).await;

    // What the groepsbeheerder sees of the users: their group's only.
    let daan = login(&w, "daan").await;
    let (_, list) = send(
        &w,
        &daan,
        Kind::Api,
        "GET",
        "/api/v1/members?per_page=500",
        "",
        None,
    )
    .await;
    let list: Value = serde_json::from_str(&list).unwrap();
    let seen: BTreeSet<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["person"].as_str().unwrap())
        .collect();
    assert!(seen.contains("piet") && seen.contains("daan"), "{seen:?}");
    for outside in ["kees", "anna", "eva", "gijs", "hanna"] {
        assert!(
            !seen.contains(outside),
            "{outside} is outside Winkel: {seen:?}"
        );
    }
}

#[tokio::test]
async fn every_page_and_form_answers_each_role_its_part_and_needs_the_csrf_field() {
    let (w, ids) = world().await;
    // Every part of the admin module, including parts added later.
    let mut files: Vec<String> = std::fs::read_dir(common::repo_file("src/web/admin"))
        .unwrap()
        .map(|e| format!("src/web/admin/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".rs"))
        .collect();
    files.sort();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    assert_routes_covered(&files, &["/admin", "/dev/"], &[PAGES, PAGES_CROSS]);
    matrix::run(&w, &ids, Kind::Page, PAGES, &sessions(&w).await).await;
}

#[tokio::test]
async fn organisation_b_stays_invisible_and_unchanged_whatever_ids_a_tries() {
    let (w, ids) = world().await;
    // B's IDs are real: B's own hoofdbeheerder sees them.
    let carla = login(&w, "carla").await;
    for path in [
        "/api/v1/members/$wim",
        "/api/v1/grants/$b_grant",
        "/api/v1/grants/$b_group_grant",
    ] {
        let (status, text) = send(&w, &carla, Kind::Api, "GET", &ids.fill(0, path), "", None).await;
        assert_eq!(status, 200, "{path}: {text}");
    }
    let (_, theirs) = send(
        &w,
        &carla,
        Kind::Api,
        "GET",
        "/api/v1/link-requests",
        "",
        None,
    )
    .await;
    assert!(theirs.contains(&ids.fill(0, "$b_lr")), "{theirs}");
    let (status, _) = send(&w, &carla, Kind::Page, "GET", "/admin/users/wim", "", None).await;
    assert_eq!(status, 200);

    let before = snapshot(&w).await;
    let mut bodies = matrix::run(&w, &ids, Kind::Api, API_CROSS, &sessions(&w).await).await;
    bodies.extend(matrix::run(&w, &ids, Kind::Page, PAGES_CROSS, &sessions(&w).await).await);
    assert_eq!(snapshot(&w).await, before, "B's data changed");
    // Nothing of B in any answer (an answer may repeat the ID asked for), nor in A's lists.
    let anna = login(&w, "anna").await;
    let mut lists = Vec::new();
    for path in [
        "/api/v1/members?per_page=500",
        "/api/v1/members?q=wim",
        "/api/v1/grants?per_page=500",
        "/api/v1/link-requests",
        "/api/v1/audit?per_page=500",
        "/api/v1/audit.csv",
        "/api/v1/organisation",
        "/admin/users",
        "/admin",
    ] {
        let kind = if path.starts_with("/api") {
            Kind::Api
        } else {
            Kind::Page
        };
        let (status, text) = send(&w, &anna, kind, "GET", path, "", None).await;
        assert_eq!(status, 200, "{path}");
        lists.push(text);
    }
    let data = [
        "Wim de Monteur".to_string(),
        "wim@vandijk.example".to_string(),
        "nieuw@vandijk.example".to_string(),
        "Carla".to_string(),
        "Van Dijk".to_string(),
        "87654321".to_string(),
    ];
    let b_ids = [
        "$b_grant",
        "$b_group_grant",
        "$b_lr",
        "$b_inv",
        "$b_inv_person",
    ]
    .map(|v| ids.fill(0, v));
    for body in &bodies {
        for secret in &data {
            assert!(!body.contains(secret.as_str()), "{secret} shown: {body}");
        }
    }
    for body in &lists {
        for secret in data.iter().chain(&b_ids) {
            assert!(!body.contains(secret.as_str()), "{secret} listed: {body}");
        }
    }
}

#[tokio::test]
async fn a_gebruiker_gets_no_session() {
    let (w, _) = world().await;
    let (plain, follow) = common::browser();
    let r = common::admin_login(&w, &follow, "hanna", "EH3").await;
    assert_eq!(r.status(), 403);
    assert_ne!(r.url().path(), "/admin");
    for path in ["/api/v1/session", "/api/v1/members", "/api/v1/grants"] {
        let r = plain
            .get(format!("{}{path}", w.poort))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    let r = plain
        .get(format!("{}/admin/users", w.poort))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/login");
}
