//! Shared by the crash-test binaries and the tests: the receiver's processing table, in
//! SQLite and in PostgreSQL.

use acl_runtime::store::sqlite::SqliteStore;

/// The receiver's own table, in the inbox's file: one row per processing (no unique
/// key, so processing twice would show as two rows).
pub fn create_effects(store: &SqliteStore) {
    store
        .with_connection(|c| {
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS processed (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, body BLOB NOT NULL)",
            )
        })
        .expect("create the processed table");
}

/// The PostgreSQL store of the crash tests, in `schema`, with the `processed` table
/// (one row per processing, no unique key: processing twice shows as two rows).
pub fn open_postgres(url: &str, schema: &str) -> acl_runtime::store::postgres::PostgresStore {
    let store = acl_runtime::store::postgres::PostgresStore::builder(url)
        .schema(schema)
        .pool_size(4)
        .connect()
        .expect("connect to PostgreSQL");
    store
        .with_client(|c| {
            c.batch_execute(
                "CREATE TABLE IF NOT EXISTS processed (n BIGSERIAL PRIMARY KEY, id TEXT NOT NULL, body BYTEA NOT NULL, worker BIGINT NOT NULL)",
            )
        })
        .expect("create the processed table");
    store
}
