//! Password logins, team selection and team tokens, authorization header forms.

use super::*;

#[tokio::test]
async fn login_fills_the_login_result() {
    let e = env().await;
    let (u, o) = e
        .member_user("ann@example.com", &[Role::Executor, Role::Admin])
        .await;
    let o2 = e.org("second").await;
    e.member(&u, &o2, &[Role::Executor]).await;
    e.store
        .update_org_settings(
            o.id,
            &[
                ("flag".into(), Some(json!({"type": "bool", "value": true}))),
                (
                    "color".into(),
                    Some(json!({"type": "text", "value": "red"})),
                ),
            ],
            10,
        )
        .await
        .expect("settings");
    e.store
        .put_settings(
            SettingsScope::User(u.id),
            SettingsNamespace::Parsable,
            json!({"color": {"type": "text", "value": "blue"}, "tags": {"type": "stringList", "value": ["a"]}}),
        )
        .await
        .expect("settings");
    let lr = e.login("Ann@Example.com").await;
    let tid = o.id.to_string();
    assert!(lr["authToken"].as_str().is_some_and(|t| !t.contains(' ')));
    assert_eq!(lr["currentUser"]["id"], u.id.to_string());
    assert_eq!(lr["currentUser"]["email"], "ann@example.com");
    assert_eq!(roles_of(&lr, &o), json!([1, 4]));
    assert_eq!(roles_of(&lr, &o2), json!([4]));
    assert_eq!(lr["teamIdToRegionId"][&tid], "local");
    assert_eq!(lr["regionIdToRegion"]["local"]["apiHost"], "127.0.0.1:8080");
    assert_eq!(lr["preferredRegionId"], "local");
    let p = &lr["periods"];
    let expiry = p["expiry"].as_i64().unwrap_or(0);
    assert!((30 * 86_400 - 5..=30 * 86_400).contains(&expiry), "{p}");
    assert_eq!(p["lockout"], expiry);
    assert_eq!(p["warning"], expiry - 3 * 86_400);
    assert_eq!(p["dump"], 0);
    // ADMIN gets every flag; EXECUTOR only job and step flags.
    let admin_perms = &lr["teamIdToJobPermissions"][&tid];
    assert_eq!(admin_perms["user"]["inviteUsers"], true);
    assert_eq!(admin_perms["issue"]["create"], true);
    let exec_perms = &lr["teamIdToJobPermissions"][o2.id.to_string()];
    assert_eq!(exec_perms["editTitle"], true);
    assert_eq!(exec_perms["step"]["completeSteps"], true);
    assert_eq!(exec_perms["user"]["inviteUsers"], false);
    // Org settings merged with the user's overrides.
    let info = &lr["teamIdToInfo"][&tid];
    assert_eq!(info["boolSettings"], json!({"flag": true}));
    assert_eq!(info["textSettings"], json!({"color": "blue"}));
    assert_eq!(info["stringListSettings"], json!({"tags": ["a"]}));
    assert_eq!(
        lr["teamIdToInfo"][o2.id.to_string()]["textSettings"],
        json!({"color": "blue"})
    );
    assert!(info.get("priorities").is_none());
    assert!(!lr["sessionId"].as_str().unwrap_or("").is_empty());
    let m = &lr["currentUserModular"]["teamIdToMembership"][&tid];
    assert_eq!(m["roles"], json!([1, 4]));
    assert_eq!(m["removedAt"], 0);
    assert!(m["addedAt"].as_i64().unwrap_or(0) > 1_600_000_000);
    assert!(lr.get("mothershipCertificate").is_none());
    assert!(lr.get("userCertificate").is_none());
    assert!(lr.get("proxyUserEmail").is_none());
    assert!(lr.get("userPinHash").is_none());
}

#[tokio::test]
async fn job_permission_overrides_from_the_store() {
    let e = env().await;
    let (_, o) = e.member_user("jo@example.com", &[Role::Executor]).await;
    let only = JobPermissions {
        complete: true,
        ..JobPermissions::default()
    };
    e.store
        .set_job_permissions(o.id, Role::Executor, Some(only))
        .await
        .expect("perms");
    let lr = e.login("jo@example.com").await;
    let p = &lr["teamIdToJobPermissions"][o.id.to_string()];
    assert_eq!(p["complete"], true);
    assert_eq!(p["editTitle"], false);
}

/// Settings, priorities and a job-permission override set through the admin operations (the
/// CLI's and the HTTP admin route's path) appear in the LoginResult in all three encodings.
#[tokio::test]
async fn admin_team_settings_reach_every_encoding() {
    let e = env().await;
    let (u, o) = e.member_user("set@example.com", &[Role::Executor]).await;
    let admin = portcullis_core::admin::Admin::new(e.store.clone(), e.engine.config(), "test");
    let org = o.id.to_string();
    admin
        .update_org_settings(
            &org,
            &[
                ("flag".into(), Some(json!({"type": "bool", "value": true}))),
                ("motto".into(), Some(json!({"type": "text", "value": "go"}))),
                (
                    "mode".into(),
                    Some(json!({"type": "option", "value": "strict"})),
                ),
                (
                    "tags".into(),
                    Some(json!({"type": "stringList", "value": ["a", "b"]})),
                ),
                (
                    "owners".into(),
                    Some(json!({"type": "referenceList", "value": [
                        {"id": u.id.to_string(), "kind": "user", "label": "Set"},
                        {"id": "sheet-1", "kind": "data_sheet"}
                    ]})),
                ),
            ],
        )
        .await
        .expect("settings");
    admin
        .set_org_priorities(
            &org,
            Some(&json!([{"priority": 1, "title": "High"}, {"priority": 9, "title": "Low"}])),
        )
        .await
        .expect("priorities");
    let only = JobPermissions {
        complete: true,
        ..JobPermissions::default()
    };
    admin
        .set_org_job_permissions(&org, "executor", Some(only))
        .await
        .expect("job permissions");

    let lr = e.login("set@example.com").await;
    let info = &lr["teamIdToInfo"][&org];
    assert_eq!(info["boolSettings"], json!({"flag": true}));
    assert_eq!(info["textSettings"], json!({"motto": "go"}));
    assert_eq!(info["optionSettings"], json!({"mode": "strict"}));
    assert_eq!(info["stringListSettings"], json!({"tags": ["a", "b"]}));
    assert_eq!(
        info["referenceListSettings"]["owners"],
        json!([{"id": u.id.to_string(), "kind": "user", "label": "Set"}, {"id": "sheet-1", "kind": "data_sheet"}])
    );
    let prios = info["priorities"].as_array().expect("priorities");
    assert_eq!(prios.len(), 2);
    assert_eq!(
        (prios[0]["title"].clone(), prios[0]["priority"].clone()),
        (json!("High"), json!(1))
    );
    assert_eq!(prios[1]["archivedAt"], 0);
    let perms = &lr["teamIdToJobPermissions"][&org];
    assert_eq!(perms["complete"], true);
    assert_eq!(perms["editTitle"], false);
    assert_eq!(perms["step"]["completeSteps"], false);

    let args = wire::LoginArgs {
        email: "set@example.com".into(),
        password: PW.into(),
        options: wire::LoginOptions::default(),
    };
    for (enc, body, ct) in [
        (
            Encoding::Compact,
            compact_call("login", 1, &args),
            wire::CT_MOTHERSHIP_COMPACT,
        ),
        (Encoding::TJson, tjson_call("login", &args), wire::CT_TJSON),
    ] {
        let r = e.post(&[("content-type", ct)], body).await;
        let (_, _, reply) = decode_login_reply(enc, &r.raw);
        let lr = reply.success.expect("success");
        let info = &lr.team_id_to_info[&org];
        assert_eq!(info.bool_settings.get("flag"), Some(&true));
        assert_eq!(
            info.option_settings.get("mode").map(String::as_str),
            Some("strict")
        );
        let owners = &info.reference_list_settings["owners"];
        assert_eq!(owners[0].kind.as_deref(), Some("user"));
        assert_eq!(owners[1].label, None);
        let prios = info.priorities.as_ref().expect("priorities");
        assert_eq!(
            prios.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(),
            ["High", "Low"]
        );
        assert!(lr.team_id_to_job_permissions[&org].complete);
        assert!(!lr.team_id_to_job_permissions[&org].edit_title);
    }

    // Cleared again: no priorities field, the configured role table is back.
    admin.set_org_priorities(&org, None).await.expect("clear");
    admin
        .set_org_job_permissions(&org, "EXECUTOR", None)
        .await
        .expect("clear");
    let lr = e.login("set@example.com").await;
    assert!(lr["teamIdToInfo"][&org].get("priorities").is_none());
    assert_eq!(lr["teamIdToJobPermissions"][&org]["editTitle"], true);
}

#[tokio::test]
async fn bad_credentials_share_one_answer() {
    let e = env().await;
    e.member_user("bob@example.com", &[Role::Author]).await;
    let nopw = e
        .store
        .create_user(NewUser {
            email: "nopw@example.com".into(),
            display_name: "No".into(),
            avatar_url: None,
            password_hash: None,
            validated_at: None,
            super_admin: false,
        })
        .await
        .expect("user");
    let _ = nopw;
    let mut ids = BTreeSet::new();
    for (email, pw) in [
        ("bob@example.com", "wrong password here"),
        ("nobody@example.com", PW),
        ("nopw@example.com", PW),
        ("bob@example.com", ""),
    ] {
        let (code, err) = e
            .err("login", json!({"email": email, "password": pw}), None)
            .await;
        assert_eq!(code, 401);
        assert_eq!(err["message"], "Invalid email or password");
        assert_eq!(err["slug"], "invalid-credentials");
        ids.insert(err["rqId"].as_str().unwrap_or("").to_string());
    }
    assert_eq!(ids.len(), 4, "every err gets a fresh rqId");
    e.err_is(400, "login", json!({"email": "  ", "password": PW}), None)
        .await;
}

#[tokio::test]
async fn login_without_a_team_is_476() {
    let e = env().await;
    e.validated_user("lonely@example.com", false).await;
    let (code, err) = e
        .err(
            "login",
            json!({"email": "lonely@example.com", "password": PW}),
            None,
        )
        .await;
    assert_eq!(code, 476);
    assert_eq!(err["slug"], "no-team");
}

/// PARSABLE §8: with 0 active teams, loginWithTeamSelect answers a loginResult (a session of
/// no team, empty team maps), not err 476; the token then works like any session token.
#[tokio::test]
async fn team_select_without_a_team_gives_a_login_result() {
    let e = env().await;
    let u = e.validated_user("solo@example.com", false).await;
    // A removed membership and a disabled team count as no team.
    let gone = e.org("gone").await;
    e.member(&u, &gone, &[Role::Admin]).await;
    let uc = portcullis_core::use_cases::UseCaseCtx::direct(e.store.as_ref());
    portcullis_core::use_cases::set_membership_deactivated(&uc, u.id, gone.id, true, json!({}))
        .await
        .expect("deactivate");
    let args = json!({"email": "solo@example.com", "password": PW});
    let r = e.ok("loginWithTeamSelect", args.clone(), None).await;
    assert!(r.get("teamInfo").is_none(), "{r}");
    let lr = &r["loginResult"];
    let token = lr["authToken"].as_str().expect("token").to_string();
    assert!(!token.is_empty());
    assert!(!lr["sessionId"].as_str().unwrap_or("").is_empty());
    assert_eq!(lr["currentUser"]["id"], u.id.to_string());
    for field in [
        "teamIdToTeamRole",
        "teamIdToRegionId",
        "regionIdToRegion",
        "teamIdToJobPermissions",
        "teamIdToInfo",
    ] {
        assert_eq!(lr[field], json!({}), "{field}");
    }
    assert_eq!(lr["currentUserModular"]["teamIdToMembership"], json!({}));
    assert_eq!(lr["preferredRegionId"], "local");
    assert!(lr["periods"]["expiry"].as_i64().unwrap_or(0) > 29 * 86_400);

    // The token is a real session token of no team.
    let me = e.ok("getCurrentUser", json!({}), Some(&token)).await;
    assert_eq!(me["email"], "solo@example.com");
    e.err_is(
        476,
        "createTeamToken",
        json!({"teamId": gone.id.to_string()}),
        Some(&token),
    )
    .await;
    // Added to a team later, a refresh shows it and a team token can be had.
    let team = e.org("later").await;
    e.member(&u, &team, &[Role::Executor]).await;
    let lr = e.ok("refresh", json!({}), Some(&token)).await;
    assert_eq!(roles_of(&lr, &team), json!([4]));
    let tt = e
        .ok(
            "createTeamToken",
            json!({"teamId": team.id.to_string()}),
            Some(&token),
        )
        .await;
    assert_eq!(tt["sessionId"], lr["sessionId"]);
    // Logout ends it.
    e.ok("logout", json!({}), Some(&token)).await;
    assert_eq!(e.err("refresh", json!({}), Some(&token)).await.0, 497);
    // Plain login still needs a team (§6: caller not a member → 476), as before.
    let lonely = e.validated_user("lonely2@example.com", false).await;
    let (code, err) = e
        .err(
            "login",
            json!({"email": lonely.email, "password": PW}),
            None,
        )
        .await;
    assert_eq!((code, err["slug"].as_str()), (476, Some("no-team")));
    // A super-admin's proxy team-select for a target on no team: a loginResult for the target.
    e.validated_user("root9@example.com", true).await;
    let r = e
        .ok(
            "loginWithTeamSelect",
            json!({"email": "root9@example.com", "password": PW,
                   "options": {"proxiedUserEmail": "lonely2@example.com"}}),
            None,
        )
        .await;
    assert_eq!(
        r["loginResult"]["currentUser"]["email"],
        "lonely2@example.com"
    );
    assert_eq!(r["loginResult"]["proxyUserEmail"], "root9@example.com");
    assert_eq!(r["loginResult"]["teamIdToTeamRole"], json!({}));
}

#[tokio::test]
async fn team_select_then_team_token() {
    let e = env().await;
    let u = e.validated_user("multi@example.com", false).await;
    let zeta = e.org("zeta").await;
    let alpha = e.org("alpha").await;
    e.member(&u, &zeta, &[Role::Author]).await;
    e.member(&u, &alpha, &[Role::Admin]).await;
    let args = json!({"email": "multi@example.com", "password": PW});
    let r = e.ok("loginWithTeamSelect", args.clone(), None).await;
    assert!(r.get("loginResult").is_none());
    assert_eq!(
        r["teamInfo"],
        json!([{"name": "alpha", "teamId": alpha.id.to_string()},
               {"name": "zeta", "teamId": zeta.id.to_string()}])
    );
    let sessions = e
        .store
        .list_user_sessions(u.id, true, chrono::Utc::now())
        .await
        .expect("sessions");
    assert!(sessions.is_empty(), "no token issued for a team choice");

    // The client then logs in and exchanges for a team token.
    let lr = e.ok("login", args, None).await;
    let token = lr["authToken"].as_str().unwrap_or_default().to_string();
    let tt = e
        .ok(
            "createTeamToken",
            json!({"teamId": zeta.id.to_string()}),
            Some(&token),
        )
        .await;
    assert_ne!(tt["authToken"], lr["authToken"]);
    assert_eq!(tt["sessionId"], lr["sessionId"]);
    let keys: Vec<&String> = tt["teamIdToTeamRole"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, vec![&zeta.id.to_string()]);
    let d = tt["periods"]["expiry"].as_i64().unwrap_or(0)
        - lr["periods"]["expiry"].as_i64().unwrap_or(0);
    assert!(d.abs() <= 2, "same expiry");
    // The team token refreshes to one team and works for a further exchange.
    let team_token = tt["authToken"].as_str().unwrap_or_default().to_string();
    let rf = e.ok("refresh", json!({}), Some(&team_token)).await;
    assert_eq!(rf["authToken"], tt["authToken"]);
    assert_eq!(rf["teamIdToTeamRole"].as_object().map(|m| m.len()), Some(1));
    e.ok(
        "createTeamToken",
        json!({"teamId": alpha.id.to_string()}),
        Some(&team_token),
    )
    .await;
    // Logging out through the team token ends the whole session.
    e.ok("logout", json!({}), Some(&team_token)).await;
    e.err_is(497, "refresh", json!({}), Some(&token)).await;
}

#[tokio::test]
async fn team_select_with_one_team_logs_in() {
    let e = env().await;
    e.member_user("one@example.com", &[Role::Author]).await;
    let r = e
        .ok(
            "loginWithTeamSelect",
            json!({"email": "one@example.com", "password": PW}),
            None,
        )
        .await;
    assert!(r.get("teamInfo").is_none());
    assert!(r["loginResult"]["authToken"].as_str().is_some());
    e.err_is(
        401,
        "loginWithTeamSelect",
        json!({"email": "one@example.com", "password": "nope nope nope"}),
        None,
    )
    .await;
}

#[tokio::test]
async fn create_team_token_errors() {
    let e = env().await;
    let (_, _o) = e.member_user("ct@example.com", &[Role::Author]).await;
    let other = e.org("other").await;
    let disabled = e.org("disabled").await;
    let u = e
        .store
        .get_user_by_email("ct@example.com")
        .await
        .expect("get")
        .expect("user");
    e.member(&u, &disabled, &[Role::Author]).await;
    let uc = portcullis_core::use_cases::UseCaseCtx::direct(e.store.as_ref());
    portcullis_core::use_cases::set_org_disabled(&uc, disabled.id, true, json!({}))
        .await
        .expect("disable");
    let t = e.token("ct@example.com").await;
    let cases = [
        (json!({"teamId": uuid::Uuid::new_v4().to_string()}), 404),
        (json!({"teamId": "not-a-team"}), 404),
        (json!({"teamId": " "}), 400),
        (json!({}), 400),
        (json!({"teamId": other.id.to_string()}), 476),
        (json!({"teamId": disabled.id.to_string()}), 403),
    ];
    for (args, want) in cases {
        let (code, _) = e.err("createTeamToken", args.clone(), Some(&t)).await;
        assert_eq!(code, want, "{args}");
    }
    let tid = json!({"teamId": other.id.to_string()});
    assert_eq!(e.err("createTeamToken", tid.clone(), None).await.0, 401);
    assert_eq!(
        e.err("createTeamToken", tid.clone(), Some("garbage"))
            .await
            .0,
        497
    );
}

#[tokio::test]
async fn authorization_header_forms() {
    let e = env().await;
    e.member_user("hdr@example.com", &[Role::Author]).await;
    let t = e.token("hdr@example.com").await;
    let body = json!({"method": "getCurrentUser"}).to_string().into_bytes();
    for (value, want_err) in [
        (format!("token   {t}"), None),
        (format!("TOKEN {t}"), None),
        (format!("Bearer {t}"), Some(497)),
        (String::new(), Some(401)),
        ("Token ".to_string(), Some(401)),
    ] {
        let r = e
            .post(
                &[
                    ("content-type", "application/json"),
                    ("authorization", value.as_str()),
                ],
                body.clone(),
            )
            .await;
        let v = json_of(&r);
        match want_err {
            None => assert_eq!(
                v["result"]["success"]["email"], "hdr@example.com",
                "{value}"
            ),
            Some(c) => assert_eq!(v["result"]["err"]["errorCode"], c, "{value}"),
        }
    }
    // A function that needs no token ignores even an invalid header.
    let r = e
        .post(
            &[
                ("content-type", "application/json"),
                ("authorization", "Bogus"),
            ],
            json!({"method": "startLogin", "arguments": {"email": "x@y.z"}})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert!(json_of(&r)["result"]["success"]["passwordAuth"].is_object());
}

/// A password login of an account that signs in with a second factor (or must enrol one) is
/// refused after the right password with err 412 and a message that sends the client to web
/// sign-in; no session starts. A wrong password still answers 401.
#[tokio::test]
async fn login_refuses_an_account_that_needs_a_second_factor() {
    use portcullis_core::engine::OrgChoice;
    let e = env().await;
    let (u, o) = e.member_user("ann@example.com", &[Role::Author]).await;
    let required = MfaPolicy {
        mode: MfaMode::Required,
        passkeys_only: false,
    };
    e.store
        .set_org_mfa_policy(o.id, required, chrono::Utc::now())
        .await
        .expect("policy");
    let args = json!({"email": "ann@example.com", "password": PW});
    let (code, err) = e.err("login", args.clone(), None).await;
    assert_eq!(
        (code, err["slug"].as_str()),
        (412, Some("mfa-enrolment-required"))
    );
    assert!(
        err["message"]
            .as_str()
            .unwrap_or("")
            .contains("web sign-in"),
        "{err}"
    );

    // Enrolled (TOTP, codes from the otpauth URI): the second factor is what is missing.
    let token = e.session(&u, OrgChoice::Default).await;
    let p = e.engine.authenticate(&token).await.expect("token");
    let started = e
        .engine
        .start_totp_enrolment(&p, None, &portcullis_testkit::ctx())
        .await
        .expect("enrol");
    let totp = totp_rs::Totp::from_url(started.otpauth_uri.as_str()).expect("uri");
    let code_now = totp.generate_current().to_string();
    e.engine
        .confirm_totp_enrolment(&p, started.factor, &code_now, &portcullis_testkit::ctx())
        .await
        .expect("confirm");
    let (code, err) = e.err("login", args.clone(), None).await;
    assert_eq!(
        (code, err["slug"].as_str()),
        (412, Some("second-factor-required"))
    );
    assert!(
        err["message"]
            .as_str()
            .unwrap_or("")
            .contains("web sign-in"),
        "{err}"
    );
    let (code, _) = e.err("loginWithTeamSelect", args, None).await;
    assert_eq!(code, 412);
    let live = e
        .store
        .list_user_sessions(u.id, false, chrono::Utc::now())
        .await
        .expect("sessions");
    assert_eq!(live.len(), 1, "only the test's own session");
    let (code, err) = e
        .err(
            "login",
            json!({"email": "ann@example.com", "password": "wrong wrong"}),
            None,
        )
        .await;
    assert_eq!(
        (code, err["slug"].as_str()),
        (401, Some("invalid-credentials"))
    );
}
