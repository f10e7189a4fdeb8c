//! `kefu backup` while the server serves, `kefu restore` into a fresh data dir, and every
//! conversation, message and attachment read back from the restored copy (SQLite; PostgreSQL
//! backs up with pg_dump, docs/OPERATIONS.md).

use crate::attachments::{png, upload};
use crate::harness::*;
use std::path::Path;
use std::process::Command;

fn kefu(args: &[&str], database: &Path, data_dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(args)
        .arg("--database-url")
        .arg(format!("sqlite://{}", database.display()))
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("KEFU_DATABASE_URL")
        .env_remove("KEFU_DATA_DIR")
        .output()
        .expect("run kefu")
}

/// Every message of every conversation, in order: what a restore must give back.
async fn all_messages(database: &Path) -> Vec<(i64, i64, String, String)> {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display()))
        .await
        .expect("open");
    sqlx::query_as(
        "SELECT conversation_id, seq, sender_type, body FROM messages ORDER BY conversation_id, seq",
    )
    .fetch_all(&mut conn)
    .await
    .expect("messages")
}

/// Every file under `dir` with its bytes, by path relative to `dir` (the upload spool left out).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                if path != root.join("tmp") {
                    walk(root, &path, out);
                }
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_every_conversation() {
    let s = TestServer::start(Backend::Sqlite).await;
    let database = s.sqlite_file().expect("sqlite");
    for i in 0..5 {
        let shopper = s.shopper().await;
        for j in 0..3 {
            s.shopper_send(&shopper, &format!("第 {i} 位顾客的第 {j} 条消息"))
                .await;
        }
        if i == 0 {
            let r = upload(
                &s,
                "/api/v1/widget/attachments",
                &shopper.token,
                "photo.png",
                Some("image/png"),
                &png(300, 200),
                &format!("up-{}", unique()),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
    }
    let before = all_messages(&database).await;
    let attachments_before = files(&s.data_dir.path().join("attachments"));
    assert!(before.len() >= 15);
    assert!(!attachments_before.is_empty(), "the upload is on disk");

    // The backup runs while the server keeps serving and writing.
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("backup-1");
    let writer = {
        let shopper = s.shopper().await;
        let base = s.url("");
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for n in 0..30 {
                let _ = client
                    .post(format!("{base}/api/v1/widget/messages"))
                    .bearer_auth(&shopper.token)
                    .json(&serde_json::json!({"body": format!("备份期间 {n}"), "client_msg_id": format!("b-{n}")}))
                    .send()
                    .await;
            }
        })
    };
    let backup = {
        let (database, data_dir, out) =
            (database.clone(), s.data_dir.path().to_owned(), out.clone());
        tokio::task::spawn_blocking(move || {
            kefu(
                &["backup", "--out", out.to_str().unwrap()],
                &database,
                &data_dir,
            )
        })
        .await
        .unwrap()
    };
    writer.await.unwrap();
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert!(out.join("manifest.json").exists());
    // A second backup into the same place is refused, not merged.
    let again = kefu(
        &["backup", "--out", out.to_str().unwrap()],
        &database,
        s.data_dir.path(),
    );
    assert!(!again.status.success());

    // Restore into a fresh data dir; never over existing data.
    let fresh = work.path().join("restored");
    let restored_db = fresh.join("kefu.db");
    let r = kefu(
        &["restore", "--from", out.to_str().unwrap()],
        &restored_db,
        &fresh,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let twice = kefu(
        &["restore", "--from", out.to_str().unwrap()],
        &restored_db,
        &fresh,
    );
    assert!(
        !twice.status.success(),
        "a restore over existing data is refused"
    );

    // Every message committed before the backup is in the copy, in order; messages written during
    // the backup are either wholly there or not (the copy is one consistent snapshot).
    let after = all_messages(&restored_db).await;
    assert!(after.len() >= before.len());
    assert_eq!(&after[..before.len()], &before[..]);
    assert_eq!(files(&fresh.join("attachments")), attachments_before);

    // The restored data dir serves: the binary opens it (migrations, index rebuild) and answers.
    let m = kefu(&["migrate"], &restored_db, &fresh);
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));

    // A damaged backup is refused.
    let damaged = work.path().join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    std::fs::copy(out.join("manifest.json"), damaged.join("manifest.json")).unwrap();
    std::fs::write(damaged.join("kefu.db"), b"not a database").unwrap();
    let other = work.path().join("other");
    let r = kefu(
        &["restore", "--from", damaged.to_str().unwrap()],
        &other.join("kefu.db"),
        &other,
    );
    assert!(!r.status.success());
    assert!(
        !other.join("kefu.db").exists(),
        "nothing restored from a damaged backup"
    );
}
