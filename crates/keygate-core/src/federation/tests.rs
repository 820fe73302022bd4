use super::*;
use serde_json::json;

fn map() -> ClaimMap {
    ClaimMap::default()
}

#[test]
fn a_profile_is_read_from_standard_claims() {
    let p = profile(
        "https://up.example",
        &json!({"sub": "abc", "email": " Ada@Example.COM ", "email_verified": true, "name": " Ada L "}),
        &map(),
    )
    .unwrap();
    assert_eq!(p.issuer, "https://up.example");
    assert_eq!(p.subject, "abc");
    assert_eq!(p.email.as_deref(), Some("ada@example.com"));
    assert!(p.email_verified);
    assert_eq!(p.name.as_deref(), Some("Ada L"));
}

#[test]
fn github_shaped_claims_map_by_path_and_numbers_are_text() {
    let mut m = map();
    m.set("sub", "id").unwrap();
    m.set("name", "login").unwrap();
    m.set("email_verified", "").unwrap();
    let p = profile(
        "https://github.com",
        &json!({"id": 583231, "login": "octocat", "email": "octo@github.com"}),
        &m,
    )
    .unwrap();
    assert_eq!(p.subject, "583231");
    assert_eq!(p.name.as_deref(), Some("octocat"));
    // No claim says it was verified: it is not.
    assert!(!p.email_verified);
    let mut nested = map();
    nested.set("sub", "user.id").unwrap();
    let p = profile("https://x", &json!({"user": {"id": "u-1"}}), &nested).unwrap();
    assert_eq!(p.subject, "u-1");
}

#[test]
fn a_profile_needs_a_usable_subject() {
    for claims in [
        json!({}),
        json!({"sub": ""}),
        json!({"sub": null}),
        json!({"sub": true}),
        json!({"sub": {"a": 1}}),
        json!({"sub": ["a"]}),
        json!("not an object"),
    ] {
        assert_eq!(
            profile("https://x", &claims, &map()),
            Err(ProfileError::NoSubject),
            "{claims}"
        );
    }
    assert_eq!(
        profile("https://x", &json!({"sub": "a".repeat(256)}), &map()),
        Err(ProfileError::SubjectTooLong)
    );
    assert!(profile("https://x", &json!({"sub": "a".repeat(255)}), &map()).is_ok());
}

#[test]
fn bad_emails_and_names_are_dropped_and_verified_needs_an_address() {
    let p = profile(
        "https://x",
        &json!({"sub": "s", "email": "not an address", "email_verified": true, "name": "a\u{7}b"}),
        &map(),
    )
    .unwrap();
    assert_eq!(p.email, None);
    assert!(!p.email_verified);
    assert_eq!(p.name, None);
    let p = profile(
        "https://x",
        &json!({"sub": "s", "email": "a@b.example", "email_verified": "true"}),
        &map(),
    )
    .unwrap();
    assert!(p.email_verified);
    let p = profile(
        "https://x",
        &json!({"sub": "s", "email": "a@b.example", "email_verified": "yes"}),
        &map(),
    )
    .unwrap();
    assert!(!p.email_verified);
}

fn person(email: Option<&str>) -> Profile {
    Profile {
        issuer: "https://x".into(),
        subject: "s".into(),
        email: email.map(str::to_string),
        email_verified: true,
        name: None,
    }
}

#[test]
fn a_linked_identity_wins_and_an_email_match_only_offers_a_link() {
    let p = person(Some("a@b.example"));
    assert_eq!(
        decide(Some("u1"), &p, Some("u2")),
        Outcome::SignIn("u1".into())
    );
    assert_eq!(
        decide(Some("u1"), &person(None), None),
        Outcome::SignIn("u1".into())
    );
    assert_eq!(
        decide(None, &p, Some("u2")),
        Outcome::ConfirmLink("u2".into())
    );
    assert_eq!(decide(None, &p, None), Outcome::Create);
    assert_eq!(decide(None, &person(None), None), Outcome::NeedEmail);
}

#[test]
fn claim_maps_refuse_unknown_parts_and_empty_segments() {
    let mut m = map();
    assert!(m.set("phone", "x").is_err());
    assert!(m.set("sub", "").is_err());
    assert!(m.set("sub", "a..b").is_err());
    assert!(m.set("sub", &"a".repeat(201)).is_err());
    assert!(m.set("email_verified", "").is_ok());
    assert_eq!(m.email_verified, "");
}

#[test]
fn names_urls_and_scopes_are_checked() {
    assert!(check_name("Acme SSO").is_ok());
    for bad in ["", " x", "x ", "a\nb", &"x".repeat(65)] {
        assert!(check_name(bad).is_err(), "{bad:?}");
    }
    for good in [
        "https://accounts.example.com",
        "https://idp.example/realms/x",
        "http://127.0.0.1:3000",
        "http://localhost:9000/oidc",
        "http://[::1]:80",
    ] {
        assert!(check_url(good).is_ok(), "{good}");
    }
    for bad in [
        "idp.example",
        "http://idp.example",
        "http://10.0.0.1",
        "ftp://x.example",
        "https://u:p@x.example",
        "https://x.example/#f",
        "javascript:alert(1)",
    ] {
        assert!(check_url(bad).is_err(), "{bad}");
    }
    assert!(check_scope("openid").is_ok());
    assert!(check_scope("read:user").is_ok());
    for bad in ["", "a b", "a\"b", "a\\b", "é"] {
        assert!(check_scope(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn kinds_and_purposes_round_trip() {
    for k in [IdpKind::Oidc, IdpKind::Oauth2] {
        assert_eq!(IdpKind::parse(k.as_str()), Some(k));
    }
    assert_eq!(IdpKind::parse("saml"), None);
    for p in [StatePurpose::Trip, StatePurpose::Link] {
        assert_eq!(StatePurpose::parse(p.as_str()), Some(p));
    }
}

#[test]
fn callback_uris_cover_every_door_first_the_likeliest() {
    assert_eq!(
        callback_uris("http://127.0.0.1:8080/", "acme", &[], "i1"),
        vec!["http://127.0.0.1:8080/acme/as/federation/i1/callback"]
    );
    assert_eq!(
        callback_uris("https://id.example", "default", &[], "i2"),
        vec![
            "https://id.example/federation/i2/callback",
            "https://id.example/default/as/federation/i2/callback"
        ]
    );
    assert_eq!(
        callback_uris(
            "https://id.example",
            "acme",
            &["https://login.acme.example".into()],
            "i3"
        ),
        vec![
            "https://login.acme.example/federation/i3/callback",
            "https://id.example/acme/as/federation/i3/callback"
        ]
    );
}
