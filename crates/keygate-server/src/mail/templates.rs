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

#[cfg(test)]
mod tests {
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
}
