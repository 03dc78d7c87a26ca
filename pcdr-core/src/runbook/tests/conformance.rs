//! The conformance suites of the file and pool planes, run against the fake world: the
//! runbook tests' double must behave like the real adapters, or what those tests prove
//! about resuming holds only for the fake.

use super::fake_world::{COPY, FakeWorld, SHARE};
use crate::conformance::{assert_all_hold, files, pool};
use crate::planes::{ChatDatabase, MirrorRequest, PoolState};

#[tokio::test]
async fn the_fake_file_plane_conforms() {
    let world = FakeWorld::failover_ready(3, 1, 1);

    let results = files::run_all(&world, &world, SHARE, COPY).await;

    assert_all_hold("fake world", &files::CHECKS, &results);
}

#[tokio::test]
async fn the_fake_pool_plane_conforms() {
    let world = FakeWorld::failover_ready(3, 3, 3);
    let planes = world.planes();
    let servers = ["pc1.contoso.com".to_owned(), "pc2.contoso.com".to_owned()];
    let mirror = pool::MirrorCase {
        principal: planes.backup.as_ref(),
        database: "mgc",
        request: MirrorRequest {
            database: ChatDatabase::PersistentChat,
            sql_server_fqdn: "sql-dal.contoso.com".into(),
            sql_instance: None,
            file_share: SHARE.into(),
        },
    };

    let results = pool::run_all(&world, &servers, &mirror).await;

    assert_all_hold("fake world", &pool::CHECKS, &results);
    let state = world.lock();
    assert_eq!(
        (state.pool, &state.active[..]),
        (Some(PoolState::Normal), &servers[..])
    );
}
