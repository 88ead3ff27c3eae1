//! Commits to Delta tables with delta-rs (no DataFusion): create, one
//! write commit per table and run, restore, and the vacuum that keeps the
//! files of the kept versions.
//!
//! Commits are put-if-absent (`_delta_log/N.json` is created only if no
//! one else created it) and never retried: a writer that finds the table
//! moved on since it read it stops, and the table keeps the other writer's
//! version.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use deltalake_core::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake_core::kernel::{
    Action, Add, DataType as DeltaType, MetadataExt, PrimitiveType, StructField, StructType,
};
use deltalake_core::logstore::{
    default_logstore, logstore_factories, LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig,
};
use deltalake_core::operations::vacuum::VacuumMode;
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use deltalake_core::{DeltaTable, DeltaTableBuilder};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use polars::prelude::*;
use url::Url;

use super::{Table, TableFile};
use crate::lake::store::LakeError;

/// What one table's commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Committed {
    /// The table's version after the run (unchanged when nothing was committed).
    pub version: u64,
    pub committed: bool,
    pub added: usize,
    pub removed: usize,
}

/// The Delta root and the runtime its calls run on.
pub(crate) struct Publisher {
    rt: tokio::runtime::Runtime,
    root: Url,
    /// The bucket's store, for an `s3://` root.
    store: Option<Arc<dyn ObjectStore>>,
}

/// delta-rs's plain log store (commits put-if-absent) for `s3://` tables;
/// the store itself is the one [`s3_store`] builds.
struct PutIfAbsentLogStores;

impl LogStoreFactory for PutIfAbsentLogStores {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> deltalake_core::DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

/// The bucket of an `s3://bucket/prefix` root, with the settings of the
/// usual `AWS_*` variables (keys, region, `AWS_ENDPOINT_URL` for an
/// S3-compatible server; plain HTTP is allowed only for an `http://`
/// endpoint). Objects are created with `If-None-Match: *` where asked.
fn s3_store(url: &Url) -> Result<Arc<dyn ObjectStore>, LakeError> {
    let bucket = url.host_str().unwrap_or_default();
    if bucket.is_empty() {
        return Err(err(url.as_str(), "S3 location", "no bucket named"));
    }
    let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .or_else(|_| std::env::var("AWS_ENDPOINT"))
        .unwrap_or_default();
    if endpoint.starts_with("http://") {
        b = b.with_allow_http(true);
    }
    let store = b
        .build()
        .map_err(|e| err(url.as_str(), "S3 settings (AWS_* variables)", e))?;
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| {
        if let Ok(s3) = Url::parse("s3://") {
            logstore_factories().insert(s3, Arc::new(PutIfAbsentLogStores));
        }
    });
    Ok(Arc::new(store))
}

fn err(
    table: &str,
    what: &str,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> LakeError {
    LakeError::Delta {
        table: table.to_string(),
        what: what.to_string(),
        source: e.into(),
    }
}

/// The Delta type of a column as the files hold it, and whether the file
/// must be rewritten for it (Delta has no unsigned integers).
fn delta_type(table: &str, name: &str, dt: &DataType) -> Result<(DeltaType, bool), LakeError> {
    let p = |t| DeltaType::Primitive(t);
    Ok(match dt {
        DataType::String => (p(PrimitiveType::String), false),
        DataType::Int64 => (p(PrimitiveType::Long), false),
        DataType::Int32 => (p(PrimitiveType::Integer), false),
        DataType::Int16 => (p(PrimitiveType::Short), false),
        DataType::Int8 => (p(PrimitiveType::Byte), false),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            (p(PrimitiveType::Long), true)
        }
        DataType::Float64 => (p(PrimitiveType::Double), false),
        DataType::Float32 => (p(PrimitiveType::Float), false),
        DataType::Boolean => (p(PrimitiveType::Boolean), false),
        DataType::Date => (p(PrimitiveType::Date), false),
        other => {
            return Err(err(
                table,
                "schema",
                format!("column {name} has type {other}, which the Delta output does not write"),
            ))
        }
    })
}

/// What an existing table holds (each file with the action that removes
/// it), and the metadata with the new schema when the pipeline changed a
/// column (every partition is then rebuilt and the schema follows in the
/// same commit). A table partitioned otherwise is refused.
#[allow(clippy::type_complexity)]
fn held(
    table: &DeltaTable,
    t: &Table,
    schema: &StructType,
    part_names: &[String],
) -> Result<
    (
        HashMap<String, deltalake_core::kernel::Remove>,
        Option<deltalake_core::kernel::Metadata>,
    ),
    LakeError,
> {
    let snap = table.snapshot().map_err(|e| err(&t.name, "snapshot", e))?;
    let held = snap
        .log_data()
        .into_iter()
        .map(|f| (f.path().to_string(), f.remove_action(true)))
        .collect();
    let have = snap.metadata();
    if have.partition_columns() != part_names {
        return Err(err(
            &t.name,
            "partition columns",
            format!(
                "the table is partitioned by {:?}, this lake by {:?}; move the table away and the next run makes it anew",
                have.partition_columns(),
                part_names
            ),
        ));
    }
    let metadata = match snap.schema().as_ref() != schema {
        true => Some(
            have.clone()
                .with_schema(schema)
                .map_err(|e| err(&t.name, "schema", e))?,
        ),
        false => None,
    };
    Ok((held, metadata))
}

/// Puts the table's new data files in the store; their add actions.
async fn put_files(
    store: &ObjectStoreRef,
    t: &Table,
    new: &[&TableFile],
    cast: bool,
    now_ms: i64,
) -> Result<Vec<Action>, LakeError> {
    let mut adds = Vec::with_capacity(new.len());
    for f in new {
        let bytes = file_bytes(t, f, cast)?;
        let size = bytes.len() as i64;
        store
            .put(&ObjPath::from(f.path.as_str()), PutPayload::from(bytes))
            .await
            .map_err(|e| err(&t.name, &format!("writing {}", f.path), e))?;
        adds.push(Action::Add(Add {
            path: f.path.clone(),
            partition_values: f
                .partition
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect(),
            size,
            modification_time: now_ms,
            data_change: true,
            stats: Some(format!("{{\"numRecords\":{}}}", f.rows)),
            tags: None,
            deletion_vector: None,
            base_row_id: None,
            default_row_commit_version: None,
            clustering_provider: None,
        }));
    }
    Ok(adds)
}

/// One write commit of `actions` on the version read (`version_now`),
/// never retried: a table another writer moved on refuses it. The table's
/// version after it.
async fn commit_write(
    table: &DeltaTable,
    t: &Table,
    actions: Vec<Action>,
    app: HashMap<String, serde_json::Value>,
    version_now: u64,
) -> Result<u64, LakeError> {
    let snap = table.snapshot().map_err(|e| err(&t.name, "snapshot", e))?;
    let done = CommitBuilder::default()
        .with_actions(actions)
        .with_app_metadata(app)
        .with_max_retries(0)
        .build(
            Some(snap),
            table.log_store(),
            DeltaOperation::Write {
                mode: SaveMode::Overwrite,
                partition_by: (!t.partitions.is_empty())
                    .then(|| t.partitions.iter().map(|(n, _)| n.clone()).collect()),
                predicate: None,
            },
        )
        .await
        .map_err(|e| {
            err(
                &t.name,
                &format!("committing version {}", version_now + 1),
                format!(
                    "{e} (another writer committed to the table since this run read it; nothing of this run is in the table)"
                ),
            )
        })?;
    Ok(done.version())
}

/// A test hook (`ZHENXING_FAULT=delta-race:<table>`): another writer
/// commits between this run's read and its commit.
async fn race_hook(
    store: &ObjectStoreRef,
    t: &Table,
    version_now: u64,
    now_ms: i64,
) -> Result<(), LakeError> {
    if !std::env::var("ZHENXING_FAULT").is_ok_and(|v| v == format!("delta-race:{}", t.name)) {
        return Ok(());
    }
    let other = ObjPath::from(format!("_delta_log/{:020}.json", version_now + 1));
    let line = format!(
        "{{\"commitInfo\":{{\"timestamp\":{now_ms},\"operation\":\"WRITE\",\"engineInfo\":\"another writer\"}}}}\n"
    );
    store
        .put(&other, PutPayload::from(line.into_bytes()))
        .await
        .map_err(|e| err(&t.name, "test hook", e))?;
    Ok(())
}

/// The table's Delta schema (data columns, then partition columns) and
/// whether its files need their unsigned columns cast.
fn delta_schema(t: &Table) -> Result<(Vec<StructField>, bool), LakeError> {
    let mut fields = Vec::with_capacity(t.schema.len() + t.partitions.len());
    let mut cast = false;
    for (name, dt) in t.schema.iter() {
        let (ty, c) = delta_type(&t.name, name, dt)?;
        cast |= c;
        fields.push(StructField::new(name.to_string(), ty, true));
    }
    for (name, int) in &t.partitions {
        let ty = if *int {
            PrimitiveType::Long
        } else {
            PrimitiveType::String
        };
        fields.push(StructField::new(
            name.clone(),
            DeltaType::Primitive(ty),
            true,
        ));
    }
    Ok((fields, cast))
}

/// A file's bytes as the table stores them: as written, or with unsigned
/// columns cast to 64-bit signed ones.
fn file_bytes(t: &Table, f: &TableFile, cast: bool) -> Result<Vec<u8>, LakeError> {
    let raw = std::fs::read(&f.local).map_err(|e| crate::lake::store::io(&f.local, e))?;
    if !cast {
        return Ok(raw);
    }
    let df = ParquetReader::new(std::io::Cursor::new(raw))
        .finish()
        .map_err(|e| crate::lake::store::pq(&f.local, e))?;
    let cols: Vec<Expr> = df
        .schema()
        .iter()
        .map(|(n, dt)| {
            if dt.is_unsigned_integer() {
                col(n.clone()).cast(DataType::Int64)
            } else {
                col(n.clone())
            }
        })
        .collect();
    let mut df = df
        .lazy()
        .select(cols)
        .collect()
        .map_err(|e| crate::lake::store::pq(&f.local, e))?;
    let mut out = Vec::new();
    ParquetWriter::new(&mut out)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .finish(&mut df)
        .map_err(|e| err(&t.name, "writing the cast file", e))?;
    Ok(out)
}

impl Publisher {
    /// A publisher for the tables under `root` (a folder, created if
    /// missing, or a `file://` URL).
    pub fn new(root: &str) -> Result<Publisher, LakeError> {
        // multi-threaded: polars, called inside for the cast files, blocks
        // in place, which a current-thread runtime refuses
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| err(root, "starting the I/O runtime", e))?;
        let url = match Url::parse(root) {
            Ok(u) if u.scheme().len() > 1 => u,
            _ => {
                let dir = std::path::Path::new(root);
                std::fs::create_dir_all(dir).map_err(|e| crate::lake::store::io(dir, e))?;
                let abs = dir
                    .canonicalize()
                    .map_err(|e| crate::lake::store::io(dir, e))?;
                Url::from_directory_path(&abs)
                    .map_err(|_| err(root, "root", "not an absolute folder"))?
            }
        };
        let mut root_url = url;
        if !root_url.path().ends_with('/') {
            let p = format!("{}/", root_url.path());
            root_url.set_path(&p);
        }
        let store = match root_url.scheme() {
            "file" => None,
            "s3" | "s3a" => Some(s3_store(&root_url)?),
            other => {
                return Err(err(
                    root,
                    "Delta root",
                    format!("{other}:// is not supported (a folder, file:// or s3://)"),
                ))
            }
        };
        Ok(Publisher {
            rt,
            root: root_url,
            store,
        })
    }

    fn table_url(&self, name: &str) -> Result<Url, LakeError> {
        self.root
            .join(&format!("{name}/"))
            .map_err(|e| err(name, "table location", e))
    }

    /// The table, loaded when it exists.
    async fn open(&self, name: &str) -> Result<(DeltaTable, bool), LakeError> {
        let url = self.table_url(name)?;
        let mut table = DeltaTableBuilder::from_url(url.clone())
            .map(|b| match &self.store {
                Some(s) => b.with_storage_backend(s.clone(), url),
                None => b,
            })
            .and_then(|b| b.build())
            .map_err(|e| err(name, "opening", e))?;
        let exists = table
            .verify_deltatable_existence()
            .await
            .map_err(|e| err(name, "reading the log", e))?;
        if exists {
            table.load().await.map_err(|e| err(name, "loading", e))?;
        }
        Ok((table, exists))
    }

    /// Makes the table hold exactly `t.files`: files not there yet are
    /// copied in, and one commit adds them and removes the files the table
    /// holds that `t` does not name. No commit when they are the same.
    pub fn commit(&self, t: &Table, lake_version: &str) -> Result<Committed, LakeError> {
        self.rt.block_on(self.commit_async(t, lake_version))
    }

    async fn commit_async(&self, t: &Table, lake_version: &str) -> Result<Committed, LakeError> {
        let (table, exists) = self.open(&t.name).await?;
        let (fields, cast) = delta_schema(t)?;
        let schema = StructType::try_new(fields.clone()).map_err(|e| err(&t.name, "schema", e))?;
        let part_names: Vec<String> = t.partitions.iter().map(|(n, _)| n.clone()).collect();
        let (held, metadata) = match exists {
            true => held(&table, t, &schema, &part_names)?,
            false => (HashMap::new(), None),
        };
        let wanted: BTreeSet<&str> = t.files.iter().map(|f| f.path.as_str()).collect();
        let new: Vec<&TableFile> = t
            .files
            .iter()
            .filter(|f| !held.contains_key(&f.path))
            .collect();
        let removes: Vec<Action> = held
            .iter()
            .filter(|(p, _)| !wanted.contains(p.as_str()))
            .map(|(_, r)| Action::Remove(r.clone()))
            .collect();
        let version_now = table.version().unwrap_or(0);
        if exists && new.is_empty() && removes.is_empty() && metadata.is_none() {
            return Ok(Committed {
                version: version_now,
                committed: false,
                added: 0,
                removed: 0,
            });
        }
        // the data files first: a crash before the commit leaves files the
        // log does not name, which readers never see
        let store = table.object_store();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let adds = put_files(&store, t, &new, cast, now_ms).await?;
        // a test hook: the files are written, the commit not yet made; the
        // test kills the process here
        if std::env::var("ZHENXING_FAULT").is_ok_and(|v| v == format!("delta-stall:{}", t.name)) {
            eprintln!("delta-stall: {} files written, not committed", t.name);
            std::thread::sleep(std::time::Duration::from_secs(120));
        }
        let app: HashMap<String, serde_json::Value> = HashMap::from([(
            "zhenxing.lake_version".to_string(),
            serde_json::Value::String(lake_version.to_string()),
        )]);
        let (added, removed) = (adds.len(), removes.len());
        if !exists {
            let created = table
                .create()
                .with_columns(fields)
                .with_partition_columns(part_names)
                .with_actions(adds)
                .with_commit_properties(CommitProperties::default().with_metadata(app))
                .await
                .map_err(|e| err(&t.name, "creating", e))?;
            return Ok(Committed {
                version: created.version().unwrap_or(0),
                committed: true,
                added,
                removed,
            });
        }
        let mut actions = Vec::with_capacity(added + removed + 1);
        if let Some(m) = metadata {
            actions.push(Action::Metadata(m));
        }
        actions.extend(removes);
        actions.extend(adds);
        race_hook(&store, t, version_now, now_ms).await?;
        Ok(Committed {
            version: commit_write(&table, t, actions, app, version_now).await?,
            committed: true,
            added,
            removed,
        })
    }

    /// Restores a table to an earlier version (a new commit, unless the
    /// table is at that version); returns the table's version afterwards.
    pub fn restore(&self, name: &str, version: u64, lake_version: &str) -> Result<u64, LakeError> {
        self.rt.block_on(async {
            let (table, exists) = self.open(name).await?;
            if !exists {
                return Err(err(name, "restore", "the table does not exist"));
            }
            // already there (another writer's commits count: the log decides)
            if table.version() == Some(version) {
                return Ok(version);
            }
            let app: HashMap<String, serde_json::Value> = HashMap::from([(
                "zhenxing.lake_version".to_string(),
                serde_json::Value::String(lake_version.to_string()),
            )]);
            let (t, _) = table
                .restore()
                .with_version_to_restore(version)
                .with_commit_properties(CommitProperties::default().with_metadata(app))
                .await
                .map_err(|e| err(name, &format!("restoring version {version}"), e))?;
            Ok(t.version().unwrap_or(version))
        })
    }

    /// Deletes the files no version in `keep` (nor the latest) names;
    /// returns how many went.
    pub fn vacuum(&self, name: &str, keep: &[u64]) -> Result<usize, LakeError> {
        self.rt.block_on(async {
            let (table, exists) = self.open(name).await?;
            if !exists {
                return Ok(0);
            }
            let store = table.object_store();
            // the plan only: deleting the files ourselves keeps a run at one
            // commit per table (vacuum would add two of its own)
            let (_, plan) = table
                .vacuum()
                .with_retention_period(chrono::Duration::zero())
                .with_enforce_retention_duration(false)
                .with_keep_versions(keep)
                // full: files a killed run wrote but never committed go too
                .with_mode(VacuumMode::Full)
                .with_dry_run(true)
                .await
                .map_err(|e| err(name, "planning the vacuum", e))?;
            let mut n = 0;
            for f in &plan.files_deleted {
                let p = ObjPath::from(f.as_str());
                match store.delete(&p).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => n += 1,
                    Err(e) => return Err(err(name, &format!("deleting {f}"), e)),
                }
            }
            Ok(n)
        })
    }
}
