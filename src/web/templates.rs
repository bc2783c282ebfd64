//! Every page template, embedded at build time: the page layer owns them all (`templates/`),
//! whichever part of poort renders them. A template added to the folder is added here too;
//! `every_template_in_the_folder_is_embedded` fails otherwise.

/// (name, source) of every template under `templates/`.
pub const ALL: &[(&str, &str)] = &[
    ("logout.html", include_str!("../../templates/logout.html")),
    (
        "mijn/approvals.html",
        include_str!("../../templates/mijn/approvals.html"),
    ),
    (
        "mijn/home.html",
        include_str!("../../templates/mijn/home.html"),
    ),
    (
        "mijn/layout.html",
        include_str!("../../templates/mijn/layout.html"),
    ),
    (
        "mijn/message.html",
        include_str!("../../templates/mijn/message.html"),
    ),
    (
        "mijn/renew.html",
        include_str!("../../templates/mijn/renew.html"),
    ),
    (
        "mijn/request.html",
        include_str!("../../templates/mijn/request.html"),
    ),
    (
        "mijn/request_new.html",
        include_str!("../../templates/mijn/request_new.html"),
    ),
    (
        "admin/audit.html",
        include_str!("../../templates/admin/audit.html"),
    ),
    (
        "admin/confirm.html",
        include_str!("../../templates/admin/confirm.html"),
    ),
    (
        "admin/grant_new.html",
        include_str!("../../templates/admin/grant_new.html"),
    ),
    (
        "admin/grants.html",
        include_str!("../../templates/admin/grants.html"),
    ),
    (
        "admin/home.html",
        include_str!("../../templates/admin/home.html"),
    ),
    (
        "admin/invite.html",
        include_str!("../../templates/admin/invite.html"),
    ),
    (
        "admin/layout.html",
        include_str!("../../templates/admin/layout.html"),
    ),
    (
        "admin/links.html",
        include_str!("../../templates/admin/links.html"),
    ),
    (
        "admin/organisation.html",
        include_str!("../../templates/admin/organisation.html"),
    ),
    (
        "admin/user.html",
        include_str!("../../templates/admin/user.html"),
    ),
    (
        "admin/users.html",
        include_str!("../../templates/admin/users.html"),
    ),
    (
        "admin_message.html",
        include_str!("../../templates/admin_message.html"),
    ),
    ("base.html", include_str!("../../templates/base.html")),
    (
        "choose_idp.html",
        include_str!("../../templates/choose_idp.html"),
    ),
    (
        "choose_org.html",
        include_str!("../../templates/choose_org.html"),
    ),
    (
        "components.html",
        include_str!("../../templates/components.html"),
    ),
    ("error.html", include_str!("../../templates/error.html")),
    ("mailbox.html", include_str!("../../templates/mailbox.html")),
    (
        "post_form.html",
        include_str!("../../templates/post_form.html"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_in_the_folder_is_embedded() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else if let Ok(rel) = path.strip_prefix(root) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut on_disk = Vec::new();
        walk(&root, &root, &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = ALL.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }
}
