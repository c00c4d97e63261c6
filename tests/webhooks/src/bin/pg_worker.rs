//! An inbox worker process for the PostgreSQL crash tests: `pg_worker URL SCHEMA`:
//! processes the shared inbox exactly once: each processing writes a row to `processed`
//! in the same transaction that claims the delivery (`FOR UPDATE SKIP LOCKED`) and
//! marks it done. Idle, it waits for the inbox's NOTIFY.

use std::time::Duration;

use acl_runtime::store::{unix_ms, InboxStore};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, schema] = &args[..] else {
        eprintln!("usage: pg_worker URL SCHEMA");
        std::process::exit(2);
    };
    let store = acl_webhook_tests::open_postgres(url, schema);
    loop {
        let r = store.process_next_in_transaction(unix_ms(), false, |tx, d| {
            // Slow enough (a few ms per delivery) that a kill lands mid-transaction.
            std::thread::sleep(Duration::from_millis(3));
            tx.execute(
                "INSERT INTO processed (id, body, worker) VALUES ($1, $2, $3)",
                &[
                    &d.delivery.id,
                    &d.delivery.body,
                    &(std::process::id() as i64),
                ],
            )
            .map(|_| ())
        });
        match r {
            Ok(Some((_, Ok(())))) => {}
            Ok(Some((d, Err(e)))) => eprintln!("pg_worker: {}: {e}", d.delivery.id),
            Ok(None) => store.wait_for_work(Duration::from_millis(500)),
            Err(e) => {
                eprintln!("pg_worker: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
