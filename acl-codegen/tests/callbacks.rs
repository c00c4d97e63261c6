//! Names of callback operations without an `operationId`: after their operation and
//! callback, with the method when one callback URL takes several.

use acl_codegen::{Generator, Settings};

#[test]
fn callbacks_are_named_after_their_operation_and_callback() {
    let dir = std::env::temp_dir().join(format!("acl-callbacks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("callbacks.yaml");
    std::fs::write(
        &path,
        r#"
openapi: 3.0.3
info: {title: Callbacks, version: "1"}
paths:
  /subscriptions:
    post:
      operationId: createSubscription
      callbacks:
        statusChanged:
          '{$request.body#/callback_url}':
            post:
              responses: {'200': {description: ok}}
        lifecycle:
          '{$request.body#/lifecycle_url}':
            post:
              responses: {'200': {description: ok}}
            put:
              operationId: lifecycleReplaced
              responses: {'200': {description: ok}}
      responses: {'201': {description: created}}
"#,
    )
    .unwrap();
    let api = Generator::new(Settings::default()).read(&path).unwrap().api;
    std::fs::remove_dir_all(&dir).unwrap();
    let names = |callback: &str| -> Vec<String> {
        api.operations[0]
            .callbacks
            .iter()
            .find(|(n, _)| n == callback)
            .unwrap()
            .1
            .iter()
            .map(|o| o.name.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    assert_eq!(
        names("statusChanged"),
        ["create_subscription_status_changed"]
    );
    // Two methods on one URL: the method tells them apart; a given id wins.
    assert_eq!(
        names("lifecycle"),
        ["create_subscription_lifecycle_post", "lifecycle_replaced"],
    );
}
