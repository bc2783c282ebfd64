//! A successful login records the grant's use (last_used_at) off the hot path, to the day.

mod common;

use common::cluster::{login, Outcome};
use poort::grants::Register;
use std::time::{Duration, Instant};

const DEV_IDP: &str = "urn:etoegang:AD:00000099990000000003:entities:1";

async fn last_used(
    w: &common::World,
    person: &str,
    grant: &str,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let grants = w.registry.sql().grants_for(DEV_IDP, person).await.unwrap();
    grants
        .grants
        .into_iter()
        .find(|g| g.grant_id == grant)
        .expect("the grant exists")
        .last_used_at
}

#[tokio::test]
async fn a_login_records_the_use_of_the_grant_it_used_once_a_day() {
    let w = common::start().await;
    let seeded = last_used(&w, "bram", "g-bram-groendak-s2").await.unwrap();
    let before = chrono::Utc::now();
    assert_eq!(
        login(&w.dv, "bram", "EH2+", 2).await,
        Outcome::Allowed("11223344".into())
    );

    // Written by a background task: wait for it (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    while w.registry.metrics().grant_uses_recorded.get() == 0 {
        assert!(Instant::now() < deadline, "the use was never recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let used = last_used(&w, "bram", "g-bram-groendak-s2").await.unwrap();
    assert!(used > seeded);
    assert!(
        used >= before - chrono::TimeDelta::seconds(1),
        "{used} vs {before}"
    );
    assert_eq!(w.registry.metrics().grant_uses_recorded.get(), 1);
    // The other grant of Bram was not used.
    assert_eq!(
        last_used(&w, "bram", "g-bram-groendak-s1").await,
        Some(seeded)
    );

    // A second login the same day writes nothing (day precision keeps the cache warm).
    assert_eq!(
        login(&w.dv, "bram", "EH2+", 2).await,
        Outcome::Allowed("11223344".into())
    );
    w.registry
        .record_use("g-bram-groendak-s2", chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(
        last_used(&w, "bram", "g-bram-groendak-s2").await,
        Some(used)
    );
    assert_eq!(w.registry.metrics().grant_uses_recorded.get(), 1);
}

#[tokio::test]
async fn a_refused_login_records_no_use() {
    let w = common::start().await;
    let seeded = last_used(&w, "femke", "g-femke-groendak").await;
    match login(&w.dv, "femke", "EH4", 1).await {
        Outcome::Refused(403, _) => {}
        other => panic!("femke is blocked: {other:?}"),
    }
    // Uses are written in the order logins hand them over: once a later login's use is
    // written, anything the refusal had handed over would have been written too.
    assert_eq!(
        login(&w.dv, "bram", "EH2+", 2).await,
        Outcome::Allowed("11223344".into())
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while w.registry.metrics().grant_uses_recorded.get() == 0 {
        assert!(
            Instant::now() < deadline,
            "the later use was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(last_used(&w, "femke", "g-femke-groendak").await, seeded);
    assert_eq!(w.registry.metrics().grant_uses_recorded.get(), 1);
}
