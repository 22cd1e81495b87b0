//! `portcullis admin settings` and `portcullis admin job-permissions` with `--json`, and bad
//! input that must fail clearly and write nothing.

mod common;

use common::*;
use serde_json::json;

#[test]
fn settings_and_job_permissions_round_trip() {
    let dir = DataDir::migrated();
    dir.json(&["org", "create", "acme"]);
    let user = dir.json(&["user", "create", "--email", "ann@example.com"]);
    let uid = user["id"].as_str().unwrap().to_string();
    dir.run("member add --org acme --user ann@example.com");

    let empty = dir.json(&["settings", "list", "acme"]);
    assert_eq!(empty["settings"], json!({}));
    assert_eq!(empty["priorities"], json!(null));

    dir.json(&[
        "settings", "set", "acme", "flag", "--type", "bool", "--value", "true",
    ]);
    dir.json(&[
        "settings",
        "set",
        "acme",
        "tags",
        "--type",
        "string-list",
        "--value",
        r#"["a","b"]"#,
    ]);
    let refs = format!(r#"[{{"id":"{uid}","kind":"user"}}]"#);
    let v = dir.json(&[
        "settings",
        "set",
        "acme",
        "owners",
        "--type",
        "reference-list",
        "--value",
        &refs,
    ]);
    assert_eq!(
        v["settings"]["flag"],
        json!({"type": "bool", "value": true})
    );
    assert_eq!(
        v["settings"]["tags"],
        json!({"type": "stringList", "value": ["a", "b"]})
    );
    assert_eq!(v["settings"]["owners"]["value"][0]["id"], uid.as_str());
    let got = dir.json(&["settings", "get", "acme", "flag"]);
    assert_eq!(got, json!({"type": "bool", "value": true}));
    let v = dir.json(&[
        "settings",
        "set-priorities",
        "acme",
        r#"[{"priority":1,"title":"High"}]"#,
    ]);
    assert_eq!(v["priorities"][0]["title"], "High");
    let v = dir.json(&["settings", "clear", "acme", "flag"]);
    assert!(v["settings"].get("flag").is_none());
    let v = dir.json(&["settings", "clear-priorities", "acme"]);
    assert_eq!(v["priorities"], json!(null));

    let g = dir.json(&["job-permissions", "get", "acme", "executor"]);
    assert_eq!(g["source"], "config");
    assert_eq!(g["permissions"]["editTitle"], true);
    let v = dir.run("job-permissions set acme executor --allow complete,issueCreate");
    assert_eq!(v["overrides"]["EXECUTOR"]["complete"], true);
    assert_eq!(v["overrides"]["EXECUTOR"]["editTitle"], false);
    let g = dir.json(&["job-permissions", "get", "acme", "EXECUTOR"]);
    assert_eq!(g["source"], "org");
    dir.json(&[
        "job-permissions",
        "set",
        "acme",
        "admin",
        "--flags-json",
        r#"{"editTitle":true}"#,
    ]);
    let l = dir.json(&["job-permissions", "list", "acme"]);
    assert_eq!(l["overrides"].as_object().unwrap().len(), 2);
    let l = dir.json(&["job-permissions", "clear", "acme", "executor"]);
    assert_eq!(
        l["overrides"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["ADMIN"]
    );

    // Bad input: a clear message, nothing written.
    let before = (
        dir.json(&["settings", "list", "acme"]),
        dir.json(&["job-permissions", "list", "acme"]),
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "settings", "set", "acme", "f", "--type", "bool", "--value", "yes",
            ],
            "true or false",
        ),
        (
            &[
                "settings", "set", "acme", "bad key", "--type", "text", "--value", "x",
            ],
            "setting key",
        ),
        (
            &[
                "settings",
                "set",
                "acme",
                "l",
                "--type",
                "string-list",
                "--value",
                "[1]",
            ],
            "invalid type",
        ),
        (
            &[
                "settings",
                "set",
                "acme",
                "r",
                "--type",
                "reference-list",
                "--value",
                r#"[{"id":"00000000-0000-0000-0000-000000000001","kind":"user"}]"#,
            ],
            "does not exist",
        ),
        (
            &[
                "settings", "set", "nope", "f", "--type", "bool", "--value", "true",
            ],
            "unknown org",
        ),
        (&["settings", "get", "acme", "missing"], "no setting"),
        (
            &["settings", "set-priorities", "acme", r#"[{"title":"x"}]"#],
            "priority",
        ),
        (
            &[
                "job-permissions",
                "set",
                "acme",
                "executor",
                "--allow",
                "fly",
            ],
            "unknown flag",
        ),
        (
            &[
                "job-permissions",
                "set",
                "acme",
                "wizard",
                "--allow",
                "complete",
            ],
            "wizard",
        ),
    ];
    for (args, want) in cases {
        let err = dir.fails(args);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert_eq!(
        before,
        (
            dir.json(&["settings", "list", "acme"]),
            dir.json(&["job-permissions", "list", "acme"]),
        )
    );
}
