use acl_runtime::{FromBoundary, IntoBoundary};

mod types {
    #[derive(Default)]
    pub struct Charge {
        pub amount: i64,
        pub currency: String,
    }
    pub enum Status {
        Paid,
        Unknown(String),
    }
}

pub struct Money(i64, String);

impl Money {
    fn new(amount: i64, currency: String) -> Money {
        Money(amount, currency)
    }
}

// Made from several fields, but nothing says how.
#[derive(FromBoundary)]
#[acl(from = types::Charge)]
pub struct NoMaker {
    #[acl(from(amount, currency))]
    pub money: Money,
}

// Made from several fields, and not given back to them.
#[derive(FromBoundary, IntoBoundary)]
#[acl(from = types::Charge, into = types::Charge)]
pub struct OneWay {
    #[acl(from(amount, currency), with = Money::new)]
    pub money: Money,
}

// One boundary field or several, not both.
#[derive(FromBoundary)]
#[acl(from = types::Charge)]
pub struct Both {
    #[acl(from = "amount", from(amount, currency), with = Money::new)]
    pub money: Money,
}

// `unknown` goes on the enum.
#[derive(FromBoundary)]
#[acl(from = types::Status)]
pub enum Status {
    Paid,
    #[acl(unknown)]
    Other,
}

fn main() {}
