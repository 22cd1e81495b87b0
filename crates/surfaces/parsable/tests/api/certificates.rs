//! Client certificates signed at login.

use super::*;

// ---- certificates ---------------------------------------------------------------------------------

/// A password login of `email` that asks for a client certificate.
async fn login_with_csr(e: &World, email: &str) -> Value {
    let args = json!({"email": email, "password": PW,
                      "options": {"certificateSigningRequest": csr_pem()}});
    e.ok("login", args, None).await
}

fn csr_pem() -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    rcgen::CertificateParams::new(vec!["ignored.example".to_string()])
        .expect("params")
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem")
}

#[tokio::test]
async fn csr_signed_at_login_chains_to_the_ca() {
    let e = env_with(test_config(), true).await;
    let (u, _) = e.member_user("cert@example.com", &[Role::Author]).await;
    let ca_pem = e.ca.as_ref().map(|c| c.ca_certificate_pem().to_string());
    let lr = login_with_csr(&e, "cert@example.com").await;
    assert_eq!(lr["mothershipCertificate"].as_str(), ca_pem.as_deref());
    let cert_pem = lr["userCertificate"].as_str().expect("userCertificate");
    let (_, cert_pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).expect("pem");
    let cert = cert_pem.parse_x509().expect("x509");
    let (_, ca_pem) =
        x509_parser::pem::parse_x509_pem(ca_pem.as_deref().unwrap_or("").as_bytes()).expect("pem");
    let ca = ca_pem.parse_x509().expect("ca");
    assert_eq!(cert.issuer(), ca.subject());
    cert.verify_signature(Some(ca.public_key()))
        .expect("signed by the CA");
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_string);
    assert_eq!(cn, Some(u.id.to_string()));
    let life = cert.validity().not_after.timestamp() - chrono::Utc::now().timestamp();
    assert!(life <= 24 * 3600 + 5, "validity capped at 24 h: {life}");

    // Without a CSR the CA certificate is still sent; refresh too.
    let lr = e.login("cert@example.com").await;
    assert!(lr["mothershipCertificate"].is_string());
    assert!(lr.get("userCertificate").is_none());

    // A bad CSR is 400 and leaves no usable session behind.
    e.err_is(400, "login", json!({"email": "cert@example.com", "password": PW,
                   "options": {"certificateSigningRequest": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}}), None).await;
    let live = e
        .store
        .list_user_sessions(u.id, false, chrono::Utc::now())
        .await
        .expect("sessions");
    assert_eq!(live.len(), 2, "only the two successful logins remain");
}

#[tokio::test]
async fn certificate_validity_follows_a_short_token() {
    let mut cfg = test_config();
    cfg.tokens.session_secs = 600;
    let e = env_with(cfg, true).await;
    e.member_user("short@example.com", &[Role::Author]).await;
    let lr = login_with_csr(&e, "short@example.com").await;
    let pem = lr["userCertificate"].as_str().expect("cert");
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
    let cert = p.parse_x509().expect("x509");
    let life = cert.validity().not_after.timestamp() - chrono::Utc::now().timestamp();
    assert!(life <= 605, "validity = token lifetime: {life}");
}

/// An impersonation session would get a certificate with the target's identity: every login
/// that asks for both is refused (476) before the password or the upstream token is checked, so
/// nothing is written: no session, no audit of an impersonation, no throttle attempt.
#[tokio::test]
async fn a_proxy_login_gets_no_client_certificate() {
    let mut e = env_with(test_config(), true).await;
    let root = e.validated_user("root@example.com", true).await;
    let (target, o) = e.member_user("tgt@example.com", &[Role::Author]).await;
    e.member(&root, &o, &[Role::Admin]).await;
    let options =
        json!({"proxiedUserEmail": "tgt@example.com", "certificateSigningRequest": csr_pem()});
    for method in ["login", "loginWithTeamSelect"] {
        for who in ["root@example.com", "tgt@example.com"] {
            let (code, err) = e
                .err(
                    method,
                    json!({"email": who, "password": PW, "options": options}),
                    None,
                )
                .await;
            assert_eq!(code, 476, "{method}: {err}");
            assert_eq!(err["slug"], "insufficient-permissions");
            let msg = err["message"].as_str().unwrap_or("");
            assert!(msg.contains("client certificate"), "{msg}");
        }
    }
    // The IdP logins too, before the upstream token is even looked at.
    let fed = portcullis_federation::Federation::new(
        vec![portcullis_federation::ProviderConfig::new(
            "corp",
            "https://login.corp.example",
            vec!["portcullis".into()],
        )],
        e.engine.clone(),
    )
    .expect("fed");
    e.federate(fed);
    for (method, args) in [
        ("loginWithIdp", json!({"options": options})),
        (
            "loginWithIdpAndTeam",
            json!({"teamId": o.id.to_string(), "options": options}),
        ),
        ("loginWithIdpAndTeamSelect", json!({"options": options})),
    ] {
        let v = e.idp_call(method, args, "Bearer not-a-jwt").await;
        assert_eq!(v["result"]["err"]["errorCode"], 476, "{method}: {v}");
    }
    let now = chrono::Utc::now();
    for u in [&root, &target] {
        let all = e
            .store
            .list_user_sessions(u.id, true, now)
            .await
            .expect("sessions");
        assert!(all.is_empty(), "no session was written: {all:?}");
    }
    e.engine.flush_audit().await;
    let events = e
        .store
        .list_audit(&AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert!(
        !events
            .iter()
            .any(|ev| ev.action == "impersonation.start" || ev.action == "login.password"),
        "nothing was checked or started: {events:?}"
    );
    // A proxy login without a CSR still works, and the account's own login gets its certificate.
    let lr = e
        .ok(
            "login",
            json!({"email": "root@example.com", "password": PW,
                   "options": {"proxiedUserEmail": "tgt@example.com"}}),
            None,
        )
        .await;
    assert_eq!(lr["currentUser"]["id"], target.id.to_string());
    assert!(lr.get("userCertificate").is_none());
    let lr = login_with_csr(&e, "tgt@example.com").await;
    assert!(lr["userCertificate"].is_string());
}
