//! Shared by the crash-test binaries and the tests: the receiver's processing table.

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
