use super::*;

fn fields(result: Result<User, AdminError>) -> Vec<String> {
    match result {
        Err(AdminError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn every_problem_of_a_request_is_reported_at_once() {
    let request = NewUser {
        username: " bad name".into(),
        email: Some("nope".into()),
        display_name: Some(" ".into()),
        claims: Map::from_iter([("sub".to_owned(), Value::from("x"))]),
        ..NewUser::default()
    };
    let password = Password::new("password".into());
    assert_eq!(
        fields(validate_new_user(
            request,
            Some(&password),
            OffsetDateTime::UNIX_EPOCH
        )),
        [
            "username",
            "email",
            "display_name",
            "claims.sub",
            "password"
        ]
    );
}

#[test]
fn a_valid_request_becomes_a_user_with_a_lower_cased_name() {
    let request = NewUser {
        username: "Ann".into(),
        email: Some("ann@example.com".into()),
        email_verified: true,
        ..NewUser::default()
    };
    let user = validate_new_user(request, None, OffsetDateTime::UNIX_EPOCH).unwrap();
    assert_eq!(user.username.as_str(), "ann");
    assert!(user.email_verified);
    assert!(user.password_hash.is_none());
}
