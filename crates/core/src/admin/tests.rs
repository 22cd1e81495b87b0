use super::*;

#[test]
fn roles_parse() {
    let r = parse_roles("admin, AUTHOR,,parsable_admin").unwrap();
    assert_eq!(
        r.into_iter().collect::<Vec<_>>(),
        vec![Role::Admin, Role::Author, Role::ParsableAdmin]
    );
    assert!(matches!(parse_roles("boss"), Err(AdminError::Invalid(_))));
    assert!(parse_roles("").unwrap().is_empty());
}

#[test]
fn allowlist_values_normalise() {
    assert_eq!(
        Admin::allowlist_value(AllowlistKind::Domain, " @Example.COM ").unwrap(),
        "example.com"
    );
    assert_eq!(
        Admin::allowlist_value(AllowlistKind::Address, "Ann@Example.com").unwrap(),
        "ann@example.com"
    );
    assert!(Admin::allowlist_value(AllowlistKind::Domain, "nodot").is_err());
    assert!(Admin::allowlist_value(AllowlistKind::Address, "example.com").is_err());
}

#[test]
fn store_errors_map() {
    assert!(matches!(
        AdminError::from(StoreError::Conflict("x".into())),
        AdminError::Conflict(_)
    ));
    assert!(matches!(
        AdminError::from(StoreError::Unavailable("x".into())),
        AdminError::Store(_)
    ));
}
