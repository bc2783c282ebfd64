//! The login session at poort (issue 15, docs/SESSIONS.md): a second login in the same browser
//! skips the AD where the scheme allows it, and only there. The authorization requests are built
//! by the `openidconnect` crate (prompt=none, prompt=login, max_age=0), not by poort's code; the
//! development AD answers the first login. Grants are decided again at every login.

mod common;

use common::oidc_rp::{client_config, param, walk};
use common::{browser, World};
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreProviderMetadata,
};
use openidconnect::{
    ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl,
};
use poort::config::OidcClientConfig;
use poort::grants::Actor;

const SSO: &str = "rp-sso";
const NO_SSO: &str = "rp-no-sso";
const SECRET: &str = "a-long-client-secret-for-sessions";
const RP_CB: &str = "https://rp.example/cb";

/// poort where service 1 supports single sign-on and service 2 does not; a client for each.
async fn world() -> World {
    world_with(|_| {}).await
}

async fn world_with(change: impl FnOnce(&mut poort::config::Config)) -> World {
    common::start_prepared(|_, config| {
        change(config);
        for service in &mut config.services {
            service.sso_support = service.uuid.ends_with("000000000001");
        }
        config.oidc_clients.extend([
            client_config(SSO, Some(SECRET), RP_CB),
            OidcClientConfig {
                service: "5a1d3b0e-8c9f-4f5e-9b1a-000000000002".into(),
                ..client_config(NO_SSO, Some(SECRET), RP_CB)
            },
        ]);
    })
    .await
}

/// The authorization URL the openidconnect crate builds for `client`, with `prompt` and
/// `max_age` as given.
async fn authorize_url(
    w: &World,
    client: &str,
    prompt: Option<CoreAuthPrompt>,
    max_age_zero: bool,
) -> String {
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(w.poort.clone()).unwrap(), &http)
            .await
            .unwrap();
    let rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(client.into()),
        Some(ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(RP_CB.into()).unwrap());
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    if let Some(prompt) = prompt {
        request = request.add_prompt(prompt);
    }
    if max_age_zero {
        request = request.set_max_age(std::time::Duration::ZERO);
    }
    request.url().0.to_string()
}

/// Where poort sends the browser first: to the client (answered without the AD) or elsewhere.
async fn first_stop(w: &World, c: &reqwest::Client, url: &str) -> String {
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let to = r.headers()["location"].to_str().unwrap().to_string();
    if to.starts_with('/') {
        format!("{}{to}", w.poort)
    } else {
        to
    }
}

/// Where a passive login (`prompt=none`) of `client` in this browser goes first.
async fn passive(w: &World, c: &reqwest::Client, client: &str) -> String {
    first_stop(
        w,
        c,
        &authorize_url(w, client, Some(CoreAuthPrompt::None), false).await,
    )
    .await
}

/// `to` carries the OAuth error `error`, its description naming `says` when given.
fn refused(to: &str, error: &str, says: Option<&str>) {
    assert_eq!(param(to, "error").as_deref(), Some(error), "{to}");
    if let Some(says) = says {
        assert!(
            param(to, "error_description").unwrap().contains(says),
            "{to}"
        );
    }
}

/// eva, who acts for one organisation (her grant, revoked in the development register, made
/// active again), logged in at the SSO client through the AD: her browser.
async fn eva_logged_in(w: &World) -> reqwest::Client {
    let sql = w.registry.sql();
    w.registry
        .write(sql.reactivate_grant(&Actor::Operator("test".into()), "g-eva-bakkerij"))
        .await
        .unwrap();
    let (plain, follow) = browser();
    let url = authorize_url(w, SSO, None, false).await;
    let location = walk((&plain, &follow), &w.poort, &url, ("eva", "EH3"), None).await;
    assert!(param(&location, "code").is_some(), "{location}");
    plain
}

#[tokio::test]
async fn a_second_login_skips_the_ad_only_where_the_scheme_allows_and_grants_are_decided_again() {
    let w = world().await;
    let plain = eva_logged_in(&w).await;

    // prompt=none in the same browser: answered from the session, no AD, with iss.
    let url = authorize_url(&w, SSO, Some(CoreAuthPrompt::None), false).await;
    let to = first_stop(&w, &plain, &url).await;
    assert!(to.starts_with(RP_CB), "{to}");
    assert!(param(&to, "code").is_some(), "{to}");
    assert_eq!(param(&to, "iss").as_deref(), Some(w.poort.as_str()));
    // And without prompt, the same.
    let to = first_stop(&w, &plain, &authorize_url(&w, SSO, None, false).await).await;
    assert!(param(&to, "code").is_some(), "{to}");

    // prompt=login and max_age=0 go to the AD again.
    for (prompt, max_age_zero) in [(Some(CoreAuthPrompt::Login), false), (None, true)] {
        let url = authorize_url(&w, SSO, prompt.clone(), max_age_zero).await;
        let to = first_stop(&w, &plain, &url).await;
        assert!(
            to.starts_with(&w.ad),
            "prompt {prompt:?}, max_age=0 {max_age_zero}: {to}"
        );
    }

    // A service whose catalogue entry does not support SSO: the AD, and prompt=none refused.
    let to = first_stop(&w, &plain, &authorize_url(&w, NO_SSO, None, false).await).await;
    assert!(to.starts_with(&w.ad), "{to}");
    let to = passive(&w, &plain, NO_SSO).await;
    refused(&to, "login_required", Some("service_without_sso"));

    // Another browser has no session: login_required.
    let (other, _) = browser();
    let to = passive(&w, &other, SSO).await;
    refused(&to, "login_required", None);

    // The grant revoked: the session still skips the AD, but the login is refused.
    let sql = w.registry.sql();
    w.registry
        .write(sql.revoke_grant(&Actor::Operator("test".into()), "g-eva-bakkerij"))
        .await
        .unwrap();
    let to = passive(&w, &plain, SSO).await;
    refused(&to, "access_denied", Some("grant_revoked"));
}

#[tokio::test]
async fn a_passive_login_that_needs_the_organisation_chosen_asks_for_interaction() {
    let w = world().await;
    let (plain, follow) = browser();
    // anna acts for two organisations: she chooses at the first login.
    let url = authorize_url(&w, SSO, None, false).await;
    let location = walk(
        (&plain, &follow),
        &w.poort,
        &url,
        ("anna", "EH3"),
        Some("12345678"),
    )
    .await;
    assert!(param(&location, "code").is_some(), "{location}");
    // Passive, she cannot choose: interaction_required.
    let to = passive(&w, &plain, SSO).await;
    refused(&to, "interaction_required", None);
    // Not passive: the choice page, without the AD.
    let to = first_stop(&w, &plain, &authorize_url(&w, SSO, None, false).await).await;
    assert!(
        to.starts_with(&format!("{}/login/organisation", w.poort)),
        "{to}"
    );
}

#[tokio::test]
async fn without_login_sessions_every_login_goes_to_the_ad() {
    let w = world_with(|c| c.login_session.enabled = false).await;
    let plain = eva_logged_in(&w).await;
    let to = first_stop(&w, &plain, &authorize_url(&w, SSO, None, false).await).await;
    assert!(to.starts_with(&w.ad), "{to}");
    let to = passive(&w, &plain, SSO).await;
    refused(&to, "login_required", None);
}

#[test]
fn limits_beyond_the_schemes_are_reported_by_poort_check() {
    let config = poort::config::LoginSessionConfig {
        idle_seconds: 9000,
        absolute_seconds: 14400,
        enabled: true,
    };
    assert_eq!(
        config.problems(),
        ["[login_session] idle_seconds = 9000: between 0 and 7200 (the afsprakenstelsel's limit); poort uses at most 7200"]
    );
    assert!(poort::config::LoginSessionConfig::default()
        .problems()
        .is_empty());
}
