use acl_runtime::FromBoundary;

mod types {
    pub struct Charge {
        pub id: String,
        pub amount: i64,
        pub livemode: bool,
    }
    pub enum Status {
        Succeeded,
        Failed,
        Unknown(String),
    }
}

#[derive(FromBoundary)]
#[acl(from = types::Charge)]
#[acl(deny_unmapped)]
pub struct Payment {
    pub id: String,
    pub amount: i64,
}

fn main() {}
