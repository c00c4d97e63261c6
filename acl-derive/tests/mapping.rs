//! Mapping at run time: nested values, options, lists, maps and enums (unknown values
//! included), absent required values as errors with their path, and the way back.

use std::collections::BTreeMap;

use acl_runtime::{FromBoundary, IntoBoundary, MappingError};

mod types {
    use std::collections::BTreeMap;

    #[derive(Clone)]
    pub struct Customer {
        pub email: Option<String>,
        pub age: i64,
    }
    #[derive(Clone, Debug, PartialEq)]
    pub enum Status {
        Active,
        Closed,
        Unknown(String),
    }
    #[derive(Clone)]
    pub struct Account {
        pub id: String,
        pub owner: Customer,
        pub members: Vec<Customer>,
        pub scores: BTreeMap<String, i64>,
        pub status: Status,
        pub nickname: Option<Option<String>>,
        pub limit: Option<i64>,
    }
}

#[derive(Debug, PartialEq, FromBoundary)]
#[acl(from = types::Customer)]
struct Member {
    email: String,
    age: u8,
}

#[derive(Debug, PartialEq, FromBoundary, IntoBoundary)]
#[acl(from = types::Status, into = types::Status, unknown = State::Unrecognised)]
enum State {
    Active,
    #[acl(from = "Closed")]
    Ended,
    #[acl(skip)]
    Unrecognised,
}

#[derive(Debug, PartialEq, FromBoundary)]
#[acl(from = types::Account)]
struct Account {
    id: String,
    owner: Member,
    members: Vec<Member>,
    scores: BTreeMap<String, u8>,
    status: State,
    nickname: Option<String>,
    limit: Option<i64>,
}

fn customer(email: Option<&str>, age: i64) -> types::Customer {
    types::Customer {
        email: email.map(str::to_string),
        age,
    }
}

fn account() -> types::Account {
    types::Account {
        id: "a1".into(),
        owner: customer(Some("o@example.com"), 40),
        members: vec![customer(Some("m@example.com"), 30)],
        scores: [("x".to_string(), 7)].into(),
        status: types::Status::Closed,
        nickname: Some(None),
        limit: Some(5),
    }
}

#[test]
fn nested_optional_collections_and_enums_map() {
    let a = Account::try_from(account()).unwrap();
    assert_eq!(a.owner.email, "o@example.com");
    assert_eq!(a.members[0].age, 30);
    assert_eq!(a.scores["x"], 7);
    assert_eq!(a.status, State::Ended);
    assert_eq!(a.nickname, None, "null is absent");
    assert_eq!(a.limit, Some(5));

    let mut b = account();
    b.status = types::Status::Unknown("frozen".into());
    assert_eq!(Account::try_from(b).unwrap().status, State::Unrecognised);
}

#[test]
fn failures_name_their_path() {
    let mut b = account();
    b.owner.email = None;
    let e: MappingError = Account::try_from(b).unwrap_err();
    assert_eq!(e.path_text(), "account.owner.email");

    let mut b = account();
    b.members.push(customer(Some("x@example.com"), 300));
    let e = Account::try_from(b).unwrap_err();
    assert_eq!(e.path_text(), "account.members[1].age");

    let mut b = account();
    b.scores.insert("y".into(), -1);
    let e = Account::try_from(b).unwrap_err();
    assert_eq!(e.path_text(), "account.scores.y");
}

#[test]
fn enums_map_back_and_a_domain_only_value_is_an_error() {
    assert_eq!(
        types::Status::try_from(State::Ended).unwrap(),
        types::Status::Closed
    );
    let e = types::Status::try_from(State::Unrecognised).unwrap_err();
    assert!(e.to_string().contains("Unrecognised"), "{e}");
}
