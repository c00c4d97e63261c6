// Every mapping attribute, on hand-written stand-ins for generated boundary types.
use std::collections::BTreeMap;

use acl_runtime::{FromBoundary, IntoBoundary};

mod types {
    use std::collections::BTreeMap;

    pub struct Customer {
        pub email: Option<String>,
    }
    pub enum Status {
        Active,
        Closed,
        Unknown(String),
    }
    pub struct Account {
        pub id: String,
        pub cents: i64,
        pub customer: Customer,
        pub customers: Vec<Customer>,
        pub labels: BTreeMap<String, String>,
        pub status: Status,
        pub nickname: Option<Option<String>>,
        pub livemode: bool,
        pub metadata: Option<String>,
    }
    pub struct NewAccount {
        pub id: String,
        pub cents: i64,
        pub note: Option<String>,
    }
}

#[derive(FromBoundary)]
#[acl(from = types::Customer)]
pub struct Customer {
    pub email: String,
}

#[derive(FromBoundary, IntoBoundary)]
#[acl(from = types::Status, into = types::Status, unknown = Status::Other)]
pub enum Status {
    Active,
    #[acl(from = "Closed")]
    Gone,
    #[acl(skip)]
    Other,
}

pub struct Money(pub i64);

fn money(cents: i64) -> Result<Money, String> {
    Ok(Money(cents))
}

#[derive(FromBoundary)]
#[acl(from = types::Account)]
#[acl(deny_unmapped)]
#[acl(ignore(livemode, metadata))]
pub struct Account {
    pub id: String,
    #[acl(from = "cents", with = money)]
    pub balance: Money,
    pub customer: Customer,
    pub customers: Vec<Customer>,
    pub labels: BTreeMap<String, String>,
    pub status: Status,
    pub nickname: Option<String>,
    #[acl(default)]
    pub note: String,
    #[acl(skip)]
    pub cached: Option<u8>,
}

#[derive(IntoBoundary)]
#[acl(into = types::NewAccount)]
pub struct NewAccount {
    pub id: String,
    pub cents: i64,
    #[acl(from = "note")]
    pub memo: Option<String>,
    #[acl(skip)]
    pub local_only: bool,
}

fn main() {}
