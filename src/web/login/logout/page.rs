//! The pages of a log-out: the scheme's "Uitloggen is momenteel niet mogelijk" when poort finds
//! no AD to send the log-out to, "U bent uitgelogd" when the AD answered and nobody waits for
//! the person, and the question an OpenID Connect log-out without a valid `id_token_hint` must
//! ask (RP-Initiated Logout 1.0 §2).

use super::{Back, Ctx};
use crate::web::i18n::Lang;
use crate::web::pages::PostForm;
use crate::web::AppState;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;

/// The browser's name from its User-Agent, for the scheme's text "Sluit alle [naam
/// browser]vensters"; `None` when it cannot be told (the text then says "browservensters").
/// Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
pub(super) fn browser_name(headers: &HeaderMap) -> Option<&'static str> {
    let ua = headers.get(header::USER_AGENT)?.to_str().ok()?;
    [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(token, _)| ua.contains(token))
    .map(|(_, name)| *name)
}

/// "Uitloggen is momenteel niet mogelijk. Sluit alle [naam browser]vensters om de beveiliging
/// van uw informatie te waarborgen." (afsprakenstelsel, *Single Log-out*), with the way back to
/// the service when there is one.
pub(super) fn not_possible(
    state: &AppState,
    ctx: &Ctx,
    browser: Option<&str>,
    back: Option<Back>,
) -> Response {
    let (windows_nl, windows_en) = match browser {
        Some(name) => (format!("{name}-vensters"), format!("{name} windows")),
        None => ("browservensters".to_string(), "browser windows".to_string()),
    };
    let lang = ctx.lang;
    let lines = [match lang {
        Lang::Nl => {
            format!("Sluit alle {windows_nl} om de beveiliging van uw informatie te waarborgen.")
        }
        Lang::En => format!("Close all {windows_en} to keep your information safe."),
    }];
    render(
        state,
        ctx,
        StatusCode::OK,
        (
            lang.pick(
                "Uitloggen is momenteel niet mogelijk",
                "Logging out is not possible at the moment",
            ),
            Some((
                "warning",
                lang.pick(
                    "Uitloggen is momenteel niet mogelijk.",
                    "Logging out is not possible at the moment.",
                ),
            )),
        ),
        &lines,
        back.map(|b| (b, lang.pick("Terug naar de dienst", "Back to the service"))),
    )
}

/// The AD answered and no service waits for the person: logged out at poort and at the AD
/// (in the scheme's words for the AD's own page), or, when the AD could not end its session,
/// what to do.
pub(super) fn logged_out(state: &AppState, ctx: &Ctx, ad: &str, at_ad: bool) -> Response {
    let lang = ctx.lang;
    let (title, alert, lines) = if at_ad {
        (
            lang.pick("U bent uitgelogd", "You are logged out"),
            match lang {
                Lang::Nl => format!("U bent uitgelogd bij poort en bij {ad}."),
                Lang::En => format!("You are logged out of poort and of {ad}."),
            },
            vec![lang
                .pick(
                    "Als u van andere diensten gebruik heeft gemaakt, moet u daar zelf nog uitloggen. U kunt ook alle browservensters sluiten.",
                    "If you used other services, log out there yourself. You can also close all browser windows.",
                )
                .to_string()],
        )
    } else {
        (
            lang.pick("Uitloggen niet volledig", "Log-out not complete"),
            match lang {
                Lang::Nl => {
                    format!("U bent uitgelogd bij poort, maar {ad} kon uw sessie niet beëindigen.")
                }
                Lang::En => {
                    format!("You are logged out of poort, but {ad} could not end your session.")
                }
            },
            vec![lang
                .pick(
                    "Sluit alle browservensters om de beveiliging van uw informatie te waarborgen.",
                    "Close all browser windows to keep your information safe.",
                )
                .to_string()],
        )
    };
    let kind = if at_ad { "ok" } else { "warning" };
    render(
        state,
        ctx,
        StatusCode::OK,
        (title, Some((kind, &alert))),
        &lines,
        None,
    )
}

/// Asks whether to log out (an OpenID Connect log-out without a valid `id_token_hint` for this
/// session): a form posting the request back with the confirmation.
pub(super) fn confirm(state: &AppState, ctx: &Ctx, form: PostForm) -> Response {
    let lang = ctx.lang;
    let lines = [lang
        .pick(
            "Een dienst vraagt poort u uit te loggen. Daarmee beëindigt u ook uw sessie bij uw inlogmiddel.",
            "A service asks poort to log you out. This also ends your session with your identity provider.",
        )
        .to_string()];
    render(
        state,
        ctx,
        StatusCode::OK,
        (
            lang.pick("Wilt u uitloggen?", "Do you want to log out?"),
            None,
        ),
        &lines,
        Some((Back::Form(form), lang.pick("Uitloggen", "Log out"))),
    )
}

fn render(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    (title, alert): (&str, Option<(&str, &str)>),
    lines: &[String],
    action: Option<(Back, &str)>,
) -> Response {
    crate::telemetry::note_reference(&ctx.reference);
    let (form, link, label) = match action {
        Some((Back::Form(f), label)) => (Some(f), None, label),
        Some((Back::Link(l), label)) => (None, Some(l), label),
        None => (None, None, ""),
    };
    let mut response = state.pages.render(
        "logout.html",
        context! {
            lang => ctx.lang.code(),
            title => title,
            alert_kind => alert.map(|a| a.0),
            alert => alert.map(|a| a.1),
            lines => lines,
            form => form,
            form_label => label,
            link => link,
            link_label => label,
            reference => ctx.reference,
        },
        None,
    );
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ua(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::USER_AGENT, value.parse().unwrap());
        h
    }

    #[test]
    fn the_browser_is_named_where_its_user_agent_tells() {
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0";
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";
        assert_eq!(browser_name(&ua(edge)), Some("Edge"));
        assert_eq!(browser_name(&ua(chrome)), Some("Chrome"));
        assert_eq!(browser_name(&ua(firefox)), Some("Firefox"));
        assert_eq!(browser_name(&ua(safari)), Some("Safari"));
        assert_eq!(browser_name(&ua("curl/8.0")), None);
        assert_eq!(browser_name(&HeaderMap::new()), None);
    }
}
