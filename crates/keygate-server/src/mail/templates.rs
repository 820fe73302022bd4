//! The messages Keygate sends: each a subject, a text/plain part and a
//! text/html part (askama templates under `templates/mail/`), carrying the
//! tenant's display name.

use askama::Template;

/// A rendered message, ready to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The `Subject` header, with the tenant's display name.
    pub subject: String,
    /// The text/plain part.
    pub text: String,
    /// The text/html part.
    pub html: String,
}

#[derive(Template)]
#[template(path = "mail/password_reset.txt")]
struct ResetText<'a> {
    tenant_name: &'a str,
    link: &'a str,
    minutes: i64,
}

#[derive(Template)]
#[template(path = "mail/password_reset.html")]
struct ResetHtml<'a> {
    tenant_name: &'a str,
    link: &'a str,
    minutes: i64,
}

/// The password-reset message: `link` is absolute, under the issuer the
/// person used; it is valid for `ttl` seconds.
pub fn password_reset(tenant_name: &str, link: &str, ttl: i64) -> Result<Rendered, askama::Error> {
    let minutes = (ttl + 59) / 60;
    Ok(Rendered {
        subject: format!("Reset your {tenant_name} password"),
        text: ResetText {
            tenant_name,
            link,
            minutes,
        }
        .render()?,
        html: ResetHtml {
            tenant_name,
            link,
            minutes,
        }
        .render()?,
    })
}

#[derive(Template)]
#[template(path = "mail/verify_email.txt")]
struct VerifyText<'a> {
    tenant_name: &'a str,
    email: &'a str,
    link: &'a str,
    validity: &'a str,
}

#[derive(Template)]
#[template(path = "mail/verify_email.html")]
struct VerifyHtml<'a> {
    tenant_name: &'a str,
    email: &'a str,
    link: &'a str,
    validity: &'a str,
}

/// How long a link works, in words ("24 hours", "90 minutes").
pub fn validity(ttl: i64) -> String {
    match ttl {
        t if t >= 7200 && t % 3600 == 0 => format!("{} hours", t / 3600),
        t if t <= 60 => "1 minute".into(),
        t => format!("{} minutes", (t + 59) / 60),
    }
}

/// The e-mail verification message for `email`: `link` is absolute, under
/// the issuer the person used; it is valid for `ttl` seconds.
pub fn verify_email(
    tenant_name: &str,
    email: &str,
    link: &str,
    ttl: i64,
) -> Result<Rendered, askama::Error> {
    let validity = validity(ttl);
    Ok(Rendered {
        subject: format!("Verify your {tenant_name} e-mail address"),
        text: VerifyText {
            tenant_name,
            email,
            link,
            validity: &validity,
        }
        .render()?,
        html: VerifyHtml {
            tenant_name,
            email,
            link,
            validity: &validity,
        }
        .render()?,
    })
}

#[derive(Template)]
#[template(path = "mail/email_change.txt")]
struct ChangeText<'a> {
    tenant_name: &'a str,
    email: &'a str,
    link: &'a str,
    validity: &'a str,
}

#[derive(Template)]
#[template(path = "mail/email_change.html")]
struct ChangeHtml<'a> {
    tenant_name: &'a str,
    email: &'a str,
    link: &'a str,
    validity: &'a str,
}

/// The message to a new address asked for on the account page: `link`
/// (absolute, under the issuer the person used, valid for `ttl` seconds)
/// makes `email` the account's address.
pub fn email_change(
    tenant_name: &str,
    email: &str,
    link: &str,
    ttl: i64,
) -> Result<Rendered, askama::Error> {
    let validity = validity(ttl);
    Ok(Rendered {
        subject: format!("Confirm your new {tenant_name} e-mail address"),
        text: ChangeText {
            tenant_name,
            email,
            link,
            validity: &validity,
        }
        .render()?,
        html: ChangeHtml {
            tenant_name,
            email,
            link,
            validity: &validity,
        }
        .render()?,
    })
}

#[derive(Template)]
#[template(path = "mail/email_change_notice.txt")]
struct NoticeText<'a> {
    tenant_name: &'a str,
    masked: &'a str,
    account: &'a str,
}

#[derive(Template)]
#[template(path = "mail/email_change_notice.html")]
struct NoticeHtml<'a> {
    tenant_name: &'a str,
    masked: &'a str,
    account: &'a str,
}

/// The notice to the old address when a change to `new_email` is asked
/// for: the new address only masked (`a***@example.com`), so a stranger
/// who reads the old mailbox learns little, and the account page's URL.
pub fn email_change_notice(
    tenant_name: &str,
    new_email: &str,
    account: &str,
) -> Result<Rendered, askama::Error> {
    let masked = mask(new_email);
    Ok(Rendered {
        subject: format!("Your {tenant_name} e-mail address is being changed"),
        text: NoticeText {
            tenant_name,
            masked: &masked,
            account,
        }
        .render()?,
        html: NoticeHtml {
            tenant_name,
            masked: &masked,
            account,
        }
        .render()?,
    })
}

/// `ann@example.com` as `a***@example.com`.
fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_message_has_the_link_in_both_parts_and_its_validity() {
        let link = "https://id.example.com/acme/as/verify-email?token=abc&x=1";
        let m = super::verify_email("Acme", "ann@example.com", link, 86_400).unwrap();
        assert!(m.text.contains(link), "{}", m.text);
        assert!(m.text.contains("24 hours"));
        assert!(m.text.contains("ann@example.com"));
        assert!(m.html.contains("token=abc&#38;x=1") || m.html.contains("token=abc&amp;x=1"));
        assert_eq!(m.subject, "Verify your Acme e-mail address");
        assert_eq!(super::validity(2), "1 minute");
        assert_eq!(super::validity(5400), "90 minutes");
    }

    #[test]
    fn reset_message_has_the_link_in_both_parts_and_escapes_html() {
        let link = "https://id.example.com/acme/as/reset-password?token=abc&x=1";
        let m = super::password_reset("Acme <Shop>", link, 1800).unwrap();
        assert!(m.text.contains(link), "{}", m.text);
        assert!(m.text.contains("30 minutes"));
        assert!(m.text.contains("Acme <Shop>"));
        assert!(m.html.contains("Acme &#60;Shop&#62;") || m.html.contains("Acme &lt;Shop&gt;"));
        assert!(m.html.contains("token=abc&#38;x=1") || m.html.contains("token=abc&amp;x=1"));
        assert_eq!(m.subject, "Reset your Acme <Shop> password");
    }

    #[test]
    fn change_messages_name_the_new_address_and_mask_it_for_the_old_one() {
        let link = "https://id.example.com/acme/as/verify-email?token=abc";
        let m = super::email_change("Acme", "new@example.com", link, 86_400).unwrap();
        assert!(m.text.contains(link) && m.text.contains("new@example.com"));
        assert!(m.html.contains("new@example.com"));
        let n =
            super::email_change_notice("Acme", "new@example.com", "https://id/account").unwrap();
        assert!(n.text.contains("n***@example.com"), "{}", n.text);
        assert!(!n.text.contains("new@example.com") && !n.html.contains("new@example.com"));
        assert!(n.text.contains("https://id/account"));
        assert_eq!(super::mask("x"), "***");
    }
}
