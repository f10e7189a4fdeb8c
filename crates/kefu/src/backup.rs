//! `kefu backup` and `kefu restore` (issue 20, item 13): a shop's SQLite data — the database and
//! the attachments — copied while the server runs, and put back into a fresh data dir.
//!
//! A backup is a directory: `kefu.db` (a checked `VACUUM INTO` copy), `attachments/` (the
//! uploaded files, which never change once placed) and `manifest.json` (what it holds). The
//! search index is not copied: a server rebuilds it from the database at start. PostgreSQL
//! deployments back up with `pg_dump` plus a copy of `<data-dir>/attachments` (docs/OPERATIONS.md).

use anyhow::{Context, Result, bail};
use kefu_store::sqlite::backup::{DatabaseSummary, backup_database, check_database};
use std::path::{Path, PathBuf};

const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "kefu.db";

#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    format: u32,
    kefu_version: String,
    created_at: String,
    database: DatabaseSummary,
    attachment_files: u64,
    attachment_bytes: u64,
}

/// The SQLite file a `--database-url` / `--data-dir` pair names, or an error for PostgreSQL.
pub fn sqlite_path(database_url: Option<&str>, data_dir: &Path) -> Result<PathBuf> {
    match database_url {
        None => Ok(data_dir.join(DATABASE)),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => bail!(
            "kefu backup/restore handle SQLite; for PostgreSQL use pg_dump/pg_restore and copy \
             {}/attachments (docs/OPERATIONS.md)",
            data_dir.display()
        ),
        Some(url) => {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .context("the database URL must be sqlite://PATH or postgres://…")?;
            Ok(PathBuf::from(path.split('?').next().unwrap_or(path)))
        }
    }
}

/// Copies every file under `from` into `to` (created), skipping the upload spool `tmp/`.
/// Returns (files, bytes).
fn copy_tree(from: &Path, to: &Path) -> Result<(u64, u64)> {
    let mut totals = (0, 0);
    if !from.exists() {
        return Ok(totals);
    }
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let name = entry.file_name();
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if name == "tmp" && from.file_name().is_some_and(|n| n == "attachments") {
                continue;
            }
            let (f, b) = copy_tree(&src, &dst)?;
            totals = (totals.0 + f, totals.1 + b);
        } else if kind.is_file() {
            let bytes = std::fs::copy(&src, &dst)
                .with_context(|| format!("cannot copy {}", src.display()))?;
            totals = (totals.0 + 1, totals.1 + bytes);
        }
    }
    Ok(totals)
}

/// Flushes a file or directory to disk, so a finished backup or restore survives a crash.
fn sync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync {}", path.display()))
}

pub async fn backup(database: &Path, data_dir: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        bail!(
            "{} already exists: choose a new directory for the backup",
            out.display()
        );
    }
    // Written beside the target and renamed at the end: a backup cut short never looks whole.
    let partial = out.with_extension("partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial)?;
    }
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let summary = backup_database(database, &partial.join(DATABASE))
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let (files, bytes) = copy_tree(&data_dir.join("attachments"), &partial.join("attachments"))?;
    let manifest = Manifest {
        format: 1,
        kefu_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: kefu_core::time::Millis::now().to_rfc3339(),
        database: summary.clone(),
        attachment_files: files,
        attachment_bytes: bytes,
    };
    std::fs::write(
        partial.join(MANIFEST),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    sync(&partial.join(DATABASE))?;
    sync(&partial)?;
    std::fs::rename(&partial, out)?;
    println!(
        "backup written to {}: {} conversations, {} messages, {} customers, {} orders, {} tickets \
         (schema {}), {files} attachment files ({bytes} bytes)",
        out.display(),
        summary.conversations,
        summary.messages,
        summary.customers,
        summary.orders,
        summary.tickets,
        summary.schema_version
    );
    Ok(())
}

pub async fn restore(from: &Path, database: &Path, data_dir: &Path) -> Result<()> {
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(from.join(MANIFEST))
            .with_context(|| format!("{} is not a kefu backup (no {MANIFEST})", from.display()))?,
    )
    .context("the backup's manifest is unreadable")?;
    if manifest.format != 1 {
        bail!(
            "backup format {} is not known to this kefu",
            manifest.format
        );
    }
    // Never over live data: restoring is for a fresh data dir (move the old one away first).
    for existing in [database.to_path_buf(), data_dir.join("attachments")] {
        if existing.exists() {
            bail!(
                "{} already exists: restore into a fresh data dir",
                existing.display()
            );
        }
    }
    let summary = check_database(&from.join(DATABASE))
        .await
        .map_err(|e| anyhow::anyhow!("the backup's database: {}", e.message))?;
    if summary != manifest.database {
        bail!("the backup's database does not match its manifest: it was changed or damaged");
    }
    if let Some(dir) = database.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = database.with_extension("restoring");
    std::fs::copy(from.join(DATABASE), &partial)?;
    sync(&partial)?;
    std::fs::rename(&partial, database)?;
    let (files, bytes) = copy_tree(&from.join("attachments"), &data_dir.join("attachments"))?;
    if (files, bytes) != (manifest.attachment_files, manifest.attachment_bytes) {
        bail!(
            "the backup's attachments do not match its manifest ({files} files, {bytes} bytes \
             instead of {} and {})",
            manifest.attachment_files,
            manifest.attachment_bytes
        );
    }
    println!(
        "restored {} into {}: {} conversations, {} messages, {} customers, {} orders, {} tickets, \
         {files} attachment files. Start kefu on this data dir; it applies newer migrations and \
         rebuilds the search index by itself.",
        from.display(),
        data_dir.display(),
        summary.conversations,
        summary.messages,
        summary.customers,
        summary.orders,
        summary.tickets,
    );
    Ok(())
}
