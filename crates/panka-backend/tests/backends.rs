//! State and lock stores under concurrency, against the emulator (S3 + DynamoDB through moto),
//! local files and memory. Results are read back through the AWS SDK or the files themselves.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use panka_aws::Aws;
use panka_backend::locks::{DynamoLocks, LocalLocks, MemoryLocks};
use panka_backend::ops;
use panka_backend::{
    BackendError, Changes, LocalStore, LockRequest, LockScope, LockStore, MemoryStore, S3Store,
    StateKey, StateStore, Version, WriteOutcome, commit,
};
use panka_state::{
    ChangeCounts, Deployment, DeploymentResult, ResourceState, ResourceStatus, State,
};

const TRIALS: usize = 50;

async fn aws() -> Aws {
    aws_at(&panka_test_support::emulator().endpoint).await
}

/// S3 through a proxy that makes conditional writes to one object atomic, as S3 does: moto
/// checks an `If-Match` and writes in two steps, so two concurrent writers can both succeed
/// there (a moto gap; see panka_test_support::proxy).
fn s3_endpoint() -> &'static str {
    static PROXY: std::sync::OnceLock<panka_test_support::proxy::FaultProxy> =
        std::sync::OnceLock::new();
    &PROXY
        .get_or_init(|| {
            panka_test_support::proxy::FaultProxy::start(
                &panka_test_support::emulator().endpoint,
                panka_test_support::proxy::Faults::none(),
            )
        })
        .endpoint
}

async fn aws_at(endpoint: &str) -> Aws {
    // The emulator takes any credentials; fixed ones keep the SDK from looking for real ones.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint.to_string())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "panka-tests",
        ))
        .load()
        .await;
    Aws::from_config(config, true)
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

async fn s3_store() -> StateStore {
    let aws = aws_at(s3_endpoint()).await;
    let bucket = unique("panka-state");
    let mut report = panka_backend::init::InitReport::default();
    panka_backend::init::ensure_bucket(&aws.s3(), &bucket, "us-east-1", &mut report)
        .await
        .unwrap();
    StateStore::S3(S3Store::new(aws.s3(), bucket, None))
}

async fn dynamo_locks() -> LockStore {
    let aws = aws().await;
    let table = unique("panka-locks");
    let mut report = panka_backend::init::InitReport::default();
    panka_backend::init::ensure_lock_table(&aws.dynamodb(), &table, &mut report)
        .await
        .unwrap();
    LockStore::Dynamo(DynamoLocks::new(aws.dynamodb(), table))
}

fn resource(n: usize) -> ResourceState {
    let config = serde_json::json!({"name": format!("r{n}"), "spec": {"n": n}});
    ResourceState {
        kind: "SQS".into(),
        physical_ids: BTreeMap::from([("url".to_string(), format!("https://q/{n}"))]),
        config_hash: panka_state::config_hash(&config),
        config: config.into(),
        outputs: BTreeMap::new(),
        dependencies: vec![],
        status: ResourceStatus::Ready,
        created_at: panka_backend::now_rfc3339(),
        updated_at: panka_backend::now_rfc3339(),
        adopted: false,
    }
}

fn deployment(id: &str) -> Deployment {
    Deployment {
        id: id.into(),
        operation: "apply".into(),
        who: panka_backend::who(),
        started_at: panka_backend::now_rfc3339(),
        finished_at: panka_backend::now_rfc3339(),
        duration_seconds: 0.5,
        git_commit: None,
        git_branch: None,
        variables_hash: String::new(),
        result: DeploymentResult::Succeeded,
        changes: ChangeCounts {
            created: 1,
            ..ChangeCounts::default()
        },
        services: vec![],
        lock_wait_seconds: 0.0,
        rollback_of: None,
    }
}

// ------------------------------------------------------------------------------ state suite

/// 8 writers commit their own resources to one state at the same time; none is lost, serials
/// increase by one per commit.
async fn concurrent_writers_lose_nothing(store: StateStore) {
    for trial in 0..TRIALS {
        let key = StateKey::new("shop", &format!("t{trial}"));
        // A first commit fixes the lineage.
        let first = commit(&store, &key, None, &Changes::default())
            .await
            .unwrap();
        let lineage = first.lineage.clone();
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..8 {
            let (store, key, lineage) = (store.clone(), key.clone(), lineage.clone());
            tasks.spawn(async move {
                let mut changes = Changes::default();
                changes
                    .resources
                    .insert(format!("svc{w}/a"), Some(resource(w * 2)));
                changes
                    .resources
                    .insert(format!("svc{w}/b"), Some(resource(w * 2 + 1)));
                commit(&store, &key, Some(&lineage), &changes)
                    .await
                    .unwrap()
            });
        }
        let mut serials: Vec<u64> = Vec::new();
        while let Some(r) = tasks.join_next().await {
            serials.push(r.unwrap().serial);
        }
        serials.sort();
        assert_eq!(
            serials,
            (2..=9).collect::<Vec<_>>(),
            "trial {trial}: every commit got its own serial"
        );
        let stored = store.read(&key).await.unwrap().unwrap().state;
        assert_eq!(
            stored.resources.len(),
            16,
            "trial {trial}: {:?}",
            stored.resources.keys().collect::<Vec<_>>()
        );
        assert_eq!(stored.serial, 9);
    }
}

/// A write against a version that is no longer current is refused; commit re-reads and merges.
async fn stale_write_rejected_then_merged(store: StateStore) {
    let key = StateKey::new("shop", "stale");
    let mut a = Changes::default();
    a.resources.insert("x/one".into(), Some(resource(1)));
    let s1 = commit(&store, &key, None, &a).await.unwrap();
    let old = store.read(&key).await.unwrap().unwrap();
    let mut b = Changes::default();
    b.resources.insert("y/two".into(), Some(resource(2)));
    commit(&store, &key, Some(&s1.lineage), &b).await.unwrap();
    // Writing with the version read before the second commit must fail.
    let mut stale = old.state.clone();
    stale.serial += 1;
    assert_eq!(
        store.write(&key, &stale, Some(&old.version)).await.unwrap(),
        WriteOutcome::Conflict
    );
    // The first state written again without condition on an existing state also fails.
    assert_eq!(
        store.write(&key, &stale, None).await.unwrap(),
        WriteOutcome::Conflict
    );
    let mut c = Changes::default();
    c.resources.insert("z/three".into(), Some(resource(3)));
    let merged = commit(&store, &key, Some(&s1.lineage), &c).await.unwrap();
    assert_eq!(
        merged.resources.keys().cloned().collect::<Vec<_>>(),
        vec!["x/one", "y/two", "z/three"]
    );
    assert_eq!(merged.serial, 3);
    let wrong = commit(&store, &key, Some("another-lineage"), &c)
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, BackendError::LineageMismatch { .. }),
        "{wrong}"
    );
}

/// `state push` refuses an older serial and another lineage unless forced.
async fn push_refuses_older_serials(store: StateStore) {
    let key = StateKey::new("shop", "push");
    let mut a = Changes::default();
    a.resources.insert("x/one".into(), Some(resource(1)));
    let s1 = commit(&store, &key, None, &a).await.unwrap();
    let s2 = commit(&store, &key, Some(&s1.lineage), &a).await.unwrap();
    let err = ops::push(&store, &key, &s1, false).await.unwrap_err();
    assert!(
        matches!(
            err,
            BackendError::SerialNotNewer {
                current: 2,
                offered: 1
            }
        ),
        "{err}"
    );
    let mut other = s2.clone();
    other.lineage = "other".into();
    other.serial = 10;
    assert!(matches!(
        ops::push(&store, &key, &other, false).await.unwrap_err(),
        BackendError::LineageMismatch { .. }
    ));
    let mut newer = s2.clone();
    newer.serial = 5;
    newer
        .resources
        .insert("y/new".into(), std::sync::Arc::new(resource(9)));
    let pushed = ops::push(&store, &key, &newer, false).await.unwrap();
    assert!(pushed.resources.contains_key("y/new"));
    assert_eq!(
        pushed.serial, 5,
        "a pushed state keeps its serial when it is newer"
    );
    let forced = ops::push(&store, &key, &s1, true).await.unwrap();
    assert!(!forced.resources.contains_key("y/new"));
}

/// Every saved deployment is in the history, and restoring one brings its state back.
async fn history_lists_every_deployment(store: StateStore) {
    let key = StateKey::new("shop", "history");
    let mut lineage = None;
    for i in 0..5 {
        let mut c = Changes::default();
        c.resources.insert(format!("s/r{i}"), Some(resource(i)));
        let s = ops::save_deployment(
            &store,
            &key,
            lineage.as_deref(),
            c,
            deployment(&format!("dep-{i}")),
        )
        .await
        .unwrap();
        lineage = Some(s.lineage);
    }
    let history = store.history(&key).await.unwrap();
    let ids: Vec<&str> = history.iter().map(|h| h.deployment.id.as_str()).collect();
    assert_eq!(ids, vec!["dep-0", "dep-1", "dep-2", "dep-3", "dep-4"]);
    assert_eq!(
        history.iter().map(|h| h.state.serial).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let restored = ops::restore(&store, &key, "dep-1", deployment("restore-1"))
        .await
        .unwrap();
    assert_eq!(
        restored.resources.keys().cloned().collect::<Vec<_>>(),
        vec!["s/r0", "s/r1"]
    );
    assert_eq!(restored.serial, 6, "a restore is a new serial");
    assert_eq!(store.history(&key).await.unwrap().len(), 6);
}

// ------------------------------------------------------------------------------- lock suite

fn request(key: &StateKey, scope: LockScope, ttl: Duration) -> LockRequest {
    LockRequest {
        ttl,
        ..LockRequest::new(key.clone(), scope, "apply", Duration::ZERO)
    }
}

/// 16 acquirers race for one lock; exactly one wins, in each of 50 trials.
async fn one_winner_among_sixteen(locks: LockStore) {
    for trial in 0..TRIALS {
        let key = StateKey::new("shop", &format!("race{trial}"));
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..16 {
            let (locks, key, barrier) = (locks.clone(), key.clone(), barrier.clone());
            // Half ask for the whole stack, half for one service: every pair conflicts.
            let scope = if i % 2 == 0 {
                LockScope::Stack
            } else {
                LockScope::Service("orders".into())
            };
            tasks.spawn(async move {
                barrier.wait().await;
                locks
                    .acquire(&request(&key, scope, Duration::from_secs(60)))
                    .await
            });
        }
        let mut winners = Vec::new();
        let mut losers = 0;
        while let Some(r) = tasks.join_next().await {
            match r.unwrap() {
                Ok(guard) => winners.push(guard),
                Err(BackendError::LockHeld(msg)) => {
                    assert!(msg.contains("is locked by"), "{msg}");
                    losers += 1;
                }
                Err(e) => panic!("trial {trial}: {e}"),
            }
        }
        // Claim-then-check may make every racer back off; it must never let two win.
        assert!(
            winners.len() <= 1,
            "trial {trial}: {} winners",
            winners.len()
        );
        assert_eq!(winners.len() + losers, 16);
        for g in winners {
            g.release().await.unwrap();
        }
        // Without contention, a lock is always obtained. (Waiting a little: a process another
        // test forks at this moment holds copies of our file descriptors, and so the file locks
        // we just dropped, until it execs.)
        let g = locks
            .acquire(&LockRequest {
                ttl: Duration::from_secs(60),
                ..LockRequest::new(
                    key.clone(),
                    LockScope::Stack,
                    "apply",
                    Duration::from_secs(5),
                )
            })
            .await
            .unwrap();
        g.release().await.unwrap();
    }
}

/// Services of one stack lock independently; a stack lock excludes them and they exclude it.
async fn service_and_stack_scopes(locks: LockStore) {
    let key = StateKey::new("shop", "scopes");
    let ttl = Duration::from_secs(60);
    let orders = locks
        .acquire(&request(&key, LockScope::Service("orders".into()), ttl))
        .await
        .unwrap();
    let payments = locks
        .acquire(&request(&key, LockScope::Service("payments".into()), ttl))
        .await
        .unwrap();
    let again = locks
        .acquire(&request(&key, LockScope::Service("orders".into()), ttl))
        .await
        .unwrap_err();
    assert!(
        again
            .to_string()
            .contains("service orders of shop/scopes is locked by"),
        "{again}"
    );
    let whole = locks
        .acquire(&request(&key, LockScope::Stack, ttl))
        .await
        .unwrap_err();
    assert!(matches!(whole, BackendError::LockHeld(_)), "{whole}");
    orders.release().await.unwrap();
    payments.release().await.unwrap();
    // Waiting a little, as in `one_winner_among_sixteen`: a process another test forks at this
    // moment holds copies of the file descriptors just closed, and so their file locks, until
    // it execs.
    let whole = locks
        .acquire(&LockRequest {
            ttl,
            ..LockRequest::new(
                key.clone(),
                LockScope::Stack,
                "apply",
                Duration::from_secs(5),
            )
        })
        .await
        .unwrap();
    let svc = locks
        .acquire(&request(&key, LockScope::Service("orders".into()), ttl))
        .await
        .unwrap_err();
    assert!(
        svc.to_string().contains("stack shop/scopes is locked by"),
        "{svc}"
    );
    // Another environment of the same stack is independent.
    let other = locks
        .acquire(&request(
            &StateKey::new("shop", "scopes2"),
            LockScope::Stack,
            ttl,
        ))
        .await
        .unwrap();
    let listed = locks.list().await.unwrap();
    assert!(listed.iter().any(|l| l.id == "shop/scopes#*"));
    whole.release().await.unwrap();
    other.release().await.unwrap();
}

/// A heartbeat extends the expiry of a held lock.
async fn heartbeat_extends_expiry(locks: LockStore) {
    let key = StateKey::new("shop", "heartbeat");
    let guard = locks
        .acquire(&request(&key, LockScope::Stack, Duration::from_secs(4)))
        .await
        .unwrap();
    let first = locks
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.id == guard.info().id)
        .unwrap()
        .expires;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let later = locks
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.id == guard.info().id)
        .unwrap()
        .expires;
    assert!(later > first, "expiry {first} was not extended ({later})");
    guard.release().await.unwrap();
}

/// A lock whose holder stopped heartbeating is taken over once its lease has run out (for
/// DynamoDB: once a waiter has seen it go a whole lease without a heartbeat); a live one is not.
async fn expired_lock_is_taken_over(locks: LockStore) {
    let key = StateKey::new("shop", "expiry");
    let guard = locks
        .acquire(&request(&key, LockScope::Stack, Duration::from_secs(1)))
        .await
        .unwrap();
    let id = guard.info().id.clone();
    // The holder hangs: no release, no more heartbeats (its process still runs).
    drop(guard);
    let live = locks
        .acquire(&request(&key, LockScope::Stack, Duration::from_secs(60)))
        .await;
    if let Ok(g) = live {
        panic!("a live lock was taken over: {:?}", g.info());
    }
    let taken = locks
        .acquire(&LockRequest {
            wait: Duration::from_secs(10),
            ..request(&key, LockScope::Stack, Duration::from_secs(60))
        })
        .await
        .unwrap();
    assert_eq!(taken.info().id, id);
    let unlock_live = locks.unlock(&id, false).await.unwrap_err();
    assert!(
        matches!(unlock_live, BackendError::LockLive { .. }),
        "{unlock_live}"
    );
    locks.unlock(&id, true).await.unwrap();
    assert!(locks.list().await.unwrap().iter().all(|l| l.id != id));
}

/// Waiting for a lock gets it when the holder releases within the wait.
async fn waiting_gets_the_lock(locks: LockStore) {
    let key = StateKey::new("shop", "wait");
    let guard = locks
        .acquire(&request(&key, LockScope::Stack, Duration::from_secs(60)))
        .await
        .unwrap();
    let waiter = {
        let locks = locks.clone();
        let key = key.clone();
        tokio::spawn(async move {
            locks
                .acquire(&LockRequest {
                    wait: Duration::from_secs(10),
                    ..request(&key, LockScope::Stack, Duration::from_secs(60))
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    guard.release().await.unwrap();
    let got = waiter.await.unwrap().unwrap();
    got.release().await.unwrap();
}

// ----------------------------------------------------------------------------------- runs

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_state_store() {
    let store = s3_store().await;
    store
        .check_conditional_writes(&StateKey::new("shop", "probe"))
        .await
        .expect("moto enforces conditional writes");
    concurrent_writers_lose_nothing(store.clone()).await;
    stale_write_rejected_then_merged(store.clone()).await;
    push_refuses_older_serials(store.clone()).await;
    history_lists_every_deployment(store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_state_is_readable_with_the_sdk() {
    let store = s3_store().await;
    let StateStore::S3(s3) = &store else {
        unreachable!()
    };
    let key = StateKey::new("shop", "sdk");
    let mut c = Changes::default();
    c.resources.insert("orders/queue".into(), Some(resource(1)));
    let saved = ops::save_deployment(&store, &key, None, c, deployment("dep-sdk"))
        .await
        .unwrap();
    let client = aws().await.s3();
    let object = client
        .get_object()
        .bucket(s3.bucket())
        .key("stacks/shop/sdk/state.json")
        .send()
        .await
        .unwrap();
    let bytes = object.body.collect().await.unwrap().into_bytes();
    let state: State = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(state.serial, saved.serial);
    assert!(state.resources.contains_key("orders/queue"));
    let listed = client
        .list_objects_v2()
        .bucket(s3.bucket())
        .prefix("stacks/shop/sdk/history/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1);
    let tags = client
        .get_object_tagging()
        .bucket(s3.bucket())
        .key(listed.contents()[0].key().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        tags.tag_set()
            .iter()
            .any(|t| t.key() == "panka:object" && t.value() == "history")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backend_init_is_idempotent_and_configures_the_bucket_and_table() {
    let aws = aws().await;
    let bucket = unique("panka-init");
    let table = unique("panka-init-locks");
    let mut first = panka_backend::init::InitReport::default();
    panka_backend::init::ensure_bucket(&aws.s3(), &bucket, "us-east-1", &mut first)
        .await
        .unwrap();
    panka_backend::init::ensure_lock_table(&aws.dynamodb(), &table, &mut first)
        .await
        .unwrap();
    assert!(
        first.lines.iter().any(|l| l.starts_with('+')),
        "{:?}",
        first.lines
    );
    let mut second = panka_backend::init::InitReport::default();
    panka_backend::init::ensure_bucket(&aws.s3(), &bucket, "us-east-1", &mut second)
        .await
        .unwrap();
    panka_backend::init::ensure_lock_table(&aws.dynamodb(), &table, &mut second)
        .await
        .unwrap();
    // Moto gap: its GetBucketVersioning answer has the root element GetBucketVersioningResponse,
    // which the Rust SDK refuses, so panka cannot read the setting there and writes it again.
    let changed: Vec<&String> = second
        .lines
        .iter()
        .filter(|l| !l.starts_with('✓') && !l.contains("could not be read"))
        .collect();
    assert!(
        changed.is_empty(),
        "second run changed something: {:?}",
        second.lines
    );
    // Checked without panka: raw S3 for versioning (see the gap above), the SDK for the rest.
    let emu = panka_test_support::emulator();
    let (code, body) =
        panka_test_support::http(&emu.endpoint, "GET", &format!("/{bucket}?versioning"), b"")
            .unwrap();
    assert_eq!(code, 200);
    assert!(
        String::from_utf8_lossy(&body).contains("<Status>Enabled</Status>"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let s3 = aws.s3();
    let pab = s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        pab.public_access_block_configuration()
            .unwrap()
            .block_public_acls(),
        Some(true)
    );
    let enc = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(
        !enc.server_side_encryption_configuration()
            .unwrap()
            .rules()
            .is_empty()
    );
    let ttl = aws
        .dynamodb()
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description().unwrap().attribute_name(),
        Some("expiresAt")
    );
    // Drift is put back: remove the public access block, run again.
    s3.delete_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let mut third = panka_backend::init::InitReport::default();
    panka_backend::init::ensure_bucket(&aws.s3(), &bucket, "us-east-1", &mut third)
        .await
        .unwrap();
    assert!(
        third
            .lines
            .iter()
            .any(|l| l.starts_with('~') && l.contains("public access blocked")),
        "{:?}",
        third.lines
    );
    let pab = s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        pab.public_access_block_configuration()
            .unwrap()
            .restrict_public_buckets(),
        Some(true)
    );
}

/// A pid that no longer runs on this host.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// Writes a lock item as another process would have.
async fn plant_lock(table: &str, key: &StateKey, holder: &str, pid: u32, expires: u64) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let s = |v: &str| AttributeValue::S(v.to_string());
    let n = |v: u64| AttributeValue::N(v.to_string());
    aws()
        .await
        .dynamodb()
        .put_item()
        .table_name(table)
        .item("lockScope", s(&key.to_string()))
        .item("lockName", s("*"))
        .item("holder", s(holder))
        .item("holderId", s("planted"))
        .item("pid", n(u64::from(pid)))
        .item("operation", s("apply"))
        .item("created", n(panka_backend::now_epoch()))
        .item("expiresAt", n(expires))
        .item("rvn", s("r-1"))
        .item("ttl", n(60))
        .send()
        .await
        .unwrap();
}

/// A lock whose holder ran on this host and no longer runs is taken over at once (the re-run
/// after a crash or SIGKILL), saying so; one of another host is not, even when this host's
/// clock says it expired a moment ago (clocks may disagree), until it expired longer ago than
/// the allowed skew.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dead_and_stale_holders_are_taken_over_at_once() {
    let table = unique("panka-locks");
    let aws = aws().await;
    let mut report = panka_backend::init::InitReport::default();
    panka_backend::init::ensure_lock_table(&aws.dynamodb(), &table, &mut report)
        .await
        .unwrap();
    let locks = LockStore::Dynamo(DynamoLocks::new(aws.dynamodb(), &table));
    let now = panka_backend::now_epoch();

    let key = StateKey::new("shop", "crashed");
    plant_lock(&table, &key, &panka_backend::who(), dead_pid(), now + 3600).await;
    let guard = locks
        .acquire(&request(&key, LockScope::Stack, Duration::from_secs(60)))
        .await
        .unwrap();
    let (previous, why) = guard.taken_over().expect("taken over");
    assert_eq!(previous.holder_id, "planted");
    assert!(why.contains("no longer runs on this host"), "{why}");
    guard.release().await.unwrap();

    let key = StateKey::new("shop", "skewed");
    plant_lock(&table, &key, "ci@elsewhere", 4242, now - 10).await;
    let refused = locks
        .acquire(&request(&key, LockScope::Stack, Duration::from_secs(60)))
        .await;
    assert!(
        matches!(refused, Err(BackendError::LockHeld(_))),
        "a lock that expired seconds ago on another host's clock was taken: {refused:?}"
    );

    let key = StateKey::new("shop", "abandoned");
    plant_lock(&table, &key, "ci@elsewhere", 4242, now - 3600).await;
    let guard = locks
        .acquire(&request(&key, LockScope::Stack, Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(guard.taken_over().unwrap().1.contains("expired"));
    guard.release().await.unwrap();
}

/// A holder whose lock was taken over learns it at its next heartbeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_holder_learns_that_its_lock_was_taken_over() {
    let memory = MemoryLocks::new();
    let locks = LockStore::Memory(memory.clone());
    let key = StateKey::new("shop", "lost");
    let guard = locks
        .acquire(&request(&key, LockScope::Stack, Duration::from_secs(1)))
        .await
        .unwrap();
    let mut lost = guard.lost_signal();
    memory.expire(&guard.info().id);
    let thief = locks
        .acquire(&request(&key, LockScope::Stack, Duration::from_secs(60)))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), lost.wait_for(|l| *l))
        .await
        .expect("the heartbeat reports the loss")
        .unwrap();
    assert!(guard.lost());
    thief.release().await.unwrap();
}

/// Writes carry the writer's locks: once a lock is taken over (or the whole stack's lock is
/// taken after a service's), the former holder's writes are refused.
#[tokio::test]
async fn writes_of_a_holder_whose_lock_was_taken_over_are_refused() {
    let store = StateStore::Memory(MemoryStore::new());
    let key = StateKey::new("shop", "fenced");
    let fence = |lock: &str, holder: &str| vec![(lock.to_string(), holder.to_string())];
    let take = |lock: &str, holder: &str| Changes {
        fence: fence(lock, holder),
        take_fences: true,
        ..Changes::default()
    };
    let write = |lock: &str, holder: &str, n: usize| {
        let mut c = Changes {
            fence: fence(lock, holder),
            ..Changes::default()
        };
        c.resources
            .insert(format!("orders/r{n}"), Some(resource(n)));
        c
    };
    let first = commit(&store, &key, None, &take("service:orders", "a"))
        .await
        .unwrap();
    let lineage = Some(first.lineage.as_str());
    commit(&store, &key, lineage, &write("service:orders", "a", 1))
        .await
        .unwrap();
    // Another service's holder writes alongside.
    commit(&store, &key, lineage, &take("service:payments", "p"))
        .await
        .unwrap();
    commit(&store, &key, lineage, &write("service:payments", "p", 2))
        .await
        .unwrap();
    commit(&store, &key, lineage, &write("service:orders", "a", 3))
        .await
        .unwrap();
    // b takes the orders lock over: a's writes are refused, b's land.
    commit(&store, &key, lineage, &take("service:orders", "b"))
        .await
        .unwrap();
    let refused = commit(&store, &key, lineage, &write("service:orders", "a", 4)).await;
    assert!(
        matches!(refused, Err(BackendError::Fenced { .. })),
        "{refused:?}"
    );
    commit(&store, &key, lineage, &write("service:orders", "b", 5))
        .await
        .unwrap();
    // The whole stack's lock taken after b's: b is fenced off too.
    commit(&store, &key, lineage, &take("*", "s"))
        .await
        .unwrap();
    let refused = commit(&store, &key, lineage, &write("service:orders", "b", 6)).await;
    assert!(
        matches!(refused, Err(BackendError::Fenced { .. })),
        "{refused:?}"
    );
    let stored = store.read(&key).await.unwrap().unwrap().state;
    let kept: Vec<&String> = stored.resources.keys().collect();
    assert_eq!(
        kept,
        vec!["orders/r1", "orders/r2", "orders/r3", "orders/r5"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_locks_suite() {
    let locks = dynamo_locks().await;
    one_winner_among_sixteen(locks.clone()).await;
    service_and_stack_scopes(locks.clone()).await;
    heartbeat_extends_expiry(locks.clone()).await;
    expired_lock_is_taken_over(locks.clone()).await;
    waiting_gets_the_lock(locks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_state_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::Local(LocalStore::new(dir.path()));
    concurrent_writers_lose_nothing(store.clone()).await;
    stale_write_rejected_then_merged(store.clone()).await;
    push_refuses_older_serials(store.clone()).await;
    history_lists_every_deployment(store.clone()).await;
    // Nothing half-written is left behind.
    let leftovers: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let text = std::fs::read_to_string(dir.path().join(".panka/push/state.json")).unwrap();
    assert!(serde_json::from_str::<State>(&text).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_locks_suite() {
    let dir = tempfile::tempdir().unwrap();
    let locks = LockStore::Local(LocalLocks::new(dir.path()));
    one_winner_among_sixteen(locks.clone()).await;
    service_and_stack_scopes(locks.clone()).await;
    waiting_gets_the_lock(locks.clone()).await;
    // A local lock is freed by its holder's end (the OS releases the file lock); its record
    // remains and is listed as not held, so `unlock` takes it without --force.
    let key = StateKey::new("shop", "dead");
    let guard = locks
        .acquire(&request(&key, LockScope::Stack, Duration::from_secs(60)))
        .await
        .unwrap();
    let id = guard.info().id.clone();
    drop(guard);
    let stale = locks
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.id == id)
        .unwrap();
    assert!(!stale.held);
    locks.unlock(&id, false).await.unwrap();
    let again = locks
        .acquire(&request(&key, LockScope::Stack, Duration::from_secs(60)))
        .await
        .unwrap();
    again.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_suites() {
    let store = StateStore::Memory(MemoryStore::new());
    concurrent_writers_lose_nothing(store.clone()).await;
    stale_write_rejected_then_merged(store.clone()).await;
    push_refuses_older_serials(store.clone()).await;
    history_lists_every_deployment(store).await;
    let locks = LockStore::Memory(MemoryLocks::new());
    one_winner_among_sixteen(locks.clone()).await;
    service_and_stack_scopes(locks.clone()).await;
    heartbeat_extends_expiry(locks.clone()).await;
    expired_lock_is_taken_over(locks.clone()).await;
    waiting_gets_the_lock(locks).await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn version_kinds_are_distinct() {
    assert_ne!(Version::ETag("a".into()), Version::Digest("a".into()));
}
