//! Mijn poort's journeys in a real headless Chromium (helpers and the axe-core check in
//! tests/common/browser.rs): a gebruiker asks for an extra grant, the beheerder approves it from
//! the link in the mail, and the gebruiker logs in to the service with it; a request declined
//! with a reason; a request expired after 30 days. Every page a journey stops at passes axe-core.

mod common;

use common::browser::*;
use common::World;
use fantoccini::Client;

/// Gives the people the journeys mail an address (the development register has none).
async fn with_addresses(w: &World) {
    let sql = "UPDATE persons SET email = id || '@bakkerij.example', language = 'nl'";
    match w.registry.sql().pool() {
        poort::grants::Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        poort::grants::Pool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
    }
    .unwrap();
}

/// Opens the newest mail to `to` in the development mailbox and follows its link to a request.
async fn follow_mail(w: &World, c: &Client, to: &str, subject: &str) {
    follow_link_in_mail(w, c, to, subject, "/mijn/requests/").await
}

/// Opens the newest mail to `to` with `subject` in the development mailbox and follows its
/// link that contains `part`.
async fn follow_link_in_mail(w: &World, c: &Client, to: &str, subject: &str, part: &str) {
    common::deliver_mail(w).await;
    c.goto(&format!("{}/dev/mailbox", w.poort)).await.unwrap();
    until_text(c, subject).await;
    let link = c
        .execute(
            "const m = [...document.querySelectorAll('section.poort-mail')]\
               .find(m => m.textContent.includes(arguments[0]) && m.textContent.includes(arguments[1]));\
             const a = m && [...m.querySelectorAll('a')].find(a => a.href.includes(arguments[2]));\
             return a ? a.href : null;",
            vec![to.into(), subject.into(), part.into()],
        )
        .await
        .unwrap();
    let link = link
        .as_str()
        .unwrap_or_else(|| panic!("no mail to {to} with {subject:?} and a link to {part}"))
        .to_string();
    c.goto(&link).await.unwrap();
}

/// `person` logs in to Mijn poort at EH3 and sees its start page.
async fn log_in_to_mijn(w: &World, c: &Client, person: &str) {
    c.goto(&format!("{}/mijn", w.poort)).await.unwrap();
    at_ad(c, person, "EH3").await;
    until_text(c, "Mijn organisaties").await;
}

#[tokio::test]
async fn an_extra_grant_asked_on_mijn_is_approved_from_the_mail_and_used() {
    let w = common::start().await;
    with_addresses(&w).await;
    let d = driver().await;

    // eva, gebruiker of the Bakkerij, has only a revoked grant: the service refuses her.
    let eva = browser(&d).await;
    service_login(&w, &eva, "eva", "Inloggen niet gelukt").await;

    // On Mijn poort she sees her organisation and her revoked grant, and asks for service 1.
    log_in_to_mijn(&w, &eva, "eva").await;
    let home = until_text(&eva, "Bakkerij De Gouden Korst B.V.").await;
    assert!(home.contains("ingetrokken"), "{home}");
    click(&eva, "a[href='/mijn/requests/new']").await;
    until_text(&eva, "Extra machtiging").await;
    click(
        &eva,
        "input[name=service][value='5a1d3b0e-8c9f-4f5e-9b1a-000000000001']",
    )
    .await;
    click(&eva, "button[name=ask][value=grant]").await;
    until_text(&eva, "Uw aanvraag is verstuurd").await;
    until_text(&eva, "wacht op handtekening").await;

    // anna, hoofdbeheerder, follows the link in her mail, logs in and approves.
    let anna = browser(&d).await;
    follow_mail(&w, &anna, "anna@bakkerij.example", "Aanvraag om te tekenen").await;
    at_ad(&anna, "anna", "EH3").await;
    until_text(&anna, "Eva Smit").await;
    click(&anna, "form#approve button[type=submit]").await;
    until_text(&anna, "De aanvraag is goedgekeurd.").await;

    // eva is told, and logs in to the service with her new grant.
    common::deliver_mail(&w).await;
    eva.goto(&format!("{}/dev/mailbox", w.poort)).await.unwrap();
    let mailbox = until_text(&eva, "is goedgekeurd (niveau EH3, 1 jaar)").await;
    assert!(
        mailbox.contains("To: \"Eva Smit\" <eva@bakkerij.example>")
            || mailbox.contains("eva@bakkerij.example"),
        "{mailbox}"
    );
    let page = service_login(&w, &eva, "eva", "12345678").await;
    assert!(page.contains("Bakkerij De Gouden Korst B.V."), "{page}");
}

#[tokio::test]
async fn a_declined_request_tells_why_and_an_expired_one_cannot_be_signed() {
    let w = common::start().await;
    with_addresses(&w).await;
    let d = driver().await;
    let eva = browser(&d).await;
    log_in_to_mijn(&w, &eva, "eva").await;

    // Asked for all services at EH3 for 5 years.
    click(&eva, "a[href='/mijn/requests/new']").await;
    until_text(&eva, "Extra machtiging").await;
    click(&eva, "input[name=scope][value=all]").await;
    click(&eva, "input[name=validity][value='5']").await;
    click(&eva, "button[name=ask][value=grant]").await;
    until_text(&eva, "Uw aanvraag is verstuurd").await;
    let request_page = eva.current_url().await.unwrap();

    // anna declines it; without a reason she is told she must give one.
    let anna = browser(&d).await;
    follow_mail(&w, &anna, "anna@bakkerij.example", "Aanvraag om te tekenen").await;
    at_ad(&anna, "anna", "EH3").await;
    until_text(&anna, "Afwijzen").await;
    click(&anna, "form#decline button[type=submit]").await;
    until_text(&anna, "Geef een reden voor de afwijzing.").await;
    type_into(
        &anna,
        "#reason",
        "Alle diensten is te ruim; vraag de diensten die u nodig heeft.",
    )
    .await;
    click(&anna, "form#decline button[type=submit]").await;
    until_text(&anna, "De aanvraag is afgewezen.").await;

    // eva reads why, on the request's page and in her mail.
    eva.goto(request_page.as_str()).await.unwrap();
    until_text(&eva, "Alle diensten is te ruim").await;
    common::deliver_mail(&w).await;
    eva.goto(&format!("{}/dev/mailbox", w.poort)).await.unwrap();
    until_text(&eva, "is afgewezen. De reden: Alle diensten is te ruim").await;

    // A request made 31 days ago: expired on sight, refused, and marked by the expiry run.
    let now = chrono::Utc::now();
    let sql = w.registry.sql();
    let new = poort::grants::NewRequest {
        organisation: "12345678".into(),
        kind: poort::domain::request::RequestKind::Grant {
            scopes: vec![poort::grants::Scope::AllServices],
            level: poort::domain::level::Level::Eh3,
            validity: poort::domain::request::Validity::OneYear,
        },
        motivation: None,
    };
    let catalogue = vec![common::service(1, "EH3")];
    let (old, _) = sql
        .ask("eva", &new, &catalogue, now - chrono::TimeDelta::days(31))
        .await
        .unwrap();
    anna.goto(&format!("{}/mijn/requests/{}", w.poort, old.request.id))
        .await
        .unwrap();
    let page = until_text(&anna, "vervallen").await;
    assert!(
        !page.contains("id=\"approve\""),
        "an expired request offers no approval: {page}"
    );
    // Not in the list to sign either.
    anna.goto(&format!("{}/mijn/approvals", w.poort))
        .await
        .unwrap();
    until_text(&anna, "Er wacht niets op uw handtekening.").await;
    // The expiry run (as `poort serve` schedules it) marks it and tells eva; once only.
    let job = poort::selfservice::expiry::ExpiryJob::new(
        w.registry.clone(),
        poort::mail::Mailer::new(w.registry.sql().pool().clone()),
        std::sync::Arc::new(w.config.clone()),
        "journey",
        std::time::Duration::from_secs(3600),
    );
    assert_eq!(job.run_once(chrono::Utc::now()).await.unwrap(), Some(1));
    assert_eq!(job.run_once(chrono::Utc::now()).await.unwrap(), Some(0));
    common::deliver_mail(&w).await;
    eva.goto(&format!("{}/dev/mailbox", w.poort)).await.unwrap();
    until_text(&eva, "is vervallen: niemand heeft binnen 30 dagen beslist").await;
}

#[tokio::test]
async fn a_renewal_asked_from_the_reminder_mail_is_approved() {
    let w = common::start().await;
    with_addresses(&w).await;
    let pool = w.registry.sql().pool();
    // eva's grant is active again and ends in 40 days.
    let until = chrono::Utc::now() + chrono::TimeDelta::days(40);
    let sql = format!(
        "UPDATE grants SET status = 'active', valid_from = '{}', valid_until = '{}' \
         WHERE id = 'g-eva-bakkerij'",
        (until - chrono::TimeDelta::days(365)).to_rfc3339(),
        until.to_rfc3339()
    );
    match pool {
        poort::grants::Pool::Sqlite(p) => sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(p)
            .await
            .map(|_| ()),
        poort::grants::Pool::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
    w.registry
        .invalidate(&poort::grants::Touched {
            links: [poort::grants::IdentityKey::new(
                poort::demo::DEV_AD_ENTITY_ID,
                "eva",
            )]
            .into_iter()
            .collect(),
        })
        .await;
    // The reminder run (as `poort serve` schedules it) mails her the renewal link.
    let job = poort::admin::notify::ReminderJob::new(
        poort::mail::Mailer::new(pool.clone()),
        "journey",
        std::time::Duration::from_secs(3600),
    )
    .with_renewal_links(&format!("{}/mijn/renew/", w.poort));
    assert!(job.run_once(chrono::Utc::now()).await.unwrap().unwrap() >= 1);

    // One click from the mail (after logging in): renewal by 3 years asked.
    let d = driver().await;
    let eva = browser(&d).await;
    follow_link_in_mail(
        &w,
        &eva,
        "eva@bakkerij.example",
        "Uw machtiging verloopt binnenkort",
        "/mijn/renew/g-eva-bakkerij",
    )
    .await;
    at_ad(&eva, "eva", "EH3").await;
    until_text(&eva, "Verlenging aanvragen").await;
    click(&eva, "button[name=ask][value=renewal]").await;
    until_text(&eva, "Uw aanvraag is verstuurd").await;
    until_text(&eva, "Verlenging van machtiging g-eva-bakkerij").await;

    // anna approves from her mail; the grant now runs 3 years beyond its old end.
    let anna = browser(&d).await;
    follow_mail(&w, &anna, "anna@bakkerij.example", "Aanvraag om te tekenen").await;
    at_ad(&anna, "anna", "EH3").await;
    until_text(&anna, "Verlenging van machtiging g-eva-bakkerij").await;
    click(&anna, "form#approve button[type=submit]").await;
    until_text(&anna, "De aanvraag is goedgekeurd.").await;
    let filter = poort::grants::GrantFilter {
        id: Some("g-eva-bakkerij".into()),
        ..Default::default()
    };
    let renewed = w.registry.sql().list_grants(&filter).await.unwrap();
    assert_eq!(
        renewed[0].valid_until.date_naive(),
        until
            .checked_add_months(chrono::Months::new(36))
            .unwrap()
            .date_naive()
    );
    // On her start page the grant is no longer one to renew.
    eva.goto(&format!("{}/mijn", w.poort)).await.unwrap();
    let home = until_text(&eva, "Mijn machtigingen").await;
    assert!(!home.contains("/mijn/renew/g-eva-bakkerij"), "{home}");
}

#[tokio::test]
async fn joint_authority_needs_a_second_directors_signature() {
    let w = common::start().await;
    with_addresses(&w).await;
    // The Bakkerij's extract names bram and carla as directors with joint authority, and the
    // Bakkerij wants two signatures from such directors. (Bound to their persons, as a first
    // login to Mijn poort binds them.)
    let statements = [
        "UPDATE organisations SET joint_needs_two = TRUE WHERE kvk = '12345678'".to_string(),
        "INSERT INTO representatives (id, organisation_id, given_names, family_name, \
         date_of_birth, authority, person_id, imported_at) SELECT 'rep-bram', id, 'Bram', \
         'Jansen', '1971-02-03', 'joint', 'bram', created_at FROM organisations WHERE kvk = '12345678'"
            .to_string(),
        "INSERT INTO representatives (id, organisation_id, given_names, family_name, \
         date_of_birth, authority, person_id, imported_at) SELECT 'rep-carla', id, 'Carla', \
         'Bakker', '1972-03-04', 'joint', 'carla', created_at FROM organisations WHERE kvk = '12345678'"
            .to_string(),
    ];
    for sql in statements {
        match w.registry.sql().pool() {
            poort::grants::Pool::Sqlite(p) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(p)
                .await
                .map(|_| ()),
            poort::grants::Pool::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(p)
                .await
                .map(|_| ()),
        }
        .unwrap();
    }
    let d = driver().await;
    let eva = browser(&d).await;
    log_in_to_mijn(&w, &eva, "eva").await;
    click(&eva, "a[href='/mijn/requests/new']").await;
    until_text(&eva, "Extra machtiging").await;
    click(
        &eva,
        "input[name=service][value='5a1d3b0e-8c9f-4f5e-9b1a-000000000002']",
    )
    .await;
    click(&eva, "button[name=ask][value=grant]").await;
    until_text(&eva, "Uw aanvraag is verstuurd").await;
    let request_page = eva.current_url().await.unwrap();

    // bram, a director, sees it waiting on his start page and signs first.
    let bram = browser(&d).await;
    log_in_to_mijn(&w, &bram, "bram").await;
    let home = until_text(&bram, "bestuurder, gezamenlijk bevoegd").await;
    assert!(home.contains("id=\"to-sign\""), "{home}");
    click(&bram, "a[href='/mijn/approvals']").await;
    until_text(&bram, "1 aanvragen wachten op uw handtekening").await;
    click(&bram, "tr.request a").await;
    click(&bram, "form#approve button[type=submit]").await;
    until_text(&bram, "De aanvraag wacht nu op een tweede bestuurder.").await;
    until_text(&bram, "wacht op tweede bestuurder").await;
    // It no longer waits for him.
    bram.goto(&format!("{}/mijn/approvals", w.poort))
        .await
        .unwrap();
    until_text(&bram, "Er wacht niets op uw handtekening.").await;
    // eva reads where it stands.
    eva.goto(request_page.as_str()).await.unwrap();
    until_text(&eva, "wacht op tweede bestuurder").await;

    // carla, the other director, is mailed and signs second: approved.
    let carla = browser(&d).await;
    follow_mail(
        &w,
        &carla,
        "carla@bakkerij.example",
        "Aanvraag om te tekenen",
    )
    .await;
    at_ad(&carla, "carla", "EH3").await;
    until_text(&carla, "Goedkeuren").await;
    click(&carla, "form#approve button[type=submit]").await;
    until_text(&carla, "De aanvraag is goedgekeurd.").await;
    eva.goto(request_page.as_str()).await.unwrap();
    until_text(&eva, "goedgekeurd").await;
    // anna, an administrator but no director, was not asked for the second signature.
    common::deliver_mail(&w).await;
    let annas: Vec<String> = poort::mail::outbox(&w.dir.path().join("mail"))
        .into_iter()
        .map(|(_, text)| text)
        .filter(|t| t.contains("anna@bakkerij.example"))
        .collect();
    assert_eq!(
        annas.len(),
        1,
        "one mail when eva asked, none after bram signed: {annas:#?}"
    );
}

#[tokio::test]
async fn mijn_poort_says_who_has_no_access_what_is_not_theirs_and_that_they_logged_out() {
    let w = common::start().await;
    let d = driver().await;
    // gijs is known to the development AD, not to poort.
    let gijs = browser(&d).await;
    gijs.goto(&format!("{}/mijn", w.poort)).await.unwrap();
    at_ad(&gijs, "gijs", "EH3").await;
    until_text(&gijs, "Uw eHerkenningsmiddel is nog niet bekend bij poort").await;

    // eva asks; bram (no standing at the Bakkerij) gets "not found" for it, as for any ID.
    let eva = browser(&d).await;
    log_in_to_mijn(&w, &eva, "eva").await;
    click(&eva, "a[href='/mijn/requests/new']").await;
    until_text(&eva, "Extra machtiging").await;
    click(&eva, "input[name=scope][value=all]").await;
    click(&eva, "button[name=ask][value=grant]").await;
    until_text(&eva, "Uw aanvraag is verstuurd").await;
    let request_page = eva.current_url().await.unwrap();
    let bram = browser(&d).await;
    log_in_to_mijn(&w, &bram, "bram").await;
    bram.goto(request_page.as_str()).await.unwrap();
    let theirs = until_text(&bram, "Dit bestaat niet, of het is niet van u.").await;
    bram.goto(&format!("{}/mijn/requests/no-such-request", w.poort))
        .await
        .unwrap();
    let unknown = until_text(&bram, "Dit bestaat niet, of het is niet van u.").await;
    let main = |page: &str| page[page.find("<main").unwrap_or(0)..].to_string();
    assert_eq!(main(&theirs), main(&unknown));

    // A link for a login to a page elsewhere goes to Mijn poort's start instead.
    eva.goto(&format!(
        "{}/mijn/login?next=https://evil.example/",
        w.poort
    ))
    .await
    .unwrap();
    at_ad(&eva, "eva", "EH3").await;
    until_text(&eva, "Mijn organisaties").await;
    assert_eq!(eva.current_url().await.unwrap().path(), "/mijn");

    // In English, and logged out.
    eva.goto(&format!("{}/lang/en?back=/mijn", w.poort))
        .await
        .unwrap();
    eva.goto(&format!("{}/mijn", w.poort)).await.unwrap();
    until_text(&eva, "My organisations").await;
    click(&eva, "form[action='/mijn/logout'] button").await;
    until_text(&eva, "You have logged out of Mijn poort.").await;
    eva.goto(&format!("{}/mijn", w.poort)).await.unwrap();
    at_ad(&eva, "eva", "EH3").await;
    until_text(&eva, "My organisations").await;
}
